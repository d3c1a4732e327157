"""RayBackend on a real local Ray cluster (no mocks of Ray), started by these tests.

A run on Ray equals the same run on threads, usage and cost included, whatever the number of rollouts in
flight; a worker process SIGKILLed in the middle of a rollout costs a retry of that rollout and nothing
else; a driver SIGKILLed mid-run resumes from its journal on any backend; an LM outage on a worker stops the
run as it does on threads; credentials reach workers through ``runtime_env`` and are written nowhere; a
cluster that cannot be reached is a ConfigurationError before anything is spent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dspy
import dspy.lm15
import pytest

from dspy_gepa import ConfigurationError, InfrastructureError
from dspy_gepa.backends import RayBackend, ThreadBackend
from dspy_gepa.engine.journal import JOURNAL_NAME
from dspy_gepa.testing import scripted_lm

from .engine import fakes
from .engine.fakes import FakeAdapter
from .helpers import rule_for
from .ray_driver import key, optimize

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_module():
    import ray

    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths live under it
    yield ray, temp_dir
    if ray.is_initialized():
        ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def cluster(ray_module):
    """A local Ray instance with two CPUs, shared by the tests of this module; its files are under ``temp_dir``."""
    ray, temp_dir = ray_module
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir)
    return ray


@pytest.fixture
def no_cluster(ray_module):
    """No Ray instance in this process, so RayBackend starts (or fails to reach) one itself."""
    ray, _ = ray_module
    if ray.is_initialized():
        ray.shutdown()
    return ray


@pytest.fixture(scope="module")
def reference():
    return optimize(num_threads=1)


def full_key(r):
    return key(r), r.usage, r.total_cost


def journal_rollouts(log_dir: Path) -> list[tuple]:
    lines = (log_dir / JOURNAL_NAME).read_text().splitlines()
    return [tuple(json.loads(line)["key"]) for line in lines if json.loads(line)["type"] == "rollout"]


# ---------------------------------------------------------------- without a cluster in this process

def test_an_unreachable_cluster_is_a_configuration_error_before_anything_is_spent(no_cluster):
    calls = []
    task = scripted_lm(lambda call: calls.append(call) or {"color": "red"}, "scripted/task")
    for address in ("127.0.0.1:9", "ray://127.0.0.1:9"):
        with pytest.raises(ConfigurationError, match="could not start Ray"):
            optimize(RayBackend(address=address), task=task, preflight=True)
    assert calls == []


def test_a_ray_instance_the_backend_started_is_shut_down_with_the_run(no_cluster, reference):
    result = optimize(RayBackend(num_cpus=2, include_dashboard=False))
    assert key(result) == key(reference)
    assert not no_cluster.is_initialized()


# ---------------------------------------------------------------- on a local cluster

@pytest.mark.parametrize("threads", [1, 4])
def test_a_run_on_ray_equals_the_run_on_threads_usage_and_cost_included(cluster, reference, threads):
    result = optimize(RayBackend(), num_threads=threads)
    assert len(result.candidate_texts) >= 3 and result.total_cost > 0
    assert full_key(result) == full_key(reference)


def test_max_cost_stops_a_ray_run_where_it_stops_a_threads_run(cluster):
    on_threads = optimize(max_cost=0.012)
    on_ray = optimize(RayBackend(), max_cost=0.012)
    assert "cost" in on_ray.stop_reason
    assert full_key(on_ray) == full_key(on_threads)


def test_an_adapter_without_a_runner_of_its_own_is_shipped_whole(cluster):
    class Picklable(FakeAdapter):
        def __getstate__(self):
            return {k: v for k, v in self.__dict__.items() if k != "_lock"}

        def __setstate__(self, state):
            self.__dict__.update(state, _lock=threading.Lock())

    def run(backend):
        result, _, _ = fakes.run(Picklable(("a", "b"), capacity=3), budget=100, components=("a", "b"), backend=backend,
                                 max_concurrent_proposals=2, num_threads=4)
        return fakes.summary(result)

    assert run(RayBackend()) == run(ThreadBackend())


def test_an_lm_outage_on_a_worker_stops_the_run_as_on_threads(cluster):
    def respond(call):
        raise dspy.lm15.AuthError("invalid api key")

    for backend in ("threads", RayBackend()):
        with pytest.raises(InfrastructureError, match="scripted/broken") as info:
            optimize(backend, task=scripted_lm(respond, "scripted/broken"))
        assert info.value.lm == "scripted/broken"


def test_credentials_reach_workers_through_forward_env_and_are_written_nowhere(cluster, ray_module, reference,
                                                                              monkeypatch, tmp_path, capfd, caplog):
    secret = "sk-test-" + "7" * 24
    monkeypatch.setenv("SCRIPTED_API_KEY", secret)  # after the cluster started: its workers do not inherit it

    def respond(call):  # runs on the workers
        if os.environ.get("SCRIPTED_API_KEY") != secret:
            raise dspy.lm15.AuthError("invalid api key")
        return {"color": rule_for(call.system, call.field("word")) or "unknown"}

    with pytest.raises(InfrastructureError, match="scripted/task"):
        optimize(RayBackend(), task=scripted_lm(respond, "scripted/task"))
    result = optimize(RayBackend(forward_env=["SCRIPTED_API_KEY"]), log_dir=tmp_path / "run",
                      task=scripted_lm(respond, "scripted/task"))
    assert key(result) == key(reference)
    written = [p for root in (tmp_path / "run", Path(ray_module[1])) for p in root.rglob("*") if p.is_file()]
    assert any(p.name == JOURNAL_NAME for p in written) and any(p.name.endswith(".log") for p in written)
    assert [str(p) for p in written if secret.encode() in p.read_bytes()] == []
    out, err = capfd.readouterr()
    assert secret not in out + err + caplog.text


def test_credentials_in_a_runtime_env_are_warned_about_by_name(cluster, caplog):
    with caplog.at_level(logging.WARNING, logger="dspy_gepa"):
        optimize(RayBackend(runtime_env={"env_vars": {"SCRIPTED_API_KEY": "sk-test-" + "8" * 24}}), max_metric_calls=8)
    assert "['SCRIPTED_API_KEY'] look like credentials" in caplog.text and "sk-test-8" not in caplog.text


def test_a_worker_killed_mid_rollout_costs_a_retry_and_nothing_else(cluster, reference, tmp_path):
    """The first time the task LM is asked about "lime", the worker process doing it is SIGKILLed while it
    waits for the reply. Ray retries that rollout on another worker; each rollout is recorded once."""
    marker, pid_file, ledger = tmp_path / "marker", tmp_path / "pid", tmp_path / "ledger"

    def respond(call):
        word = call.field("word")
        if word == "lime":
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                pid_file.write_text(str(os.getpid()))
                time.sleep(60)  # killed in here
        return {"color": rule_for(call.system, word) or "unknown"}

    def counting_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        from .helpers import metric

        if pred_name is None:  # one line per rollout actually scored, wherever it ran
            fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, f"{gold.word} {os.getpid()}\n".encode())
            os.close(fd)
        return metric(gold, pred, trace, pred_name, pred_trace)

    killed = []

    def killer():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            if pid_file.exists() and pid_file.read_text():
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    result = optimize(RayBackend(), log_dir=tmp_path / "run", metric_fn=counting_metric,
                      task=scripted_lm(respond, "scripted/task"))
    thread.join(1)
    assert len(killed) == 1 and killed[0] != os.getpid()
    assert full_key(result) == full_key(reference)  # nothing lost, nothing counted twice, usage and cost too
    recorded = journal_rollouts(tmp_path / "run")
    assert len(recorded) == len(set(recorded)) == result.total_metric_calls <= 140
    scored = ledger.read_text().splitlines()
    assert len(scored) == result.total_metric_calls  # the killed attempt never reached its metric


def test_a_driver_killed_mid_run_resumes_from_its_journal_on_any_backend(cluster, reference, tmp_path):
    killed = tmp_path / "killed"
    address = cluster.get_runtime_context().gcs_address
    driver = subprocess.Popen([sys.executable, "-m", "tests.ray_driver", address, str(killed)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and driver.poll() is None:
            if (killed / JOURNAL_NAME).exists() and len(journal_rollouts(killed)) >= 30:
                break
            time.sleep(0.05)
        assert driver.poll() is None, driver.stderr.read()[-3000:]
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    before = set(journal_rollouts(killed))
    assert 30 <= len(before) < reference.total_metric_calls
    for backend in ("threads", "async", RayBackend()):
        log_dir = tmp_path / getattr(backend, "name", backend)
        shutil.copytree(killed, log_dir)
        resumed = optimize(backend, log_dir=log_dir)
        assert key(resumed) == key(reference)
        after = journal_rollouts(log_dir)
        assert len(after) == len(set(after)) == resumed.total_metric_calls and before <= set(after)
