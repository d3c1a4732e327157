"""Invariants 2 and 3 (DESIGN.md): no paid work is lost or repeated, and resume.

Every rollout is recorded under (candidate hash, split, example id) and run at most once; a resumed run
replays the journal in ``log_dir``, makes no LM call for recorded work, and ends exactly where the
uninterrupted run ends; a journal from another configuration is refused with a message naming what differs.

Some tests come in two layers. Engine level (``FakeAdapter``, no DSPy) pins the replay itself: exact counts of
re-run rollouts and reflections, at any point of the run. DSPy level (``GEPA.compile`` with scripted LMs) pins
what the DSPy layer adds on top: outputs and traces that go through the journal's JSON codec and come back
usable for reflection, an interruption by Ctrl-C inside an LM call, and no LM call anywhere in the stack.
Kill chains in a subprocess (SIGKILL at many points) are the slow ``tests/faults/test_kill_resume.py``; torn
journal lines are ``test_one_writer.py``'s.
"""

import json
from collections import Counter

import dspy
import pytest

from dspy_gepa import JournalMismatchError
from dspy_gepa.engine import Engine, EngineConfig, EventBus
from dspy_gepa.engine import events as ev
from dspy_gepa.engine.journal import JOURNAL_NAME
from dspy_gepa.testing import scripted_lm

from ..engine.fakes import Crash, FakeAdapter, make_data, run, summary
from ..helpers import Counter as CallCounter
from ..helpers import TwoStep, examples, metric, reflection_lm, rule_for, split, task_lm
from .dspy_run import key, optimize


def test_parent_minibatch_scores_are_reused_not_rerun():
    result, adapter, _ = run(budget=200)
    assert len(adapter.eval_calls) == len(set((tuple(sorted(c.items())), i) for c, i in adapter.eval_calls))


def test_train_and_val_rollouts_never_share_a_cache_entry():
    """The same examples as trainset and valset: the seed runs once per split on each example it meets in both."""
    data = make_data()[0][:8]
    adapter, bus, events = FakeAdapter(), EventBus(), []
    bus.subscribe(events.append)
    Engine(adapter, data, data, {"a": "Solve a."}, EngineConfig(max_metric_calls=80), bus=bus).run()
    seed_runs = Counter(i for c, i in adapter.eval_calls if c == {"a": "Solve a."})
    minibatched = {data[i]["id"] for e in events if isinstance(e, ev.ProposalStarted) and e.parent_ids == [0]
                   for i in e.minibatch}
    assert minibatched and seed_runs == {ex["id"]: 2 if ex["id"] in minibatched else 1 for ex in data}


# ---------------------------------------------------------------- resume: engine level


def test_resume_replays_journal_without_rerunning(tmp_path):
    """Engine level: crashed inside a rollout at three points, the resumed run re-runs exactly the rollouts
    the first session did not get to."""
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


def test_staged_resume_reaches_the_same_result(tmp_path):
    kwargs = dict(components=("a", "b"), budget=300, val_policy="staged", max_concurrent_proposals=3, num_threads=4)
    reference, ref_adapter, _ = run(FakeAdapter(("a", "b"), capacity=2), **kwargs)
    total = len(ref_adapter.eval_calls)
    with pytest.raises(Crash):
        run(FakeAdapter(("a", "b"), capacity=2, crash_after_evals=total // 2), log_dir=tmp_path, **kwargs)
    resumed, adapter, _ = run(FakeAdapter(("a", "b"), capacity=2), log_dir=tmp_path, **kwargs)
    assert summary(resumed) == summary(reference)
    assert len(adapter.eval_calls) <= total - total // 2 + 4  # at most the rollouts cut off in flight


# ---------------------------------------------------------------- resume: DSPy level


def test_interrupted_run_resumes_to_the_same_result_without_redoing_work(tmp_path):
    """DSPy level: Ctrl-C inside a task-LM call at three points; the resumed run reflects on outputs and
    traces decoded from the journal and ends where the uninterrupted run ends."""
    reference_calls = CallCounter()
    reference = optimize(task=task_lm(reference_calls))
    assert len(reference.detailed_results.candidates) >= 3
    for stop_after in (7, reference_calls.n // 2, reference_calls.n - 4):
        log = tmp_path / f"stop{stop_after}"
        first = CallCounter()
        with pytest.raises(KeyboardInterrupt):
            optimize(log, task=task_lm(first, stop_after=stop_after))
        second = CallCounter()
        resumed = optimize(log, task=task_lm(second))
        assert key(resumed) == key(reference)
        # Each task-LM call happens once across both halves, except calls cut off by the interruption.
        assert second.n <= reference_calls.n - stop_after + 2 * 2
        recorded = sum(1 for line in (log / JOURNAL_NAME).read_text().splitlines()
                       if json.loads(line)["type"] == "rollout")
        assert recorded == resumed.detailed_results.total_metric_calls


def test_finished_run_resumed_makes_no_lm_call(tmp_path):
    """No task-LM or reflection-LM call anywhere in the stack (engine, adapter, optimizer) for a finished run."""
    first = optimize(tmp_path)
    calls = CallCounter()
    refl = reflection_lm()
    again = optimize(tmp_path, task=task_lm(calls), reflection=refl)
    assert key(again) == key(first)
    assert calls.n == 0 and refl.engine.calls == []


def test_resume_with_a_larger_budget_continues(tmp_path):
    small = optimize(tmp_path, budget=60)
    bigger = optimize(tmp_path, budget=140)
    assert bigger.detailed_results.total_metric_calls > small.detailed_results.total_metric_calls
    assert bigger.detailed_results.candidate_texts[: len(small.detailed_results.candidates)] == \
        small.detailed_results.candidate_texts


@pytest.fixture(scope="module")
def finished_log(tmp_path_factory):
    log = tmp_path_factory.mktemp("finished") / "run"
    optimize(log, budget=60)
    return log


def copy_log(src, dst):
    dst.mkdir()
    (dst / JOURNAL_NAME).write_bytes((src / JOURNAL_NAME).read_bytes())
    return dst


def test_resuming_with_other_threads_is_fine(finished_log, tmp_path):
    log = copy_log(finished_log, tmp_path / "log")
    again = optimize(log, budget=60, num_threads=5).detailed_results
    reference = optimize(budget=60).detailed_results
    assert again.candidate_texts == reference.candidate_texts


# ---------------------------------------------------------------- a journal from another configuration


def renamed(program):
    program.first.signature = program.first.signature.with_instructions("Name the color.")
    return program


def other_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    return metric(gold, pred, trace, pred_name, pred_trace)


@pytest.mark.parametrize("change,differs", [
    ({"valset": split()[1][:-1]}, "valset"),
    ({"valset": list(reversed(split()[1]))}, "valset"),
    ({"trainset": [dspy.Example(word=ex.word, color="blue").with_inputs("word") for ex in split()[0]]}, "trainset"),
    ({"trainset": examples()[:9]}, "trainset"),
    ({"metric_fn": other_metric}, "metric"),
    ({"failure_score": -1.0}, "failure_score"),
    ({"add_format_failure_as_feedback": True}, "add_format_failure_as_feedback"),
    ({"program": dspy.Predict("word -> color")}, "components"),
    ({"program": renamed(TwoStep())}, "seed_candidate"),
    ({"task": scripted_lm(lambda call: {"color": rule_for(call.system, call.field("word")) or "unknown"},
                          "scripted/another-task")}, "task_lms"),
    ({"max_merge_invocations": 2}, "max_merge_invocations"),
    ({"seed": 1}, "seed"),
    ({"reflection_minibatch_size": 2}, "minibatch_size"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_resuming_with_other_components_data_or_settings_is_refused(finished_log, tmp_path, change, differs):
    """One home for "a journal from another configuration": the engine's own settings (seed, minibatch size,
    merge), the data, the program and what the DSPy layer adds to the fingerprint (metric, task LMs, failure
    handling). The fingerprint comparison itself is unit-tested in ``tests/engine/test_journal.py``."""
    log = copy_log(finished_log, tmp_path / "log")
    with pytest.raises(JournalMismatchError) as info:
        optimize(log, budget=60, **change)
    message = str(info.value)
    assert f"was written by a run with a different configuration ({differs}: journal has" in message
    assert "Resume with the same program, data and settings, or use a new log_dir." in message
