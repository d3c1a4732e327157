"""A recorded GEPA run shared by the tracking tests (scripted LMs, no network)."""

import dspy
import pytest

from dspy_gepa import GEPA

from ..helpers import TwoStep, metric, reflection_lm, split, task_lm


def run_gepa(log_dir=None, *, budget=150, program=None, task=None, **kw):
    train, val = split()
    with dspy.context(lm=task or task_lm()):
        kw.setdefault("reflection_lm", reflection_lm())
        kw.setdefault("metric", metric)
        return GEPA(max_metric_calls=budget, track_stats=True, log_dir=log_dir, **kw).compile(
            program or TwoStep(), trainset=train, valset=val)


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory):
    """A finished run with log_dir: (log_dir, optimized program)."""
    log_dir = tmp_path_factory.mktemp("recorded") / "run"
    optimized = run_gepa(log_dir)
    return log_dir, optimized


# ----------------------------------------------------------------------------- MLflow against a real store


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory):
    """An empty sqlite tracking store, created once (MLflow's schema migrations take seconds)."""
    import contextlib

    pytest.importorskip("mlflow", reason="mlflow is not installed: pip install 'dspy-gepa[mlflow]'")
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-template")
    with contextlib.chdir(folder):
        MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


@pytest.fixture
def mlflow_store(mlflow_template, tmp_path, monkeypatch):
    """A fresh local store (sqlite file + artifacts in tmp_path) as MLflow's tracking URI; global MLflow
    state (URI, active experiment, active runs) is restored afterwards."""
    import shutil

    import mlflow
    from mlflow import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template, db)
    uri = f"sqlite:///{db}"
    monkeypatch.chdir(tmp_path)  # experiments created here keep their artifacts under tmp_path/mlruns
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    mlflow.set_tracking_uri(uri)
    yield uri, MlflowClient(uri)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.tracking.fluent._active_experiment_id = None


# ----------------------------------------------------------------------------- W&B in offline mode


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """W&B in offline mode with every directory it writes in tmp_path; never reaches the network."""
    wandb = pytest.importorskip("wandb", reason="wandb is not installed: pip install 'dspy-gepa[wandb]'")
    root = tmp_path / "wandb-root"
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"),
                     ("WANDB_DATA_DIR", "data"), ("WANDB_ARTIFACT_DIR", "artifacts")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    wandb.teardown()  # wandb reads its settings once per process setup: start from this environment
    yield root
    if wandb.run is not None:
        wandb.run.finish()
    wandb.teardown()
