"""The budget: metric calls and dollars, reserved before work starts and counted as it is dispatched.

The budget invariant lives here and only here. A proposal reserves its worst case (``Plan.reservation``,
computed by :func:`reflective_worst_case` and friends) when it starts, and it starts only if
``rollouts committed + reservations in flight + its own`` fits in ``max_metric_calls`` (minus, with the
``staged`` policy, the reserve kept for the final validation). A rollout is counted when it is dispatched.
Hence ``dispatched <= max_metric_calls`` at every instant, and start decisions depend only on committed
work. ``max_cost`` works the same way with dollar estimates.

Three counts, three names: ``dispatched`` (metric calls: rollouts run or replayed from the journal, what a
run reports as ``total_metric_calls``), ``committed`` (rollouts of committed proposals: the clock that
``discovered_at`` reads) and, in :mod:`~dspy_gepa.engine.rollouts`, ``recorded`` (results that arrived).
"""

from __future__ import annotations

import math
from typing import Any

from dspy_gepa.engine.proposals import Plan
from dspy_gepa.engine.types import RolloutKey
from dspy_gepa.engine.usage import Usage, cost, merge


def reflective_worst_case(parent_uncached: int, minibatch: int, validation: int) -> int:
    """Most metric calls a reflective proposal can spend: the parent's minibatch rollouts not yet paid
    for, the child's minibatch, and the child's validation (the screen, or every example)."""
    return parent_uncached + minibatch + validation


def final_reserve(val_size: int, screen_size: int) -> int:
    """Calls kept back from the search so the best screened candidate can be validated on every example."""
    return val_size - screen_size if screen_size < val_size else 0


def seed_screened(max_metric_calls: int | None, val_size: int, screen_size: int, minibatch: int) -> bool:
    """Whether the seed is validated on the screen first, like a child, instead of on every example.

    Only with a screen (the ``staged`` policy), and only when the budget could not otherwise pay for a
    single proposal: the seed's full validation, one proposal's worst case and the final reserve. With a
    large valset that is the difference between a run that makes proposals and one that returns the seed
    having spent half its budget. The best screened candidate, the seed included, is validated on every
    example at the end, so the returned candidate is always validated in full.
    """
    if max_metric_calls is None or screen_size >= val_size:
        return False
    worst = val_size + reflective_worst_case(minibatch, minibatch, screen_size) + final_reserve(val_size, screen_size)
    return worst > max_metric_calls


class Ledger:
    """Metric calls and dollars: spent, committed, and reserved by the proposals in flight."""

    def __init__(self, max_metric_calls: int | None, max_cost: float | None, final_reserve: int):
        self.max_metric_calls = max_metric_calls
        self.max_cost = max_cost
        self.final_reserve = final_reserve
        self.dispatched = 0
        self.committed_at: dict[RolloutKey, int] = {}
        self.in_flight: dict[int, Plan] = {}
        self.spent: Usage = {}
        self.reflections_paid = 0
        self.reflection_cost = 0.0

    # ------------------------------------------------------------------ metric calls

    @property
    def committed(self) -> int:
        return len(self.committed_at)

    def dispatch(self) -> int:
        """Count one rollout as it is dispatched (or replayed); returns the new total."""
        self.dispatched += 1
        cap = self.max_metric_calls
        if cap is not None and self.dispatched > cap:  # pragma: no cover - guards the reservation arithmetic
            raise AssertionError(f"metric-call budget exceeded ({self.dispatched} > {cap})")
        return self.dispatched

    def reserved(self) -> int:
        return sum(plan.reservation for plan in self.in_flight.values())

    def reserve(self, plan: Plan) -> None:
        self.in_flight[plan.seq] = plan

    def release(self, plan: Plan) -> None:
        del self.in_flight[plan.seq]

    def committed_before(self, key: RolloutKey, commit_no: int) -> bool:
        """Whether ``key``'s rollout was paid by a proposal committed before commit number ``commit_no``."""
        return self.committed_at.get(key, math.inf) < commit_no

    def check_within_reservation(self, plan: Plan, fresh: int) -> None:
        if fresh > plan.reservation:  # pragma: no cover - guards the reservation arithmetic
            raise AssertionError(f"proposal {plan.seq} needs more rollouts than it reserved")

    def commit_rollouts(self, keys: list[RolloutKey] | set[RolloutKey], commit_no: int) -> None:
        for key in keys:
            self.committed_at.setdefault(key, commit_no)

    def fits_calls(self, plan: Plan) -> bool:
        """Whether ``plan``'s worst case fits. The search may not touch the reserve kept for validating
        the best screened candidate on the whole valset at the end."""
        cap = self.max_metric_calls
        if cap is None:
            return True
        if plan.kind != "final":
            cap -= self.final_reserve
        return self.committed + self.reserved() + plan.reservation <= cap

    # ------------------------------------------------------------------ dollars

    def spend(self, usage: dict[str, Any], reflection: dict[str, Any] | None = None) -> None:
        merge(self.spent, usage)
        if reflection is not None:
            self.reflections_paid += 1
            self.reflection_cost += cost(reflection)

    def per_rollout_cost(self) -> float:
        """Average dollars of a committed rollout (program and judge calls); zero before any."""
        return cost(self.spent, ("task", "judge")) / self.committed if self.committed else 0.0

    def cost_allows(self, plan: Plan) -> bool:
        """Whether ``plan`` fits in ``max_cost``: spent by committed work, plus the estimates of the work
        in flight and of ``plan`` (its reservation at the average rollout cost, plus one reflection at the
        average reflection cost), plus the final validation's reserve."""
        cap = self.max_cost
        if cap is None:
            return True
        per_rollout = self.per_rollout_cost()
        per_reflection = self.reflection_cost / self.reflections_paid if self.reflections_paid else 0.0
        plan.cost_estimate = per_rollout * plan.reservation + (per_reflection if plan.kind == "reflective" else 0.0)
        reserve = per_rollout * self.final_reserve if plan.kind != "final" else 0.0
        in_flight = sum(p.cost_estimate for p in self.in_flight.values())
        return cost(self.spent) + in_flight + plan.cost_estimate + reserve <= cap

    def affordable(self, plan: Plan) -> bool:
        return self.fits_calls(plan) and self.cost_allows(plan)

    def stop_message(self, plan: Plan) -> str:
        """Why ``plan`` cannot start (it is not :meth:`affordable`)."""
        if not self.fits_calls(plan):
            left = self.max_metric_calls - self.committed
            return (f"budget exhausted: {left} metric calls left, the next proposal may need {plan.reservation}"
                    + (f" and {self.final_reserve} are kept for the final validation" if self.final_reserve else ""))
        return (f"cost budget exhausted: ${cost(self.spent):.4f} of max_cost=${self.max_cost:.4f} spent, the "
                f"next proposal is estimated at up to ${plan.cost_estimate:.4f}")
