"""Acceptance: whether a child that beat (or not) its parent on the minibatch goes on to validation.

The criterion sees the proposal as gepa's ``CandidateProposal`` shows it (:class:`ProposalView`: the child,
its parents, the minibatch, both sides' scores and outputs) and the state (a
:class:`~dspy_gepa.engine.view.StateView`). Built in: ``"strict_improvement"`` (the default, the paper's
rule: the child's minibatch sum must beat the parent's) and ``"improvement_or_equal"``; any object with
``should_accept(proposal, state)`` works too, gepa's included, and its optional ``reject_reason(proposal,
state)`` words the rejection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SubsampleView:
    """One side of a proposal's minibatch evaluation (gepa's ``SubsampleEvaluation``)."""

    scores: list[float]
    outputs: list[Any] = field(default_factory=list)
    objective_scores: list[dict[str, float]] | None = None
    trajectories: list[Any] | None = None


@dataclass(eq=False)
class ProposalView:
    """A proposal as acceptance criteria and selection strategies read it (gepa's ``CandidateProposal``)."""

    candidate: dict[str, str]
    parent_program_ids: list[int]
    subsample_indices: list[int]
    subsample_scores_before: list[float]
    subsample_scores_after: list[float]
    eval_before: SubsampleView
    eval_after: SubsampleView
    tag: str = "reflective_mutation"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def sums(self) -> tuple[float, float]:
        return sum(self.subsample_scores_before), sum(self.subsample_scores_after)


class StrictImprovement:
    def should_accept(self, proposal: ProposalView, state: Any) -> bool:
        before, after = proposal.sums
        return after > before

    def reject_reason(self, proposal: ProposalView, state: Any) -> str:
        before, after = proposal.sums
        return f"minibatch score {after:g} <= parent's {before:g}"


class ImprovementOrEqual:
    def should_accept(self, proposal: ProposalView, state: Any) -> bool:
        before, after = proposal.sums
        return after >= before

    def reject_reason(self, proposal: ProposalView, state: Any) -> str:
        before, after = proposal.sums
        return f"minibatch score {after:g} < parent's {before:g}"


ACCEPTANCE_CRITERIA = {"strict_improvement": StrictImprovement, "improvement_or_equal": ImprovementOrEqual}


def acceptance_criterion(value: Any) -> Any:
    """The criterion object for ``gepa_kwargs['acceptance_criterion']`` (a name or an object)."""
    if value is None:
        return StrictImprovement()
    if isinstance(value, str):
        if value not in ACCEPTANCE_CRITERIA:
            raise ValueError(f"acceptance_criterion must be one of {sorted(ACCEPTANCE_CRITERIA)} or an object "
                             f"with should_accept(proposal, state), not {value!r}")
        return ACCEPTANCE_CRITERIA[value]()
    if not callable(getattr(value, "should_accept", None)):
        raise ValueError(f"acceptance_criterion {value!r} has no should_accept(proposal, state) method")
    return value


def reject_reason(criterion: Any, proposal: ProposalView, state: Any) -> str:
    reason = getattr(criterion, "reject_reason", None)
    if callable(reason):
        return str(reason(proposal, state))
    before, after = proposal.sums
    return f"rejected by the acceptance criterion {type(criterion).__name__} (minibatch {after:g} vs parent's {before:g})"
