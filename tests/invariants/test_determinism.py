"""Invariant 5 (DESIGN.md), determinism: same seed, same data, deterministic LMs -> same candidates and
result, for any ``num_threads`` at a fixed search width (``max_concurrent_proposals``)."""

import pytest

from ..engine.fakes import FakeAdapter, run, summary


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
