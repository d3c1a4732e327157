"""The terminal summary (``dspy-gepa show``) of a recorded run, and the commands on a directory
without a journal."""

import re

import pytest

from dspy_gepa.cli import main


def test_show_prints_a_summary(recorded_run, capsys):
    log_dir, optimized = recorded_run
    r = optimized.detailed_results
    assert main(["show", str(log_dir)]) == 0
    out = capsys.readouterr().out
    assert f"Best: #{r.best_idx}, validation {r.val_aggregate_scores[r.best_idx]:.3f}" in out
    assert f"Metric calls: {r.total_metric_calls:,} of 150" in out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\*?\s+(seed|reflective|merge)\s", line)]
    assert len(rows) == len(r.candidates)
    for name, text in r.candidate_texts[r.best_idx].items():
        assert f"[{name}]" in out and text.splitlines()[-1] in out
    assert main(["show", str(log_dir), "--no-instructions"]) == 0
    assert "Instructions of the best" not in capsys.readouterr().out


def test_commands_on_a_directory_without_journal(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 1
    assert "No journal" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 1
    assert not (tmp_path / "report.html").exists()


@pytest.mark.slow
def test_module_entry_point_runs_the_cli(recorded_run):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "dspy_gepa.cli", "show", str(recorded_run[0]), "--no-instructions"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("GEPA run in ") and "Pareto front:" in done.stdout
