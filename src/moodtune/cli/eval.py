"""``moodtune eval``: measure an emotion model on FER2013, or the recommender on a mood-labelled catalogue."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from moodtune.cli.common import JsonOpt


class Split(str, Enum):
    Training = "Training"
    PublicTest = "PublicTest"
    PrivateTest = "PrivateTest"


EPILOG = """\b
moodtune eval MODEL_OR_ONNX --split PrivateTest  evaluates an emotion model on FER2013;
moodtune eval music --catalog data_moods.csv      measures the recommender against mood labels."""


def register(app: typer.Typer) -> None:
    app.command("eval", epilog=EPILOG)(evaluate)


def evaluate(
    target: Annotated[str, typer.Argument(help="'music', a zoo model name, a .pt checkpoint, an .onnx file, or 'shipped'")],
    split: Annotated[Split, typer.Option(help="emotion models: the FER2013 split")] = Split.PrivateTest,
    tta: Annotated[bool, typer.Option("--tta", help="emotion models: also average each face with its mirror image")] = False,
    report: Annotated[Path | None, typer.Option(metavar="DIR", show_default=False,
                                                help="emotion models: write plots and a markdown summary into DIR")] = None,
    limit: Annotated[int | None, typer.Option(min=1, show_default=False, help="evaluate on N images only (smoke tests)")] = None,
    data: Annotated[str | None, typer.Option(metavar="DIR", show_default=False,
                                             help="FER2013 image folder or fer2013.csv (default: <data>/fer2013)")] = None,
    catalog: Annotated[str | None, typer.Option(metavar="PATH", show_default=False,
                                                help="music: mood-labelled CSV (data_moods.csv schema) or catalogue")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="music: playlist length")] = 10,
    json_out: JsonOpt = False,
) -> int:
    """Measure a model (accuracy, F1, confusion matrix) or the recommender (precision@10)."""
    if target == "music":
        from moodtune.music.evaluate import evaluate as evaluate_music
        from moodtune.music.evaluate import format_table

        res = evaluate_music(catalog, n)
        print(json.dumps(res, indent=2) if json_out else format_table(res))
        return 0 if res["passed"] else 1
    from moodtune.training.evaluate import evaluate as evaluate_model

    ev = evaluate_model(target, split.value, tta, limit, data_path=data)
    if json_out:
        print(json.dumps(ev.to_json()))
    else:
        print(f"## {ev.model} on FER2013 {ev.split}\n")
        print(ev.table() + "\n")
        print(ev.full.per_class_markdown() + "\n")
        print(ev.full.confusion_markdown() + "\n")
        faces = int(ev.full.support.sum())
        print(f"{faces} faces in {ev.seconds:.1f} s ({ev.seconds / max(1, faces) * 1000:.2f} ms per face, batched)")
    if report:
        from moodtune.training.report import write_report

        print(f"report written to {write_report(ev, report)}")
    return 0
