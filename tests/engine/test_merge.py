"""System-aware merge (``engine/merge.py``): in a run, and its parts (combine, the stratified subsample, the
choice of a pair and an ancestor) on states small enough to work out by hand."""

import random

import pytest

from dspy_gepa.engine import events as ev
from dspy_gepa.engine import merge
from dspy_gepa.engine.state import State

from .fakes import FakeAdapter, run


def test_merge_combines_two_lineages():
    result, _, events = run(adapter=FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=600)
    merges = [e for e in events if isinstance(e, ev.ProposalCommitted) and e.kind == "merge"]
    assert merges, "no merge was attempted"
    assert len(merges) <= 5
    s = result.state
    for e in merges:
        if e.new_candidate_idx is not None:
            assert len(s.parents[e.new_candidate_idx]) == 2


def lineage(*rows):
    """A state of candidates given as (texts, parent indices, validation scores); the first is the seed."""
    state = State(component_names=list(rows[0][0]), val_ids=sorted({v for _, _, scores in rows for v in scores}))
    for i, (texts, parents, scores) in enumerate(rows):
        state.add(texts, parents, scores, i, i, "reflective" if parents else "seed")
    return state


# ---------------------------------------------------------------- combine


def three_way(i_scores, j_scores):
    """Ancestor 0; 1 changed a and c; 2 changed b and c (differently)."""
    return lineage(({"a": "A0", "b": "B0", "c": "C0"}, [], {0: 0.0, 1: 0.0}),
                   ({"a": "A1", "b": "B0", "c": "C1"}, [0], i_scores),
                   ({"a": "A0", "b": "B2", "c": "C2"}, [0], j_scores))


def test_combine_takes_each_component_from_the_descendant_that_changed_it():
    state = three_way({0: 1.0, 1: 1.0}, {0: 0.0, 1: 1.0})
    rng = random.Random(0)
    before = rng.getstate()
    merged, sources = merge.combine(state, 0, 1, 2, rng)
    # c was changed by both: the one with the higher mean (1) wins, without a coin.
    assert merged == {"a": "A1", "b": "B2", "c": "C1"} and sources == (1, 2, 1)
    assert rng.getstate() == before


def test_combine_tosses_one_coin_per_tie():
    state = three_way({0: 1.0, 1: 0.0}, {0: 0.0, 1: 1.0})
    rng, replay = random.Random(4), random.Random(4)
    merged, sources = merge.combine(state, 0, 1, 2, rng)
    pick = replay.choice((1, 2))
    assert sources == (1, 2, pick) and merged["c"] == {1: "C1", 2: "C2"}[pick]
    assert rng.getstate() == replay.getstate()  # exactly one draw: for c, the only tie


def test_combine_of_the_same_change_takes_it_once():
    state = lineage(({"a": "A0", "b": "B0"}, [], {0: 0.0}), ({"a": "A1", "b": "B0"}, [0], {0: 0.5}),
                    ({"a": "A1", "b": "B2"}, [0], {0: 1.0}))
    assert merge.combine(state, 0, 1, 2, random.Random(0)) == ({"a": "A1", "b": "B2"}, (1, 2))


# ---------------------------------------------------------------- stratified_subsample


def duel(i_wins, j_wins, ties):
    """Candidates 0 and 1 on ``i_wins + j_wins + ties`` examples: 0 wins the first, 1 the next, then ties."""
    ids = range(i_wins + j_wins + ties)
    si = {v: 1.0 if v < i_wins else 0.0 if v < i_wins + j_wins else 0.5 for v in ids}
    sj = {v: 0.0 if v < i_wins else 1.0 if v < i_wins + j_wins else 0.5 for v in ids}
    return lineage(({"a": "i"}, [], si), ({"a": "j"}, [0], sj))


@pytest.mark.parametrize("size,per_bucket", [(3, (1, 1, 1)), (5, (2, 2, 1)), (6, (2, 2, 2)), (20, (3, 3, 3))])
def test_subsample_takes_about_a_third_from_wins_losses_and_ties(size, per_bucket):
    state = duel(3, 3, 3)
    chosen = merge.stratified_subsample(state, 0, 1, size, random.Random(1))
    assert chosen == sorted(chosen) and len(set(chosen)) == len(chosen)
    buckets = ({0, 1, 2}, {3, 4, 5}, {6, 7, 8})
    assert tuple(len(set(chosen) & b) for b in buckets) == per_bucket


def test_subsample_tops_up_from_the_rest_when_a_bucket_is_short():
    state = duel(6, 0, 0)
    chosen = merge.stratified_subsample(state, 0, 1, 4, random.Random(1))
    assert len(chosen) == 4 and set(chosen) <= set(range(6))


def test_subsample_uses_only_examples_both_were_scored_on():
    state = lineage(({"a": "i"}, [], {0: 1.0, 1: 0.0, 2: 1.0}), ({"a": "j"}, [0], {1: 1.0, 2: 1.0, 3: 0.0}))
    assert merge.stratified_subsample(state, 0, 1, 5, random.Random(0)) == [1, 2]


def test_subsample_is_a_function_of_the_rng():
    state = duel(4, 4, 4)
    draws = [merge.stratified_subsample(state, 0, 1, 5, random.Random(9)) for _ in range(2)]
    assert draws[0] == draws[1]


# ---------------------------------------------------------------- plan_merge

SEED = ({"a": "A0", "b": "B0"}, [], {0: 0.0, 1: 0.0})


def siblings():
    """Seed 0; 1 changed a, 2 changed b; 1 is alone best on example 0, 2 on example 1."""
    return lineage(SEED, ({"a": "A1", "b": "B0"}, [0], {0: 1.0, 1: 0.0}), ({"a": "A0", "b": "B2"}, [0], {0: 0.0, 1: 1.0}))


def test_plan_merge_combines_two_pareto_siblings_through_their_ancestor():
    state, book = siblings(), merge.MergeBook()
    plan = merge.plan_merge(state, book, random.Random(0), subsample_size=5)
    assert plan == merge.MergePlan(parents=(1, 2), ancestor=0, candidate={"a": "A1", "b": "B2"}, sources=(1, 2),
                                   subsample=[0, 1])
    assert book.tried_triplets == {(1, 2, 0)} and book.made == {(1, 2, (1, 2))}


def test_plan_merge_does_not_try_a_triplet_twice():
    state, book = siblings(), merge.MergeBook()
    assert merge.plan_merge(state, book, random.Random(0), 5) is not None
    assert merge.plan_merge(state, book, random.Random(0), 5) is None


@pytest.mark.parametrize("rows,pool", [
    ([({"a": "A0"}, [], {0: 0.0}), ({"a": "A1"}, [0], {0: 1.0})], {1: 1}),  # one Pareto candidate
    ([SEED, ({"a": "A1", "b": "B0"}, [0], {0: 1.0, 1: 0.0}), ({"a": "A1", "b": "B2"}, [1], {0: 0.0, 1: 1.0})],
     {1: 1, 2: 1}),  # 2 descends from 1
    ([SEED, ({"a": "A1", "b": "B0"}, [0], {0: 1.0, 1: 0.0}), ({"a": "A2", "b": "B0"}, [0], {0: 0.0, 1: 1.0})],
     {1: 1, 2: 1}),  # both changed the same component: nothing to combine
    ([({"a": "A0", "b": "B0"}, [], {0: 0.0, 1: 0.5, 2: 1.0}), ({"a": "A1", "b": "B0"}, [0], {0: 1.0, 1: 0.0, 2: 0.0}),
      ({"a": "A0", "b": "B2"}, [0], {0: 0.0, 1: 1.0, 2: 1.0})], {1: 1, 2: 2}),  # the ancestor (0.5) beats 1 (1/3)
], ids=["one-candidate", "descendant", "same-component", "better-ancestor"])
def test_no_merge(rows, pool):
    state, book = lineage(*rows), merge.MergeBook()
    assert state.pareto_candidates() == pool
    assert merge.plan_merge(state, book, random.Random(0), 5) is None
    assert book.made == set()
