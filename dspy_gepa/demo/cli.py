"""The ``dspy-gepa demo`` command: its options, and printing what :func:`~dspy_gepa.demo.run.run_demo` measured.

``dspy_gepa.cli`` imports this module only when the ``demo`` subcommand is parsed, so ``dspy-gepa report`` and
``show`` never load the demo.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys

from dspy_gepa.demo.local_lm import exit_on_sigterm
from dspy_gepa.demo.run import DEFAULT_BUDGET, PROPOSERS, run_demo
from dspy_gepa.exceptions import LocalExtraMissingError, LocalLMError

__all__ = ["DESCRIPTION", "build_parser", "main_demo"]

DESCRIPTION = (
    "Run a complete GEPA optimization of a small built-in task (review sentiment labels) and report held-out "
    "scores before and after, the evolved instruction, metric calls, tokens and wall-clock. Without --lm it "
    "runs offline on SmolLM2-135M served locally by llama-cpp-python (needs the 'local' extra)."
)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``demo`` options, added to ``parser`` (a subcommand's parser) or to a new one."""
    parser = parser or argparse.ArgumentParser(prog="dspy-gepa demo", description=DESCRIPTION)
    parser.add_argument("--lm", help="task LM as a LiteLLM model string (e.g. openai/gpt-4.1-mini, "
                        "ollama_chat/qwen3:8b); default: SmolLM2-135M on a local server")
    parser.add_argument("--reflection-lm", help="GEPA's reflection LM, same form; default: --lm if given, "
                        "else the local model")
    parser.add_argument("--proposer", choices=sorted(PROPOSERS), help="the reflection prompt: 'rule' (one rule "
                        "from the feedback, for small reflection LMs; the default with the local model) or 'default' "
                        "(the whole instruction rewritten; the default with --reflection-lm/--lm)")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET,
                        help=f"GEPA's max_metric_calls (default {DEFAULT_BUDGET})")
    parser.add_argument("--seed", type=int, default=0, help="GEPA's seed (default 0)")
    parser.add_argument("--log-dir", help="GEPA's log directory (default: a new temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def main_demo(argv: list[str] | None = None, args: argparse.Namespace | None = None) -> int:
    """Entry point of ``dspy-gepa demo``: run the demo and print its result; returns the exit code."""
    if args is None:
        args = build_parser().parse_args(argv)
    if args.budget < 1:
        print("dspy-gepa demo: --budget must be a positive number of metric calls", file=sys.stderr)
        return 2
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        # With --json, stdout carries the JSON object only: progress that libraries print goes to stderr.
        quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
        with exit_on_sigterm(), quiet:
            result = run_demo(
                lm=args.lm, reflection_lm=args.reflection_lm, budget=args.budget, seed=args.seed,
                log_dir=args.log_dir, proposer=args.proposer,
            )
    except LocalExtraMissingError as exc:
        print(f"dspy-gepa demo: {exc}", file=sys.stderr)
        return 3
    except LocalLMError as exc:
        print(f"dspy-gepa demo: the local LM failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dspy-gepa demo: interrupted; the local LM server was stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.format_text())
    return 0
