"""``python -m benchmarks.compare`` and ``python -m benchmarks.run`` reach their suites' ``main``."""

import json
import runpy
import sys

import pytest

from benchmarks.scripted.report import END, START


def _run_as_main(module: str, argv: list[str], monkeypatch) -> int:
    monkeypatch.setattr(sys, "argv", [module, *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    return exit_info.value.code


def test_compare_entry_point_writes_the_readme_section(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    readme = tmp_path / "README.md"
    args = ["--report-only", "--results-dir", str(results), "--readme", str(readme)]
    assert _run_as_main("benchmarks.compare", args, monkeypatch) == 0
    text = readme.read_text()
    assert START in text and END in text and "No results yet" in text


def test_run_entry_point_runs_a_task(tmp_path, monkeypatch):
    out = tmp_path / "result.json"
    args = ["--task", "ifbench", "--optimizer", "dspy", "--offline", "--budget", "8", "--train-size", "3",
            "--val-size", "3", "--test-size", "3", "--num-threads", "1", "--output", str(out)]
    assert _run_as_main("benchmarks.run", args, monkeypatch) == 0
    assert json.loads(out.read_text())["task"] == "ifbench"
