"""The protocol through which the engine talks to the system being optimized.

The engine never imports DSPy. It hands an adapter a candidate (component name -> text) and examples,
and gets back scores, opaque outputs and opaque trajectories. To keep a journal it also asks the
adapter to turn outputs and trajectories into JSON and back; an adapter whose values are already
JSON can rely on the identity defaults of :class:`JsonCodec`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from dspy_gepa.engine.types import Candidate, EvaluationBatch


@runtime_checkable
class Adapter(Protocol):
    def evaluate(self, batch: list[Any], candidate: Candidate, capture_traces: bool = False) -> EvaluationBatch:
        """Run ``candidate`` on every example of ``batch``. A failure inside the user's system scores
        that example as a failure and keeps the batch aligned; infrastructure errors raise."""
        ...

    def make_reflective_dataset(
        self, candidate: Candidate, eval_batch: EvaluationBatch, components_to_update: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per component, the records (inputs, generated outputs, feedback) reflection reads."""
        ...

    def propose_new_texts(
        self,
        candidate: Candidate,
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        """New text for each component it could improve. Raises on an unusable reply."""
        ...


class JsonCodec:
    """Default journal codec: values are stored as they are (they must be JSON-serializable)."""

    def encode_output(self, output: Any) -> Any:
        return output

    def decode_output(self, data: Any) -> Any:
        return data

    def encode_trajectory(self, trajectory: Any) -> Any:
        return trajectory

    def decode_trajectory(self, data: Any, example: Any) -> Any:
        return data

    def example_fingerprint(self, example: Any) -> str:
        try:
            return json.dumps(example, sort_keys=True, default=stable_repr)
        except TypeError:
            return stable_repr(example)


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def stable_repr(value: Any) -> str:
    """``repr(value)`` without what changes from one process to the next, for data fingerprints that must
    match after a restart: sets (whose order follows the process's hash seed) are listed sorted, memory
    addresses (``<Foo object at 0x7f...>``) are dropped."""
    if isinstance(value, set | frozenset):
        return f"{type(value).__name__}([{', '.join(sorted(stable_repr(v) for v in value))}])"
    if type(value) in (list, tuple):
        inner = ", ".join(stable_repr(v) for v in value)
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(value) == 1 else ''})"
    if type(value) is dict:
        return "{" + ", ".join(f"{stable_repr(k)}: {stable_repr(v)}" for k, v in value.items()) + "}"
    return _ADDRESS.sub("", repr(value))


def codec_of(adapter: Any) -> Any:
    """The adapter itself when it implements the codec methods, else the JSON identity codec."""
    needed = ("encode_output", "decode_output", "encode_trajectory", "decode_trajectory", "example_fingerprint")
    if all(callable(getattr(adapter, name, None)) for name in needed):
        return adapter
    return JsonCodec()
