"""How trackers plug into a run: failures at start stop it before any LM call, failures later only warn;
what the tracker hands a backend; redaction of logged values."""

import logging

import pytest

from dspy_gepa import TrackingError
from dspy_gepa.tracking import Backend, redact, safe_params, session

from ..helpers import reflection_lm
from .conftest import run_gepa


class FakeBackend(Backend):
    """Records every call; ``fail_on`` names the method that raises."""

    instances: list = []
    fail_on: dict = {}

    def __init__(self, options):
        super().__init__(options)
        self.name = type(self).__name__
        self.calls = []
        FakeBackend.instances.append(self)

    def _call(self, method, *args):
        self.calls.append((method, *args))
        if FakeBackend.fail_on.get(self.name) == method:
            raise RuntimeError(f"{self.name}.{method} is down")

    def start(self, *, resumed, stored, components):
        self._call("start", components)
        return {f"{self.name}_run_id": "r1"}

    def log_params(self, params):
        self._call("log_params", params)

    def log_metrics(self, metrics, step):
        self._call("log_metrics", metrics, step)

    def log_candidate(self, row):
        self._call("log_candidate", row)

    def log_summary(self, summary, step):
        self._call("log_summary", summary, step)

    def log_final(self, rows, files):
        self._call("log_final", rows, {k: p.read_text() for k, p in files.items()})

    def log_program(self, program):
        self._call("log_program", {name: p.signature.instructions for name, p in program.named_predictors()})

    def finish(self, *, failed, interrupted=False):
        self._call("finish", failed)


class FakeWandb(FakeBackend):
    pass


class FakeMlflow(FakeBackend):
    pass


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setattr("dspy_gepa.tracking._wandb.WandbBackend", FakeWandb)
    monkeypatch.setattr("dspy_gepa.tracking._mlflow.MlflowBackend", FakeMlflow)
    monkeypatch.setattr(session, "require", lambda name, check_only=False: None)
    FakeBackend.instances, FakeBackend.fail_on = [], {}
    return FakeBackend


def methods(backend):
    return [c[0] for c in backend.calls]


def test_backend_receives_the_run_in_order(fakes, tmp_path):
    r = run_gepa(tmp_path, use_wandb=True).detailed_results
    (backend,) = fakes.instances
    seq = methods(backend)
    assert seq[:2] == ["start", "log_params"] and seq[-4:] == ["log_summary", "log_final", "log_program", "finish"]
    assert backend.calls[-2][1] == r.candidate_texts[r.best_idx]  # the best program, built with its instructions
    candidates = [c[1] for c in backend.calls if c[0] == "log_candidate"]
    assert [c["idx"] for c in candidates] == list(range(len(r.candidates)))
    assert [c["instructions"] for c in candidates] == r.candidate_texts
    steps = [c[2] for c in backend.calls if c[0] == "log_metrics"]
    assert steps == sorted(steps) and steps[-1] <= r.total_metric_calls
    rows, files = backend.calls[-3][1:]
    assert len(rows) == len(r.candidates) and set(files) == {"best_program.json", "report.html"}
    assert "cand-0" in files["report.html"]
    assert backend.calls[-1] == ("finish", False)
    assert (tmp_path / "tracking.json").read_text().count("FakeWandb_run_id") == 1


def test_report_without_log_dir_comes_from_memory(fakes):
    r = run_gepa(use_mlflow=True).detailed_results
    (backend,) = fakes.instances
    (files,) = [c[2] for c in backend.calls if c[0] == "log_final"]
    assert f'id="cand-{len(r.candidates) - 1}"' in files["report.html"]


def test_a_tracker_failing_mid_run_only_warns(fakes, caplog):
    fakes.fail_on = {"FakeWandb": "log_metrics"}
    with caplog.at_level(logging.WARNING):
        r = run_gepa(use_wandb=True, use_mlflow=True).detailed_results
    assert r.val_aggregate_scores[r.best_idx] > 0  # the optimization went on
    assert "<FakeWandb tracker>" in caplog.text and "FakeWandb.log_metrics is down" in caplog.text
    wandb_backend, mlflow_backend = fakes.instances
    assert methods(mlflow_backend)[-1] == "finish" and "log_metrics" in methods(mlflow_backend)


def test_a_tracker_that_cannot_start_stops_the_run_and_closes_the_others(fakes):
    fakes.fail_on = {"FakeMlflow": "start"}
    refl = reflection_lm()
    with pytest.raises(TrackingError, match="FakeMlflow.start is down"):
        run_gepa(use_wandb=True, use_mlflow=True, reflection_lm=refl)
    wandb_backend, mlflow_backend = fakes.instances
    assert methods(wandb_backend) == ["start", "log_params", "finish"] and wandb_backend.calls[-1] == ("finish", True)
    assert methods(mlflow_backend) == ["start"]
    assert refl.engine.calls == []


def test_failure_is_reported_to_the_backend(fakes):
    def useless(candidate, reflective_dataset, components_to_update):
        return {c: "" for c in components_to_update}

    with pytest.raises(Exception, match="proposals in a row"):
        run_gepa(use_wandb=True, instruction_proposer=useless, reflection_lm=None)
    (backend,) = fakes.instances
    summary = next(c[1] for c in backend.calls if c[0] == "log_summary")
    assert summary["gepa/status"] == "failed" and summary["gepa/error"].startswith("ReflectionError")
    assert backend.calls[-1] == ("finish", True)


def test_redaction():
    assert redact("AuthenticationError: Incorrect API key provided: sk-proj-abcdef123456") == \
        "AuthenticationError: Incorrect API key provided: sk-***"
    assert "abc.def.ghi" not in redact("header Authorization: Bearer abc.def.ghi-jkl")
    assert redact("https://bob:hunter2@host/x") == "https://***@host/x"
    assert "hunter2" not in redact('{"api_key": "hunter2"}')
    params = safe_params({"openai_api_key": "x", "wandb_token": "y", "model": "openai/gpt-4.1", "lm": object(),
                          "ids": [1, 2], "nan": float("nan")})
    assert params == {"model": "openai/gpt-4.1", "lm": "object", "ids": "1, 2", "nan": "nan"}
