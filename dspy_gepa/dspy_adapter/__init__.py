"""The DSPy side of dspy-gepa: building, running, tracing and scoring DSPy programs for the engine."""

from dspy_gepa.dspy_adapter.adapter import DspyAdapter
from dspy_gepa.dspy_adapter.feedback import ScoreWithFeedback
from dspy_gepa.dspy_adapter.reflective import ReflectionLimits
from dspy_gepa.dspy_adapter.trace import TraceEntry, Trajectory

__all__ = ["DspyAdapter", "ReflectionLimits", "ScoreWithFeedback", "TraceEntry", "Trajectory"]
