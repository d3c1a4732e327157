from benchmarks.scripted.runner import (
    OPTIMIZERS,
    BudgetSpec,
    Trajectory,
    environment,
    make_task,
    optimizer_available,
    optimizer_factory,
    run_one,
)
from benchmarks.scripted.worlds import CallCounter


def test_optimizer_table_has_the_comparison_slots():
    assert {"dspy", "dspy_pxn", "dspy_gepa", "dspy_gepa_paper"} <= set(OPTIMIZERS)
    assert optimizer_available("dspy") == (True, "")
    assert optimizer_available("dspy_pxn_4x2") == (True, "")
    assert optimizer_available("nope")[0] is False
    assert optimizer_available("dspy_pxn_4")[0] is False


def test_pxn_factory_passes_the_sampling_strategy_to_dspy_gepa():
    from gepa.strategies.proposal_sampling import PxNSampling

    opt = optimizer_factory("dspy_pxn_3x2")(metric=lambda *a: 0.0, max_metric_calls=10,
                                            reflection_lm=make_task("routing", 0).reflection_lm())
    strategy = opt.gepa_kwargs["sampling_strategy"]
    assert isinstance(strategy, PxNSampling) and (strategy.p, strategy.n) == (3, 2)


def test_budget_spec_parses_budget_and_valset_size():
    assert BudgetSpec.parse("300") == BudgetSpec(300, None)
    assert BudgetSpec.parse("60:10") == BudgetSpec(60, 10)
    assert str(BudgetSpec.parse("60:10")) == "60:10"


def test_trajectory_incumbent_is_best_on_the_examples_every_candidate_has():
    calls = CallCounter()
    trajectory = Trajectory(calls)
    trajectory.add({"a": "seed"}, {0: 0.0, 1: 1.0, 2: 0.0, 3: 0.0})
    trajectory.add({"a": "screened"}, {0: 1.0, 1: 1.0})  # scored on a screen of two
    trajectory.add({"a": "full"}, {0: 1.0, 1: 0.0, 2: 1.0, 3: 1.0})
    trajectory.add({"a": "screened"}, {2: 1.0, 3: 1.0})  # validated in full later
    assert [c["a"] for _, _, c in trajectory.incumbents()] == ["seed", "screened", "screened", "screened"]


def test_run_one_records_scores_budget_curve_and_environment():
    task = make_task("routing", 0)
    for opt in ("dspy", "dspy_gepa"):
        rec = run_one(task, opt, seed=0, budget=150, num_threads=2)
        assert 0.0 <= rec["test_score"] <= 1.0 and rec["val_score"] is not None
        assert rec["metric_calls_counted"] == rec["forward_calls_counted"] == rec["metric_calls_reported"]
        assert rec["task_lm_calls"] == rec["forward_calls_counted"]
        assert rec["reflection_lm_calls"] >= 1
        assert set(environment()) <= set(rec) and rec["cpu_count"]
        curve = rec["curve"]
        assert curve[-1] == [round(rec["wall_time_s"], 4), rec["metric_calls_counted"], round(rec["test_score"], 6)]
        assert len(curve) >= 2 and curve[0][1] >= len(task.valset)  # the seed's validation comes first
        assert [p[0] for p in curve] == sorted(p[0] for p in curve)
