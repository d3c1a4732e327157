"""The planner (``engine/planner.py``): how many proposals run at once, when the search stops on its own, what the
next proposal is and what it reserves, the validation screen and final validations."""

import pytest

from dspy_gepa.engine import Engine, EngineConfig, EventBus
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.commit import Progress, idle_limit
from dspy_gepa.engine.ledger import Ledger
from dspy_gepa.engine.merge import MergeBook
from dspy_gepa.engine.planner import Planner
from dspy_gepa.engine.state import State
from dspy_gepa.engine.types import RolloutKey

from .fakes import FakeAdapter, make_data, run


def in_flight_peaks(events):
    live, peak = set(), 0
    for e in events:
        if isinstance(e, ev.ProposalStarted) and e.kind == "reflective":
            live.add(e.seq)
            peak = max(peak, len(live))
        elif isinstance(e, ev.ProposalCommitted):
            live.discard(e.seq)
    return peak


def test_concurrency_rises_when_proposals_are_rejected():
    class Rejecting(FakeAdapter):
        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            return {c: candidate[c] + f" rule:{c}:useless{len(self.eval_calls)}" for c in components_to_update}

    _, _, events = run(Rejecting(), budget=300, max_concurrent_proposals=6)
    assert in_flight_peaks(events) == 6
    _, _, events = run(FakeAdapter(flaky=0), budget=120, max_concurrent_proposals=6)
    first_miss = next(i for i, e in enumerate(events) if isinstance(e, ev.ProposalCommitted)
                      and e.kind == "reflective" and e.new_candidate_idx is None)
    assert first_miss > 0
    assert in_flight_peaks(events[:first_miss]) == 1  # while every proposal is accepted: one at a time
    assert in_flight_peaks(events) > 1  # later, idle proposals run side by side


def test_staged_policy_screens_and_validates_the_best_at_the_end():
    train, val = make_data(n_train=12, n_val=40)
    adapter = FakeAdapter(("a", "b"), capacity=2)
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    cfg = EngineConfig(max_metric_calls=300, val_policy="staged")
    result = Engine(adapter, train, val, {"a": "Solve a.", "b": "Solve b."}, cfg, bus=bus).run()
    s = result.state
    screen = cfg.screen_size(len(val))
    assert screen == 10
    partial = [i for i in range(len(s.candidates)) if not s.is_full(i)]
    assert partial and all(len(s.val_scores[i]) == screen for i in partial)
    assert s.is_full(s.best_idx()) and s.best_idx() != 0
    finals = [e for e in events if isinstance(e, ev.CandidateValidated)]
    assert finals and finals[0].idx == max(partial + [e.idx for e in finals],
                                           key=lambda i: (sum(s.val_scores[i][v] for v in s.common_ids()), -i))
    assert result.total_metric_calls <= 300 == cfg.max_metric_calls
    assert s.common_ids() == sorted(next(iter(s.val_scores[i] for i in partial)))


# ---------------------------------------------------------------- the planner on its own


def planner(train_size=12, val_ids=(0, 1, 2, 3), components=("a", "b"), progress=None, **cfg):
    config = EngineConfig(**{"max_metric_calls": 500, **cfg})
    state = State(component_names=list(components), val_ids=list(val_ids))
    state.add({c: f"Solve {c}." for c in components}, [], dict.fromkeys(val_ids, 0.0), 0, 0, "seed")
    ledger = Ledger(config.max_metric_calls, None, 0)
    return Planner(config, state, ledger, progress or Progress(), MergeBook(), list(range(train_size)), list(val_ids))


@pytest.mark.parametrize("cap,adaptive,recent,expected", [
    (1, True, [False] * 8, 1),  # one at a time: the paper's loop
    (6, False, [True] * 8, 6),  # not adaptive: always the cap
    (6, True, [], 1),  # nothing committed yet
    (6, True, [False] * 8, 6),  # nothing accepted: as many as allowed
    (6, True, [True, False, False, False] * 2, 4),  # a quarter accepted: 1 / 0.25
    (3, True, [True, False, False, False] * 2, 3),
    (6, True, [True, True, False] + [False] * 5, 4),  # 2 of 8: floor(4)
    (6, True, [True] * 8, 1),  # every proposal accepted: one at a time
    (6, True, [True] * 10 + [False] * 8, 6),  # only the last eight count
])
def test_concurrency_is_about_one_over_the_recent_acceptance_rate(cap, adaptive, recent, expected):
    p = planner(max_concurrent_proposals=cap, adaptive_concurrency=adaptive, progress=Progress(recent_outcomes=recent))
    assert p.concurrency() == expected


@pytest.mark.parametrize("train_size,minibatch,limit", [(12, 3, 10), (30, 1, 60), (30, 3, 20)])
def test_the_search_converges_after_a_bounded_run_of_idle_proposals(train_size, minibatch, limit):
    """The bound is two epochs of minibatches, and at least 10 proposals."""
    assert idle_limit(train_size, minibatch) == limit
    p = planner(train_size=train_size, minibatch_size=minibatch, progress=Progress(idle_limit=limit))
    p.progress.consecutive_idle = limit - 1
    assert p.stop_condition() == ""
    p.progress.consecutive_idle = limit
    assert p.stop_condition() == (f"converged: the last {limit} proposals found every minibatch example already "
                                   "perfect, or proposed no new text")


def test_stop_callbacks_see_the_state_and_are_named_when_they_stop_the_search():
    seen = []

    def enough(view):
        seen.append((view.i, len(view.program_candidates)))
        return view.i >= 3

    p = planner(stop_callbacks=[enough])
    assert p.stop_condition() == ""  # before the first iteration: i == -1, as in gepa
    for seq in range(1, 5):
        p.plan(seq)
    assert p.stop_condition() == "stop condition enough was met"
    assert seen == [(-1, 1), (3, 1)]


def test_a_reflective_plan_reserves_its_worst_case_and_advances_the_round_robin():
    p = planner(val_ids=(0, 1, 2, 3))
    first = p.plan(1)
    assert (first.kind, first.parent_ids, first.components, len(first.minibatch)) == ("reflective", [0], ["a"], 3)
    assert first.reservation == 3 + 3 + 4  # the parent's minibatch, the child's, the child's validation
    p.ledger.commit_rollouts([RolloutKey(p.state.hashes[0], "train", i) for i in range(12)], commit_no=1)
    second = p.plan(2)
    assert second.components == ["b"] and second.reservation == 0 + 3 + 4  # the parent's rollouts are paid
    assert not set(second.minibatch) & set(first.minibatch)  # the same epoch: disjoint minibatches


def test_plans_come_from_the_seeded_rngs():
    a, b = planner(seed=4), planner(seed=4)
    assert [a.plan(s).minibatch for s in range(1, 6)] == [b.plan(s).minibatch for s in range(1, 6)]


def test_a_staged_plan_carries_the_screen_and_the_front():
    p = planner(val_ids=tuple(range(40)), val_policy="staged")
    assert len(p.screen) == 10 and p.screen == sorted(p.screen) and set(p.screen) <= set(range(40))
    plan = p.plan(1)
    assert plan.screen == p.screen and plan.front_best == dict.fromkeys(range(40), 0.0)
    assert plan.reservation == 3 + 3 + 10


def test_no_final_validation_without_a_screen():
    assert planner().plan_final(1) is None
