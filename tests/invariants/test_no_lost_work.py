"""Invariants 2 and 3 (DESIGN.md): no paid work is lost or repeated, and resume.

Every rollout is recorded under (candidate hash, split, example id) and run at most once; a resumed run
replays the journal in ``log_dir``, makes no LM call for recorded work, and ends exactly where the
uninterrupted run ends; a journal from another configuration is refused. Kill chains in a subprocess
(SIGKILL at many points) are the slow ``tests/faults/test_kill_resume.py``.
"""

import pytest

from dspy_gepa.exceptions import JournalMismatchError

from ..engine.fakes import Crash, FakeAdapter, run, summary


def test_parent_minibatch_scores_are_reused_not_rerun():
    result, adapter, _ = run(budget=200)
    assert len(adapter.eval_calls) == len(set((tuple(sorted(c.items())), i) for c, i in adapter.eval_calls))


# ---------------------------------------------------------------- resume


def test_resume_replays_journal_without_rerunning(tmp_path):
    reference, ref_adapter, _ = run(budget=150)
    total = len(ref_adapter.eval_calls)
    assert total > 40
    for crash_after in (9, total // 3, total - 5):
        log = tmp_path / f"run{crash_after}"
        with pytest.raises(Crash):
            run(adapter=FakeAdapter(crash_after_evals=crash_after), budget=150, log_dir=log)
        resumed, adapter, _ = run(budget=150, log_dir=log)
        assert summary(resumed) == summary(reference)
        assert len(adapter.eval_calls) == len(ref_adapter.eval_calls) - crash_after


def test_resume_after_crash_during_reflection(tmp_path):
    reference, ref_adapter, _ = run(budget=150)
    with pytest.raises(Crash):
        run(adapter=FakeAdapter(crash_after_reflections=4), budget=150, log_dir=tmp_path)
    resumed, adapter, _ = run(budget=150, log_dir=tmp_path)
    assert summary(resumed) == summary(reference)
    assert adapter.reflections == ref_adapter.reflections - 4


def test_resume_of_finished_run_makes_no_calls(tmp_path):
    first, _, _ = run(budget=100, log_dir=tmp_path)
    again, adapter, _ = run(budget=100, log_dir=tmp_path)
    assert summary(again) == summary(first)
    assert adapter.eval_calls == [] and adapter.reflections == 0


def test_staged_resume_reaches_the_same_result(tmp_path):
    kwargs = dict(components=("a", "b"), budget=300, val_policy="staged", max_concurrent_proposals=3, num_threads=4)
    reference, ref_adapter, _ = run(FakeAdapter(("a", "b"), capacity=2), **kwargs)
    total = len(ref_adapter.eval_calls)
    with pytest.raises(Crash):
        run(FakeAdapter(("a", "b"), capacity=2, crash_after_evals=total // 2), log_dir=tmp_path, **kwargs)
    resumed, adapter, _ = run(FakeAdapter(("a", "b"), capacity=2), log_dir=tmp_path, **kwargs)
    assert summary(resumed) == summary(reference)
    assert len(adapter.eval_calls) <= total - total // 2 + 4  # at most the rollouts cut off in flight


# ---------------------------------------------------------------- a journal from another configuration


def test_journal_from_other_configuration_is_refused(tmp_path):
    run(budget=60, log_dir=tmp_path)
    with pytest.raises(JournalMismatchError, match="minibatch_size"):
        run(budget=60, log_dir=tmp_path, minibatch_size=4)
