"""What a budget buys, said before a run (``engine/budget.py``): the plan logged at the start and the preview
``GEPA.plan`` prints. ``auto_budget`` is compared with ``dspy.GEPA``'s in ``tests/test_optimizer.py``."""

import pytest

from dspy_gepa.engine.budget import budget_plan, preview


def test_budget_plan_of_a_fresh_run():
    # 100 - 8 for the seed = 92 left; a rejected proposal costs 3 + 3 = 6, an accepted one 3 + 3 + 8 = 14.
    assert budget_plan(100, 8, 3) == (
        "Budget plan: 100 metric calls; the seed's validation takes 8. The remaining 92 pay for between 6 proposals "
        "(if every child is accepted and validated on all 8 examples) and 15 (if none is), so at most 6 full "
        "validations. A proposal starts only when its worst case (14 calls) fits in what is left, so the budget is "
        "never exceeded.")


def test_budget_plan_of_a_resumed_run_counts_what_is_spent():
    plan = budget_plan(100, 8, 3, used=30)
    assert plan.startswith("Budget plan: 100 metric calls (30 already spent). The remaining 70 pay for between 5 ")
    assert "and 11 (if none is), so at most 5 full validations." in plan


def test_budget_plan_without_budget_or_below_the_seed():
    assert budget_plan(None, 8, 3) == "No metric-call budget: the run stops on its other stop conditions."
    assert budget_plan(5, 8, 3) == "Budget 5 metric calls cannot pay for the seed's validation (8 rollouts)."


@pytest.mark.parametrize("args,expected", [
    # (budget, train, val, minibatch, screen) -> (minibatch, reserve, rejected, accepted, fewest, most)
    ((120, 10, 8, 3, 8), (3, 0, 6, 14, 8, 18)),  # (120 - 8) // 14, (120 - 8) // 6
    ((300, 10, 60, 3, 15), (3, 45, 6, 21, 9, 32)),  # staged: 300 - 60 - 45 = 195 left; 195 // 21, 195 // 6
    ((50, 2, 4, 3, 4), (2, 0, 4, 8, 5, 11)),  # a minibatch is at most the training set
    ((5, 10, 8, 3, 8), (3, 0, 6, 14, 0, 0)),  # cannot even validate the seed
])
def test_preview_counts(args, expected):
    p = preview(*args)
    assert (p.minibatch_size, p.final_reserve, p.per_rejected_proposal, p.per_accepted_proposal,
            p.proposals_min, p.proposals_max) == expected
    assert p.seed_validation == args[2] and p.estimated_cost is None


def test_preview_estimates_cost_from_prices():
    p = preview(120, 10, 8, 3, 8, cost_per_rollout=0.01, cost_per_reflection=0.1, cost_source="probe")
    low, high = p.estimated_cost
    assert low == pytest.approx(120 * 0.01 + 8 * 0.1) and high == pytest.approx(120 * 0.01 + 18 * 0.1)
    assert preview(120, 10, 8, 3, 8, cost_per_rollout=0.01).estimated_cost == pytest.approx((1.2, 1.2))


def test_preview_text():
    text = str(preview(300, 10, 60, 3, 15, max_cost=5.0))
    assert text.splitlines() == [
        "Budget: 300 metric calls (rollouts) on 10 training and 60 validation examples.",
        "  seed validation: 60; kept for the final validation: 45",
        "  a proposal costs 6 calls if its child is rejected on the minibatch and 21 if it passes (validation "
        "screen of 15 examples)",
        "  so the budget pays for 9 to 32 proposals",
        "  cost: unknown until a price per rollout is (pass probe=N, or plan again after a run with the same "
        "log_dir)",
        "  max_cost: $5.00 (whichever budget ends first stops the run)",
    ]
    priced = str(preview(120, 10, 8, 3, 8, cost_per_rollout=0.01, cost_per_reflection=0.1, cost_source="probe"))
    assert "  cost: about $2.00 to $3.00 ($0.01000 per rollout, $0.1000 per reflection; from probe)" in priced
    unknown_reflection = str(preview(120, 10, 8, 3, 8, cost_per_rollout=0.01, cost_source="probe"))
    assert "reflection cost unknown (not included)" in unknown_reflection
