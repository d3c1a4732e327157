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
from dspy_gepa.dspy_adapter.feedback import ascore_rollout, score_rollout
from dspy_gepa.dspy_adapter.trace import Trajectory, arun_with_trace, run_with_trace, watch_parse_failures
from dspy_gepa.engine.types import EvaluationBatch, Rollout
from dspy_gepa.lms import CallRecorder, Prices, raise_if_infrastructure, record_lm_calls


def has_method(obj: Any, name: str) -> bool:
    return callable(getattr(type(obj), name, None))


class ProgramRunner:
    """Runs ``program`` (already built for one candidate) on examples and scores it with ``metric``.

    ``program=None`` with ``unusable`` set: the candidate could not be built (its ``dspy.Flex`` code does not
    bind), so every example scores ``failure_score`` with that error. ``program_trace``: the metric gets DSPy's
    whole trace if it declares that parameter (programs with ``dspy.Flex`` parts). ``settings``: DSPy settings
    (``lm``, ``adapter``) to run under, for a runner sent to another process; None where the caller's settings
    apply (threads and coroutines of this process inherit them)."""

    def __init__(self, program: dspy.Module | None, metric: Any, *, failure_score: float, prices: Prices,
                 require_prices: bool, program_trace: bool = False, unusable: str | None = None,
                 settings: Mapping[str, Any] | None = None):
        self.program = program
        self.metric = metric
        self.failure_score = failure_score
        self.prices = prices
        self.require_prices = require_prices
        self.program_trace = program_trace
        self.unusable = unusable
        self.settings = dict(settings) if settings is not None else None
        if program is not None:
            watch_parse_failures(program)
        self.sync_path = program is None or has_method(program, "forward")
        self.async_path = program is not None and has_method(program, "aforward")

    def shipped(self, settings: Mapping[str, Any]) -> ProgramRunner:
        """This runner (same program) to run in another process under ``settings``."""
        clone = object.__new__(ProgramRunner)
        clone.__dict__.update(self.__dict__, settings=dict(settings))
        return clone

    # ---------------------------------------------------------------- running

    def evaluate(self, batch: list[Any], capture_traces: bool) -> EvaluationBatch:
        """The remote-runner protocol of ``RayBackend``: the batch, one example after the other."""
        with dspy.context(**(self.settings or {})):
            return EvaluationBatch.from_rollouts([self.run(example, capture_traces) for example in batch])

    def run(self, example: Any, capture: bool) -> Rollout:
        if self.unusable is not None:
            return self._unusable(example, capture)
        if not self.sync_path:
            return run_sync(self.arun(example, capture))
        with record_lm_calls() as calls:
            prediction, entries, exc, raw_trace = run_with_trace(self.program, example)
            program_calls = len(calls.history)  # the program's calls come first; the metric's (a judge) after
            if exc is not None:
                outcome = self._failed(exc)
            else:
                outcome = (*score_rollout(self.metric, example, prediction, context=f"for example {short(example)}",
                                          program_trace=raw_trace if self.program_trace else None), None)
        return self._rollout(example, capture, calls, program_calls, prediction, entries, *outcome)

    async def arun(self, example: Any, capture: bool) -> Rollout:
        if self.unusable is not None:
            return self._unusable(example, capture)
        if not self.async_path:  # a program with only a sync path: its rollouts wait on threads
            return await asyncio.to_thread(self.run, example, capture)
        with record_lm_calls() as calls:
            prediction, entries, exc, raw_trace = await arun_with_trace(self.program, example)
            program_calls = len(calls.history)
            if exc is not None:
                outcome = self._failed(exc)
            else:
                outcome = (*await ascore_rollout(self.metric, example, prediction,
                                                 context=f"for example {short(example)}",
                                                 program_trace=raw_trace if self.program_trace else None), None)
        return self._rollout(example, capture, calls, program_calls, prediction, entries, *outcome)

    def _failed(self, exc: BaseException) -> tuple[float, None, None, str]:
        """An exception inside the program scores ``failure_score``, unless it is an LM outage."""
        lms = [p.lm for _, p in self.program.named_predictors()] + [dspy.settings.lm]
        secrets = [s for lm in lms if lm is not None for s in lm_secrets(lm)]
        raise_if_infrastructure(exc, secrets=secrets)
        return self.failure_score, None, None, redact(f"{type(exc).__name__}: {exc}", secrets)  # shown to reflection

    def _unusable(self, example: Any, capture: bool) -> Rollout:
        trajectory = Trajectory(None, [], self.unusable, self.failure_score, None, example) if capture else None
        return Rollout(score=self.failure_score, error=self.unusable, trajectory=trajectory)

    def _rollout(self, example: Any, capture: bool, calls: CallRecorder, program_calls: int, prediction: Any,
                 entries: list, score: float, feedback: str | None, objectives: dict[str, float] | None,
                 error: str | None) -> Rollout:
        trajectory = Trajectory(prediction, entries, error, score, feedback, example) if capture else None
        usage = {"task": self.priced(CallRecorder(calls.history[:program_calls])),
                 "judge": self.priced(CallRecorder(calls.history[program_calls:]))}
        return Rollout(score=score, output=prediction, feedback=feedback, trajectory=trajectory, error=error,
                       usage={k: v for k, v in usage.items() if v}, objectives=objectives)

    def priced(self, calls: CallRecorder) -> dict[str, Any]:
        return calls.usage(self.prices, require_prices=self.require_prices)


def short(example: Any) -> str:
    text = repr(example)
    return text if len(text) <= 120 else text[:117] + "..."
