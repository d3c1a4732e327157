"""What a budget buys, said before a run (``engine/budget.py``): the plan logged at the start and the preview
``GEPA.plan`` prints. ``auto_budget`` is compared with ``dspy.GEPA``'s in ``tests/test_optimizer.py``."""

import pytest

from dspy_gepa.engine.budget import budget_plan, preview


def test_budget_plan_of_a_fresh_run():
    # 100 - 8 for the seed = 92 left; a rejected proposal costs 3 + 3 = 6, an accepted one 3 + 3 + 8 = 14, and a
    # proposal starts only while 14 are left: 92 // 14 = 6 to (92 - 14) // 6 + 1 = 14 proposals.
    assert budget_plan(100, 10, 8, 3, 8) == (
        "Budget plan: 100 metric calls; the seed's validation takes 8. The rest pays for 6 to 14 proposals (6 if every "
        "child passes the minibatch, 14 if none does). A proposal starts only when its worst case (14 calls) fits in "
        "what is left, so the budget is never exceeded.")


def test_budget_plan_of_a_staged_run_says_what_is_kept_and_when_the_seed_is_screened():
    plan = budget_plan(300, 10, 60, 3, 15)
    assert "the seed's validation takes 60, 45 are kept for validating the best screened candidate in full" in plan
    large = budget_plan(10000, 100, 5000, 3, 1250)
    assert "the seed is screened on 1250 examples like a child" in large and "3 to 625 proposals" in large


def test_budget_plan_without_budget_or_below_the_seed():
    assert budget_plan(None, 10, 8, 3, 8) == "No metric-call budget: the run stops on its other stop conditions."
    assert budget_plan(5, 10, 8, 3, 8) == "Budget 5 metric calls cannot pay for the seed's validation (8 rollouts)."
    assert "pays for no proposal after the seed" in budget_plan(20, 10, 8, 3, 8)


@pytest.mark.parametrize("args,expected", [
    # (budget, train, val, minibatch, screen) -> (minibatch, reserve, rejected, accepted, fewest, most)
    # most: proposals start only while a worst case fits, so the last one starts with at least `accepted` left
    ((120, 10, 8, 3, 8), (3, 0, 6, 14, 8, 17)),  # (120 - 8) // 14, (120 - 8 - 14) // 6 + 1
    ((300, 10, 60, 3, 15), (3, 45, 6, 21, 9, 30)),  # staged: 300 - 60 - 45 = 195 left; 195 // 21, (195 - 21) // 6 + 1
    ((50, 2, 4, 3, 4), (2, 0, 4, 8, 5, 10)),  # a minibatch is at most the training set
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
    assert low == pytest.approx(120 * 0.01 + 8 * 0.1) and high == pytest.approx(120 * 0.01 + 17 * 0.1)
    assert preview(120, 10, 8, 3, 8, cost_per_rollout=0.01).estimated_cost == pytest.approx((1.2, 1.2))


def test_preview_text():
    text = str(preview(300, 10, 60, 3, 15, max_cost=5.0))
    assert text.splitlines() == [
        "Budget: 300 metric calls (rollouts) on 10 training and 60 validation examples.",
        "  seed validation: 60; kept for the final validation: 45",
        "  a proposal costs 6 calls if its child is rejected on the minibatch and 21 if it passes (validation "
        "screen of 15 examples)",
        "  so the budget pays for 9 to 30 proposals",
        "  cost: unknown until a price per rollout is (pass probe=N, or plan again after a run with the same "
        "log_dir)",
        "  max_cost: $5.00 (whichever budget ends first stops the run)",
    ]
    priced = str(preview(120, 10, 8, 3, 8, cost_per_rollout=0.01, cost_per_reflection=0.1, cost_source="probe"))
    assert "  cost: about $2.00 to $2.90 ($0.01000 per rollout, $0.1000 per reflection; from probe)" in priced
    unknown_reflection = str(preview(120, 10, 8, 3, 8, cost_per_rollout=0.01, cost_source="probe"))
    assert "reflection cost unknown (not included)" in unknown_reflection
