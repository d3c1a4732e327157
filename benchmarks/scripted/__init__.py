"""Scripted tasks and deterministic fake LMs for the side-by-side GEPA benchmarks."""

from .lms import ReflectionPolicy, StepSpec, make_reflection_lm, make_task_lm, output_fields
from .tasks import FORWARD_CALLS, TASKS, Task, make_pipeline, make_routing

__all__ = [
    "FORWARD_CALLS",
    "TASKS",
    "ReflectionPolicy",
    "StepSpec",
    "Task",
    "make_pipeline",
    "make_reflection_lm",
    "make_routing",
    "make_task_lm",
    "output_fields",
]
