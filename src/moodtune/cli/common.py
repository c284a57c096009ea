"""What every command shares: the registry choices as option types, ``--database``, usage errors
(exit 2) and the one error prefix (``moodtune: error: ...``)."""

from __future__ import annotations

import os
import sys
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

def _model_help() -> str:
    """``--model``'s help: the shipped models (``moodtune.list_models()``), the default first."""
    from moodtune.emotion.models import MODELS

    names = ", ".join(m.name for m in MODELS)
    return f"emotion model: a shipped one ({names}; {MODELS[0].name} is the default) or an .onnx file"


def _detector_help() -> str:
    """``--detector``'s help: the default detector (``moodtune.list_detectors()``)."""
    from moodtune.vision.detect import DETECTORS

    return f"face detector (default: {DETECTORS[0].name})"


DetectorOpt = Annotated[Detector | None, typer.Option(help=_detector_help(), show_default=False)]
ModelOpt = Annotated[str | None, typer.Option(metavar="MODEL", help=_model_help(), show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
CatalogOpt = Annotated[str | None, typer.Option(metavar="PATH", help="catalogue database, supported CSV, or 'starter'",
                                                show_default=False)]


UserOpt = Annotated[str, typer.Option(metavar="NAME", envvar="MOODTUNE_USER", show_default="$MOODTUNE_USER or 'default'",
                                      help="whose feedback and history")]


def _use_database(url: str | None) -> str | None:
    """``--database URL``: every store this process opens from now on lives in that database."""
    from moodtune.store.db import ENV, is_url

    if url is not None:
        if not is_url(url):
            usage_error(f"--database: expected postgresql://... or sqlite:///path, got {url!r}")
        os.environ[ENV] = url
    return url


DatabaseOpt = Annotated[str | None, typer.Option("--database", metavar="URL", envvar="MOODTUNE_DATABASE_URL",
                                                 callback=_use_database, show_default="$MOODTUNE_DATABASE_URL or files in <moodtune home>",
                                                 help="keep catalogue, feedback and history in this database "
                                                 "(postgresql://user@host/db or sqlite:///path)")]


def usage_error(message: str) -> NoReturn:
    """Stop with a usage error: the message and exit code 2."""
    raise UsageError(message)


def value(choice: Any) -> Any:
    """An Enum choice's value (None stays None)."""
    return None if choice is None else choice.value


def err(message: str) -> None:
    print(message, file=sys.stderr)


def path_error(shown: str, message: str) -> None:
    """One error line about one input: ``moodtune: error:``, its path once, what went wrong."""
    err(f"moodtune: error: {message if shown in message else f'{shown}: {message}'}")
