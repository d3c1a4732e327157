"""Pluggable strategies of the engine: parent selection, component selection, minibatch sampling."""

from dspy_gepa.engine.strategies.candidate import CANDIDATE_SELECTORS, select_current_best, select_pareto
from dspy_gepa.engine.strategies.component import (
    BUILTIN_COMPONENT_SELECTORS,
    call_custom_selector,
    select_all,
    select_round_robin,
)
from dspy_gepa.engine.strategies.sampler import EpochShuffledSampler

__all__ = [
    "BUILTIN_COMPONENT_SELECTORS",
    "CANDIDATE_SELECTORS",
    "EpochShuffledSampler",
    "call_custom_selector",
    "select_all",
    "select_current_best",
    "select_pareto",
    "select_round_robin",
]
