"""Every stop condition of ``gepa.utils.stop_condition`` works as it does under ``dspy.GEPA``: the state it
receives counts iterations from -1 (``state.i``) and metric calls (``state.total_num_evals``), and the run
stops where the condition says. ``log_dir/gepa.stop`` stops a run too. gepa's component selector objects
work as ``component_selector``."""

from __future__ import annotations

import os
import signal

import dspy
import pytest
from gepa.strategies.component_selector import AllReflectionComponentSelector, RoundRobinReflectionComponentSelector
from gepa.utils import stop_condition as sc

from ..helpers import TwoStep
from .common import OPTIMIZERS, both, compile_with

BUDGET = 400


class Recorder:
    """Wraps a stopper and records what it saw at each check: (i, total_num_evals, candidates, best mean)."""

    def __init__(self, stopper):
        self.stopper = stopper
        self.seen = []

    def __call__(self, state):
        self.seen.append((state.i, state.total_num_evals, len(state.program_candidates),
                          max(state.program_full_scores_val_set)))
        return self.stopper(state)


def run(which, stopper, **kwargs):
    recorder = Recorder(stopper)
    program = compile_with(which, dspy.Predict("word -> color"), max_metric_calls=BUDGET, track_stats=True,
                           gepa_kwargs={"stop_callbacks": [recorder]}, **kwargs)
    return recorder, program.detailed_results


def test_max_candidate_proposals_allows_exactly_n_iterations():
    seen = both(lambda which: run(which, sc.MaxCandidateProposalsStopper(3))[0].seen)
    assert [i for i, *_ in seen["ours"]] == [i for i, *_ in seen["dspy"]] == [-1, 0, 1, 2]


def test_max_metric_calls_stopper_reads_total_num_evals():
    for which in OPTIMIZERS:
        recorder, r = run(which, sc.MaxMetricCallsStopper(60))
        calls = [n for _, n, *_ in recorder.seen]
        assert calls == sorted(calls) and calls[0] == 8  # the seed's validation
        assert calls[-1] >= 60 > calls[-2], which
        assert r.total_metric_calls < BUDGET


@pytest.mark.parametrize("make", [lambda tmp: sc.TimeoutStopCondition(0),
                                  lambda tmp: sc.FileStopper(str(tmp / "stop-now")),
                                  lambda tmp: sc.MaxTrackedCandidatesStopper(1)])
def test_stoppers_that_fire_at_once_leave_the_seed(make, tmp_path):
    (tmp_path / "stop-now").touch()
    for which in OPTIMIZERS:
        recorder, r = run(which, make(tmp_path))
        assert [i for i, *_ in recorder.seen] == [-1], which
        assert len(r.candidates) == 1 and r.total_metric_calls == 8, which


def test_signal_stopper_stops_after_a_signal():
    for which in OPTIMIZERS:
        stopper = sc.SignalStopper(signals=[signal.SIGUSR1])
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            recorder, r = run(which, stopper)
        finally:
            stopper.cleanup()
        assert len(recorder.seen) == 1 and r.total_metric_calls == 8, which


@pytest.mark.parametrize("make", [lambda: sc.ScoreThresholdStopper(0.5), lambda: sc.NoImprovementStopper(2),
                                  lambda: sc.MaxTrackedCandidatesStopper(3)])
def test_stoppers_on_scores_and_candidates_end_the_run_early(make):
    for which in OPTIMIZERS:
        recorder, r = run(which, make())
        assert recorder.seen[-1][0] < 40 and r.total_metric_calls < BUDGET, which
        assert recorder.stopper(_Last(recorder.seen[-1])) or isinstance(recorder.stopper, sc.NoImprovementStopper)


class _Last:
    """The state a stopper saw last, rebuilt from the record (to ask the stopper again)."""

    def __init__(self, record):
        self.i, self.total_num_evals, n, best = record
        self.program_candidates = [{}] * n
        self.program_full_scores_val_set = [best]


def test_composite_and_reflection_cost_stoppers():
    for which in OPTIMIZERS:
        recorder, _ = run(which, sc.CompositeStopper(sc.MaxCandidateProposalsStopper(2),
                                                     sc.MaxReflectionCostStopper(1.0), mode="any"))
        assert [i for i, *_ in recorder.seen] == [-1, 0, 1], which
        recorder, _ = run(which, sc.CompositeStopper(sc.MaxCandidateProposalsStopper(2),
                                                     sc.MaxCandidateProposalsStopper(4), mode="all"))
        assert [i for i, *_ in recorder.seen] == [-1, 0, 1, 2, 3], which


def test_a_stop_file_in_log_dir_stops_the_run(tmp_path):
    for which in OPTIMIZERS:
        log_dir = tmp_path / which
        log_dir.mkdir()
        (log_dir / "gepa.stop").touch()
        program = compile_with(which, dspy.Predict("word -> color"), max_metric_calls=BUDGET, track_stats=True,
                               log_dir=str(log_dir))
        assert program.detailed_results.total_metric_calls == 8, which


@pytest.mark.parametrize("selector", [RoundRobinReflectionComponentSelector, AllReflectionComponentSelector])
def test_gepa_component_selector_objects(selector):
    def changed(which):
        r = compile_with(which, TwoStep(), max_metric_calls=200, track_stats=True, use_merge=False,
                         component_selector=selector()).detailed_results
        texts = r.to_dict()["candidates"]
        return [sorted(k for k in texts[i] if texts[i][k] != texts[r.parents[i][0]][k])
                for i in range(1, len(texts))]

    result = both(changed)
    for which, per_child in result.items():
        assert per_child, which
        if selector is AllReflectionComponentSelector:
            assert all(len(c) >= 1 for c in per_child), which
        else:
            assert all(len(c) == 1 for c in per_child) and {"first", "second"} == {c[0] for c in per_child}, which
