"""Dollars spent, when something recorded them; ``None`` means unknown, never zero.

Cost comes only from what the run already records: the ``usage`` of rollouts and reflections
(``{role: {model: {"calls", "cached", "cost", "unpriced", ...}}}`` as the engine records it, or a flat
``{"cost": x}``), or an event/record field holding the run's cumulative cost (``total_cost`` or
``cost_used``). Nothing is estimated here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dspy_gepa.engine import events as ev
from dspy_gepa.engine.usage import priced_cost

CUMULATIVE_FIELDS = ("total_cost", "cost_used")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def usage_cost(usage: Any) -> float | None:
    """Dollars in one usage record (``{role: {model: row}}``, see :mod:`dspy_gepa.engine.usage`), or
    ``None`` when no call in it was priced."""
    if not isinstance(usage, dict | Mapping):
        return None
    flat = usage.get("cost")
    if flat is not None and (flat := _number(flat)) is not None:
        return flat
    return priced_cost(usage)


def cumulative_cost(obj: Any) -> float | None:
    """A cumulative cost carried by an event (attribute) or a journal record (key), if any."""
    get = obj.get if isinstance(obj, dict | Mapping) else lambda name: getattr(obj, name, None)
    for name in CUMULATIVE_FIELDS:
        number = _number(get(name))
        if number is not None:
            return number
    return None


class CostMeter:
    """Adds up the cost of what a run paid for; ``total`` stays ``None`` until a cost is known."""

    def __init__(self) -> None:
        self._summed: float | None = None
        self._cumulative: float | None = None

    @property
    def total(self) -> float | None:
        if self._cumulative is not None:
            return max(self._cumulative, self._summed or 0.0)
        return self._summed

    def add_usage(self, usage: Any) -> None:
        cost = usage_cost(usage)
        if cost is not None:
            self._summed = (self._summed or 0.0) + cost

    def observe(self, obj: Any, usage: Any = None) -> None:
        """Take in an event or record: its cumulative cost if it has one, plus ``usage``."""
        cumulative = cumulative_cost(obj)
        if cumulative is not None:
            self._cumulative = max(self._cumulative or 0.0, cumulative)
        if usage is not None:
            self.add_usage(usage)

    def observe_event(self, event: Any) -> None:
        """Per-call usage comes with rollouts and reflections; a commit carries the run's running total
        (its own ``usage`` repeats what its rollouts already reported, so it is not added again)."""
        rollout = getattr(event, "rollout", None)
        if rollout is not None:
            self.observe(event, getattr(rollout, "usage", None))
        elif isinstance(event, ev.ReflectionFinished):
            self.observe(event, event.usage)
        else:
            self.observe(event)

    def observe_record(self, record: Mapping[str, Any]) -> None:
        usage = record.get("usage") if record.get("type") in ("rollout", "reflection") else None
        if usage is not None and "total_cost" not in record and "cost_used" not in record:  # CUMULATIVE_FIELDS
            self.add_usage(usage)  # what observe() does for the tens of thousands of rollout records, directly
            return
        self.observe(record, usage)
