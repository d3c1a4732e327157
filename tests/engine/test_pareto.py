"""Pareto fronts and the best-candidate rule (``engine/pareto.py``), on score tables small enough to work out
by hand."""

import math

import pytest

from dspy_gepa.engine import pareto

NAN = math.nan

# Three candidates on three examples: each example has two co-best candidates.
CYCLE = [{0: 1.0, 1: 0.0, 2: 0.5}, {0: 1.0, 1: 0.5, 2: 0.0}, {0: 0.0, 1: 0.5, 2: 0.5}]


@pytest.mark.parametrize("means,eligible,best", [
    ([0.5, 0.8, 0.3], None, 1),
    ([0.5, 0.8, 0.8], None, 1),  # a tie goes to the earliest candidate
    ([0.9, 0.5, 0.7], [1, 2], 2),  # only eligible (fully validated) candidates count
    ([0.9, 0.5, 0.7], [], 0),  # none eligible: all count
    ([0.9, 0.5, 0.7], [7], 0),  # unknown indices are ignored
    ([NAN, 0.1], None, 1),  # NaN ranks lowest ...
    ([-1.0, NAN], None, 0),  # ... even below a negative score
    ([NAN, NAN], None, 0),
    ({3: 0.2, 5: 0.9}, None, 5),  # a mapping keyed by candidate index
    ({3: 0.9, 5: 0.9}, [5], 5),
])
def test_best_index(means, eligible, best):
    assert pareto.best_index(means, eligible) == best


def test_common_ids_are_the_examples_every_candidate_was_scored_on():
    assert pareto.common_ids([{0: 1.0, 1: 0.0, 2: 1.0}, {1: 0.5, 2: 0.5}]) == [1, 2]
    assert pareto.common_ids({4: {0: 1.0}, 7: {0: 0.0, 1: 1.0}}) == [0]
    assert pareto.common_ids([{2: 1.0, 0: 0.0}]) == [0, 2]
    assert pareto.common_ids([]) == []


def test_fronts_hold_every_co_best_candidate():
    assert pareto.fronts(CYCLE) == {0: {0, 1}, 1: {1, 2}, 2: {0, 2}}
    assert pareto.fronts(CYCLE, ids=[1]) == {1: {1, 2}}


def test_fronts_default_to_common_ids_and_skip_examples_nobody_has():
    screened = [{0: 1.0, 1: 0.0, 2: 0.0}, {0: 0.0, 1: 1.0}]
    assert pareto.fronts(screened) == {0: {0}, 1: {1}}
    assert pareto.fronts(screened, ids=[2, 5]) == {2: {0}}


def test_fronts_rank_nan_lowest():
    assert pareto.fronts([{0: NAN}, {0: 0.0}]) == {0: {1}}
    assert pareto.fronts([{0: NAN}, {0: NAN}]) == {0: {0, 1}}


def test_front_counts_and_best_per_example():
    assert pareto.front_counts({0: {2}, 1: {2, 0}}) == {0: 1, 2: 2}
    assert list(pareto.front_counts({0: {2}, 1: {2, 0}})) == [0, 2]
    assert pareto.best_per_example([{0: 0.2, 1: 0.9}, {0: 0.7}], [0, 1, 2]) == {0: 0.7, 1: 0.9}


@pytest.mark.parametrize("example_fronts,means,kept", [
    ({0: {0, 1}, 1: {1}}, [0.5, 0.7], {1: 2}),  # 0 is best only where 1 is too: dominated
    ({0: {0}, 1: {1}}, [0.5, 0.7], {0: 1, 1: 1}),  # each is alone on a front: both stay
    ({0: {0, 1}}, [0.5, 0.5], {1: 1}),  # a tie does not keep both; equal means: the oldest goes first
    ({0: {0, 1}}, [0.6, 0.5], {0: 1}),  # the weaker mean goes first
    ({0: {1}}, [0.9, 0.1], {1: 1}),  # a high mean alone does not put a candidate in the pool
    ({0: set(), 1: {2}}, [0.0, 0.0, 0.4], {2: 1}),  # empty fronts are ignored
])
def test_prune_dominated(example_fronts, means, kept):
    assert pareto.prune_dominated(example_fronts, means) == kept


def test_prune_dominated_drops_weakest_first():
    """On the cycle every candidate is covered by the other two; the first one considered (lowest mean) is
    dropped, after which the other two are each needed. Reversing the means reverses which one goes."""
    fronts = pareto.fronts(CYCLE)
    assert pareto.prune_dominated(fronts, [0.3, 0.2, 0.1]) == {0: 2, 1: 2}
    assert pareto.prune_dominated(fronts, [0.1, 0.2, 0.3]) == {1: 2, 2: 2}
    assert pareto.prune_dominated(fronts, {0: 0.2, 1: 0.1, 2: 0.3}) == {0: 2, 2: 2}
