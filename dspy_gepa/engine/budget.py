"""Budget arithmetic: ``auto`` presets and the plan logged at the start of a run."""

from __future__ import annotations

import math

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


def budget_plan(max_metric_calls: int | None, val_size: int, minibatch_size: int, used: int = 0) -> str:
    """A sentence on what the budget buys: proposals cost two minibatch evaluations, and an accepted
    one a full validation on top."""
    if max_metric_calls is None:
        return "No metric-call budget: the run stops on its other stop conditions."
    left = max_metric_calls - used - (val_size if used == 0 else 0)
    if left < 0:
        return (f"Budget {max_metric_calls} metric calls cannot pay for the seed's validation "
                f"({val_size} rollouts).")
    rejected = 2 * minibatch_size
    accepted = rejected + val_size
    return (
        f"Budget plan: {max_metric_calls} metric calls"
        + (f" ({used} already spent)" if used else f"; the seed's validation takes {val_size}")
        + f". The remaining {left} pay for between {left // accepted} proposals (if every child is accepted "
        f"and validated on all {val_size} examples) and {left // rejected} (if none is), so at most "
        f"{left // accepted} full validations. A proposal starts only when its worst case "
        f"({accepted} calls) fits in what is left, so the budget is never exceeded."
    )
