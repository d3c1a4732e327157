"""Building the reflective dataset: per component, what it was given, what it produced, and feedback.

Records are bounded — at most ``max_records`` per component (the lowest-scoring first) and at most
``max_chars`` characters per text field, with a visible note where text was cut — so a reflection
prompt cannot grow without limit however long the program's inputs and outputs are. ``dspy.Image``
and other ``dspy.Type`` values are kept as objects (also inside a ``dspy.History`` whose turns hold them),
so a proposer can send images as image parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import dspy
from dspy.adapters.types import History
from dspy.adapters.types.base_type import Type

from dspy_gepa.dspy_adapter.trace import TraceEntry, Trajectory


@dataclass(frozen=True)
class ReflectionLimits:
    max_records: int = 10
    max_chars: int = 6000

    def __post_init__(self) -> None:
        for name in ("max_records", "max_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")


def cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n[... {len(text) - max_chars:,} more characters cut to keep the reflection prompt short]"


def _contains_type(value: Any) -> bool:
    if isinstance(value, Type):
        return True
    if isinstance(value, list | tuple):
        return any(_contains_type(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_type(v) for v in value.values())
    return False


def render_history(history: History, max_chars: int) -> str:
    turns = []
    for i, message in enumerate(history.messages, 1):
        fields = "; ".join(f"{k}: {v}" for k, v in message.items())
        turns.append(f"Turn {i}: {fields}")
    return cut("Earlier turns of the conversation:\n" + "\n".join(turns), max_chars)


def reflect_value(value: Any, limits: ReflectionLimits) -> Any:
    """A value as a reflection record shows it: text (cut to size), or the ``dspy.Type`` objects kept."""
    if isinstance(value, History):
        if _contains_type(value.messages):
            # Turns holding images stay structured, so their images can be attached rather than printed.
            return {f"Turn {i}": {k: reflect_value(v, limits) for k, v in message.items()}
                    for i, message in enumerate(value.messages, 1)}
        return render_history(value, limits.max_chars)
    if isinstance(value, Type):
        return value
    if _contains_type(value):
        if isinstance(value, dict):
            return {k: reflect_value(v, limits) for k, v in value.items()}
        return [reflect_value(v, limits) for v in value]
    if isinstance(value, str):
        return cut(value, limits.max_chars)
    if isinstance(value, list | tuple | dict):
        try:
            return cut(json.dumps(value, ensure_ascii=False, default=str), limits.max_chars)
        except (TypeError, ValueError):
            pass
    return cut(str(value), limits.max_chars)


def format_structure(signature: type[dspy.Signature]) -> str:
    adapter = dspy.settings.adapter or dspy.ChatAdapter()
    describe = getattr(adapter, "format_field_structure", None) or dspy.ChatAdapter().format_field_structure
    return describe(signature)


def _entry_for(trajectory: Trajectory, name: str, include_failures: bool) -> TraceEntry | None:
    entries = trajectory.for_component(name)
    failed = [e for e in entries if e.failed]
    if failed:
        return failed[0] if include_failures else None
    # The last call is the one whose output most directly shaped the program's result.
    return entries[-1] if entries else None


def build_record(
    entry: TraceEntry,
    trajectory: Trajectory,
    signature: type[dspy.Signature],
    feedback: str,
    limits: ReflectionLimits,
) -> dict[str, Any]:
    inputs = {k: reflect_value(v, limits) for k, v in entry.inputs.items()}
    if entry.failed:
        outputs: Any = cut(f"The reply could not be parsed into the output fields. Raw reply:\n```\n{entry.raw}\n```",
                           limits.max_chars)
    else:
        outputs = {k: reflect_value(v, limits) for k, v in entry.outputs.items()}
    return {"Inputs": inputs, "Generated Outputs": outputs, "Feedback": cut(feedback, limits.max_chars)}


def select_entries(trajectories: list[Trajectory], name: str, include_failures: bool, limits: ReflectionLimits
                   ) -> list[tuple[int, TraceEntry]]:
    """(example position, entry) pairs for component ``name``; at most ``max_records``, lowest scores first."""
    found = [(i, e) for i, t in enumerate(trajectories) if (e := _entry_for(t, name, include_failures)) is not None]
    if len(found) > limits.max_records:
        keep = sorted(found, key=lambda p: (trajectories[p[0]].score, p[0]))[: limits.max_records]
        found = sorted(keep, key=lambda p: p[0])
    return found


def format_failure_feedback(signature: type[dspy.Signature]) -> str:
    return ("The reply could not be parsed, so this step produced nothing usable. Replies must follow this "
            "structure exactly:\n" + format_structure(signature))


def program_failure_feedback(trajectory: Trajectory) -> str:
    return f"The program failed before producing an output: {trajectory.error}"
