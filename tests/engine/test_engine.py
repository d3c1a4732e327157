"""The run loop (``engine/engine.py``): a run improves on the seed, refuses what it cannot run, and a failed run
reports what it paid for."""

import pytest

from dspy_gepa.engine import Engine, EngineConfig
from dspy_gepa.exceptions import ConfigurationError

from .fakes import Crash, FakeAdapter, journal_records, make_data, run


def test_validation_score_rises_from_seed():
    result, _, _ = run()
    s = result.state
    assert s.mean(0) == 0.0
    assert s.mean(s.best_idx()) > 0.5
    assert len(s.candidates) > 2


@pytest.mark.parametrize("what,match", [("train", "trainset is empty"), ("val", "valset is empty"),
                                        ("seed", "The seed candidate has no components")])
def test_empty_data_or_seed_is_refused_before_anything_runs(what, match):
    train, val = make_data()
    adapter = FakeAdapter()
    with pytest.raises(ConfigurationError, match=match):
        Engine(adapter, [] if what == "train" else train, [] if what == "val" else val,
               {} if what == "seed" else {"a": "Solve a."}, EngineConfig(max_metric_calls=50))
    assert adapter.eval_calls == []


def test_failed_run_reports_only_the_rollouts_that_ran(tmp_path):
    adapter = FakeAdapter(("a", "b"), crash_after_evals=30, latency=0.002)
    with pytest.raises(Crash):
        run(adapter, components=("a", "b"), budget=300, num_threads=4, max_concurrent_proposals=3, log_dir=tmp_path)
    records = journal_records(tmp_path)
    failed = [e for e in records if e["type"] == "run_failed"]
    recorded = [e for e in records if e["type"] == "rollout"]
    assert failed and failed[0]["total_metric_calls"] == len(recorded) == len(adapter.eval_calls) == 30
