"""The DSPy side of the backends: ``backend="async"`` (``program.acall``, DSPy's async LM path, async
metrics), programs with no sync path, and the runner ``RayBackend`` ships (it pickles and runs the same
rollout elsewhere)."""

from __future__ import annotations

import asyncio
import logging
import threading

import cloudpickle
import dspy
import pytest

from dspy_gepa import GEPA, DspyAdapter
from dspy_gepa.backends import AsyncBackend
from dspy_gepa.testing import scripted_lm

from ..helpers import Counter, TwoStep, examples, metric, reflection_lm, split, task_lm


class AsyncTwoStep(dspy.Module):
    """:class:`TwoStep` with only an async path (no ``forward`` at all); its two predictors are called at once
    (as tasks of its own) unless ``one_by_one``."""

    def __init__(self, one_by_one=False):
        super().__init__()
        self.first = dspy.Predict("word -> color")
        self.second = dspy.Predict("word -> color")
        self.one_by_one = one_by_one

    async def aforward(self, word):
        if self.one_by_one:
            guess, fixed = await self.first.acall(word=word), await self.second.acall(word=word)
        else:
            guess, fixed = await asyncio.gather(self.first.acall(word=word), self.second.acall(word=word))
        return dspy.Prediction(color=fixed.color if fixed.color != "unknown" else guess.color)


async def async_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    await asyncio.sleep(0)
    return metric(gold, pred, trace, pred_name, pred_trace)


def optimize(program=None, metric_fn=metric, task=None, **kw):
    train, val = split()
    with dspy.context(lm=task or task_lm()):
        optimized = GEPA(metric=metric_fn, max_metric_calls=120, reflection_lm=reflection_lm(), track_stats=True,
                         max_concurrent_proposals=2, lm_prices={"scripted/task": (1.0, 2.0)}, **kw).compile(
            program or TwoStep(), trainset=train, valset=val)
    return optimized.detailed_results


def key(r):
    return (r.candidate_texts, r.parents, r.val_subscores, r.discovery_eval_counts, r.total_metric_calls,
            [(p["kind"], p["status"]) for p in r.proposals], r.usage, r.total_cost)


@pytest.fixture(scope="module")
def reference():
    return key(optimize(num_threads=1))


@pytest.mark.parametrize("program", [TwoStep, AsyncTwoStep])
@pytest.mark.parametrize("backend,threads", [("threads", 1), ("threads", 6), ("async", 1), ("async", 8)])
def test_same_result_on_threads_and_async_with_or_without_a_sync_path(reference, program, backend, threads):
    result = optimize(program(), backend=backend, num_threads=threads)
    assert len(result.candidate_texts) >= 3
    assert key(result) == reference


@pytest.mark.parametrize("backend", ["threads", "async"])
def test_an_async_metric_works_on_every_backend(reference, backend):
    assert key(optimize(AsyncTwoStep(), async_metric, backend=backend, num_threads=4)) == reference


def test_an_interrupted_async_run_resumes_to_the_same_result(reference, tmp_path):
    """KeyboardInterrupt inside an LM call on the event loop: the run stops with it, the rollouts in flight are
    cancelled, and the resumed run ends where the uninterrupted one ends. (Raised in a task the program started
    itself, it stops the loop: ``tests/engine/test_backends.py`` has that case.)"""
    with pytest.raises(KeyboardInterrupt):
        optimize(AsyncTwoStep(one_by_one=True), backend="async", num_threads=8, log_dir=str(tmp_path),
                 task=task_lm(Counter(), stop_after=60))
    calls = Counter()
    resumed = optimize(AsyncTwoStep(), backend="async", num_threads=8, log_dir=str(tmp_path), task=task_lm(calls))
    assert key(resumed) == reference
    assert 0 < calls.n < 2 * reference[4]  # only what the first session did not record (two LM calls per rollout)


def test_async_backend_warns_when_the_program_has_no_async_path(caplog):
    with caplog.at_level(logging.WARNING, logger="dspy_gepa.optimizer"):
        optimize(TwoStep(), backend="async", num_threads=4)
    assert "has no aforward" in caplog.text


def test_many_lm_calls_in_flight_without_a_thread_each():
    """64 rollouts at once, each waiting 0.5 s on its LM: all wait together on one event loop."""
    lock, in_flight, peak = threading.Lock(), [0], {"calls": 0, "threads": 0}

    def latency(call):
        with lock:
            in_flight[0] += 1
            peak["calls"] = max(peak["calls"], in_flight[0])
            peak["threads"] = max(peak["threads"], threading.active_count())
        return 0.5

    def respond(call):
        with lock:
            in_flight[0] -= 1
        return {"color": "red"}

    program = dspy.Predict("word -> color")
    adapter = DspyAdapter(program, metric, reflection_lm=reflection_lm())
    data = [dspy.Example(word=f"w{i}", color="red").with_inputs("word") for i in range(64)]
    backend, threads_before = AsyncBackend(), threading.active_count()
    with dspy.context(lm=scripted_lm(respond, latency=latency)):
        backend.start(adapter, 64, {"self": "x"})
        try:
            futures = backend.run({"self": "Answer."}, data, False)
            scores = [f.result(60).score for f in futures]
        finally:
            backend.close()
    assert scores == [1.0] * 64
    assert peak["calls"] >= 48  # nearly all 64 waited at the same time ...
    assert peak["threads"] - threads_before <= 12  # ... on the loop's thread and DSPy's few helper threads


def test_parse_failures_are_noted_on_the_async_path_too():
    def respond(call):
        return "I think it is red" if call.field("word") == "apple" else {"color": "red"}

    program = dspy.Predict("word -> color")
    adapter = DspyAdapter(program, metric, reflection_lm=reflection_lm(), add_format_failure_as_feedback=True)
    cand = {"self": program.signature.instructions}
    with dspy.context(lm=scripted_lm(respond)):
        sync = adapter.evaluate(examples()[:2], cand, capture_traces=True)
        coro = asyncio.run(adapter.aevaluate(examples()[:2], cand, capture_traces=True))
    for batch in (sync, coro):
        assert batch.scores == [0.0, 0.0] and "AdapterParseError" in batch.errors[0]
        entry = batch.trajectories[0].entries[0]
        assert entry.failed and "I think it is red" in entry.raw


def test_the_shipped_runner_pickles_and_runs_the_same_rollouts():
    """What RayBackend puts in the object store: the program, metric and LM settings travel together."""
    adapter = DspyAdapter(TwoStep(), metric, reflection_lm=reflection_lm(), prices={"scripted/task": (1.0, 2.0)})
    cand = {"first": "apple => red", "second": "lime => green"}
    data = examples()[:4]
    with dspy.context(lm=task_lm()):
        here = adapter.evaluate(data, cand, capture_traces=True)
        shipped = cloudpickle.dumps(adapter.remote_runner(cand))
    there = cloudpickle.loads(shipped).evaluate(data, True)  # no dspy.context: the runner brought the LM
    assert there.scores == here.scores == [1.0, 0.0, 1.0, 0.0]
    assert there.usages == here.usages and there.usages[0]["task"]["scripted/task"]["cost"] > 0
    assert [o.color for o in there.outputs] == ["red", "unknown", "green", "unknown"]
    assert [[e.name for e in t.entries] for t in there.trajectories] == [["first", "second"]] * 4
