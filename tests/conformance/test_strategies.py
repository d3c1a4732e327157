"""gepa's strategy objects in ``gepa_kwargs`` (and ``candidate_selection_strategy``) work as under
``dspy.GEPA``: ``sampling_strategy`` (one iteration = several proposals), ``selection_strategy`` (which of
them go on), ``acceptance_criterion``, ``batch_sampler`` with ``reflection_minibatch_size=None``, candidate
selectors, ``cache_evaluation``."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from gepa.strategies.acceptance import ImprovementOrEqualAcceptance
from gepa.strategies.batch_sampler import EpochShuffledBatchSampler
from gepa.strategies.candidate_selector import CurrentBestCandidateSelector
from gepa.strategies.proposal_sampling import (
    IndependentSampling,
    PxNSampling,
    SameParentSampling,
    SingleMutationSampling,
)
from gepa.strategies.proposal_selection import BestImprovement, TopKImprovements

from dspy_gepa import GEPA, ConfigurationError

from ..helpers import TwoStep, metric, reflection_lm
from .common import OPTIMIZERS, both, compile_with


class Events:
    """A gepa callback keeping, per iteration, the parents selected, minibatches and accepted candidates."""

    def __init__(self):
        self.selected = defaultdict(list)
        self.minibatches = defaultdict(list)
        self.accepted = defaultdict(list)
        self.iterations = []

    def on_iteration_start(self, event):
        self.iterations.append(event["iteration"])

    def on_candidate_selected(self, event):
        self.selected[event["iteration"]].append(event["candidate_idx"])

    def on_minibatch_sampled(self, event):
        self.minibatches[event["iteration"]].append(event["minibatch_ids"])

    def on_candidate_accepted(self, event):
        self.accepted[event["iteration"]].append(event["new_candidate_idx"])


def run(which, budget=120, student=None, **gepa_kwargs):
    events = Events()
    kwargs = {k: gepa_kwargs.pop(k) for k in ("reflection_minibatch_size", "candidate_selection_strategy")
              if k in gepa_kwargs}
    program = compile_with(which, student or TwoStep(), max_metric_calls=budget, track_stats=True, use_merge=False,
                           gepa_kwargs={"callbacks": [events], **gepa_kwargs}, **kwargs)
    return events, program.detailed_results


@pytest.mark.parametrize("make,per_iteration,same_parent", [
    (lambda: SingleMutationSampling(), 1, True),
    (lambda: SameParentSampling(3), 3, True),
    (lambda: IndependentSampling(2), 2, False),
    (lambda: PxNSampling(2, 2), 4, False),
])
def test_sampling_strategies_plan_several_proposals_per_iteration(make, per_iteration, same_parent):
    for which in OPTIMIZERS:
        events, r = run(which, sampling_strategy=make())
        assert max(len(v) for v in events.selected.values()) == per_iteration, which  # the last may be cut short
        full = [v for v in events.selected.values() if len(v) == per_iteration]
        assert full, which
        if same_parent:
            assert all(len(set(v)) == 1 for v in full), which
        mbs = [m for v in events.minibatches.values() if len(v) == per_iteration for m in v]
        assert all(len(m) == 3 for m in mbs), which
        assert len(r.candidates) >= 2, which


@pytest.mark.parametrize("selection", [BestImprovement, lambda: TopKImprovements(1)])
def test_selection_strategies_keep_at_most_one_child_per_iteration(selection):
    for which in OPTIMIZERS:
        events, r = run(which, budget=300, sampling_strategy=SameParentSampling(3), selection_strategy=selection())
        assert events.accepted and all(len(v) == 1 for v in events.accepted.values()), which
        assert len(r.candidates) >= 2, which


class Always:
    """An acceptance criterion that records what it was shown and answers ``answer``."""

    def __init__(self, answer):
        self.answer = answer
        self.seen = []

    def should_accept(self, proposal, state):
        self.seen.append((sum(proposal.subsample_scores_before), sum(proposal.subsample_scores_after),
                          len(proposal.eval_after.outputs), proposal.parent_program_ids, len(state.program_candidates)))
        return self.answer


def test_acceptance_criteria():
    for which in OPTIMIZERS:
        refuse = Always(False)
        _, r = run(which, acceptance_criterion=refuse)
        assert refuse.seen and len(r.candidates) == 1, which
        accept = Always(True)
        events, r = run(which, acceptance_criterion=accept, budget=120)
        assert accept.seen and all(n == 3 for _, _, n, _, _ in accept.seen), which
        assert len(r.candidates) - 1 == sum(len(v) for v in events.accepted.values()) >= len(accept.seen) - 1, which
        _, r = run(which, acceptance_criterion="improvement_or_equal" if which == "ours" else ImprovementOrEqualAcceptance())
        assert len(r.candidates) >= 2, which


def test_a_batch_sampler_with_reflection_minibatch_size_none():
    for which in OPTIMIZERS:
        events, _ = run(which, reflection_minibatch_size=None,
                        batch_sampler=EpochShuffledBatchSampler(minibatch_size=2, rng=random.Random(0)))
        sizes = {len(m) for v in events.minibatches.values() for m in v}
        assert sizes == {2}, which

    class FirstTwo:
        def next_minibatch_ids(self, loader, state):
            assert len(loader) == 10 and len(loader.fetch([0, 1])) == 2
            return [0, 1]

    for which in OPTIMIZERS:
        events, _ = run(which, reflection_minibatch_size=None, batch_sampler=FirstTwo())
        assert {tuple(m) for v in events.minibatches.values() for m in v} == {(0, 1)}, which


def test_a_batch_sampler_needs_reflection_minibatch_size_none():
    with pytest.raises(ConfigurationError, match="reflection_minibatch_size=None"):
        GEPA(metric=metric, max_metric_calls=50, reflection_lm=reflection_lm(),
             gepa_kwargs={"batch_sampler": EpochShuffledBatchSampler(minibatch_size=2)})


@pytest.mark.parametrize("strategy", [CurrentBestCandidateSelector, "epsilon_greedy", "top_k_pareto", "current_best"])
def test_candidate_selection_strategies(strategy):
    def best(which):
        events, r = run(which, candidate_selection_strategy=strategy() if callable(strategy) else strategy)
        return max(r.val_aggregate_scores), len(r.candidates)

    results = both(best)
    for which, (score, n) in results.items():
        assert n >= 2 and score > 0.25, which


@pytest.mark.parametrize("cache", [True, False])
def test_cache_evaluation_is_accepted(cache):
    for which in OPTIMIZERS:
        _, r = run(which, cache_evaluation=cache)
        assert len(r.candidates) >= 2, which
