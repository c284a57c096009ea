"""What every command shares: the registry choices as option types, usage errors (exit 2) and the
one error prefix (``moodtune: error: ...``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer._click.exceptions import UsageError  # typer has no public name for it

from moodtune import choices

#: ``--detector`` / ``--strategy`` / ``--emotion`` choices, from the registries.
if TYPE_CHECKING:  # built from the registries at run time
    from moodtune.choices import Detector_ as Detector
    from moodtune.choices import Emotion_ as Emotion
    from moodtune.choices import Strategy_ as Strategy
else:
    Detector = choices.Detector()
    Strategy = choices.Strategy()
    Emotion = choices.Emotion()

PREFIX = "moodtune: error:"

DetectorOpt = Annotated[Detector | None, typer.Option(help="face detector (default: blazeface)", show_default=False)]
ModelOpt = Annotated[str | None, typer.Option(metavar="ONNX", help="emotion model (default: the shipped one)", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
CatalogOpt = Annotated[str | None, typer.Option(metavar="PATH", help="catalogue database, supported CSV, or 'starter'",
                                                show_default=False)]


UserOpt = Annotated[str, typer.Option(metavar="NAME", envvar="MOODTUNE_USER", show_default="$MOODTUNE_USER or 'default'",
                                      help="whose feedback and history")]


def usage_error(message: str) -> NoReturn:
    """Stop with a usage error: the message and exit code 2."""
    raise UsageError(message)


def value(choice: Any) -> Any:
    """An Enum choice's value (None stays None)."""
    return None if choice is None else choice.value


def err(message: str) -> None:
    print(message, file=sys.stderr)
