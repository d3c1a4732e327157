"""Value types shared by the engine, its adapters and its subscribers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Candidate = dict[str, str]
Split = Literal["train", "val"]


def candidate_hash(candidate: Mapping[str, str]) -> str:
    """Content hash of a candidate: equal texts give equal hashes, whatever the dict order. Remembered for
    the candidates seen last (a run asks for the same few hashes at every step)."""
    items = frozenset(candidate.items())
    h = _hashes.get(items)
    if h is None:
        blob = json.dumps(sorted(candidate.items()), ensure_ascii=False, separators=(",", ":"))
        h = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]
        if len(_hashes) >= _REMEMBERED:
            _hashes.clear()
        _hashes[items] = h
    return h


_REMEMBERED = 4096

_hashes: dict[frozenset, str] = {}


class RolloutKey(NamedTuple):
    """Identity of one paid rollout: a candidate run on one example of one split. A named tuple, so that
    hashing and comparing the hundreds of thousands of keys a long run looks up happen in C."""

    candidate: str
    split: Split
    example: int

    def as_list(self) -> list:
        return [self.candidate, self.split, self.example]


@dataclass(slots=True)
class Rollout:
    """The recorded result of one rollout, as the journal and the cache keep it. ``usage`` is dropped from
    memory once the proposal that paid for it commits (the journal and the run's totals have it)."""

    score: float
    output: Any = None
    feedback: str | None = None
    trajectory: Any = None
    error: str | None = None
    usage: dict[str, Any] | None = None
    objectives: dict[str, float] | None = None  # multi-objective scores, when the metric gives them


@dataclass
class EvaluationBatch:
    """What an adapter returns for a batch: one entry per example, in batch order."""

    outputs: list[Any]
    scores: list[float]
    trajectories: list[Any] | None = None
    feedbacks: list[str | None] | None = None
    errors: list[str | None] | None = None
    usages: list[dict[str, Any] | None] | None = None
    objective_scores: list[dict[str, float] | None] | None = None

    def rollout(self, i: int) -> Rollout:
        return Rollout(
            score=float(self.scores[i]),
            output=self.outputs[i],
            feedback=self.feedbacks[i] if self.feedbacks else None,
            trajectory=self.trajectories[i] if self.trajectories else None,
            error=self.errors[i] if self.errors else None,
            usage=self.usages[i] if self.usages else None,
            objectives=self.objective_scores[i] if self.objective_scores else None,
        )

    @classmethod
    def from_rollouts(cls, rollouts: list[Rollout]) -> EvaluationBatch:
        return cls(
            outputs=[r.output for r in rollouts],
            scores=[r.score for r in rollouts],
            trajectories=[r.trajectory for r in rollouts],
            feedbacks=[r.feedback for r in rollouts],
            errors=[r.error for r in rollouts],
            usages=[r.usage for r in rollouts],
            objective_scores=[r.objectives for r in rollouts] if any(r.objectives for r in rollouts) else None,
        )


@dataclass
class ProposalOutcome:
    """How one proposal ended. ``status`` is one of: seed, accepted, rejected (minibatch),
    screened_out (validation screen), skipped_perfect, reflection_failed, unchanged, duplicate,
    superseded (a speculative proposal whose parent left the front before its child was evaluated),
    merge_accepted, merge_rejected, validated (a screened candidate's final validation)."""

    status: str
    reason: str = ""
    child: Candidate | None = None
    parent_scores: list[float] | None = None
    child_scores: list[float] | None = None
    val_scores: dict[int, float] | None = None
    components: list[str] = field(default_factory=list)

    @property
    def adds_candidate(self) -> bool:
        return self.status in ("accepted", "merge_accepted", "seed")

    @property
    def usable(self) -> bool:
        """False when reflection failed: an error or a reply that cannot be used (counts toward the
        failure limit). Proposals that are merely idle — unchanged text, a duplicate, a perfect minibatch
        — are signs of convergence instead, handled as a stop condition."""
        return self.status != "reflection_failed"

    @property
    def idle(self) -> bool:
        return self.status in ("skipped_perfect", "duplicate", "unchanged")
