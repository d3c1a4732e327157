"""W&B tracking in offline mode, checked on the run's files and the records of its .wandb log."""

import json

import pytest

from dspy_gepa import TrackingError

from ..helpers import TwoStep, reflection_lm
from .conftest import run_gepa
from .wandb_files import offline_runs

wandb = pytest.importorskip("wandb", reason="wandb is not installed: pip install 'dspy-gepa[wandb]'")


def step_axes(run):
    """metric name -> its declared step metric; globs are reported under their glob."""
    return {(m.name or m.glob_name): m.step_metric for m in run.metrics}


def test_offline_run_has_config_metrics_table_program_and_report(wandb_offline, tmp_path):
    r = run_gepa(tmp_path / "log", use_wandb=True, wandb_init_kwargs={"project": "gepa-test"}).detailed_results
    assert wandb.run is None  # the run GEPA started is finished
    (run,) = offline_runs(wandb_offline)
    assert run.exit_code == 0
    c = run.config
    assert (c["gepa/seed"], c["gepa/budget_metric_calls"], c["gepa/train_size"], c["gepa/val_size"]) == (0, 150, 10, 8)
    assert c["gepa/components"] == "first, second" and c["gepa/version/dspy"] and c["gepa/version/litellm"]
    axes = step_axes(run)
    assert axes["gepa/best_val_score"] == axes["gepa/child_minibatch_score"] == "gepa/metric_calls"
    assert not any(m.glob_name for m in run.metrics)  # per key: never re-axes anyone else's metrics
    calls = run.column("gepa/metric_calls")
    assert calls == sorted(calls) and calls[-1] <= r.total_metric_calls
    best = run.column("gepa/best_val_score")
    assert best == sorted(best) and best[-1] == pytest.approx(r.val_aggregate_scores[r.best_idx])
    s = run.summary
    assert s["gepa/best_idx"] == r.best_idx and s["gepa/total_metric_calls"] == r.total_metric_calls
    assert s["gepa/status"] == "finished" and s["gepa/stop_reason"]
    assert s["gepa/best_instructions/second"] == r.candidate_texts[r.best_idx]["second"]
    rows = run.table_rows("gepa/candidates")
    assert [row[0] for row in rows] == list(range(len(r.candidates)))
    assert [row[-2:] for row in rows] == [[t["first"], t["second"]] for t in r.candidate_texts]
    (report,) = run.files.glob("media/html/gepa/report_*.html")
    assert f'id="cand-{r.best_idx}"' in report.read_text()
    (artifact,) = [a for a in run.artifacts if a.type == "model"]
    assert artifact.name == "gepa-best-program"
    (staged,) = [e.local_path for e in artifact.manifest.contents if e.path == "best_program.json"]
    copy = tmp_path / "best_program.json"  # the staged file has a random name; dspy wants .json
    copy.write_bytes(open(staged, "rb").read())
    program = TwoStep()
    program.load(str(copy))
    assert {n: p.signature.instructions for n, p in program.named_predictors()} == r.candidate_texts[r.best_idx]


def test_attaches_to_the_active_run_without_touching_its_step_axis(wandb_offline):
    host = wandb.init(project="host")
    host.log({"loss": 1.0})
    host.log({"loss": 0.8})
    r = run_gepa(use_wandb=True).detailed_results
    assert wandb.run is host  # still open for the host
    host.log({"loss": 0.5})
    host.finish()
    (run,) = offline_runs(wandb_offline)  # no second run
    assert run.id == host.id and run.exit_code == 0
    assert run.column("loss") == [1.0, 0.8, 0.5]
    axes = step_axes(run)
    assert "loss" not in axes and not any(m.glob_name for m in run.metrics)
    assert axes["gepa/best_val_score"] == "gepa/metric_calls"
    ours = {k for row in run.history for k in row if not k.startswith("_") and k != "loss"}
    assert ours and all(k.startswith("gepa/") for k in ours)
    assert run.summary["gepa/best_idx"] == r.best_idx and run.config["gepa/seed"] == 0


def test_attach_false_starts_a_separate_run(wandb_offline):
    host = wandb.init(project="host")
    host.log({"loss": 1.0})
    run_gepa(budget=60, use_wandb=True, wandb_attach_existing=False)
    assert wandb.run is host
    host.finish()
    runs = {run.id: run for run in offline_runs(wandb_offline)}
    assert len(runs) == 2
    assert not any(k.startswith("gepa/") for k in runs[host.id].config)
    (ours,) = [run for rid, run in runs.items() if rid != host.id]
    assert ours.exit_code == 0 and "gepa/best_val_score" in ours.summary


def test_attach_true_without_an_active_run_fails_before_any_lm_call(wandb_offline):
    refl = reflection_lm()
    with pytest.raises(TrackingError, match="no W&B run is active"):
        run_gepa(use_wandb=True, wandb_attach_existing=True, reflection_lm=refl)
    assert refl.engine.calls == [] and not offline_runs(wandb_offline)


def test_config_is_json_safe(wandb_offline):
    run_gepa(budget=60, use_wandb=True, gepa_kwargs={"tracking_key_prefix": "opt/"})
    (run,) = offline_runs(wandb_offline)
    ours = {k: v for k, v in run.config.items() if k.startswith("opt/")}
    assert ours and json.loads(json.dumps(ours)) == ours
    assert not any(k.startswith("gepa/") for k in run.config)


@pytest.mark.slow
def test_resumed_optimization_resumes_its_run_without_logging_twice(wandb_offline, tmp_path):
    from ..helpers import Counter
    from ..helpers import task_lm as counting_task

    log = tmp_path / "log"
    with pytest.raises(KeyboardInterrupt):
        run_gepa(log, task=counting_task(Counter(), stop_after=60), use_wandb=True, num_threads=2)
    r = run_gepa(log, use_wandb=True, num_threads=2).detailed_results
    first, second = offline_runs(wandb_offline)
    assert first.id == second.id  # W&B merges both parts into one run when they are synced
    assert (first.exit_code, second.exit_code) == (1, 0)
    iterations = first.column("gepa/iteration") + second.column("gepa/iteration")
    assert sorted(iterations) == list(range(len(iterations)))  # replayed proposals not logged again
    rows = first.table_rows("gepa/candidates") + second.table_rows("gepa/candidates")
    assert sorted(row[0] for row in rows) == list(range(len(r.candidates)))
