"""Running one example with predictor-level trace capture.

Successful predictor calls come from DSPy's own trace (``dspy.settings.trace``, which ``Predict``
appends ``(predictor, inputs, prediction)`` to). A call whose output fails to parse raises before it
reaches the trace, so a DSPy callback notes which predictor was running when ``AdapterParseError``
left it. Either way the predictor is identified by object identity against the program's
``named_predictors()``, never by comparing signatures: two predictors with the same signature keep
separate traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback
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


class _ParseFailureRecorder(BaseCallback):
    """Notes the predictor (and its inputs and raw reply) whose output failed to parse."""

    def __init__(self, names: dict[int, str]):
        self.names = names
        self.running: dict[str, tuple[str, dict[str, Any]]] = {}
        self.failures: list[TraceEntry] = []

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        name = self.names.get(id(instance))
        if name is not None:
            self.running[call_id] = (name, dict(inputs.get("kwargs", inputs)))

    def on_module_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        started = self.running.pop(call_id, None)
        if started is not None and isinstance(exception, AdapterParseError):
            self.failures.append(TraceEntry(started[0], started[1], None, raw=exception.lm_response))


def run_with_trace(program: dspy.Module, names: dict[int, str], example: dspy.Example
                   ) -> tuple[dspy.Prediction | None, list[TraceEntry], BaseException | None]:
    """Run ``program`` on ``example``; return its prediction (None if it raised), the trace entries of
    the program's own predictors in call order, and the exception it raised, if any."""
    recorder = _ParseFailureRecorder(names)
    prediction, error = None, None
    with dspy.context(trace=[], callbacks=[*(dspy.settings.callbacks or []), recorder]):
        try:
            prediction = program(**example.inputs())
        except Exception as exc:  # scored as a failure by the caller, unless it is an LM outage
            error = exc
        raw_trace = list(dspy.settings.trace or [])
    entries = [TraceEntry(names[id(p)], dict(inputs), outputs) for p, inputs, outputs in raw_trace if id(p) in names]
    entries.extend(recorder.failures)
    return prediction, entries, error
