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
    # MLflow infers a logged model's requirements by loading it in a subprocess (20 s and more here); tests
    # take what it falls back to, the flavor's defaults (dspy, pinned).
    monkeypatch.setattr("mlflow.dspy.save.infer_pip_requirements", lambda path, flavor, fallback=None, **kw: fallback)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ACTIVE_MODEL_ID"):
        monkeypatch.delenv(var, raising=False)
    mlflow.set_tracking_uri(uri)
    yield uri, MlflowClient(uri)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.clear_active_model()
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


# ----------------------------------------------------------------------------- a real browser


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _chromium_path():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (Debian's, as CI installs it) driven by Playwright. Skipped where either is missing,
    except in CI (``CI`` set), where a missing browser is a failure: CI must check what users look at."""
    import os

    path = _chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if path is None or sync_playwright is None:
        missing = "Chromium (apt-get install chromium)" if path is None else "Playwright (pip install playwright)"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} is missing in CI: .ci/run installs both")
        pytest.skip(f"no {missing} on this machine")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserPage:
    """A page with every console error and uncaught exception recorded in ``errors``."""

    def __init__(self, browser, width=1280, height=900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors = []
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))

    def screenshot_colors(self, path, **kw):
        """Take a screenshot and return how many distinct colors it has (a blank page has one or two)."""
        from PIL import Image

        self.page.screenshot(path=str(path), **kw)
        with Image.open(path) as png:
            return len(png.convert("RGB").getcolors(maxcolors=1_000_000) or [])

    def close(self):
        self.page.close()


@pytest.fixture
def browser_page(chromium):
    page = BrowserPage(chromium)
    yield page
    page.close()
