"""MLflow tracking against a real local store (sqlite file in a temp dir), checked through MlflowClient."""

import json

import dspy
import pytest

from dspy_gepa import TrackingError

from ..helpers import Counter, TwoStep, reflection_lm
from ..helpers import task_lm as counting_task
from .conftest import run_gepa

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install 'dspy-gepa[mlflow]'")


def runs_of(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"]) if exp else []


def history(client, run_id, key):
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def artifact_text(client, run_id, path, tmp_path):
    return open(client.download_artifacts(run_id, path, str(tmp_path)), encoding="utf-8").read()


def test_logs_config_metrics_candidates_program_and_report(mlflow_store, tmp_path):
    uri, client = mlflow_store
    r = run_gepa(tmp_path / "log", use_mlflow=True, mlflow_tracking_uri=uri,
                 mlflow_experiment_name="gepa-test").detailed_results
    (run,) = runs_of(client, "gepa-test")
    assert run.info.status == "FINISHED" and mlflow.active_run() is None
    p = run.data.params
    assert p["gepa/seed"] == "0" and p["gepa/budget_metric_calls"] == "150" and p["gepa/max_metric_calls"] == "150"
    assert (p["gepa/train_size"], p["gepa/val_size"], p["gepa/components"]) == ("10", "8", "first, second")
    assert p["gepa/version/dspy"] == dspy.__version__ and p["gepa/version/litellm"] and p["gepa/version/dspy_gepa"]
    assert p["gepa/reflection_lm"] == "scripted/reflection"
    assert all(k.startswith("gepa/") for k in [*p, *run.data.metrics])

    best = history(client, run.info.run_id, "gepa/best_val_score")
    steps = [s for s, _ in best]
    assert steps == sorted(steps) and steps[-1] <= r.total_metric_calls
    assert best[-1][1] == pytest.approx(r.val_aggregate_scores[r.best_idx])
    assert set(history(client, run.info.run_id, "gepa/metric_calls")) == {(s, float(s)) for s in steps}
    assert len(history(client, run.info.run_id, "gepa/child_minibatch_score")) >= len(r.candidates) - 1
    accepted = history(client, run.info.run_id, "gepa/accepted")
    assert sum(v for _, v in accepted) == len(r.candidates)  # the seed counts as accepted
    m = run.data.metrics
    assert m["gepa/total_metric_calls"] == r.total_metric_calls and m["gepa/best_idx"] == r.best_idx
    assert "gepa/cost" not in m and "gepa/total_cost" not in m  # scripted LMs have no price
    tags = run.data.tags
    assert tags["gepa/status"] == "finished" and tags["gepa/stop_reason"]
    assert tags["gepa/best_instructions/first"] == r.candidate_texts[r.best_idx]["first"]

    rid = run.info.run_id
    listed = [f.path for f in client.list_artifacts(rid, "gepa/candidates")]
    assert listed == [f"gepa/candidates/{i:04d}.json" for i in range(len(r.candidates))]
    for i in range(len(r.candidates)):
        row = json.loads(artifact_text(client, rid, f"gepa/candidates/{i:04d}.json", tmp_path))
        assert row["instructions"] == r.candidate_texts[i]
        assert row["parents"] == [p for p in r.parents[i] if p is not None]
        assert row["val_score"] == pytest.approx(r.val_aggregate_scores[i])
        assert row["discovered_at"] == r.discovery_eval_counts[i]
    table = json.loads(artifact_text(client, rid, "gepa/candidates.json", tmp_path))
    assert len(table["data"]) == len(r.candidates) and "instructions/second" in table["columns"]
    program = TwoStep()
    program.load(client.download_artifacts(rid, "gepa/best_program.json", str(tmp_path)))
    assert {n: p.signature.instructions for n, p in program.named_predictors()} == r.candidate_texts[r.best_idx]
    report = artifact_text(client, rid, "gepa/report.html", tmp_path)
    assert f'id="cand-{len(r.candidates) - 1}"' in report and "finished" in report


def test_attaches_to_an_active_run_under_the_prefix(mlflow_store):
    uri, client = mlflow_store
    mlflow.set_experiment("host")
    with mlflow.start_run() as host:
        mlflow.log_param("lr", 0.1)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        r = run_gepa(use_mlflow=True, tracking_key_prefix="opt/").detailed_results
        assert mlflow.active_run().info.run_id == host.info.run_id  # left open for the host
        mlflow.log_metric("loss", 0.1, step=3)
    (run,) = runs_of(client, "host")
    assert run.info.run_id == host.info.run_id and run.info.status == "FINISHED"
    ours = {k for k in [*run.data.params, *run.data.metrics] if k not in ("lr", "loss")}
    assert ours and all(k.startswith("opt/") for k in ours)
    assert [s for s, _ in history(client, host.info.run_id, "loss")] == [0, 1, 2, 3]
    # Our step axis is the metric-call count, on our own keys: the host's steps are untouched.
    steps = [s for s, _ in history(client, host.info.run_id, "opt/best_val_score")]
    assert steps and max(steps) <= r.total_metric_calls
    assert run.data.params["lr"] == "0.1"
    assert client.list_artifacts(host.info.run_id, "opt")


def test_attach_false_starts_a_nested_run(mlflow_store):
    uri, client = mlflow_store
    mlflow.set_experiment("host")
    with mlflow.start_run() as host:
        run_gepa(budget=60, use_mlflow=True, mlflow_attach_existing=False)
    parent, child = runs_of(client, "host")
    assert parent.info.run_id == host.info.run_id and not any(k.startswith("gepa/") for k in parent.data.params)
    assert child.data.tags["mlflow.parentRunId"] == host.info.run_id and child.info.status == "FINISHED"
    assert "gepa/best_val_score" in child.data.metrics


def test_attach_true_without_an_active_run_fails_before_any_lm_call(mlflow_store):
    refl = reflection_lm()
    with pytest.raises(TrackingError, match="no MLflow run is active"):
        run_gepa(use_mlflow=True, mlflow_attach_existing=True, reflection_lm=refl)
    assert refl.engine.calls == []


@pytest.mark.slow
def test_resumed_optimization_continues_its_run_without_logging_twice(mlflow_store, tmp_path):
    uri, client = mlflow_store
    log = tmp_path / "log"
    kw = {"use_mlflow": True, "mlflow_experiment_name": "resume", "num_threads": 2}
    with pytest.raises(KeyboardInterrupt):
        run_gepa(log, task=counting_task(Counter(), stop_after=60), **kw)
    (first,) = runs_of(client, "resume")
    assert first.info.status == "KILLED"
    r = run_gepa(log, **kw).detailed_results
    (run,) = runs_of(client, "resume")
    assert run.info.run_id == first.info.run_id and run.info.status == "FINISHED"
    iterations = [v for _, v in history(client, run.info.run_id, "gepa/iteration")]
    # Every proposal logged exactly once across both sessions: replayed ones were not logged again.
    assert sorted(iterations) == [float(i) for i in range(len(iterations))]
    listed = client.list_artifacts(run.info.run_id, "gepa/candidates")
    assert len(listed) == len(r.candidates)


def test_compatible_with_mlflow_dspy_autolog(mlflow_store):
    uri, client = mlflow_store
    mlflow.set_experiment("autolog")
    mlflow.dspy.autolog(log_compiles=True, log_traces=False)
    try:
        r = run_gepa(budget=60, use_mlflow=True).detailed_results
    finally:
        mlflow.dspy.autolog(disable=True)
    (run,) = runs_of(client, "autolog")  # autolog's run around compile; ours attached to it
    assert run.data.metrics["gepa/best_val_score"] == pytest.approx(r.val_aggregate_scores[r.best_idx])
    paths = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert "best_model.json" in paths and "gepa" in paths


def test_multi_objective_scores_are_logged(mlflow_store, tmp_path):
    from ..conformance.test_objectives import metric as objective_metric

    uri, client = mlflow_store
    run_gepa(tmp_path / "log", use_mlflow=True, mlflow_tracking_uri=uri, mlflow_experiment_name="gepa-objectives",
             metric=objective_metric)
    (run,) = runs_of(client, "gepa-objectives")
    assert history(client, run.info.run_id, "gepa/new_candidate_objective/warm")
    assert {"gepa/best_objective/correct", "gepa/best_objective/warm"} <= set(run.data.metrics)
    row = json.loads(artifact_text(client, run.info.run_id, "gepa/candidates/0000.json", tmp_path))
    assert set(row["objectives"]) == {"correct", "warm"}
