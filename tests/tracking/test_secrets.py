"""No API key or credential reaches anything we log: W&B files, MLflow params/metrics/tags/artifacts,
the journal, the report, the console."""

import re
from pathlib import Path

import dspy
import pytest

from dspy_gepa import GEPA
from dspy_gepa.testing import scripted_lm

from ..helpers import TwoStep, metric, rule_for, split

pytest.importorskip("wandb", reason="wandb is not installed: pip install 'dspy-gepa[wandb]'")
mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install 'dspy-gepa[mlflow]'")

PLANTED = ("sk-test-SECRET-reflection-0123456789", "sk-test-SECRET-env-0123456789", "wandb-SECRET-0123456789abcdef")
CREDENTIAL = re.compile(r"(?i)(authorization|bearer)\W{0,3}[A-Za-z0-9._\-]{8,}")


def rules_proposer(candidate, reflective_dataset, components_to_update):
    rules = {r["Feedback"].split("'")[1] for c in components_to_update for r in reflective_dataset[c]
             if "'" in r["Feedback"]}
    return {c: candidate[c] + "".join(f"\n{r}" for r in sorted(rules)) for c in components_to_update}


def scan(name, data):
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
    for secret in PLANTED:
        assert secret not in text and "SECRET" not in text, f"{name} holds a planted secret"
    match = CREDENTIAL.search(text)
    assert match is None, f"{name} holds a credential-looking value: {match and match.group(0)}"


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
    assert scanned > 10 and (log_dir / "report.html").exists() and (log_dir / "journal.jsonl").exists()
    out, err = capfd.readouterr()
    scan("stdout", out)
    scan("stderr", err)
    scan("log records", caplog.text)
