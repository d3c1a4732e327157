"""Running one example with predictor-level trace capture.

Successful predictor calls come from DSPy's own trace (``dspy.settings.trace``, which ``Predict``
appends ``(predictor, inputs, prediction)`` to). A call whose output fails to parse raises before it
reaches the trace; for those, :func:`watch_parse_failures` gives each predictor of the programs the
adapter builds (never the user's student) a subclass of its own class whose ``forward`` notes an
``AdapterParseError`` passing through, with the predictor's name, inputs and raw reply, also when the
program catches it. Any other error passing through is noted with the predictor's LM, so an LM outage
names the LM that failed.

Each watched predictor carries its component name as a plain attribute. A copy of a predictor made
inside ``forward`` (``dspy.BestOfN``, ``dspy.Refine`` and user code deep-copy predictors and give the
copy its own LM, rollout id or temperature) is the same component: the copy keeps the name and the
class, and runs as itself. Predictors are never matched by comparing signatures, so two predictors
with the same signature keep separate traces.

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


#: The attribute holding a watched predictor's component name; a deep copy keeps it.
COMPONENT_ATTR = "_dspy_gepa_component"
_watched_classes: dict[type, type] = {}


def _note_failure(predictor: Any, kwargs: dict[str, Any], exc: AdapterParseError) -> None:
    failures = _failures.get()
    if failures is not None:
        failures.append(TraceEntry(getattr(predictor, COMPONENT_ATTR), dict(kwargs), None, raw=exc.lm_response))


def _watched_class(cls: type) -> type:
    """``cls`` with a ``forward``/``aforward`` that note parse failures (one subclass per class)."""
    watched = _watched_classes.get(cls)
    if watched is not None:
        return watched

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super(watched, self).forward(*args, **kwargs)
        except AdapterParseError as exc:
            _note_failure(self, kwargs, exc)
            raise
        except Exception as exc:  # an LM outage names the LM this predictor called
            note_raised_by(exc, kwargs.get("lm") or self.lm or dspy.settings.lm)
            raise

    async def aforward(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super(watched, self).aforward(*args, **kwargs)
        except AdapterParseError as exc:
            _note_failure(self, kwargs, exc)
            raise
        except Exception as exc:  # an LM outage names the LM this predictor called
            note_raised_by(exc, kwargs.get("lm") or self.lm or dspy.settings.lm)
            raise

    watched = type(cls.__name__, (cls,), {"forward": forward, "aforward": aforward, "__module__": cls.__module__,
                                          "__qualname__": cls.__qualname__})
    return _watched_classes.setdefault(cls, watched)


def watch_parse_failures(program: dspy.Module) -> None:
    """Make each predictor of ``program`` (one the adapter built) carry its component name and note
    its parse failures, in itself and in any copy of it."""
    for name, predictor in program.named_predictors():
        object.__setattr__(predictor, COMPONENT_ATTR, name)
        if type(predictor) not in _watched_classes.values():
            predictor.__class__ = _watched_class(type(predictor))


def component_of(predictor: Any) -> str | None:
    """The component a traced predictor (or a copy of it) stands for; None for predictors GEPA did not build."""
    return getattr(predictor, COMPONENT_ATTR, None)


def run_with_trace(program: dspy.Module, example: dspy.Example
                   ) -> tuple[dspy.Prediction | None, list[TraceEntry], BaseException | None, list[Any]]:
    """Run ``program`` on ``example``; return its prediction (None if it raised), the trace entries of
    the program's own predictors in call order, the exception it raised, if any, and DSPy's whole trace
    (every predictor call, ``(predictor, inputs, prediction)``)."""
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
    entries = [TraceEntry(name, dict(inputs), outputs) for p, inputs, outputs in raw_trace
               if (name := component_of(p)) is not None]
    entries.extend(failures)
    return prediction, entries, error, raw_trace
