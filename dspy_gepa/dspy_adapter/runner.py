"""One candidate's program, run on examples and scored: the rollout, wherever it runs.

A :class:`ProgramRunner` holds what a rollout needs — the program built with the candidate's
instructions, the metric, the failure score, the prices — and runs it on a thread (:meth:`run`), as a
coroutine (:meth:`arun`: ``program.acall`` and DSPy's async LM path) or in a worker process: it pickles,
so ``RayBackend`` ships one per candidate to the workers, with the driver's LM settings in ``settings``.
Each rollout records its own LM calls (tokens, dollars) and returns them with its score, so the driver
accounts for them the same way whichever backend ran it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import dspy

from dspy_gepa._redact import lm_secrets, redact
from dspy_gepa.dspy_adapter.aio import run_sync
from dspy_gepa.dspy_adapter.feedback import acall_metric, call_metric
from dspy_gepa.dspy_adapter.trace import Trajectory, arun_with_trace, run_with_trace, watch_parse_failures
from dspy_gepa.engine.types import EvaluationBatch
from dspy_gepa.lms import CallRecorder, Prices, raise_if_infrastructure, record_lm_calls

#: What one rollout returns: prediction, score, trajectory, feedback, error, usage by role.
Row = tuple[Any, float, Trajectory | None, str | None, str | None, dict | None]


def has_method(obj: Any, name: str) -> bool:
    return callable(getattr(type(obj), name, None))


class ProgramRunner:
    """Runs ``program`` (already built for one candidate) on examples and scores it with ``metric``.

    ``settings``: DSPy settings (``lm``, ``adapter``) to run under, for a runner sent to another process;
    None where the caller's settings apply (threads and coroutines of this process inherit them)."""

    def __init__(self, program: dspy.Module, metric: Any, *, failure_score: float, prices: Prices,
                 require_prices: bool, settings: Mapping[str, Any] | None = None):
        self.program = program
        self.metric = metric
        self.failure_score = failure_score
        self.prices = prices
        self.require_prices = require_prices
        self.settings = dict(settings) if settings is not None else None
        watch_parse_failures(program)
        self._index()

    def _index(self) -> None:
        self.names = {id(p): name for name, p in self.program.named_predictors()}
        self.sync_path = has_method(self.program, "forward")
        self.async_path = has_method(self.program, "aforward")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "names"}  # object ids mean nothing elsewhere

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._index()

    def shipped(self, settings: Mapping[str, Any]) -> ProgramRunner:
        """This runner (same program) to run in another process under ``settings``."""
        clone = object.__new__(ProgramRunner)
        clone.__dict__.update(self.__dict__, settings=dict(settings))
        return clone

    # ---------------------------------------------------------------- running

    def evaluate(self, batch: list[Any], capture_traces: bool) -> EvaluationBatch:
        """The remote-runner protocol of ``RayBackend``: the batch, one example after the other."""
        with dspy.context(**(self.settings or {})):
            return rows_to_batch([self.run(example, capture_traces) for example in batch], capture_traces)

    def run(self, example: Any, capture: bool) -> Row:
        if not self.sync_path and self.async_path:
            return run_sync(self.arun(example, capture))
        with record_lm_calls() as calls:
            prediction, entries, exc = run_with_trace(self.program, self.names, example)
            program_calls = len(calls.history)  # the program's calls come first; the metric's (a judge) after
            if exc is not None:
                score, feedback, error = self._failed(exc)
            else:
                score, feedback = call_metric(self.metric, example, prediction, None, None, None,
                                              context=f"for example {short(example)}")
                error = None
        return self._row(example, capture, calls, program_calls, prediction, entries, score, feedback, error)

    async def arun(self, example: Any, capture: bool) -> Row:
        if not self.async_path:  # a program with only a sync path: its rollouts wait on threads
            return await asyncio.to_thread(self.run, example, capture)
        with record_lm_calls() as calls:
            prediction, entries, exc = await arun_with_trace(self.program, self.names, example)
            program_calls = len(calls.history)
            if exc is not None:
                score, feedback, error = self._failed(exc)
            else:
                score, feedback = await acall_metric(self.metric, example, prediction, None, None, None,
                                                     context=f"for example {short(example)}")
                error = None
        return self._row(example, capture, calls, program_calls, prediction, entries, score, feedback, error)

    def _failed(self, exc: BaseException) -> tuple[float, None, str]:
        """An exception inside the program scores ``failure_score``, unless it is an LM outage."""
        lms = [p.lm for _, p in self.program.named_predictors()] + [dspy.settings.lm]
        secrets = [s for lm in lms if lm is not None for s in lm_secrets(lm)]
        raise_if_infrastructure(exc, secrets=secrets)
        return self.failure_score, None, redact(f"{type(exc).__name__}: {exc}", secrets)  # shown to reflection

    def _row(self, example: Any, capture: bool, calls: CallRecorder, program_calls: int, prediction: Any,
             entries: list, score: float, feedback: str | None, error: str | None) -> Row:
        trajectory = Trajectory(prediction, entries, error, score, feedback, example) if capture else None
        usage = {"task": self.priced(CallRecorder(calls.history[:program_calls])),
                 "judge": self.priced(CallRecorder(calls.history[program_calls:]))}
        return prediction, score, trajectory, feedback, error, {k: v for k, v in usage.items() if v}

    def priced(self, calls: CallRecorder) -> dict[str, Any]:
        return calls.usage(self.prices, require_prices=self.require_prices)


def rows_to_batch(rows: list[Row], capture_traces: bool) -> EvaluationBatch:
    return EvaluationBatch(
        outputs=[r[0] for r in rows], scores=[r[1] for r in rows],
        trajectories=[r[2] for r in rows] if capture_traces else None,
        feedbacks=[r[3] for r in rows], errors=[r[4] for r in rows], usages=[r[5] for r in rows],
    )


def short(example: Any) -> str:
    text = repr(example)
    return text if len(text) <= 120 else text[:117] + "..."
