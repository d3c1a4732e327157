import json
import math

from benchmarks.scripted.compare import save_results
from benchmarks.scripted.report import END, START, mean_curve, render, time_to_target, write_readme


def _rec(opt, task="routing", seed=0, budget=300, test=0.5, calls=300, **kw):
    base = {
        "task": task,
        "optimizer": opt,
        "seed": seed,
        "budget": budget,
        "repeat": 0,
        "test_score": test,
        "val_score": test,
        "metric_calls_reported": calls,
        "metric_calls_counted": calls,
        "wall_time_s": 1.0,
        "ideal_time_s": 0.5,
        "task_lm_calls": 10,
        "reflection_lm_calls": 2,
        "peak_rss_mb": 100.0,
        "baseline_rss_mb": 90.0,
    }
    base.update(kw)
    return base


def test_write_readme_creates_then_replaces_only_between_markers(tmp_path):
    path = tmp_path / "README.md"
    write_readme(path, "first")
    assert START in path.read_text() and "first" in path.read_text()
    path.write_text("# Mine\n\nintro\n\n" + path.read_text().split("# Benchmarks\n\n", 1)[1] + "\n## Other\nkept\n")
    write_readme(path, "second")
    text = path.read_text()
    assert "first" not in text and "second" in text and "intro" in text and "## Other\nkept" in text
    assert text.count(START) == 1 and text.count(END) == 1


def test_write_readme_appends_section_when_markers_are_missing(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("# Benchmarks\n\nsomeone else's text\n")
    write_readme(path, "body")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\nsomeone else's text\n") and "Scripted benchmarks (generated)" in text


def test_save_results_merges_by_key(tmp_path):
    save_results("quality", [_rec("dspy", seed=0), _rec("dspy", seed=1)], {}, tmp_path)
    save_results("quality", [_rec("dspy_gepa", seed=0), _rec("dspy", seed=1, test=0.9)], {}, tmp_path)
    records = json.loads((tmp_path / "quality.json").read_text())["records"]
    assert len(records) == 3
    assert next(r for r in records if r["optimizer"] == "dspy" and r["seed"] == 1)["test_score"] == 0.9


def test_render_tables_and_targets(tmp_path):
    q = [_rec("dspy", seed=s, test=0.4, calls=330, n_val=60) for s in range(2)] + [
        _rec("dspy_gepa", seed=s, test=0.6, calls=300, n_val=60) for s in range(2)
    ]
    save_results("quality", q, {}, tmp_path)
    lat = [_rec("dspy", test=0.4, wall_time_s=3.0, curve=[[1.0, 60, 0.1], [3.0, 330, 0.4]]),
           _rec("dspy_pxn", test=0.3, wall_time_s=2.0, curve=[[2.0, 330, 0.3]]),
           _rec("dspy_gepa", test=0.6, wall_time_s=0.6, curve=[[0.2, 60, 0.1], [0.4, 100, 0.5], [0.6, 300, 0.6]])]
    save_results("latency", lat, {}, tmp_path)
    text = render(tmp_path, plots=True)
    assert "| routing | 300 (60) | dspy.GEPA | 0.400 ± 0.000" in text
    assert "| routing | 300 (60) | dspy_gepa.GEPA | 0.600 ± 0.000 | 0.600 – 0.600 | +0.200 |" in text
    assert "metric calls used ≤ max_metric_calls in every run | max 1.000× budget | ✅" in text
    # wall 0.6 s, ideal 0.5, 0.2× dspy.GEPA, 0.3× PxN; reaches dspy's 0.4 at 0.4 s = 0.13× dspy's 3 s
    assert "| routing | dspy_gepa.GEPA | 1 | 0.60 | 1.20 | 0.20 | 0.30 | 0.600 | 0.40 s | 0.13 | 2 |" in text
    assert "| routing | dspy.GEPA | 1 | 3.00 | 6.00 | 1.00 | 1.50 | 0.400 | 3.00 s | 1.00 | 2 |" in text
    assert "| routing | dspy.GEPA + PxN(1, 2) | 1 | 2.00 | 4.00 | 0.67 | 1.00 | 0.300 | never | never | 2 |" in text
    assert "| quality | dspy.GEPA | 2 | 2 | 30 | 1.100 | 0 |" in text
    assert "wall-clock ≤ 1.5× ideal bound (every world) | max 1.20× | ✅" in text
    assert "wall-clock ≤ 0.7× dspy.GEPA + PxN (every world) | max 0.30× | ✅" in text
    assert "time to dspy.GEPA's final test score ≤ 0.33× dspy.GEPA's wall-clock (every world) | max 0.13× | ✅" in text
    assert "test score ≥ +0.05 over dspy.GEPA on average | mean Δ +0.200 | ✅" in text
    assert "![routing](plots/routing.png)" in text and (tmp_path / "plots" / "routing.png").stat().st_size > 1000


def test_mean_curve_holds_each_run_at_its_last_score_and_starts_at_the_seed():
    runs = [{"curve": [[1.0, 10, 0.2], [2.0, 20, 0.4]], "seed_test_score": 0.1},
            {"curve": [[1.0, 10, 0.6]], "seed_test_score": 0.1}]
    mean, low, high = mean_curve(runs, "seconds", [0.0, 1.0, 1.5, 3.0])
    assert mean == [0.1, 0.4, 0.4, 0.5] and low == [0.1, 0.2, 0.2, 0.4] and high == [0.1, 0.6, 0.6, 0.6]
    assert time_to_target(runs, "calls", 0.5) == 20.0
    assert math.isinf(time_to_target(runs, "calls", 0.7))


def test_render_without_ours_says_targets_not_evaluated(tmp_path):
    save_results("quality", [_rec("dspy")], {}, tmp_path)
    assert "Not evaluated" in render(tmp_path)


def test_targets_compare_quality_on_the_seeds_both_optimizers_ran(tmp_path):
    q = [_rec("dspy", seed=s, test=0.4 if s < 2 else 0.9) for s in range(4)]
    q += [_rec("dspy_gepa", seed=s, test=0.5) for s in range(2)]
    save_results("quality", q, {}, tmp_path)
    assert "test score ≥ +0.05 over dspy.GEPA on average | mean Δ +0.100 | ✅" in render(tmp_path)
