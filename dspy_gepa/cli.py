"""The ``dspy-gepa`` command line. Each subcommand registers its parser in ``_SUBCOMMANDS``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

__all__ = ["build_parser", "main"]


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    from dspy_gepa import demo

    parser = subparsers.add_parser("demo", help="run a complete GEPA optimization, offline on a local LM by default",
                                   description=demo.DESCRIPTION)
    demo.build_parser(parser)
    parser.set_defaults(handler=lambda args: demo.main_demo(args=args))


# name -> function adding the subcommand's parser, which sets `handler(args) -> exit code`.
_SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "demo": _add_demo,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dspy-gepa", description="GEPA reflective prompt evolution for DSPy.")
    subparsers = parser.add_subparsers(dest="command", title="commands", required=True)
    for add in _SUBCOMMANDS.values():
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
