"""Multi-objective scores (``ScoreWithFeedback(objective_scores=...)``) are used as ``dspy.GEPA`` uses them:
Pareto fronts per ``frontier_type`` (instance, objective, hybrid, cartesian), the objective fields of
``detailed_results``, and shown in trackers' metrics and the report."""

from __future__ import annotations

import dspy
import pytest

from dspy_gepa import ScoreWithFeedback
from dspy_gepa.tracking import load_run, render_text

from ..helpers import metric as plain_metric
from .common import OPTIMIZERS, both, compile_with


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    base = plain_metric(gold, pred, trace, pred_name, pred_trace)
    return ScoreWithFeedback(base.score, base.feedback,
                             objective_scores={"correct": base.score, "warm": float(pred.color in ("red", "orange"))})


def run(which, frontier_type, **kwargs):
    return compile_with(which, dspy.Predict("word -> color"), metric=metric, max_metric_calls=150, track_stats=True,
                        gepa_kwargs={"frontier_type": frontier_type}, **kwargs).detailed_results


@pytest.mark.parametrize("frontier_type", ["instance", "objective", "hybrid", "cartesian"])
def test_objective_scores_in_detailed_results(frontier_type):
    results = both(lambda which: run(which, frontier_type))
    for which, r in results.items():
        assert len(r.candidates) >= 2, which
        assert len(r.val_aggregate_subscores) == len(r.candidates), which
        assert all(set(s) == {"correct", "warm"} for s in r.val_aggregate_subscores), which
        assert set(r.per_objective_best_candidates) == set(r.objective_pareto_front) == {"correct", "warm"}, which
        for name, best in r.objective_pareto_front.items():
            assert best == max(s[name] for s in r.val_aggregate_subscores), which
            assert r.per_objective_best_candidates[name] == {
                i for i, s in enumerate(r.val_aggregate_subscores) if s[name] == best}, which
        assert r.val_aggregate_subscores[0]["correct"] == pytest.approx(r.val_aggregate_scores[0]), which
        d = r.to_dict()
        assert d["objective_pareto_front"] == r.objective_pareto_front, which


def test_without_objective_scores_the_fields_are_none():
    for which, r in both(lambda which: compile_with(which, dspy.Predict("word -> color"), max_metric_calls=60,
                                                    track_stats=True).detailed_results).items():
        assert r.val_aggregate_subscores is None and r.per_objective_best_candidates is None, which
        assert r.objective_pareto_front is None, which


@pytest.mark.parametrize("frontier_type", ["objective", "hybrid", "cartesian"])
def test_objective_fronts_need_objective_scores(frontier_type):
    for which in OPTIMIZERS:
        with pytest.raises(ValueError, match="objective"):
            compile_with(which, dspy.Predict("word -> color"), max_metric_calls=60,
                         gepa_kwargs={"frontier_type": frontier_type})


def test_objectives_reach_the_report_and_the_parent_selection(tmp_path):
    r = run("ours", "objective", log_dir=str(tmp_path))
    view = load_run(tmp_path)
    assert all(set(c.objectives) == {"correct", "warm"} for c in view.candidates)
    assert "Objectives of the best" in render_text(view)
    assert "warm" in (tmp_path / "report.html").read_text()
    assert r.per_objective_best_candidates["warm"]


def test_a_resumed_multi_objective_run_ends_where_an_uninterrupted_one_does(tmp_path):
    def go(budget, log_dir):
        r = compile_with("ours", dspy.Predict("word -> color"), metric=metric, max_metric_calls=budget,
                         track_stats=True, log_dir=str(log_dir), gepa_kwargs={"frontier_type": "cartesian"}
                         ).detailed_results
        return r.candidate_texts, r.val_aggregate_subscores, r.total_metric_calls

    go(70, tmp_path / "resumed")
    assert go(150, tmp_path / "resumed") == go(150, tmp_path / "straight")
