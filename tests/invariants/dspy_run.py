"""The DSPy-level run the invariant tests share: ``GEPA.compile`` of the color task of ``tests/helpers.py`` with
scripted LMs, and what two runs that should end in the same place must agree on."""

from __future__ import annotations

import dspy

from dspy_gepa import GEPA

from ..helpers import TwoStep, metric, reflection_lm, split, task_lm


def optimize(log_dir=None, *, task=None, reflection=None, budget=140, program=None, trainset=None, valset=None,
             metric_fn=metric, **kw):
    """Compile ``TwoStep`` on ``split()`` (2 threads unless ``num_threads`` is given)."""
    train, val = split()
    with dspy.context(lm=task or task_lm()):
        return GEPA(metric=metric_fn, max_metric_calls=budget, reflection_lm=reflection or reflection_lm(),
                    track_stats=True, log_dir=None if log_dir is None else str(log_dir),
                    **{"num_threads": 2, **kw}).compile(
            program if program is not None else TwoStep(), trainset=train if trainset is None else trainset,
            valset=val if valset is None else valset)


def key(program):
    r = program.detailed_results
    return r.candidate_texts, r.parents, r.val_subscores, r.discovery_eval_counts, r.total_metric_calls
