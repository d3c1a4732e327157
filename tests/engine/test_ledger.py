"""The ledger (``engine/ledger.py``): where the budget invariant lives. A proposal starts only if its worst case
fits beside committed work and the reservations in flight; dollars work the same way with estimates."""

import pytest

from dspy_gepa.engine.ledger import Ledger, final_reserve, reflective_worst_case
from dspy_gepa.engine.proposals import Plan
from dspy_gepa.engine.types import RolloutKey


def plan(reservation, kind="reflective", seq=1):
    return Plan(seq=seq, kind=kind, parent_ids=[0], candidate={"a": "x"}, reservation=reservation)


def keys(n, split="train"):
    return {RolloutKey("h", split, i) for i in range(n)}


def usage(role, dollars, calls=1):
    return {role: {"m": {"calls": calls, "cost": dollars}}}


def test_worst_cases():
    assert reflective_worst_case(2, 3, 8) == 13
    assert final_reserve(60, 15) == 45 and final_reserve(8, 8) == 0 and final_reserve(8, 10) == 0


def test_fits_calls_counts_committed_work_and_reservations_in_flight():
    ledger = Ledger(max_metric_calls=20, max_cost=None, final_reserve=0)
    assert ledger.fits_calls(plan(20)) and not ledger.fits_calls(plan(21))
    ledger.commit_rollouts(keys(5), commit_no=0)
    in_flight = plan(10, seq=2)
    ledger.reserve(in_flight)
    assert ledger.committed == 5 and ledger.reserved() == 10
    assert ledger.fits_calls(plan(5)) and not ledger.fits_calls(plan(6))  # 5 + 10 + 5 = 20
    ledger.release(in_flight)
    assert ledger.reserved() == 0 and ledger.fits_calls(plan(15)) and not ledger.fits_calls(plan(16))


def test_the_final_reserve_is_only_for_the_final_validation():
    ledger = Ledger(max_metric_calls=20, max_cost=None, final_reserve=4)
    assert ledger.fits_calls(plan(16)) and not ledger.fits_calls(plan(17))
    assert not ledger.fits_calls(plan(17, kind="merge"))
    assert ledger.fits_calls(plan(20, kind="final")) and not ledger.fits_calls(plan(21, kind="final"))


def test_no_budget_fits_anything():
    ledger = Ledger(max_metric_calls=None, max_cost=None, final_reserve=0)
    assert ledger.fits_calls(plan(10**9)) and ledger.cost_allows(plan(10**9)) and ledger.affordable(plan(10**9))
    assert [ledger.dispatch() for _ in range(3)] == [1, 2, 3]


def test_a_key_is_committed_once_at_its_first_commit():
    ledger = Ledger(max_metric_calls=10, max_cost=None, final_reserve=0)
    key = RolloutKey("h", "train", 0)
    ledger.commit_rollouts([key], commit_no=3)
    ledger.commit_rollouts([key, RolloutKey("h", "val", 0)], commit_no=5)
    assert ledger.committed == 2 and ledger.committed_at[key] == 3
    assert ledger.committed_before(key, 4) and not ledger.committed_before(key, 3)
    assert not ledger.committed_before(RolloutKey("other", "train", 0), 99)


def test_dispatch_past_the_budget_is_a_bug_not_an_overshoot():
    ledger = Ledger(max_metric_calls=2, max_cost=None, final_reserve=0)
    assert ledger.dispatch() == 1 and ledger.dispatch() == 2
    with pytest.raises(AssertionError, match=r"metric-call budget exceeded \(3 > 2\)"):
        ledger.dispatch()


def test_a_proposal_using_more_rollouts_than_it_reserved_is_a_bug():
    ledger = Ledger(max_metric_calls=10, max_cost=None, final_reserve=0)
    ledger.check_within_reservation(plan(3), 3)
    with pytest.raises(AssertionError, match="proposal 1 needs more rollouts than it reserved"):
        ledger.check_within_reservation(plan(3), 4)


def paid_ledger(max_cost, final_reserve=0):
    """$0.50 of rollouts over 2 committed rollouts ($0.25 each) and one $0.50 reflection: $1.00 spent."""
    ledger = Ledger(max_metric_calls=None, max_cost=max_cost, final_reserve=final_reserve)
    ledger.commit_rollouts(keys(2), commit_no=0)
    reflection = usage("reflection", 0.5)
    ledger.spend({**usage("task", 0.5, calls=2), **reflection}, reflection=reflection)
    return ledger


def test_cost_allows_adds_estimates_of_the_plan_and_of_the_work_in_flight():
    ledger = paid_ledger(max_cost=2.0)
    assert ledger.per_rollout_cost() == 0.25 and ledger.reflections_paid == 1
    assert ledger.cost_allows(plan(2))  # 1.00 + (2 x 0.25 + 0.50) = 2.00
    too_big = plan(3)
    assert not ledger.cost_allows(too_big) and too_big.cost_estimate == 1.25
    merge = plan(3, kind="merge")
    assert ledger.cost_allows(merge) and merge.cost_estimate == 0.75  # no reflection in a merge
    running = plan(2, seq=2)
    ledger.cost_allows(running)
    ledger.reserve(running)
    assert not ledger.cost_allows(plan(3, kind="merge"))  # 1.00 + 1.00 in flight + 0.75


def test_cost_allows_keeps_the_final_reserve_at_the_rollout_price():
    ledger = paid_ledger(max_cost=2.0, final_reserve=2)
    assert ledger.cost_allows(plan(1, kind="merge"))  # 1.00 + 0.25 + 2 x 0.25 = 1.75
    assert not ledger.cost_allows(plan(3, kind="merge"))  # 1.00 + 0.75 + 0.50 = 2.25
    assert ledger.cost_allows(plan(3, kind="final"))  # the final validation may use the reserve


def test_before_any_commit_rollouts_are_estimated_free():
    ledger = Ledger(max_metric_calls=None, max_cost=1.0, final_reserve=5)
    assert ledger.per_rollout_cost() == 0.0
    assert ledger.cost_allows(plan(1000))


def test_stop_messages_name_the_budget_that_ran_out():
    ledger = Ledger(max_metric_calls=20, max_cost=None, final_reserve=4)
    ledger.commit_rollouts(keys(10), commit_no=0)
    assert not ledger.affordable(plan(8))
    assert ledger.stop_message(plan(8)) == ("budget exhausted: 10 metric calls left, the next proposal may need 8 and "
                                            "4 are kept for the final validation")
    dollars = paid_ledger(max_cost=2.0)
    p = plan(3)
    assert not dollars.affordable(p)
    assert dollars.stop_message(p) == ("cost budget exhausted: $1.0000 of max_cost=$2.0000 spent, the next proposal "
                                       "is estimated at up to $1.2500")
