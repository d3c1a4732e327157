"""A GEPA run on a Ray cluster, for the test that SIGKILLs the driver mid-run (tests/test_ray_backend.py).

    python -m tests.ray_driver RAY_ADDRESS LOG_DIR

:func:`optimize` is also what the test runs in-process, so an interrupted-then-resumed chain can be compared
with an uninterrupted run.
"""

from __future__ import annotations

import sys

import dspy

from dspy_gepa import GEPA

from .helpers import TwoStep, metric, reflection_lm, split, task_lm

PRICES = {"scripted/task": (1.0, 2.0)}


def optimize(backend="threads", *, log_dir=None, num_threads=4, latency=0.0, metric_fn=metric, task=None, **kw):
    train, val = split()
    settings = {"max_metric_calls": 140, "max_concurrent_proposals": 2, "lm_prices": PRICES, **kw}
    with dspy.context(lm=task or task_lm(latency=latency)):
        optimized = GEPA(metric=metric_fn, reflection_lm=reflection_lm(), track_stats=True, log_dir=log_dir,
                         num_threads=num_threads, backend=backend, **settings).compile(
            TwoStep(), trainset=train, valset=val)
    return optimized.detailed_results


def key(r):
    return (r.candidate_texts, r.parents, r.val_subscores, r.discovery_eval_counts, r.total_metric_calls,
            [(p["kind"], p["status"]) for p in r.proposals], r.stop_reason)


if __name__ == "__main__":
    from dspy_gepa.backends import RayBackend

    optimize(RayBackend(address=sys.argv[1]), log_dir=sys.argv[2], latency=0.1)
