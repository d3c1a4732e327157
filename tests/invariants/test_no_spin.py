"""Invariant 7 (DESIGN.md), no spin: a sequence of proposals that spends no metric call ends within a
documented bound. Today's bounds: ``max(10, 2 * ceil(train size / minibatch size))`` idle proposals in a row
(every minibatch example already perfect, the proposer's text unchanged, or a candidate tried before: the
search has converged), and ``max_consecutive_failures`` unusable reflections in a row (a ``ReflectionError``,
pinned in ``test_loud_failures.py``).

The data of ``make_data()``: 12 training examples in minibatches of 3, so the idle bound is 10 proposals; the
seed's validation costs 8 metric calls, and the parent's 12 training rollouts are paid once, in the first epoch.
"""

import pytest

from ..engine.fakes import FakeAdapter, run

PERFECT = {"a": "Solve a. " + " ".join(f"rule:a:{k}" for k in range(6))}
CONVERGED = "converged: the last 10 proposals found every minibatch example already perfect, or proposed no new text"


def reflective(result):
    return [p["status"] for p in result.proposals if p["kind"] == "reflective"]


def test_a_perfect_seed_stops_after_ten_skipped_proposals():
    result, adapter, _ = run(seed_candidate=PERFECT, budget=500)
    assert result.stop_reason == CONVERGED
    assert reflective(result) == ["skipped_perfect"] * 10
    assert result.total_metric_calls == 8 + 12 and adapter.reflections == 0


def test_a_proposer_that_returns_the_same_text_stops_after_ten_proposals():
    class Unchanged(FakeAdapter):
        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            super().propose_new_texts(candidate, reflective_dataset, components_to_update)
            return {c: candidate[c] for c in components_to_update}

    result, adapter, _ = run(Unchanged(), budget=500)
    assert result.stop_reason == CONVERGED
    assert reflective(result) == ["unchanged"] * 10
    assert result.total_metric_calls == 8 + 12 and adapter.reflections == 10


def test_a_proposer_that_repeats_itself_stops_after_ten_duplicates():
    """The first proposal pays for its child's minibatch (rejected); the same child again is a duplicate."""
    class Repeating(FakeAdapter):
        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            super().propose_new_texts(candidate, reflective_dataset, components_to_update)
            return {c: "Solve it. rule:a:useless" for c in components_to_update}

    result, adapter, _ = run(Repeating(), budget=500)
    assert result.stop_reason == CONVERGED
    assert reflective(result) == ["rejected"] + ["duplicate"] * 10
    assert result.total_metric_calls == 8 + 12 + 3 and adapter.reflections == 11


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="unusable and idle proposals reset each other's streak, so alternating them "
                                       "spends no metric call and has no bound (found by the test renovation)")
def test_alternating_unusable_and_idle_proposals_end_within_a_bound():
    class Alternating(FakeAdapter):
        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            super().propose_new_texts(candidate, reflective_dataset, components_to_update)
            if self.reflections % 2:
                raise RuntimeError("reflection LM hiccup")
            return {c: candidate[c] for c in components_to_update}

    def guard(view):
        return view.i > 200  # ten times any documented bound: only here so that the test ends

    result, _, _ = run(Alternating(), budget=500, stop_callbacks=[guard])
    assert result.total_metric_calls == 8 + 12
    assert result.stop_reason != "stop condition guard was met"
