"""The GEPA engine. It knows nothing about DSPy: it talks to the system being optimized through an
adapter (:class:`~dspy_gepa.engine.adapter.Adapter`) and reports what happens through events."""

from dspy_gepa.engine.adapter import Adapter, JsonCodec
from dspy_gepa.engine.budget import auto_budget, budget_plan
from dspy_gepa.engine.engine import Engine, EngineConfig, EngineResult
from dspy_gepa.engine.events import EventBus
from dspy_gepa.engine.state import State, StateView
from dspy_gepa.engine.types import Candidate, EvaluationBatch, ProposalOutcome, Rollout, RolloutKey, candidate_hash

__all__ = [
    "Adapter",
    "Candidate",
    "Engine",
    "EngineConfig",
    "EngineResult",
    "EvaluationBatch",
    "EventBus",
    "JsonCodec",
    "ProposalOutcome",
    "Rollout",
    "RolloutKey",
    "State",
    "StateView",
    "auto_budget",
    "budget_plan",
    "candidate_hash",
]
