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


# ---------------------------------------------------------------- concurrency and validation policies


def in_flight_peaks(events):
    live, peak = set(), 0
    for e in events:
        if isinstance(e, ev.ProposalStarted) and e.kind == "reflective":
            live.add(e.seq)
            peak = max(peak, len(live))
        elif isinstance(e, ev.ProposalCommitted):
            live.discard(e.seq)
    return peak


@pytest.mark.parametrize("policy", ["full", "staged"])
@pytest.mark.parametrize("concurrency", [2, 4])
def test_results_do_not_depend_on_thread_timing(policy, concurrency):
    runs = [run(FakeAdapter(("a", "b"), capacity=2, latency=lat), components=("a", "b"), budget=400,
                num_threads=threads, max_concurrent_proposals=concurrency, val_policy=policy)[0]
            for threads, lat in ((1, 0.0), (8, 0.0), (8, 0.002), (3, 0.001))]
    assert all(summary(r) == summary(runs[0]) for r in runs[1:])


def test_concurrency_rises_when_proposals_are_rejected():
    class Rejecting(FakeAdapter):
        def propose_new_texts(self, candidate, reflective_dataset, components_to_update):
            return {c: candidate[c] + f" rule:{c}:useless{len(self.eval_calls)}" for c in components_to_update}

    _, _, events = run(Rejecting(), budget=300, max_concurrent_proposals=6)
    assert in_flight_peaks(events) == 6
    _, _, events = run(FakeAdapter(flaky=0), budget=120, max_concurrent_proposals=6)
    first_miss = next(i for i, e in enumerate(events) if isinstance(e, ev.ProposalCommitted)
                      and e.kind == "reflective" and e.new_candidate_idx is None)
    assert first_miss > 0
    assert in_flight_peaks(events[:first_miss]) == 1  # while every proposal is accepted: one at a time
    assert in_flight_peaks(events) > 1  # later, idle proposals run side by side


def test_staged_policy_screens_and_validates_the_best_at_the_end():
    train, val = make_data(n_train=12, n_val=40)
    adapter = FakeAdapter(("a", "b"), capacity=2)
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    cfg = EngineConfig(max_metric_calls=300, val_policy="staged")
    result = Engine(adapter, train, val, {"a": "Solve a.", "b": "Solve b."}, cfg, bus=bus).run()
    s = result.state
    screen = cfg.screen_size(len(val))
    assert screen == 10
    partial = [i for i in range(len(s.candidates)) if not s.is_full(i)]
    assert partial and all(len(s.val_scores[i]) == screen for i in partial)
    assert s.is_full(s.best_idx()) and s.best_idx() != 0
    finals = [e for e in events if isinstance(e, ev.CandidateValidated)]
    assert finals and finals[0].idx == max(partial + [e.idx for e in finals],
                                           key=lambda i: (sum(s.val_scores[i][v] for v in s.common_ids()), -i))
    assert result.total_metric_calls <= 300 == cfg.max_metric_calls
    assert s.common_ids() == sorted(next(iter(s.val_scores[i] for i in partial)))


def test_staged_resume_reaches_the_same_result(tmp_path):
    kwargs = dict(components=("a", "b"), budget=300, val_policy="staged", max_concurrent_proposals=3, num_threads=4)
    reference, ref_adapter, _ = run(FakeAdapter(("a", "b"), capacity=2), **kwargs)
    total = len(ref_adapter.eval_calls)
    with pytest.raises(Crash):
        run(FakeAdapter(("a", "b"), capacity=2, crash_after_evals=total // 2), log_dir=tmp_path, **kwargs)
    resumed, adapter, _ = run(FakeAdapter(("a", "b"), capacity=2), log_dir=tmp_path, **kwargs)
    assert summary(resumed) == summary(reference)
    assert len(adapter.eval_calls) <= total - total // 2 + 4  # at most the rollouts cut off in flight


def test_failed_run_reports_only_the_rollouts_that_ran(tmp_path):
    adapter = FakeAdapter(("a", "b"), crash_after_evals=30, latency=0.002)
    with pytest.raises(Crash):
        run(adapter, components=("a", "b"), budget=300, num_threads=4, max_concurrent_proposals=3, log_dir=tmp_path)
    failed = [e for e in read_events(tmp_path) if e["type"] == "run_failed"]
    recorded = [e for e in read_events(tmp_path) if e["type"] == "rollout"]
    assert failed and failed[0]["total_metric_calls"] == len(recorded) == len(adapter.eval_calls) == 30


def read_events(log_dir):
    import json

    return [json.loads(line) for line in (log_dir / "journal.jsonl").read_text().splitlines()]
