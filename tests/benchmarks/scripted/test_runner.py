from benchmarks.scripted.runner import OPTIMIZERS, environment, make_task, optimizer_available, run_one


def test_optimizer_table_has_the_comparison_slots():
    assert {"dspy", "dspy_gepa", "dspy_gepa_paper"} <= set(OPTIMIZERS)
    assert optimizer_available("dspy") == (True, "")
    assert optimizer_available("nope")[0] is False


def test_run_one_records_scores_budget_and_environment():
    task = make_task("routing", 0)
    rec = run_one(task, "dspy", seed=0, budget=80, num_threads=2)
    assert 0.0 <= rec["test_score"] <= 1.0 and rec["val_score"] is not None
    assert rec["metric_calls_counted"] == rec["forward_calls_counted"] == rec["metric_calls_reported"]
    assert rec["task_lm_calls"] == rec["forward_calls_counted"]
    assert rec["reflection_lm_calls"] >= 1
    assert set(environment()) <= set(rec) and rec["cpu_count"]
