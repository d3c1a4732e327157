"""Invariant 5 (DESIGN.md), determinism: same seed, same data, deterministic LMs -> same candidates and
result, for any ``num_threads`` at a fixed search width (``max_concurrent_proposals``).

Engine level (``FakeAdapter``, with random latencies) and DSPy level (``GEPA.compile``); 16 threads with four
proposals in flight and random LM latencies is the slow ``tests/faults/test_concurrency.py``.
"""

import dspy
import pytest

from dspy_gepa import GEPA

from ..engine.fakes import FakeAdapter, run, summary
from ..helpers import TwoStep, metric, reflection_lm, split, task_lm


@pytest.mark.parametrize("concurrency", [1, 3])
def test_same_seed_same_result_for_any_thread_count(concurrency):
    a, _, _ = run(num_threads=1, max_concurrent_proposals=concurrency)
    b, _, _ = run(num_threads=8, max_concurrent_proposals=concurrency)
    assert summary(a) == summary(b)


@pytest.mark.parametrize("policy", ["full", "staged"])
@pytest.mark.parametrize("concurrency", [2, 4])
def test_results_do_not_depend_on_thread_timing(policy, concurrency):
    runs = [run(FakeAdapter(("a", "b"), capacity=2, latency=lat), components=("a", "b"), budget=400,
                num_threads=threads, max_concurrent_proposals=concurrency, val_policy=policy)[0]
            for threads, lat in ((1, 0.0), (8, 0.0), (8, 0.002), (3, 0.001))]
    assert all(summary(r) == summary(runs[0]) for r in runs[1:])


# ---------------------------------------------------------------- DSPy level


def compile_key(threads, seed, concurrency=None):
    train, val = split()
    with dspy.context(lm=task_lm()):
        r = GEPA(metric=metric, max_metric_calls=150, reflection_lm=reflection_lm(), track_stats=True,
                 num_threads=threads, seed=seed, max_concurrent_proposals=concurrency).compile(
            TwoStep(), trainset=train, valset=val).detailed_results
    return r.candidate_texts, r.parents, r.val_subscores, r.total_metric_calls


@pytest.mark.parametrize("threads", [1, 8])
def test_same_seed_same_result_any_thread_count(threads):
    """DSPy level: rollouts run through ``dspy.context`` copies in pool threads; the result must not show it."""
    assert compile_key(1, seed=3) == compile_key(threads, seed=3)


def test_concurrent_proposals_give_the_same_result_for_any_thread_count():
    assert compile_key(1, seed=5, concurrency=3) == compile_key(4, seed=5, concurrency=3) \
        == compile_key(16, seed=5, concurrency=3)


def test_proposals_sampled_as_one_iteration_give_the_same_result_for_any_thread_count():
    """gepa's sampling and selection strategies: a group of proposals starts together and waits for the whole
    group before selection; neither may show thread timing."""
    from gepa.strategies.proposal_sampling import PxNSampling
    from gepa.strategies.proposal_selection import BestImprovement

    train, val = split()

    def go(n):
        with dspy.context(lm=task_lm()):
            r = GEPA(metric=metric, max_metric_calls=200, reflection_lm=reflection_lm(), track_stats=True,
                     num_threads=n, seed=5, gepa_kwargs={"sampling_strategy": PxNSampling(2, 2),
                                                         "selection_strategy": BestImprovement()}
                     ).compile(TwoStep(), trainset=train, valset=val).detailed_results
        return r.candidate_texts, r.parents, r.val_subscores, r.total_metric_calls, [p["status"] for p in r.proposals]

    assert go(1) == go(8)
