"""The ``moodtune`` command line (typer): one module per command group, each thin over the library.

Exit codes: 0 all good; 1 some inputs failed or a ``MoodtuneError`` (printed as one
``moodtune: error: ...`` line, never a traceback); 2 usage errors; 130 interrupted.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import typer
from typer import TyperException

from moodtune import __version__
from moodtune.errors import MoodtuneError

app = typer.Typer(name="moodtune", help="Recognise facial expressions and recommend music for the mood.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})


def _version(show: bool) -> None:
    if show:
        print(f"moodtune {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="show the version")) -> None:
    """Recognise facial expressions and recommend music for the mood."""


def _register() -> None:
    from moodtune.cli import analyze, benchmark_models, catalog, eval, feedback, live, recommend, serve, train

    for module in (analyze, recommend, catalog, feedback, eval, train, benchmark_models, serve, live):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run ``moodtune ARGV`` in this process; returns the exit code."""
    try:
        code = app(args=argv, prog_name="moodtune", standalone_mode=False)
        return int(code or 0)
    except TyperException as exc:  # usage errors (exit code 2), and the like
        ctx = getattr(exc, "ctx", None)
        if ctx is not None and exc.exit_code == 2:
            print(ctx.get_usage(), file=sys.stderr)
        print(f"moodtune: error: {exc.format_message().replace('Value error, ', '')}", file=sys.stderr)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except MoodtuneError as exc:
        print(f"moodtune: error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # a damaged catalogue or feedback file found mid-command
        print(f"moodtune: error: a moodtune database is damaged or unreadable ({exc})", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, typer.Abort):
        print("moodtune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """The console script."""
    sys.exit(main())
