"""Proposals as units of work.

A proposal is a generator: it is planned from a snapshot of the state (parent, minibatch, components),
then yields requests — evaluate these examples, reflect on these rollouts — and receives their results,
and finally returns a :class:`ProposalOutcome`. It never touches the shared state, so the scheduler can
keep several in flight and commit them in proposal order; with one in flight this is exactly the
paper's sequential loop.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from dspy_gepa.engine.types import Candidate, ProposalOutcome, Rollout, Split


@dataclass
class Evaluate:
    """Request: rollouts of ``candidate`` on ``ids`` of ``split`` (from cache or journal where possible).

    Training rollouts always carry traces, so a child's minibatch results can serve again when that
    child is later chosen as a parent."""

    candidate: Candidate
    split: Split
    ids: list[int]


@dataclass
class Reflect:
    """Request: new texts for ``components`` from the parent's rollouts on the minibatch."""

    candidate: Candidate
    components: list[str]
    rollouts: list[Rollout]
    ids: list[int]


@dataclass
class ReflectionResult:
    new_texts: dict[str, str] | None
    error: str | None = None


@dataclass
class Plan:
    """Everything decided when a proposal starts; all of it comes from the state at that moment."""

    seq: int
    kind: str
    parent_ids: list[int]
    candidate: Candidate
    minibatch: list[int] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    parent_val_scores: list[dict[int, float]] = field(default_factory=list)
    front_best: dict[int, float] = field(default_factory=dict)
    screen: list[int] = field(default_factory=list)
    reservation: int = 0
    merge: Any = None


ProposalGen = Generator[Evaluate | Reflect, Any, ProposalOutcome]


def seed_proposal(plan: Plan, val_ids: list[int]) -> ProposalGen:
    rollouts = yield Evaluate(plan.candidate, "val", val_ids)
    return ProposalOutcome("seed", child=plan.candidate, val_scores=_by_id(val_ids, rollouts))


def reflective_proposal(
    plan: Plan,
    val_ids: list[int],
    *,
    skip_perfect_score: bool,
    perfect_score: float,
    choose_components: Callable[[list[Rollout]], list[str]] | None,
    known_candidates: Callable[[Candidate], bool],
) -> ProposalGen:
    parent = plan.candidate
    parent_rollouts = yield Evaluate(parent, "train", plan.minibatch)
    parent_scores = [r.score for r in parent_rollouts]
    if skip_perfect_score and all(s >= perfect_score for s in parent_scores):
        return ProposalOutcome("skipped_perfect", "every minibatch example already has a perfect score",
                               parent_scores=parent_scores)
    components = plan.components or (choose_components(parent_rollouts) if choose_components else [])
    reflection: ReflectionResult = yield Reflect(parent, components, parent_rollouts, plan.minibatch)
    if reflection.error is not None:
        return ProposalOutcome("reflection_failed", reflection.error, parent_scores=parent_scores,
                               components=components)
    child = {**parent, **(reflection.new_texts or {})}
    if child == parent:
        return ProposalOutcome("unchanged", "the proposer returned the current texts unchanged",
                               parent_scores=parent_scores, components=components)
    if known_candidates(child):
        return ProposalOutcome("duplicate", "the proposed candidate is already in the pool",
                               parent_scores=parent_scores, components=components)
    child_rollouts = yield Evaluate(child, "train", plan.minibatch)
    child_scores = [r.score for r in child_rollouts]
    if sum(child_scores) <= sum(parent_scores):
        return ProposalOutcome("rejected", f"minibatch score {sum(child_scores):g} <= parent's {sum(parent_scores):g}",
                               child=child, parent_scores=parent_scores, child_scores=child_scores,
                               components=components)
    val_scores, screened_out = yield from validate(child, plan, val_ids)
    if screened_out:
        return ProposalOutcome("screened_out", screened_out, child=child, parent_scores=parent_scores,
                               child_scores=child_scores, val_scores=val_scores, components=components)
    return ProposalOutcome("accepted", child=child, parent_scores=parent_scores, child_scores=child_scores,
                           val_scores=val_scores, components=components)


def validate(child: Candidate, plan: Plan, val_ids: list[int]) -> Generator[Evaluate, Any, tuple[dict, str]]:
    """Scores of a minibatch-accepted child on the valset, and a reason when it was screened out.

    Without a screen (the paper's policy) the child is validated on every example. With one
    (``plan.screen``, a random part of the valset drawn when the proposal was planned) the child is
    validated on the screen first, and on the rest only if it holds up there: at least its parent's
    total on the screen, or a better score than any candidate so far on one of its examples. Every
    candidate that joins the pool is validated on every example, so Pareto selection keeps its meaning.
    """
    screen = [v for v in plan.screen if v in set(val_ids)]
    if not screen or len(screen) >= len(val_ids):
        rollouts = yield Evaluate(child, "val", val_ids)
        return _by_id(val_ids, rollouts), ""
    scores = _by_id(screen, (yield Evaluate(child, "val", screen)))
    parent = plan.parent_val_scores[0]
    child_total, parent_total = sum(scores.values()), sum(parent[v] for v in screen)
    new_best = [v for v in screen if scores[v] > plan.front_best.get(v, float("-inf"))]
    if child_total < parent_total and not new_best:
        return scores, (f"validation screen of {len(screen)} examples: {child_total:g} < parent's {parent_total:g}, "
                        "and no example where it beats every candidate")
    rest = [v for v in val_ids if v not in scores]
    scores.update(_by_id(rest, (yield Evaluate(child, "val", rest))))
    return {v: scores[v] for v in val_ids}, ""


def merge_proposal(plan: Plan, val_ids: list[int], known_candidates: Callable[[Candidate], bool]) -> ProposalGen:
    merged = plan.candidate
    ids = plan.merge.subsample
    parent_sums = [sum(scores[v] for v in ids) for scores in plan.parent_val_scores]
    if known_candidates(merged):
        return ProposalOutcome("duplicate", "the merged candidate is already in the pool", parent_scores=parent_sums)
    screen = yield Evaluate(merged, "val", ids)
    screen_scores = [r.score for r in screen]
    if sum(screen_scores) < max(parent_sums):
        return ProposalOutcome("merge_rejected",
                               f"screen score {sum(screen_scores):g} < best parent's {max(parent_sums):g}",
                               child=merged, parent_scores=parent_sums, child_scores=screen_scores)
    # The screened examples are cached under the same keys, so the full validation reuses them.
    val_rollouts = yield Evaluate(merged, "val", val_ids)
    return ProposalOutcome("merge_accepted", child=merged, parent_scores=parent_sums, child_scores=screen_scores,
                           val_scores=_by_id(val_ids, val_rollouts))


def _by_id(ids: list[int], rollouts: list[Rollout]) -> dict[int, float]:
    return {vid: r.score for vid, r in zip(ids, rollouts, strict=True)}
