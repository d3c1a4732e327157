"""``dspy-gepa demo``: its options, its exit codes, and (slow) a whole offline run on the local model."""

import json
import subprocess
import sys

import pytest

from dspy_gepa.cli import build_parser
from dspy_gepa.demo.cli import main_demo
from dspy_gepa.demo.run import DEFAULT_BUDGET

from .helpers import REPO, gone, hide_modules, needs_local, port_closed


def test_missing_local_extra_is_reported_with_the_install_command(monkeypatch, capsys, tmp_path):
    hide_modules(monkeypatch, "llama_cpp")
    assert main_demo(["--budget", "5", "--log-dir", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert 'pip install "dspy-gepa[local]"' in err and "--lm" in err


def test_budget_must_be_positive(capsys):
    assert main_demo(["--budget", "0"]) == 2
    assert "--budget" in capsys.readouterr().err


def test_cli_demo_subcommand_parses_every_option():
    args = build_parser().parse_args(
        ["demo", "--lm", "openai/gpt-4.1-mini", "--reflection-lm", "ollama_chat/qwen3:8b", "--budget", "7",
         "--seed", "3", "--log-dir", "runs/x", "--json", "--proposer", "default"]
    )
    assert (args.lm, args.reflection_lm, args.budget, args.seed, args.log_dir, args.json, args.proposer) == (
        "openai/gpt-4.1-mini", "ollama_chat/qwen3:8b", 7, 3, "runs/x", True, "default")
    defaults = build_parser().parse_args(["demo"])
    assert (defaults.lm, defaults.reflection_lm, defaults.budget, defaults.json, defaults.proposer) == (
        None, None, DEFAULT_BUDGET, False, None)


@pytest.mark.slow
@needs_local
def test_cli_demo_runs_offline_on_the_local_model_and_stops_its_server(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dspy_gepa.cli", "demo", "--budget", "20", "--json", "--log-dir", str(tmp_path / "run")],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # stdout holds the JSON object and nothing else
    assert result["local_server"] is True
    assert 0.0 <= result["baseline_score"] <= 1.0 and 0.0 <= result["optimized_score"] <= 1.0
    assert result["test_size"] == 24 and result["metric_calls"] > 0
    assert result["tokens"]["task"]["prompt_tokens"] > 0
    assert result["optimized_instructions"]
    assert (tmp_path / "run" / "demo_result.json").is_file()
    server = result["extra"]["server"]
    assert gone(server["pid"])
    assert port_closed(server["port"])
