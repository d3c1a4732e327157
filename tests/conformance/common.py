"""What the conformance tests share: one scenario run on ``dspy.GEPA`` and on ``dspy_gepa.GEPA``.

Each scenario builds its student, data and keywords once per optimizer (fresh objects, so nothing leaks
from one run into the other) and compares what a user can observe: the returned program, the
``detailed_results`` fields, the optimizer's attributes, what callbacks and stop conditions saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dspy

import dspy_gepa

from ..helpers import metric, reflection_lm, split, task_lm

OPTIMIZERS = {"dspy": dspy.GEPA, "ours": dspy_gepa.GEPA}


def compile_with(which: str, student: dspy.Module, *, trainset=None, valset=None, lm: Any = None,
                 **kwargs: Any) -> dspy.Module:
    """Compile ``student`` with ``dspy.GEPA`` (``which="dspy"``) or ours, on the scripted word-color task
    unless told otherwise."""
    train, val = split()
    kwargs.setdefault("metric", metric)
    kwargs.setdefault("reflection_lm", reflection_lm())
    optimizer = OPTIMIZERS[which](**kwargs)
    with dspy.context(lm=lm or task_lm()):
        return optimizer.compile(student, trainset=trainset or train, valset=valset or val)


def both(make: Callable[[str], Any]) -> dict[str, Any]:
    """``make(which)`` for each optimizer."""
    return {which: make(which) for which in OPTIMIZERS}
