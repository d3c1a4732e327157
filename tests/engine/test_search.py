"""The search policy piece of issue 14 that won: speculative proposals."""

import pytest

from dspy_gepa.engine import EngineConfig
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.proposals import Confirm, Evaluate, Judge, Plan, Reflect, ReflectionResult, reflective_proposal
from dspy_gepa.engine.strategies.selection import Verdict
from dspy_gepa.engine.types import Rollout

from .fakes import run, summary


def _proposal(parent_scores, child_scores, answers):
    plan = Plan(seq=3, kind="reflective", parent_ids=[0], candidate={"a": "x"}, minibatch=[0, 1],
                components=["a"], parent_val_scores=[{0: 0.0}])
    gen = reflective_proposal(plan, [0], skip_perfect_score=True, perfect_score=1.0, choose_components=None,
                              known_candidates=lambda c: False)
    assert isinstance(gen.send(None), Evaluate)
    assert isinstance(gen.send([Rollout(s) for s in parent_scores]), Reflect)
    request = gen.send(ReflectionResult({"a": "y"}))
    assert isinstance(request, Confirm)
    try:
        request = gen.send(answers)
        assert isinstance(request, Evaluate) and request.candidate == {"a": "y"}
        assert isinstance(gen.send([Rollout(s) for s in child_scores]), Judge)
        gen.send(Verdict(False, "not better"))
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the proposal did not end")


def test_reflective_proposal_asks_before_evaluating_its_child():
    assert _proposal([0.0, 0.0], [], False).status == "superseded"
    assert _proposal([0.0, 0.0], [0.0, 0.0], True).status == "rejected"


def test_speculative_proposals_wait_for_their_turn_and_are_superseded_when_their_parent_leaves_the_front():
    kwargs = dict(components=("a", "b"), budget=400, max_concurrent_proposals=4, num_threads=4, use_merge=False)
    result, _, events = run(speculative=True, **kwargs)
    statuses = [e.outcome.status for e in events if isinstance(e, ev.ProposalCommitted)]
    assert "superseded" in statuses
    # A child is evaluated only by the proposal next to commit: child rollouts (train keys of candidates that are
    # not the proposal's parent) never belong to two proposals in flight at once.
    parents = {e.seq: result.state.hashes[e.parent_ids[0]] for e in events
               if isinstance(e, ev.ProposalStarted) and e.kind == "reflective"}
    committed, children = set(), 0
    for e in events:
        if isinstance(e, ev.ProposalCommitted):
            committed.add(e.seq)
        elif isinstance(e, ev.RolloutFinished) and e.key.split == "train" and e.key.candidate != parents[e.seq]:
            children += 1
            assert set(range(e.seq)) <= committed
    assert children and result.total_metric_calls <= 400


@pytest.mark.parametrize("speculative", [True, False])
def test_speculative_search_does_not_depend_on_thread_timing(speculative):
    from .fakes import FakeAdapter

    runs = [run(FakeAdapter(("a", "b"), capacity=2, latency=lat), components=("a", "b"), budget=400,
                num_threads=threads, max_concurrent_proposals=4, val_policy="staged", speculative=speculative)[0]
            for threads, lat in ((1, 0.0), (8, 0.002), (3, 0.001))]
    assert all(summary(r) == summary(runs[0]) for r in runs[1:])


def test_the_full_policy_keeps_the_papers_loop():
    assert EngineConfig(val_policy="full").speculative is False
    assert EngineConfig(val_policy="staged").speculative is True
    assert EngineConfig(val_policy="staged", speculative=False).speculative is False
