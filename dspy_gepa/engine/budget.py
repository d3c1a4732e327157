"""What a budget buys, said before a run: ``auto`` presets, the plan logged at the start of a run, and
the preview ``GEPA.plan`` prints. The per-proposal arithmetic is the ledger's (:mod:`~dspy_gepa.engine.ledger`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dspy_gepa.engine.ledger import final_reserve, reflective_worst_case, seed_screened

# Candidates per preset, as in dspy.GEPA (DSPy 3.x, ``AUTO_RUN_SETTINGS``).
AUTO_CANDIDATES = {"light": 6, "medium": 12, "heavy": 18}


def auto_budget(num_components: int, num_candidates: int, valset_size: int,
                minibatch_size: int = 35, full_eval_steps: int = 5) -> int:
    """Metric calls for an ``auto`` preset, with the same numbers as ``dspy.GEPA.auto_budget`` (DSPy 3.x).

    The estimate assumes ``trials = max(4·components·log2(candidates), 1.5·candidates)`` minibatch
    trials of 35 rollouts, a seed validation, 5 bootstrap rollouts per candidate, and a full validation
    every ``full_eval_steps`` trials (plus one final one when there are fewer trials than that).
    """
    if valset_size < 0 or minibatch_size < 0:
        raise ValueError("valset_size and minibatch_size must be >= 0")
    if full_eval_steps < 1:
        raise ValueError("full_eval_steps must be >= 1")
    trials = int(max(4 * num_components * math.log2(num_candidates), 1.5 * num_candidates))
    total = valset_size + 5 * num_candidates + trials * minibatch_size
    if trials == 0:
        return total
    full_validations = (trials + 1) // full_eval_steps + 1 + (1 if trials < full_eval_steps else 0)
    return total + full_validations * valset_size


def budget_plan(max_metric_calls: int | None, train_size: int, val_size: int, minibatch_size: int,
                screen_size: int) -> str:
    """The sentence logged when a run starts (and kept in its journal): what the budget buys, by the
    numbers of :func:`preview`."""
    if max_metric_calls is None:
        return "No metric-call budget: the run stops on its other stop conditions."
    p = preview(max_metric_calls, train_size, val_size, minibatch_size, screen_size)
    if max_metric_calls < val_size:
        return f"Budget {max_metric_calls} metric calls cannot pay for the seed's validation ({val_size} rollouts)."
    seed = (f"the seed is screened on {p.seed_validation} examples like a child (the budget cannot pay for validating "
            f"it and a child in full)" if p.seed_screened else f"the seed's validation takes {p.seed_validation}")
    reserve = f", {p.final_reserve} are kept for validating the best screened candidate in full" if p.final_reserve \
        else ""
    return (f"Budget plan: {max_metric_calls} metric calls; {seed}{reserve}. {p.proposals_sentence()} A proposal "
            f"starts only when its worst case ({p.per_accepted_proposal} calls) fits in what is left, so the budget "
            "is never exceeded.")


@dataclass(frozen=True)
class BudgetPreview:
    """What a run's budget allows, before it starts (``GEPA.plan``).

    Rollout counts follow the engine's rules: the seed is validated on every example (on the screen
    only when ``seed_screened``, see :func:`~dspy_gepa.engine.ledger.seed_screened`), a proposal costs two
    minibatch evaluations and, if its child passes, a validation (the screen with the ``staged`` policy,
    every example with ``full``), the ``staged`` policy keeps ``final_reserve`` calls for validating its
    best candidate in full at the end, and a proposal starts only when its worst case fits in what is
    left. ``proposals_min`` is the count if every child passes, ``proposals_max`` if none does (proposals
    whose parent's minibatch results are cached, or that stop on a perfect minibatch, cost less). Costs are
    known once a price per rollout is (from a journal of this configuration, or from probe rollouts); the
    reflection cost only from a journal.
    """

    max_metric_calls: int
    train_size: int
    val_size: int
    screen_size: int
    minibatch_size: int
    seed_validation: int
    final_reserve: int
    per_rejected_proposal: int
    per_accepted_proposal: int
    proposals_min: int
    proposals_max: int
    seed_screened: bool = False
    max_cost: float | None = None
    cost_per_rollout: float | None = None
    cost_per_reflection: float | None = None
    cost_source: str | None = None

    @property
    def estimated_cost(self) -> tuple[float, float] | None:
        """(low, high) USD if the whole budget is spent: every metric call at the rollout price, plus one
        reflection per proposal when its price is known."""
        if self.cost_per_rollout is None:
            return None
        rollouts = self.max_metric_calls * self.cost_per_rollout
        refl = self.cost_per_reflection or 0.0
        return rollouts + self.proposals_min * refl, rollouts + self.proposals_max * refl

    def proposals_sentence(self) -> str:
        """How many proposals the budget pays for, or what to change when it pays for none."""
        if self.proposals_max == 0:
            need = self.seed_validation + self.final_reserve + self.per_accepted_proposal
            return (f"The budget pays for no proposal after the seed: one needs up to {self.per_accepted_proposal} "
                    f"calls (raise max_metric_calls to at least {need}"
                    + (", or use val_evaluation_policy='staged'" if self.screen_size >= self.val_size else "") + ").")
        return (f"The rest pays for {self.proposals_min} to {self.proposals_max} proposals ({self.proposals_min} if "
                f"every child passes the minibatch, {self.proposals_max} if none does).")

    def __str__(self) -> str:
        seed = (f"seed validation: {self.seed_validation} (screened like a child: the budget cannot pay for "
                "validating it and a child in full)" if self.seed_screened else f"seed validation: {self.seed_validation}")
        lines = [
            f"Budget: {self.max_metric_calls} metric calls (rollouts) on {self.train_size} training and "
            f"{self.val_size} validation examples.",
            f"  {seed}; kept for the final validation: {self.final_reserve}",
            f"  a proposal costs {self.per_rejected_proposal} calls if its child is rejected on the minibatch and "
            f"{self.per_accepted_proposal} if it passes" + (f" (validation screen of {self.screen_size} examples)"
                                                             if self.screen_size < self.val_size else ""),
            "  " + (f"so the budget pays for {self.proposals_min} to {self.proposals_max} proposals"
                    if self.proposals_max else self.proposals_sentence()),
        ]
        estimate = self.estimated_cost
        if estimate is None:
            lines.append("  cost: unknown until a price per rollout is (pass probe=N, or plan again after a run "
                         "with the same log_dir)")
        else:
            per_refl = (f", ${self.cost_per_reflection:.4f} per reflection" if self.cost_per_reflection is not None
                        else ", reflection cost unknown (not included)")
            lines.append(f"  cost: about ${estimate[0]:.2f} to ${estimate[1]:.2f} (${self.cost_per_rollout:.5f} per "
                         f"rollout{per_refl}; from {self.cost_source})")
        if self.max_cost is not None:
            lines.append(f"  max_cost: ${self.max_cost:.2f} (whichever budget ends first stops the run)")
        return "\n".join(lines)


def preview(max_metric_calls: int, train_size: int, val_size: int, minibatch_size: int, screen_size: int,
            **costs: Any) -> BudgetPreview:
    mb = min(minibatch_size, train_size)
    screen = min(screen_size, val_size)
    reserve = final_reserve(val_size, screen)
    screened = seed_screened(max_metric_calls, val_size, screen, mb)
    seed = screen if screened else val_size
    rejected = reflective_worst_case(mb, mb, 0)
    accepted = reflective_worst_case(mb, mb, screen)
    left = max(0, max_metric_calls - seed - reserve)
    return BudgetPreview(
        max_metric_calls=max_metric_calls, train_size=train_size, val_size=val_size, screen_size=screen,
        minibatch_size=mb, seed_validation=seed, final_reserve=reserve, per_rejected_proposal=rejected,
        per_accepted_proposal=accepted, proposals_min=left // accepted,
        proposals_max=(left - accepted) // rejected + 1 if left >= accepted else 0, seed_screened=screened, **costs)
