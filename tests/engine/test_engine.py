import pytest

from dspy_gepa.engine import Engine, EngineConfig, EventBus
from dspy_gepa.engine import events as ev
from dspy_gepa.exceptions import ConfigurationError, JournalMismatchError, ReflectionError

from .fakes import Crash, FakeAdapter, make_data


def run(adapter=None, budget=120, log_dir=None, components=("a",), **cfg):
    adapter = adapter or FakeAdapter(components)
    train, val = make_data()
    seed = {c: f"Solve {c}." for c in components}
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    engine = Engine(adapter, train, val, seed, EngineConfig(max_metric_calls=budget, **cfg), bus=bus, log_dir=log_dir)
    return engine.run(), adapter, seen


def summary(result):
    s = result.state
    return (s.candidates, s.parents, s.val_scores, s.discovered_at, result.total_metric_calls)


def test_validation_score_rises_from_seed():
    result, _, _ = run()
    s = result.state
    assert s.mean(0) == 0.0
    assert s.mean(s.best_idx()) > 0.5
    assert len(s.candidates) > 2


@pytest.mark.parametrize("budget", [8, 37, 120])
@pytest.mark.parametrize("threads,concurrency", [(1, 1), (4, 3)])
def test_budget_never_exceeded_and_ledger_counts_rollouts(budget, threads, concurrency):
    result, adapter, events = run(budget=budget, num_threads=threads, max_concurrent_proposals=concurrency)
    assert result.total_metric_calls <= budget
    assert result.total_metric_calls == len(adapter.eval_calls)
    peak = max((e.used for e in events if isinstance(e, ev.BudgetUpdated)), default=0)
    assert peak <= budget


def test_budget_smaller_than_valset_is_refused():
    with pytest.raises(ConfigurationError, match="cannot pay for validating the seed"):
        run(budget=5)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_same_seed_same_result_for_any_thread_count(concurrency):
    a, _, _ = run(num_threads=1, max_concurrent_proposals=concurrency)
    b, _, _ = run(num_threads=8, max_concurrent_proposals=concurrency)
    assert summary(a) == summary(b)


def test_parent_minibatch_scores_are_reused_not_rerun():
    result, adapter, _ = run(budget=200)
    assert len(adapter.eval_calls) == len(set((tuple(sorted(c.items())), i) for c, i in adapter.eval_calls))


def test_round_robin_changes_one_component_per_proposal():
    result, _, events = run(components=("a", "b", "c"), budget=200, use_merge=False)
    s = result.state
    for idx in range(1, len(s.candidates)):
        parent = s.parents[idx][0]
        changed = [c for c in "abc" if s.candidates[idx][c] != s.candidates[parent][c]]
        assert len(changed) == 1
    started = [e.components for e in events if isinstance(e, ev.ProposalStarted) and e.kind == "reflective"]
    assert all(len(c) == 1 for c in started)


def test_all_selector_changes_every_component():
    result, _, events = run(components=("a", "b"), budget=120, component_selector="all", use_merge=False)
    started = [e.components for e in events if isinstance(e, ev.ProposalStarted) and e.kind == "reflective"]
    assert started and all(c == ["a", "b"] for c in started)


def test_custom_selector_sees_gepa_style_state():
    calls = []

    def pick_last(state, trajectories, subsample_scores, candidate_idx, candidate):
        calls.append((len(state.program_candidates), state.list_of_named_predictors, candidate_idx))
        return [state.list_of_named_predictors[-1]]

    result, _, _ = run(components=("a", "b"), budget=40, component_selector=pick_last, use_merge=False)
    assert calls and all(names == ["a", "b"] for _, names, _ in calls)
    s = result.state
    assert all(c["a"] == "Solve a." for c in s.candidates)


def test_merge_combines_two_lineages():
    result, _, events = run(adapter=FakeAdapter(("a", "b"), capacity=2), components=("a", "b"), budget=600)
    merges = [e for e in events if isinstance(e, ev.ProposalCommitted) and e.kind == "merge"]
    assert merges, "no merge was attempted"
    assert len(merges) <= 5
    s = result.state
    for e in merges:
        if e.new_candidate_idx is not None:
            assert len(s.parents[e.new_candidate_idx]) == 2


def test_reflection_that_always_raises_stops_the_run():
    with pytest.raises(ReflectionError, match="5 proposals in a row"):
        run(adapter=FakeAdapter(reflect_error=RuntimeError("LM down")))


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


def test_journal_from_other_configuration_is_refused(tmp_path):
    run(budget=60, log_dir=tmp_path)
    with pytest.raises(JournalMismatchError, match="minibatch_size"):
        run(budget=60, log_dir=tmp_path, minibatch_size=4)
