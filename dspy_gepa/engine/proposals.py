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

from dspy_gepa.engine.strategies.acceptance import ProposalView, SubsampleView
from dspy_gepa.engine.types import Candidate, ProposalOutcome, Rollout, RolloutKey, Split


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
class Confirm:
    """Request: may this proposal go on to evaluate its child? Answered ``True`` at once, or — for a
    speculative proposal (see :meth:`~dspy_gepa.engine.planner.Planner.still_valid`) — when every proposal
    before it has committed: ``False`` when one of them changed the front it was planned from."""


@dataclass
class Judge:
    """Request: may this child go on to validation? Answered with a
    :class:`~dspy_gepa.engine.strategies.selection.Verdict` by the acceptance criterion, or by the selection
    strategy once every proposal of the child's group has asked (:mod:`~dspy_gepa.engine.strategies.selection`)."""

    proposal: ProposalView


@dataclass
class ReflectionResult:
    new_texts: dict[str, str] | None
    error: str | None = None
    usage: dict[str, Any] | None = None
    dataset: dict[str, list[dict[str, Any]]] | None = None  # the reflective dataset (not journaled)


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
    cost_estimate: float = 0.0
    merge: Any = None
    iteration: int = 0  # the search iteration it belongs to (gepa's state.i)
    group: int | None = None  # the seq of the first proposal planned with it in one iteration, if any
    group_size: int = 1
    pool_size: int = 0  # candidates in the pool when it was planned (Planner.still_valid)


ProposalGen = Generator[Evaluate | Reflect | Confirm | Judge, Any, ProposalOutcome]


@dataclass
class Run:
    """A proposal in flight: its plan, its generator, and the rollouts it asked for so far.

    ``start_commits`` is the number of proposals committed when it started; ``keys`` every rollout it
    used, ``fresh`` those not paid by a proposal committed before it started (they count against its
    reservation); ``want``/``got`` the batch it is waiting for, ``missing`` the keys of it still to come."""

    plan: Plan
    gen: ProposalGen
    start_commits: int
    keys: set[RolloutKey] = field(default_factory=set)
    fresh: set[RolloutKey] = field(default_factory=set)
    want: list[RolloutKey] = field(default_factory=list)
    got: dict[RolloutKey, Rollout] = field(default_factory=dict)
    missing: set[RolloutKey] = field(default_factory=set)
    components: list[str] = field(default_factory=list)
    reflection_usage: dict[str, Any] | None = None
    outcome: ProposalOutcome | None = None


def seed_proposal(plan: Plan, val_ids: list[int]) -> ProposalGen:
    """The seed's validation: on every example, or on the screen when the plan has one (then the seed is
    validated in full at the end if it is still the best, as any screened candidate)."""
    ids = plan.screen or val_ids
    rollouts = yield Evaluate(plan.candidate, "val", ids)
    return ProposalOutcome("seed", child=plan.candidate, val_scores=_by_id(ids, rollouts))


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
        return ProposalOutcome("duplicate", "the proposed candidate is already in the pool or was tried before",
                               parent_scores=parent_scores, components=components)
    if not (yield Confirm()):
        return ProposalOutcome("superseded", "a candidate accepted while this proposal was in flight took its "
                               "parent off the front", parent_scores=parent_scores, components=components)
    child_rollouts = yield Evaluate(child, "train", plan.minibatch)
    child_scores = [r.score for r in child_rollouts]
    verdict = yield Judge(ProposalView(child, list(plan.parent_ids), list(plan.minibatch), parent_scores, child_scores,
                                       _subsample(parent_rollouts), _subsample(child_rollouts)))
    if not verdict.accepted:
        return ProposalOutcome("rejected", verdict.reason, child=child, parent_scores=parent_scores,
                               child_scores=child_scores, components=components)
    val_scores, dropped = yield from validate(child, plan, val_ids, parent=plan.parent_val_scores[0])
    if dropped:
        return ProposalOutcome("screened_out", dropped, child=child, parent_scores=parent_scores,
                               child_scores=child_scores, val_scores=val_scores, components=components)
    return ProposalOutcome("accepted", child=child, parent_scores=parent_scores, child_scores=child_scores,
                           val_scores=val_scores, components=components)


def validate(child: Candidate, plan: Plan, val_ids: list[int], parent: dict[int, float] | None
             ) -> Generator[Evaluate, Any, tuple[dict[int, float], str]]:
    """The validation scores of a child that passed its first test, and a reason when it is dropped.

    Without a screen (``val_evaluation_policy="full"``, the paper's) the child is scored on every
    validation example. With one (``"staged"``: ``plan.screen``, the same random part of the valset for
    every candidate) it is scored on the screen only, and dropped if it scores below its ``parent`` there
    without beating every candidate on some screen example (``parent`` None skips this test: a merge has
    passed its own). Screened candidates are validated on every example at the end of the run, best
    first, by :func:`final_validation`.
    """
    screen = plan.screen
    if not screen or len(screen) >= len(val_ids):
        return _by_id(val_ids, (yield Evaluate(child, "val", val_ids))), ""
    scores = _by_id(screen, (yield Evaluate(child, "val", screen)))
    total = sum(scores.values())
    beats_front = any(scores[v] > plan.front_best.get(v, float("-inf")) for v in screen)
    if parent is not None and total < sum(parent[v] for v in screen) and not beats_front:
        return scores, (f"validation screen of {len(screen)} examples: {total:g} < parent's "
                        f"{sum(parent[v] for v in screen):g}, and no example where it beats every candidate")
    return scores, ""


def final_validation(plan: Plan, val_ids: list[int]) -> ProposalGen:
    """Score a screened candidate on the rest of the valset, so it can be returned."""
    rest = [v for v in val_ids if v not in plan.parent_val_scores[0]]
    scores = {**plan.parent_val_scores[0], **_by_id(rest, (yield Evaluate(plan.candidate, "val", rest)))}
    return ProposalOutcome("validated", child=plan.candidate, val_scores={v: scores[v] for v in val_ids})


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
    # The subsample's rollouts are cached under the same keys, so validation reuses them.
    val_scores, _ = yield from validate(merged, plan, val_ids, parent=None)
    return ProposalOutcome("merge_accepted", child=merged, parent_scores=parent_sums, child_scores=screen_scores,
                           val_scores=val_scores)


def _subsample(rollouts: list[Rollout]) -> SubsampleView:
    objectives = [r.objectives for r in rollouts]
    return SubsampleView([r.score for r in rollouts], [r.output for r in rollouts],
                         [dict(o or {}) for o in objectives] if any(objectives) else None,
                         [r.trajectory for r in rollouts])


def _by_id(ids: list[int], rollouts: list[Rollout]) -> dict[int, float]:
    return {vid: r.score for vid, r in zip(ids, rollouts, strict=True)}
