"""Turning DSPy values into JSON for the journal, and back.

JSON values stay as they are; pydantic models (``dspy.Image``, ``dspy.History``, typed outputs) are
stored as their class path and their fields; predictions as their fields; anything else is pickled
(base64) when it can be, and otherwise kept as its ``repr`` (then it comes back as that string).
The journal is read back only by the user who wrote it, so unpickling it is as safe as their own files.

An example's fingerprint (which a resumed run must match) is the same encoding made canonical: a set's
pickle follows its iteration order, which depends on the process's hash seed, so sets are pickled
sorted, and a ``repr`` drops memory addresses.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import pickle
from collections.abc import Callable
from typing import Any

import dspy
from pydantic import BaseModel

from dspy_gepa.dspy_adapter.trace import TraceEntry, Trajectory
from dspy_gepa.engine.adapter import stable_repr

_TAG = "__dspy_gepa__"


def encode(value: Any) -> Any:
    return _encode(value, pickle.dumps, repr)


def _encode(value: Any, dumps: Callable[[Any], bytes], show: Callable[[Any], str]) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_encode(v, dumps, show) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, dumps, show) for k, v in value.items()}
    if isinstance(value, dspy.Example):
        kind = "prediction" if isinstance(value, dspy.Prediction) else "example"
        return {_TAG: kind, "fields": {k: _encode(v, dumps, show) for k, v in value.items()}}
    if isinstance(value, BaseModel):
        # Field by field: dspy.Type models serialize to their prompt format, which does not round-trip.
        cls = type(value)
        return {_TAG: "model", "class": f"{cls.__module__}:{cls.__qualname__}",
                "data": {name: _encode(getattr(value, name), dumps, show) for name in cls.model_fields}}
    try:
        return {_TAG: "pickle", "data": base64.b64encode(dumps(value)).decode("ascii")}
    except Exception:
        return {_TAG: "repr", "data": show(value)}


class _SortedSetPickler(pickle.Pickler):
    """Pickles every set and frozenset inside a value (however deep) as its items' pickles, sorted; any
    other object exactly as :func:`pickle.dumps` does. For fingerprints only: the result is not loadable."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, set | frozenset):
            return type(obj).__name__, sorted(_canonical_pickle(item) for item in obj)
        return None


def _canonical_pickle(value: Any) -> bytes:
    buffer = io.BytesIO()
    _SortedSetPickler(buffer).dump(value)
    return buffer.getvalue()


def _load_class(path: str) -> type:
    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def decode(data: Any) -> Any:
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    tag = data.get(_TAG)
    if tag is None:
        return {k: decode(v) for k, v in data.items()}
    if tag in ("prediction", "example"):
        cls = dspy.Prediction if tag == "prediction" else dspy.Example
        return cls(**{k: decode(v) for k, v in data["fields"].items()})
    if tag == "model":
        fields = {k: decode(v) for k, v in data["data"].items()}
        try:
            return _load_class(data["class"]).model_validate(fields)
        except Exception:
            return fields
    if tag == "pickle":
        try:
            return pickle.loads(base64.b64decode(data["data"]))  # noqa: S301 - the user's own journal
        except Exception:
            return None
    return data["data"]


def encode_trajectory(t: Trajectory) -> dict[str, Any]:
    return {
        "prediction": encode(t.prediction),
        "entries": [{"name": e.name, "inputs": encode(e.inputs), "outputs": encode(e.outputs), "raw": e.raw}
                    for e in t.entries],
        "error": t.error,
        "score": t.score,
        "feedback": t.feedback,
    }


def decode_trajectory(data: dict[str, Any]) -> Trajectory:
    return Trajectory(
        prediction=decode(data.get("prediction")),
        entries=[TraceEntry(e["name"], decode(e["inputs"]) or {}, decode(e["outputs"]), e.get("raw"))
                 for e in data.get("entries", [])],
        error=data.get("error"),
        score=float(data.get("score", 0.0)),
        feedback=data.get("feedback"),
    )


def example_fingerprint(example: Any) -> str:
    def canonical(value: Any) -> Any:
        return _encode(value, _canonical_pickle, stable_repr)

    if isinstance(example, dspy.Example):
        payload = {"fields": canonical(dict(example.items())), "inputs": sorted(example.inputs().keys())
                   if example._input_keys else None}
    else:
        payload = canonical(example)
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=stable_repr)
