"""No API key or credential reaches anything we log: W&B files, MLflow params/metrics/tags/artifacts,
the journal, the report, the console; also when the run fails with a provider error that echoes a key.
(tests/faults/test_secrets.py covers the same without trackers: error chains, logs at DEBUG level,
saved programs whose LMs carry keys and headers, pre-flight errors.)"""

import logging
import traceback
from pathlib import Path

import dspy
import dspy.lm15
import pytest

from dspy_gepa import GEPA, InfrastructureError
from dspy_gepa.testing import scripted_lm

from ..helpers import TwoStep, metric, rule_for, split
from ..secret_scan import PLANTED, scan

pytest.importorskip("wandb", reason="wandb is not installed: pip install 'dspy-gepa[wandb]'")
mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install 'dspy-gepa[mlflow]'")


def rules_proposer(candidate, reflective_dataset, components_to_update):
    rules = {r["Feedback"].split("'")[1] for c in components_to_update for r in reflective_dataset[c]
             if "'" in r["Feedback"]}
    return {c: candidate[c] + "".join(f"\n{r}" for r in sorted(rules)) for c in components_to_update}


@pytest.mark.slow
def test_nothing_logged_holds_a_key(wandb_offline, mlflow_store, tmp_path, capfd, caplog, monkeypatch):
    uri, client = mlflow_store
    # The reflection LM holds a key but is never called (a scripted proposer does the reflecting); a
    # provider key sits in the environment; the W&B key is given to GEPA.
    reflection = dspy.LM("openai/gpt-4.1", api_key=PLANTED[0])
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED[1])
    task = scripted_lm(lambda call: {"color": rule_for(call.system, call.field("word")) or "unknown"},
                       "scripted/task")
    log_dir = tmp_path / "log"
    with dspy.context(lm=task):
        optimized = GEPA(metric=metric, max_metric_calls=120, reflection_lm=reflection,
                         instruction_proposer=rules_proposer, log_dir=str(log_dir), track_stats=True,
                         use_wandb=True, wandb_api_key=PLANTED[2], wandb_init_kwargs={"project": "secrets"},
                         use_mlflow=True, mlflow_experiment_name="secrets", progress=True,
                         preflight=False).compile(  # the reflection LM holds the key but is never called
            TwoStep(), trainset=split()[0], valset=split()[1])
    assert len(optimized.detailed_results.candidates) > 1  # a real run, with accepted candidates

    scanned = 0
    for path in [*wandb_offline.rglob("*"), *log_dir.rglob("*")]:
        if path.is_file():
            scan(str(path), path.read_bytes())
            scanned += 1
    (exp,) = [e for e in client.search_experiments() if e.name == "secrets"]
    (run,) = client.search_runs([exp.experiment_id])
    scan("mlflow params", run.data.params)
    scan("mlflow tags", run.data.tags)
    scan("mlflow metric keys", list(run.data.metrics))
    local = client.download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts"))
    artifacts = [p for p in Path(local).rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in artifacts) and any(p.name == "best_program.json" for p in artifacts)
    for path in artifacts:
        scan(f"mlflow artifact {path.name}", path.read_bytes())
    model = Path(mlflow.artifacts.download_artifacts(run.data.tags["gepa/model_uri"], dst_path=str(tmp_path / "m")))
    model_files = [p for p in model.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pkl" for p in model_files)  # the optimized program as an MLflow model
    for path in model_files:
        scan(f"mlflow model file {path.name}", path.read_bytes())
    assert scanned > 10 and (log_dir / "report.html").exists() and (log_dir / "journal.jsonl").exists()
    out, err = capfd.readouterr()
    scan("stdout", out)
    scan("stderr", err)
    scan("log records", caplog.text)


@pytest.mark.slow
def test_a_failing_run_logs_no_key_either(wandb_offline, mlflow_store, tmp_path, capfd, caplog, monkeypatch):
    """The task LM's provider refuses the key and echoes it; a predictor's LM carries a key and an
    Authorization header. The run fails: the error summary, the best-program artifact (with that LM's
    state), the report and the console hold neither."""
    uri, client = mlflow_store
    caplog.set_level(logging.DEBUG, logger="dspy_gepa")
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED[1])
    calls = {"n": 0}

    def respond(call):
        calls["n"] += 1
        if calls["n"] > 60:
            raise dspy.lm15.AuthError(f"Incorrect API key provided: {PLANTED[1]} (Authorization: Bearer {PLANTED[0]})")
        return {"color": rule_for(call.system, call.field("word")) or "unknown"}

    keyed = dspy.LM("openai/gpt-4.1-mini", api_key=PLANTED[0], extra_headers={"Authorization": f"Bearer {PLANTED[0]}"})

    class Keyed(dspy.Module):
        def __init__(self):
            super().__init__()
            self.steps = TwoStep()
            self.fallback = dspy.Predict("word -> color")
            self.fallback.lm = keyed  # never called (the run stays offline), but saved with the program

        def forward(self, word):
            return self.steps(word=word)

    log_dir = tmp_path / "log"
    with dspy.context(lm=scripted_lm(respond, "scripted/task")), pytest.raises(InfrastructureError) as info:
        GEPA(metric=metric, max_metric_calls=200, instruction_proposer=rules_proposer, log_dir=str(log_dir),
             use_wandb=True, wandb_api_key=PLANTED[2], wandb_init_kwargs={"project": "secrets-failed"},
             use_mlflow=True, mlflow_experiment_name="secrets-failed", preflight=False).compile(
            Keyed(), trainset=split()[0], valset=split()[1])
    scan("the error", "".join(traceback.format_exception(info.value)))
    (exp,) = [e for e in client.search_experiments() if e.name == "secrets-failed"]
    (run,) = client.search_runs([exp.experiment_id])
    assert "Incorrect API key provided: ***" in run.data.tags["gepa/error"]
    for name, data in (("params", run.data.params), ("tags", run.data.tags)):
        scan(f"mlflow {name}", data)
    local = client.download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts"))
    artifacts = [p for p in Path(local).rglob("*") if p.is_file()]
    assert any(p.name == "best_program.json" for p in artifacts)
    for path in [*artifacts, *wandb_offline.rglob("*"), *log_dir.rglob("*")]:
        if path.is_file():
            scan(str(path), path.read_bytes())
    out, err = capfd.readouterr()
    scan("stdout", out)
    scan("stderr", err)
    scan("log records", caplog.text)
