"""The examples the README points to keep working."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_offline_quickstart_improves_within_budget(tmp_path, capsys):
    summary = load("quickstart_offline").main(["--log-dir", str(tmp_path), "--budget", "150"])
    assert summary["baseline_val"] == 0.0
    assert summary["optimized_val"] > 0.5
    assert summary["metric_calls"] <= 150
    assert (tmp_path / "journal.jsonl").exists() and (tmp_path / "best_program.json").exists()
    assert "validation score: 0.00 ->" in capsys.readouterr().out
