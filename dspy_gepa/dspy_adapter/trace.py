"""Running one example with predictor-level trace capture.

Successful predictor calls come from DSPy's own trace (``dspy.settings.trace``, which ``Predict``
appends ``(predictor, inputs, prediction)`` to). A call whose output fails to parse raises before it
reaches the trace; for those, :func:`watch_parse_failures` wraps each predictor's ``forward`` and
``aforward`` in the programs the adapter builds (never the user's student) so that an ``AdapterParseError`` passing
through is noted with the predictor's name, inputs and raw reply — also when the program catches it.
Either way predictors are identified by object identity or by their name in ``named_predictors()``,
never by comparing signatures: two predictors with the same signature keep separate traces.

(A DSPy callback could note the failures too, but an active callback makes DSPy wrap every module,
adapter and LM call with bookkeeping, which costs more than the LM calls of a fast model.)
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError


@dataclass
class TraceEntry:
    """One call of one predictor: ``outputs`` is None when the reply failed to parse (``raw`` has it)."""

    name: str
    inputs: dict[str, Any]
    outputs: dspy.Prediction | None
    raw: str | None = None

    @property
    def failed(self) -> bool:
        return self.outputs is None


@dataclass
class Trajectory:
    """What happened when the program ran on one example."""

    prediction: dspy.Prediction | None
    entries: list[TraceEntry] = field(default_factory=list)
    error: str | None = None
    score: float = 0.0
    feedback: str | None = None
    example: Any = None  # the gold example; not journaled (the dataset holds it)

    def for_component(self, name: str) -> list[TraceEntry]:
        return [e for e in self.entries if e.name == name]


_failures: contextvars.ContextVar[list[TraceEntry] | None] = contextvars.ContextVar("dspy_gepa_parse_failures",
                                                                                    default=None)


class _Watch:
    """Stands in for one predictor's ``forward`` and notes the parse failures passing through. An object of
    a module-level class rather than a closure, so that a watched program pickles (``RayBackend`` ships
    programs to worker processes)."""

    method = "forward"

    def __init__(self, predictor: dspy.Module, name: str):
        self.predictor = predictor
        self.name = name
        self.function = getattr(type(predictor), self.method)

    def _note(self, exc: AdapterParseError, kwargs: dict[str, Any]) -> None:
        failures = _failures.get()
        if failures is not None:
            failures.append(TraceEntry(self.name, dict(kwargs), None, raw=exc.lm_response))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.function(self.predictor, *args, **kwargs)
        except AdapterParseError as exc:
            self._note(exc, kwargs)
            raise


class _AsyncWatch(_Watch):
    """:class:`_Watch` for ``aforward``, the path of ``acall``."""

    method = "aforward"

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self.function(self.predictor, *args, **kwargs)
        except AdapterParseError as exc:
            self._note(exc, kwargs)
            raise


def watch_parse_failures(program: dspy.Module) -> None:
    """Make each predictor of ``program`` (one the adapter built) note its parse failures, on the sync and
    the async path. (Set without ``Module.__setattr__``/``__getattribute__``, which warn about ``forward``.)"""
    for name, predictor in program.named_predictors():
        for watch in (_Watch, _AsyncWatch):
            if callable(getattr(type(predictor), watch.method, None)):
                object.__setattr__(predictor, watch.method, watch(predictor, name))


class _Capture:
    """The trace of one run of a program: DSPy's trace of the program's predictors plus the parse failures
    noted by the watches. Used as ``with _Capture(names) as capture: capture.prediction = program(...)``."""

    def __init__(self, names: dict[int, str]):
        self.names = names
        self.prediction: dspy.Prediction | None = None
        self.error: BaseException | None = None
        self.entries: list[TraceEntry] = []

    def __enter__(self) -> _Capture:
        self._noted: list[TraceEntry] = []
        self._token = _failures.set(self._noted)
        self._context = dspy.context(trace=[])
        self._context.__enter__()
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        try:
            raw_trace = list(dspy.settings.trace or [])
            self._context.__exit__(None, None, None)
        finally:
            _failures.reset(self._token)
        self.entries = [TraceEntry(self.names[id(p)], dict(inputs), outputs) for p, inputs, outputs in raw_trace
                        if id(p) in self.names]
        self.entries.extend(self._noted)
        if isinstance(exc, Exception):  # scored as a failure by the caller, unless it is an LM outage
            self.error = exc
            return True
        return False

    def result(self) -> tuple[dspy.Prediction | None, list[TraceEntry], BaseException | None]:
        return self.prediction, self.entries, self.error


def run_with_trace(program: dspy.Module, names: dict[int, str], example: dspy.Example
                   ) -> tuple[dspy.Prediction | None, list[TraceEntry], BaseException | None]:
    """Run ``program`` on ``example``; return its prediction (None if it raised), the trace entries of
    the program's own predictors in call order, and the exception it raised, if any."""
    with _Capture(names) as capture:
        capture.prediction = program(**example.inputs())
    return capture.result()


async def arun_with_trace(program: dspy.Module, names: dict[int, str], example: dspy.Example
                          ) -> tuple[dspy.Prediction | None, list[TraceEntry], BaseException | None]:
    """:func:`run_with_trace` through ``program.acall`` (DSPy's async path)."""
    with _Capture(names) as capture:
        capture.prediction = await program.acall(**example.inputs())
    return capture.result()
