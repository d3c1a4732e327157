"""Backends: the engine's result does not depend on where rollouts run, and the queue every backend shares
keeps its promises (at most ``max_in_flight`` at once, queued rollouts cancellable, nothing started after a
fatal failure, a backend that cannot start fails before anything is spent)."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from dspy_gepa.engine.backends import AsyncBackend, Backend, Halted, RayBackend, ThreadBackend, resolve_backend
from dspy_gepa.engine.backends._base import rollout_of
from dspy_gepa.exceptions import ConfigurationError

from . import fakes
from .fakes import Crash, FakeAdapter, make_data, summary


class AsyncFakeAdapter(FakeAdapter):
    async def aevaluate(self, batch, candidate, capture_traces=False):
        await asyncio.sleep(0.001 * (hash(batch[0]["id"]) % 3))  # finish out of order
        return self.evaluate(batch, candidate, capture_traces)


class InlineBackend(Backend):
    """A backend of one's own: runs each rollout as soon as it is launched, on the launching thread."""

    name = "inline"

    def launch(self, job):
        self.settle(job, lambda: rollout_of(self.adapter.evaluate([job.example], job.candidate,
                                                                  capture_traces=job.capture_traces)))


def run(backend, adapter=None, preflight=None, **cfg):
    adapter = adapter or AsyncFakeAdapter(("a", "b"), capacity=3)
    result, adapter, _ = fakes.run(adapter, budget=150, components=("a", "b"), backend=backend, preflight=preflight,
                                   **{"max_concurrent_proposals": 2, **cfg})
    return result, adapter


@pytest.mark.parametrize("make", [ThreadBackend, AsyncBackend, InlineBackend])
@pytest.mark.parametrize("threads", [1, 5])
def test_every_backend_gives_the_same_result(make, threads):
    reference, _ = run(ThreadBackend(), num_threads=1)
    result, adapter = run(make(), num_threads=threads)
    assert summary(result) == summary(reference)
    assert result.total_metric_calls == len(adapter.eval_calls) <= 150


def test_names_and_objects_are_the_accepted_backends():
    assert isinstance(resolve_backend("threads"), ThreadBackend)
    assert isinstance(resolve_backend("async"), AsyncBackend)
    mine = InlineBackend()
    assert resolve_backend(mine) is mine
    for bad in ("ray", None, object()):
        with pytest.raises(ConfigurationError, match="RayBackend"):
            resolve_backend(bad)


def test_async_backend_refuses_an_adapter_without_aevaluate_before_anything_is_spent():
    preflights = []
    with pytest.raises(ConfigurationError, match="aevaluate"):
        run(AsyncBackend(), adapter=FakeAdapter(("a", "b")), preflight=lambda: preflights.append(1))
    assert preflights == []


def test_ray_backend_without_ray_installed_is_a_configuration_error_before_anything_is_spent(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when Ray is not installed
    adapter, preflights = FakeAdapter(("a", "b")), []
    with pytest.raises(ConfigurationError, match=r"pip install 'dspy-gepa\[ray\]'"):
        run(RayBackend(), adapter=adapter, preflight=lambda: preflights.append(1))
    assert preflights == [] and adapter.eval_calls == []


@pytest.mark.parametrize("make,adapter_cls", [(ThreadBackend, FakeAdapter), (AsyncBackend, AsyncFakeAdapter)])
def test_a_fatal_failure_stops_the_run_and_starts_nothing_queued(make, adapter_cls):
    adapter = adapter_cls(("a", "b"), crash_after_evals=3)
    calls = []
    evaluate = adapter.evaluate

    def counting(*args, **kwargs):
        calls.append(1)
        return evaluate(*args, **kwargs)

    adapter.evaluate = counting
    with pytest.raises(Crash):
        run(make(), adapter=adapter, num_threads=1)
    assert len(calls) == 4  # three rollouts, then the one that failed; the other four queued never started


def test_an_interrupt_that_stops_the_event_loop_stops_the_run_instead_of_hanging_it():
    """A KeyboardInterrupt (or SystemExit) raised in a task the program started itself stops asyncio's loop:
    every rollout on it ends with that error, and so does the run."""

    class Interrupting(AsyncFakeAdapter):
        interrupted = False

        async def aevaluate(self, batch, candidate, capture_traces=False):
            if len(self.eval_calls) >= 20 and not self.interrupted:
                self.interrupted = True

                async def interrupted():
                    raise KeyboardInterrupt

                await asyncio.gather(interrupted())
            return await super().aevaluate(batch, candidate, capture_traces)

    with pytest.raises(KeyboardInterrupt):
        run(AsyncBackend(), adapter=Interrupting(("a", "b")), num_threads=4)


class Gate(FakeAdapter):
    """Rollouts wait until the test opens the gate; the adapter counts the ones that started."""

    def __init__(self):
        super().__init__(("a",))
        self.gate = threading.Event()
        self.started = []

    def evaluate(self, batch, candidate, capture_traces=False):
        self.started.append(batch[0]["id"])
        assert self.gate.wait(10)
        return super().evaluate(batch, candidate, capture_traces)


def test_queued_rollouts_can_be_cancelled_and_running_ones_cannot():
    adapter, backend = Gate(), ThreadBackend()
    backend.start(adapter, 2, {"a": "x"})
    try:
        futures = backend.run({"a": "rule:a:1"}, make_data(n_val=5)[1], False)
        assert [f.cancel() for f in futures] == [False, False, True, True, True]
        adapter.gate.set()
        assert [f.result(10).score for f in futures[:2]] == [0.0, 1.0]
        assert len(adapter.started) == 2 and all(f.cancelled() for f in futures[2:])
    finally:
        backend.close()


def test_at_most_max_in_flight_and_nothing_started_after_a_failure():
    class Bomb(Gate):
        def evaluate(self, batch, candidate, capture_traces=False):
            if batch[0]["id"] == "v0":
                self.started.append("v0")
                assert self.fuse.wait(10)
                raise RuntimeError("boom")
            return super().evaluate(batch, candidate, capture_traces)

    adapter, backend = Bomb(), ThreadBackend()
    adapter.fuse = threading.Event()
    backend.start(adapter, 2, {"a": "x"})
    try:
        futures = backend.run({"a": "x"}, make_data(n_val=6)[1], False)
        while len(adapter.started) < 2:
            threading.Event().wait(0.01)
        adapter.fuse.set()
        with pytest.raises(RuntimeError, match="boom"):
            futures[0].result(10)
        for f in futures[2:]:
            with pytest.raises(Halted) as info:
                f.result(10)
            assert isinstance(info.value.cause, RuntimeError)
        adapter.gate.set()
        assert futures[1].result(10).score == 0.0
        assert sorted(adapter.started) == ["v0", "v1"]
    finally:
        backend.close()
