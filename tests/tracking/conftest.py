"""A recorded GEPA run shared by the tracking tests (scripted LMs, no network)."""

import dspy
import pytest

from dspy_gepa import GEPA

from ..helpers import TwoStep, metric, reflection_lm, split, task_lm


def run_gepa(log_dir=None, *, budget=150, program=None, task=None, **kw):
    train, val = split()
    with dspy.context(lm=task or task_lm()):
        kw.setdefault("reflection_lm", reflection_lm())
        return GEPA(metric=metric, max_metric_calls=budget, track_stats=True, log_dir=log_dir, **kw).compile(
            program or TwoStep(), trainset=train, valset=val)


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory):
    """A finished run with log_dir: (log_dir, optimized program)."""
    log_dir = tmp_path_factory.mktemp("recorded") / "run"
    optimized = run_gepa(log_dir)
    return log_dir, optimized
