"""Pluggable strategies of the engine: parent selection, component selection, minibatch sampling.
Protocols in ``_base``, one module per kind of strategy."""

from dspy_gepa.engine.strategies._base import BatchSampler, CandidateSelector, ComponentSelector
from dspy_gepa.engine.strategies.candidate import CANDIDATE_SELECTORS, select_current_best, select_pareto
from dspy_gepa.engine.strategies.component import (
    COMPONENT_SELECTORS,
    call_custom_selector,
    select_all,
    select_round_robin,
)
from dspy_gepa.engine.strategies.sampler import EpochShuffledSampler

__all__ = [
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
