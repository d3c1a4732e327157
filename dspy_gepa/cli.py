"""The ``dspy-gepa`` command.

    dspy-gepa demo [--lm MODEL] [--reflection-lm MODEL] [--budget N]   # a whole optimization, offline by default
    dspy-gepa report LOG_DIR [--output FILE]   # one self-contained HTML report of a run (also mid-run)
    dspy-gepa show LOG_DIR [--no-instructions]  # a short summary in the terminal
    dspy-gepa serve LOG_DIR [--port N]          # a live dashboard of a run, on 127.0.0.1

Each subcommand is a ``_add_<name>(subparsers)`` function that registers its parser and sets
``func``; add a command by writing one more and listing it in ``COMMANDS``. A subcommand whose options
live in a module of their own (the demo) passes ``fill=``, which imports that module only when the
subcommand is parsed: ``report`` and ``show`` never load the demo.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from dspy_gepa.exceptions import GEPAError


class _Subcommand(argparse.ArgumentParser):
    """A subcommand's parser that ``fill`` completes (options, description, ``func``) when it first parses."""

    def __init__(self, *args: Any, fill: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._fill = fill

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        fill, self._fill = self._fill, None
        if fill is not None:
            fill(self)
        return super().parse_known_args(args, namespace)


def _report(args: argparse.Namespace) -> int:
    from dspy_gepa.tracking.report import write_report

    path = write_report(args.log_dir, args.output)
    print(f"Wrote {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from dspy_gepa.tracking.report import summary_text

    sys.stdout.write(summary_text(args.log_dir, instructions=args.instructions))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from dspy_gepa.tracking.live import serve

    def ready(url: str) -> None:
        print(f"Serving the live dashboard of {args.log_dir} at {url} (Ctrl-C to stop)", flush=True)

    serve(args.log_dir, host=args.host, port=args.port, on_ready=ready)
    return 0


def _fill_demo(parser: argparse.ArgumentParser) -> None:
    from dspy_gepa.demo import cli as demo_cli

    parser.description = demo_cli.DESCRIPTION
    demo_cli.build_parser(parser)
    parser.set_defaults(func=lambda args: demo_cli.main_demo(args=args))


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("demo", help="run a complete GEPA optimization, offline on a local LM by default",
                          fill=_fill_demo)


def _add_report(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="write an HTML report of a run from its log_dir journal",
                              description="Write one self-contained HTML file (lineage, instructions with diffs, "
                                          "scores per example, Pareto front, best score against budget) from the "
                                          "journal in LOG_DIR. Works while the run is still going.")
    p.add_argument("log_dir", metavar="LOG_DIR", help="the log_dir given to GEPA")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the HTML (default: LOG_DIR/report.html)")
    p.set_defaults(func=_report)


def _add_show(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="print a short summary of a run",
                              description="Print the status, best candidate, budget used, Pareto front and the "
                                          "candidates of the run in LOG_DIR.")
    p.add_argument("log_dir", metavar="LOG_DIR", help="the log_dir given to GEPA")
    p.add_argument("--no-instructions", dest="instructions", action="store_false",
                   help="leave out the best candidate's instructions")
    p.set_defaults(func=_show)


def _fill_serve(p: argparse.ArgumentParser) -> None:
    from dspy_gepa.tracking.live.server import DEFAULT_HOST, DEFAULT_PORT

    p.description = ("Serve a local web page that follows the run in LOG_DIR from its journal and updates by itself: "
                     "best score against metric calls and dollars, Pareto front, lineage, instructions with diffs, "
                     "scores per example, proposals in flight, budget left. Works for a run in another process, a "
                     "finished one, or one that has not started yet.")
    p.add_argument("log_dir", metavar="LOG_DIR", help="the log_dir given to GEPA")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.set_defaults(func=_serve)


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser("serve", help="serve a live dashboard of a run (needs the 'serve' extra)", fill=_fill_serve)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_demo, _add_report, _add_show, _add_serve]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dspy-gepa", description="GEPA reflective prompt evolution for DSPy.")
    subparsers = parser.add_subparsers(dest="command", title="commands", required=True, parser_class=_Subcommand)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GEPAError as exc:
        print(f"dspy-gepa {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
