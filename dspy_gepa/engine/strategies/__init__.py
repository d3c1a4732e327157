"""Pluggable strategies of the engine: parent selection, component selection, minibatch sampling, task
sampling, acceptance and selection. Protocols in ``_base``, one module per kind of strategy; each accepts
gepa's strategy objects as they are (duck-typed) besides its built-in ones."""

from dspy_gepa.engine.strategies._base import BatchSampler, CandidateSelector, ComponentSelector
from dspy_gepa.engine.strategies.acceptance import (
    ACCEPTANCE_CRITERIA,
    ProposalView,
    SubsampleView,
    acceptance_criterion,
)
from dspy_gepa.engine.strategies.candidate import CANDIDATE_SELECTORS, select_current_best, select_pareto
from dspy_gepa.engine.strategies.component import (
    COMPONENT_SELECTORS,
    call_custom_selector,
    select_all,
    select_round_robin,
)
from dspy_gepa.engine.strategies.sampler import EpochShuffledSampler
from dspy_gepa.engine.strategies.sampling import MinibatchSampler, ParentSelector, sample_tasks
from dspy_gepa.engine.strategies.selection import AllImprovements, GroupJudge, Verdict

__all__ = [
    "ACCEPTANCE_CRITERIA",
    "AllImprovements",
    "GroupJudge",
    "MinibatchSampler",
    "ParentSelector",
    "ProposalView",
    "SubsampleView",
    "Verdict",
    "acceptance_criterion",
    "sample_tasks",
    "CANDIDATE_SELECTORS",
    "COMPONENT_SELECTORS",
    "BatchSampler",
    "CandidateSelector",
    "ComponentSelector",
    "EpochShuffledSampler",
    "call_custom_selector",
    "select_all",
    "select_current_best",
    "select_pareto",
    "select_round_robin",
]
