"""dspy-gepa: GEPA reflective prompt evolution for DSPy, on an engine of its own.

    from dspy_gepa import GEPA, ScoreWithFeedback
    optimized = GEPA(metric=metric, auto="light", reflection_lm=lm).compile(student, trainset=train, valset=val)
"""

from dspy_gepa.dspy_adapter import DspyAdapter, ReflectionLimits, ScoreWithFeedback
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
from dspy_gepa.optimizer import GEPA
from dspy_gepa.proposers import InstructionProposer, MultiModalInstructionProposer, RuleProposer
from dspy_gepa.results import DspyGEPAResult

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
