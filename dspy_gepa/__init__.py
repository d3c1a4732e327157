"""dspy-gepa: GEPA reflective prompt evolution for DSPy, on an engine of its own.

    from dspy_gepa import GEPA, ScoreWithFeedback
    optimized = GEPA(metric=metric, auto="light", reflection_lm=lm).compile(student, trainset=train, valset=val)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dspy_gepa._lazy import exports
from dspy_gepa.exceptions import (
    ConfigurationError,
    GEPAError,
    InfrastructureError,
    JournalError,
    JournalMismatchError,
    MetricError,
    ProgramError,
    ReflectionError,
    TrackingError,
    UnusableProposalError,
)

if TYPE_CHECKING:
    from dspy_gepa.dspy_adapter import DspyAdapter, ReflectionLimits, ScoreWithFeedback
    from dspy_gepa.optimizer import GEPA
    from dspy_gepa.proposers import InstructionProposer, MultiModalInstructionProposer, RuleProposer
    from dspy_gepa.results import DspyGEPAResult

# These import DSPy, which takes seconds: they load on first use (``dspy-gepa report`` never needs them).
__getattr__, __dir__ = exports(__name__, {
    "GEPA": "dspy_gepa.optimizer",
    "DspyAdapter": "dspy_gepa.dspy_adapter",
    "ReflectionLimits": "dspy_gepa.dspy_adapter",
    "ScoreWithFeedback": "dspy_gepa.dspy_adapter",
    "InstructionProposer": "dspy_gepa.proposers",
    "MultiModalInstructionProposer": "dspy_gepa.proposers",
    "RuleProposer": "dspy_gepa.proposers",
    "DspyGEPAResult": "dspy_gepa.results",
})

__version__ = "0.1.0.dev0"

__all__ = [
    "GEPA",
    "ConfigurationError",
    "DspyAdapter",
    "DspyGEPAResult",
    "GEPAError",
    "InfrastructureError",
    "InstructionProposer",
    "JournalError",
    "JournalMismatchError",
    "MetricError",
    "MultiModalInstructionProposer",
    "ProgramError",
    "ReflectionError",
    "ReflectionLimits",
    "RuleProposer",
    "ScoreWithFeedback",
    "TrackingError",
    "UnusableProposalError",
    "__version__",
]
