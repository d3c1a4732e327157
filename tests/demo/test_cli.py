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
def test_cli_demo_runs_offline_improves_the_program_and_stops_its_server(tmp_path):
    """The README's first command, as a new user runs it (default budget and seed): the 135M model, as task LM and
    as reflection LM, writes a rule from the feedback that raises the held-out score."""
    proc = subprocess.run(
        [sys.executable, "-m", "dspy_gepa.cli", "demo", "--json", "--log-dir", str(tmp_path / "run")],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # stdout holds the JSON object and nothing else
    assert result["local_server"] is True and result["proposer"] == "rule" and result["budget"] == DEFAULT_BUDGET
    assert result["test_size"] == 24 and 0 < result["metric_calls"] <= DEFAULT_BUDGET
    assert result["optimized_score"] > result["baseline_score"]
    (instruction,) = result["optimized_instructions"].values()
    assert "'positive'" in instruction and "'negative'" in instruction  # the convention, written into the instruction
    assert result["tokens"]["task"]["prompt_tokens"] > 0 and result["lm_calls"]["reflection"] > 0
    assert (tmp_path / "run" / "demo_result.json").is_file()
    server = result["extra"]["server"]
    assert gone(server["pid"])
    assert port_closed(server["port"])
