import json

from benchmarks.scripted.compare import save_results
from benchmarks.scripted.report import END, START, render, write_readme


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
    q = [_rec("dspy", seed=s, test=0.4, calls=330) for s in range(2)] + [
        _rec("dspy_gepa", seed=s, test=0.6, calls=300) for s in range(2)
    ]
    save_results("quality", q, {}, tmp_path)
    save_results("latency", [_rec("dspy", wall_time_s=3.0), _rec("dspy_gepa", wall_time_s=0.6)], {}, tmp_path)
    text = render(tmp_path)
    assert "| routing | 300 | dspy.GEPA | 0.400 ± 0.000" in text
    assert "metric calls used ≤ max_metric_calls in every run | max 1.000× budget | ✅" in text
    assert "| routing | dspy_gepa.GEPA | 1 | 0.60 | 0.50 | 1.20 | 0.20 |" in text
    assert "| quality | dspy.GEPA | 2 | 2 | 30 | 1.100 | 0 |" in text
    assert "wall-clock ≤ 1.5× ideal bound (every task) | max 1.20× | ✅" in text
    assert "test score higher on average | mean Δ +0.200 | ✅" in text


def test_render_without_ours_says_targets_not_evaluated(tmp_path):
    save_results("quality", [_rec("dspy")], {}, tmp_path)
    assert "Not evaluated" in render(tmp_path)


def test_targets_compare_quality_on_the_seeds_both_optimizers_ran(tmp_path):
    q = [_rec("dspy", seed=s, test=0.4 if s < 2 else 0.9) for s in range(4)]
    q += [_rec("dspy_gepa", seed=s, test=0.5) for s in range(2)]
    save_results("quality", q, {}, tmp_path)
    assert "test score higher on average | mean Δ +0.100 | ✅" in render(tmp_path)
