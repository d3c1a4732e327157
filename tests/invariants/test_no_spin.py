"""Invariant 7 (DESIGN.md), no spin: a sequence of proposals that spends no metric call ends within a
documented bound (docs/reliability.md). The bounds: ``L = max(10, 2 * ceil(train size / minibatch size))`` idle
proposals in a row (every minibatch example already perfect, the proposer's text unchanged, or a candidate tried
before: the search has converged); ``max_consecutive_failures`` unusable reflections in a row (a
``ReflectionError``, pinned in ``test_loud_failures.py``); and, since idle and unusable proposals each break the
other's streak, ``L + max_consecutive_failures`` reflective proposals in a row that spend no metric call, whatever
their mix — a ``ReflectionError`` if ``max_consecutive_failures`` of them were unusable, else converged.

The data of ``make_data()``: 12 training examples in minibatches of 3, so the idle bound is 10 proposals and the
no-spend bound 15; the seed's validation costs 8 metric calls, and the parent's 12 training rollouts are paid once,
in the first epoch (4 proposals).
"""

import pytest

from dspy_gepa import ReflectionError

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


class Sometimes(FakeAdapter):
    """A proposer whose reflection raises on every ``every``-th call and otherwise returns the text unchanged."""

    def __init__(self, every):
        super().__init__()
        self.every = every

    def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
        super().propose_new_texts(candidate, reflective_dataset, components_to_update)
        if self.reflections % self.every == 0:
            raise RuntimeError("reflection LM hiccup")
        return {c: candidate[c] for c in components_to_update}


def guard(view):
    return view.i > 200  # ten times any documented bound: only here so that the test ends


def test_alternating_unusable_and_idle_proposals_end_within_a_bound():
    """Every other reflection fails, the others propose nothing new: neither streak grows past 1, and the run
    stops with a ReflectionError after 15 proposals in a row without a metric call, 7 of them unusable."""
    adapter = Sometimes(every=2)
    with pytest.raises(ReflectionError) as info:
        run(adapter, budget=500, stop_callbacks=[guard])
    assert str(info.value).startswith("7 of the last 15 proposals produced no usable candidate, and none of them "
                                      "spent a metric call, so the run stops")
    assert str(info.value).count(": reflection_failed: RuntimeError: reflection LM hiccup") == 7
    assert str(info.value).count(": unchanged: ") == 8
    assert len(adapter.eval_calls) == 8 + 12 and adapter.reflections == 4 + 15


def test_idle_proposals_with_a_few_unusable_ones_converge_within_the_bound():
    """One reflection in five fails: the idle streak never reaches 10, the failures are too few to blame the
    reflection LM, and the search converges after 15 proposals in a row without a metric call."""
    result, adapter, _ = run(Sometimes(every=5), budget=500, stop_callbacks=[guard])
    assert result.stop_reason == ("converged: the last 15 proposals spent no metric call (3 of them with an unusable "
                                  "reflection, the others finding nothing new to try)")
    assert result.total_metric_calls == 8 + 12 and adapter.reflections == 4 + 15
