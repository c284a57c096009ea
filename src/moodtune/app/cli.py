"""The ``moodtune`` command line: one sub-command module per verb, each thin over the API.

A command module exposes ``add_parser(subparsers)`` (which sets ``func`` on its parser)
and returns an exit code from ``func(args)``: 0 all good, 1 some inputs failed,
2 usage errors. ``MoodtuneError`` is printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys

from moodtune import __version__
from moodtune.errors import MoodtuneError

#: Modules under ``moodtune.app.commands`` that add a sub-command, in ``--help`` order.
COMMANDS = ["analyze", "recommend", "catalog", "feedback", "eval", "train", "benchmark_models", "serve", "live"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodtune",
        description="Recognise facial expressions and recommend music for the mood.",
    )
    parser.add_argument("--version", action="version", version=f"moodtune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"moodtune.app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"moodtune.app.commands.{name}":
                continue  # command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MoodtuneError as exc:
        print(f"moodtune: error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # a damaged catalogue or feedback file found mid-command
        print(f"moodtune: error: a moodtune database is damaged or unreadable ({exc})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("moodtune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
