"""Scripted side-by-side benchmarks of ``dspy_gepa.GEPA`` and ``dspy.GEPA`` (``python -m benchmarks.compare``).

``worlds.py`` holds the scripted tasks, ``lms.py`` and ``rules.py`` their deterministic fake LMs, ``runner.py``
runs and measures one optimizer on one world, ``compare.py`` the suites, ``report.py`` the README tables built
from ``results/``.
"""

from .lms import ReflectionPolicy, StepSpec, make_reflection_lm, make_task_lm, output_fields
from .worlds import FORWARD_CALLS, TASKS, Task, make_pipeline, make_routing

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
