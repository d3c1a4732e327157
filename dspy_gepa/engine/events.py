"""Typed events the engine emits. Journal, progress bar, trackers and report subscribe to them;
the engine never calls any of them directly.

Events carry ``replayed=True`` while a resumed run re-derives work that its journal already holds,
so a subscriber can avoid logging the same thing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dspy_gepa.engine.types import Candidate, ProposalOutcome, Rollout, RolloutKey

logger = logging.getLogger(__name__)


@dataclass
class Event:
    replayed: bool = field(default=False, kw_only=True)


@dataclass
class RunStarted(Event):
    config: dict[str, Any]
    seed_candidate: Candidate
    train_size: int
    val_size: int
    max_metric_calls: int | None
    plan: str
    resumed: bool


@dataclass
class RolloutFinished(Event):
    key: RolloutKey
    rollout: Rollout
    seq: int


@dataclass
class BudgetUpdated(Event):
    used: int
    max_metric_calls: int | None
    reserved: int


@dataclass
class ProposalStarted(Event):
    seq: int
    kind: str  # "seed" | "reflective" | "merge" | "final"
    parent_ids: list[int]
    minibatch: list[int]
    components: list[str]
    iteration: int = 0  # the search iteration it belongs to (gepa's state.i)


@dataclass
class ReflectionFinished(Event):
    seq: int
    parent_hash: str
    components: list[str]
    new_texts: dict[str, str] | None
    error: str | None
    usage: dict[str, Any] | None = None
    dataset: dict[str, list[dict[str, Any]]] | None = None  # what the proposer read (None when replayed)


@dataclass
class ProposalCommitted(Event):
    seq: int
    kind: str
    parent_ids: list[int]
    outcome: ProposalOutcome
    new_candidate_idx: int | None
    metric_calls: int
    usage: dict[str, Any] | None = None
    total_cost: float | None = None


@dataclass
class UsageRecorded(Event):
    """LM usage paid outside any proposal (the pre-flight checks)."""

    usage: dict[str, Any]
    reason: str


@dataclass
class CandidateAdded(Event):
    idx: int
    candidate: Candidate
    candidate_hash: str
    parent_ids: list[int]
    val_scores: dict[int, float]
    val_mean: float
    discovered_at: int
    seq: int
    kind: str
    is_best: bool
    objective_scores: dict[str, float] | None = None  # mean per objective over its validation examples


@dataclass
class CandidateValidated(Event):
    """A candidate kept on its screen scores was validated on every example (``staged`` policy)."""

    idx: int
    val_scores: dict[int, float]
    val_mean: float
    objective_scores: dict[str, float] | None = None


@dataclass
class BestChanged(Event):
    idx: int
    candidate: Candidate
    val_mean: float


@dataclass
class RunFinished(Event):
    best_idx: int
    best_val_mean: float
    total_metric_calls: int
    num_candidates: int
    num_full_val_evals: int
    stop_reason: str


@dataclass
class RunFailed(Event):
    error: BaseException
    total_metric_calls: int


class EventBus:
    """Delivers events to subscribers in the order they subscribed.

    A *critical* subscriber (the journal) propagates its exceptions and stops the run; any other
    subscriber's exception is logged once per subscriber and the run goes on. A subscriber with an
    ``events`` attribute (a tuple of event classes) receives only those: a long run emits hundreds of
    thousands of events, most of which most subscribers ignore.
    """

    def __init__(self) -> None:
        self._subscribers: list[tuple[Callable[[Event], None], bool, tuple[type, ...] | None]] = []
        self._routes: dict[type, list[tuple[Callable[[Event], None], bool]]] = {}
        self._warned: set[int] = set()

    def subscribe(self, callback: Callable[[Event], None], *, critical: bool = False) -> None:
        self._subscribers.append((callback, critical, getattr(callback, "events", None)))
        self._routes.clear()

    def _route(self, kind: type) -> list[tuple[Callable[[Event], None], bool]]:
        route = self._routes.get(kind)
        if route is None:
            route = self._routes[kind] = [(callback, critical) for callback, critical, events in self._subscribers
                                          if events is None or issubclass(kind, events)]
        return route

    def emit(self, event: Event) -> None:
        for callback, critical in self._route(type(event)):
            if critical:
                callback(event)
                continue
            try:
                callback(event)
            except Exception as exc:  # a tracker must not take the optimization down with it
                if id(callback) not in self._warned:
                    self._warned.add(id(callback))
                    logger.warning("Event subscriber %r failed on %s: %s", callback, type(event).__name__, exc)
