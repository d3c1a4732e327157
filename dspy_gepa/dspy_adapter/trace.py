"""Running one example with predictor-level trace capture.

Successful predictor calls come from DSPy's own trace (``dspy.settings.trace``, which ``Predict``
appends ``(predictor, inputs, prediction)`` to). A call whose output fails to parse raises before it
reaches the trace; for those, :func:`watch_parse_failures` wraps each predictor's ``forward`` in the
programs the adapter builds (never the user's student) so that an ``AdapterParseError`` passing
through is noted with the predictor's name, inputs and raw reply — also when the program catches it.
Either way predictors are identified by object identity or by their name in ``named_predictors()``,
never by comparing signatures: two predictors with the same signature keep separate traces. Any other
error passing through is noted with the predictor's LM, so an LM outage names the LM that failed.

(A DSPy callback could note the failures too, but an active callback makes DSPy wrap every module,
adapter and LM call with bookkeeping, which costs more than the LM calls of a fast model.)
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from dspy_gepa.lms.errors import note_raised_by


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


def watch_parse_failures(program: dspy.Module) -> None:
    """Make each predictor of ``program`` (one the adapter built) note its parse failures."""
    for name, predictor in program.named_predictors():
        # Read without Module.__getattribute__, which warns about calling forward directly.
        original = object.__getattribute__(predictor, "forward")

        def forward(*args: Any, _original: Any = original, _name: str = name, _predictor: Any = predictor,
                    **kwargs: Any) -> Any:
            try:
                return _original(*args, **kwargs)
            except AdapterParseError as exc:
                failures = _failures.get()
                if failures is not None:
                    failures.append(TraceEntry(_name, dict(kwargs), None, raw=exc.lm_response))
                raise
            except Exception as exc:  # an LM outage names the LM this predictor called
                note_raised_by(exc, kwargs.get("lm") or _predictor.lm or dspy.settings.lm)
                raise

        object.__setattr__(predictor, "forward", forward)


def run_with_trace(program: dspy.Module, names: dict[int, str], example: dspy.Example
                   ) -> tuple[dspy.Prediction | None, list[TraceEntry], BaseException | None]:
    """Run ``program`` on ``example``; return its prediction (None if it raised), the trace entries of
    the program's own predictors in call order, and the exception it raised, if any."""
    failures: list[TraceEntry] = []
    token = _failures.set(failures)
    prediction, error = None, None
    try:
        with dspy.context(trace=[]):
            try:
                prediction = program(**example.inputs())
            except Exception as exc:  # scored as a failure by the caller, unless it is an LM outage
                error = exc
            raw_trace = list(dspy.settings.trace or [])
    finally:
        _failures.reset(token)
    entries = [TraceEntry(names[id(p)], dict(inputs), outputs) for p, inputs, outputs in raw_trace if id(p) in names]
    entries.extend(failures)
    return prediction, entries, error
