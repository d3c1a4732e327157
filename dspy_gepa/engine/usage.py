"""Usage records: the tokens and dollars of LM calls, by role and by model.

A usage record is JSON: ``{role: {model: {"calls", "cached", "input_tokens", "output_tokens", "cost",
"unpriced"}}}``. Roles: ``task`` (the program's own calls), ``judge`` (LM calls made inside the metric),
``reflection`` (the proposer) and ``preflight`` (the checks before a run). A call served from a cache
costs nothing and adds no tokens; a call with no known price adds its tokens and counts as
``unpriced`` — its cost is never guessed, so ``cost`` is then a lower bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

FIELDS = ("calls", "cached", "input_tokens", "output_tokens", "cost", "unpriced")

Usage = dict[str, dict[str, dict[str, float]]]


class Totals(NamedTuple):
    """Sums over a usage record's rows (a named tuple: a run computes thousands of them)."""

    calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(FIELDS, self, strict=True))


def merge(into: Usage, usage: Mapping[str, Any] | None) -> Usage:
    """Add ``usage`` into ``into`` (in place) and return it."""
    for role, models in (usage or {}).items():
        if not isinstance(models, Mapping):
            continue
        for model, row in models.items():
            target = into.setdefault(role, {}).setdefault(model, dict.fromkeys(FIELDS, 0))
            for key in FIELDS:
                target[key] += row.get(key, 0) or 0
    return into


def combine(usages: Iterable[Mapping[str, Any] | None]) -> Usage:
    total: Usage = {}
    for usage in usages:
        merge(total, usage)
    return total


def _sums(usage: Mapping[str, Any] | None, roles: Iterable[str] | None) -> tuple:
    wanted = set(roles) if roles is not None else None
    calls = cached = input_tokens = output_tokens = unpriced = 0
    cost_ = 0.0
    for role, models in (usage or {}).items():
        if wanted is not None and role not in wanted or not isinstance(models, Mapping):
            continue
        for row in models.values():
            get = row.get
            calls += get("calls", 0) or 0
            cached += get("cached", 0) or 0
            input_tokens += get("input_tokens", 0) or 0
            output_tokens += get("output_tokens", 0) or 0
            cost_ += get("cost", 0) or 0
            unpriced += get("unpriced", 0) or 0
    return calls, cached, input_tokens, output_tokens, cost_, unpriced


def totals(usage: Mapping[str, Any] | None, roles: Iterable[str] | None = None) -> Totals:
    calls, cached, input_tokens, output_tokens, cost_, unpriced = _sums(usage, roles)
    return Totals(int(calls), int(cached), int(input_tokens), int(output_tokens), float(cost_), int(unpriced))


def cost(usage: Mapping[str, Any] | None, roles: Iterable[str] | None = None) -> float:
    return float(_sums(usage, roles)[4])


def known_cost(usage: Mapping[str, Any] | None, roles: Iterable[str] | None = None) -> float | None:
    """The cost, or None when paid calls were made and none of them had a price (unknown is not zero)."""
    calls, cached, _, _, cost_, unpriced = _sums(usage, roles)
    paid = calls - cached
    return None if paid > 0 and unpriced == paid else float(cost_)


def priced_cost(usage: Mapping[str, Any] | None, roles: Iterable[str] | None = None) -> float | None:
    """The cost once at least one call had a price; None before (a run's total is unknown until then)."""
    calls, cached, _, _, cost_, unpriced = _sums(usage, roles)
    return float(cost_) if calls - cached - unpriced > 0 else None


def by_role(usage: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {role: totals(usage, [role]).as_dict() for role in (usage or {})}
