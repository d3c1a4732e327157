"""The fold of journal records into a RunView: it agrees with the optimizer's own results, reads a
journal still being written, and takes its fronts and best candidate from the engine's rules."""

import json
import math

from dspy_gepa.engine import pareto
from dspy_gepa.engine.journal import JOURNAL_NAME
from dspy_gepa.tracking import build_run, load_run, write_report


def candidate(idx, scores, *, parents=(), kind="reflective", val_mean=None):
    values = list(scores.values())
    mean = val_mean if val_mean is not None else sum(values) / len(values)
    return {"type": "candidate", "idx": idx, "hash": f"h{idx}", "texts": {"p": f"text {idx}"},
            "parents": list(parents), "seq": idx, "kind": kind, "val_mean": mean, "discovered_at": idx,
            "val_scores": {str(k): v for k, v in scores.items()}}


def test_report_matches_the_optimizer_results(recorded_run):
    log_dir, optimized = recorded_run
    r = optimized.detailed_results
    run = load_run(log_dir)
    assert run.status == "finished" and run.best_idx == r.best_idx
    assert [c.texts for c in run.candidates] == r.candidate_texts
    assert [c.val_scores for c in run.candidates] == r.val_subscores
    assert [c.discovered_at for c in run.candidates] == r.discovery_eval_counts
    assert run.metric_calls == r.total_metric_calls
    assert {v: sorted(m) for v, m in run.fronts().items()} == \
        {v: sorted(m) for v, m in r.per_val_instance_best_candidates.items()}
    assert run.cost is None  # scripted LMs have no price: the report must not invent one


def test_report_of_a_journal_still_being_written(recorded_run, tmp_path):
    from dspy_gepa.cli import main

    source = recorded_run[0] / JOURNAL_NAME
    lines = source.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "candidate" and
               json.loads(line)["idx"] == 2)
    (tmp_path / JOURNAL_NAME).write_bytes(b"".join(lines[: cut + 1]) + lines[cut + 1][:25])  # torn last line
    out = write_report(tmp_path)
    assert out == tmp_path / "report.html"
    run = load_run(tmp_path)
    assert run.status == "running" and len(run.candidates) == 3
    assert "running or interrupted" in out.read_text()
    assert main(["show", str(tmp_path)]) == 0


def test_fronts_and_best_follow_the_engine_rules_for_screened_and_nan_scores():
    full = {0: 0.0, 1: 1.0, 2: 0.0, 3: 1.0}
    records = [
        {"type": "run_started", "config": {}, "max_metric_calls": 50, "train_size": 4, "val_size": 4,
         "seed_candidate": {"p": "text 0"}},
        candidate(0, full, kind="seed"),
        candidate(1, {0: 1.0, 1: 1.0, 2: 1.0, 3: float("nan")}, parents=[0], val_mean=float("nan")),
        candidate(2, {1: 1.0, 3: 1.0}, parents=[0]),  # screened only, higher mean: cannot be the best
    ]
    run = build_run(records)
    table = {c.idx: c.val_scores for c in run.candidates}
    assert run.fronts() == {v: sorted(m) for v, m in pareto.fronts(table).items()}
    assert set(run.fronts()) == {1, 3}  # only the examples every candidate was scored on
    assert run.fronts()[3] == [0, 2]  # NaN ranks lowest
    assert run.front_counts() == pareto.front_counts(pareto.fronts(table))
    assert run.best_idx == 0 == pareto.best_index({c.idx: c.val_mean for c in run.candidates}, [0, 1])
    assert run.best is run.candidate(0) and run.seed is run.candidate(0)


def test_best_falls_back_to_every_candidate_when_none_is_fully_validated():
    records = [{"type": "run_started", "val_size": 3, "seed_candidate": {"p": "a"}},
               candidate(0, {0: 0.0}, kind="seed"), candidate(1, {0: 1.0}, parents=[0])]
    assert build_run(records).best_idx == 1


def test_validated_record_completes_a_screened_candidate_and_curve_skips_nan():
    records = [candidate(0, {0: 0.5, 1: 0.5}, kind="seed"),
               candidate(1, {0: 1.0}, parents=[0], val_mean=float("nan")),
               {"type": "validated", "idx": 1, "val_mean": 0.75, "val_scores": {"0": 1.0, "1": 0.5}}]
    run = build_run(records)
    assert run.candidate(1).val_scores == {0: 1.0, 1: 0.5} and run.candidate(1).val_mean == 0.75
    assert [(x, y) for x, y, _ in run.curve()] == [(0, 0.5), (1, 0.75)]
    assert not any(math.isnan(y) for _, y, _ in build_run(records[:2]).curve())


def test_proposal_counts_and_changed_components():
    records = [
        candidate(0, {0: 0.0}, kind="seed"),
        {**candidate(1, {0: 1.0}, parents=[0]), "texts": {"p": "new", "q": "text 0"}},
        {**candidate(2, {0: 1.0}, parents=[0]), "texts": {"p": "text 0", "q": "other"}},
        {**candidate(3, {0: 1.0}, parents=[1, 2], kind="merge"), "texts": {"p": "new", "q": "other"}},
        {"type": "commit", "seq": 1, "kind": "reflective", "status": "accepted"},
        {"type": "commit", "seq": 2, "kind": "reflective", "status": "rejected"},
        {"type": "commit", "seq": 3, "kind": "merge", "status": "merge_accepted"},
    ]
    records[0]["texts"] = {"p": "text 0", "q": "text 0"}
    run = build_run(records)
    assert run.proposals("reflective") == 2 and run.proposals("reflective", "merge") == 3
    assert run.accepted == 2
    assert run.changed_components(run.candidate(1)) == ["p"]
    assert run.changed_components(run.candidate(3)) == ["p←#1", "q←#2"]
    assert run.changed_components(run.candidate(0)) == []

