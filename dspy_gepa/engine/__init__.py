"""The GEPA engine. It knows nothing about DSPy: it talks to the system being optimized through an
adapter (:class:`~dspy_gepa.engine.adapter.Adapter`) and reports what happens through events.

This module is the engine's door: what the layers above use is imported from here.
"""

from typing import TYPE_CHECKING

from dspy_gepa._lazy import exports
from dspy_gepa.engine import events

if TYPE_CHECKING:
    from dspy_gepa.engine.adapter import Adapter, JsonCodec
    from dspy_gepa.engine.budget import AUTO_CANDIDATES, BudgetPreview, auto_budget, budget_plan, preview
    from dspy_gepa.engine.config import VAL_POLICIES, EngineConfig, default_concurrency
    from dspy_gepa.engine.engine import Engine, EngineResult
    from dspy_gepa.engine.events import EventBus
    from dspy_gepa.engine.replay import JournalContents, read_header, read_journal
    from dspy_gepa.engine.state import State
    from dspy_gepa.engine.types import Candidate, EvaluationBatch, ProposalOutcome, Rollout, RolloutKey, candidate_hash
    from dspy_gepa.engine.view import StateView

# Loaded on first use: reading a journal (a report) needs the journal module, not the run loop.
__getattr__, __dir__ = exports(__name__, {
    **dict.fromkeys(("Adapter", "JsonCodec"), "dspy_gepa.engine.adapter"),
    **dict.fromkeys(("AUTO_CANDIDATES", "BudgetPreview", "auto_budget", "budget_plan", "preview"),
                    "dspy_gepa.engine.budget"),
    **dict.fromkeys(("VAL_POLICIES", "EngineConfig", "default_concurrency"), "dspy_gepa.engine.config"),
    **dict.fromkeys(("Engine", "EngineResult"), "dspy_gepa.engine.engine"),
    "EventBus": "dspy_gepa.engine.events",
    **dict.fromkeys(("JournalContents", "read_header", "read_journal"), "dspy_gepa.engine.replay"),
    "State": "dspy_gepa.engine.state",
    **dict.fromkeys(("Candidate", "EvaluationBatch", "ProposalOutcome", "Rollout", "RolloutKey", "candidate_hash"),
                    "dspy_gepa.engine.types"),
    "StateView": "dspy_gepa.engine.view",
})

__all__ = [
    "AUTO_CANDIDATES",
    "VAL_POLICIES",
    "Adapter",
    "BudgetPreview",
    "Candidate",
    "Engine",
    "EngineConfig",
    "EngineResult",
    "EvaluationBatch",
    "EventBus",
    "JournalContents",
    "JsonCodec",
    "ProposalOutcome",
    "Rollout",
    "RolloutKey",
    "State",
    "StateView",
    "auto_budget",
    "budget_plan",
    "candidate_hash",
    "default_concurrency",
    "events",
    "preview",
    "read_header",
    "read_journal",
]
