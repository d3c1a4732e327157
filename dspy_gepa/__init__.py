"""dspy-gepa: GEPA reflective prompt evolution for DSPy, on an engine of its own.

    from dspy_gepa import GEPA, ScoreWithFeedback
    optimized = GEPA(metric=metric, auto="light", reflection_lm=lm).compile(student, trainset=train, valset=val)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    from dspy_gepa.proposers import InstructionProposer, MultiModalInstructionProposer
    from dspy_gepa.results import DspyGEPAResult

# The names below import DSPy, which takes seconds; they load on first use, so that `dspy-gepa report`
# and `show` (which read a journal and never run a program) start at once.
_LAZY = {
    "GEPA": "dspy_gepa.optimizer",
    "DspyAdapter": "dspy_gepa.dspy_adapter",
    "ReflectionLimits": "dspy_gepa.dspy_adapter",
    "ScoreWithFeedback": "dspy_gepa.dspy_adapter",
    "InstructionProposer": "dspy_gepa.proposers",
    "MultiModalInstructionProposer": "dspy_gepa.proposers",
    "DspyGEPAResult": "dspy_gepa.results",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dspy_gepa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "ScoreWithFeedback",
    "TrackingError",
    "UnusableProposalError",
    "__version__",
]
