"""``moodtune eval``: measure an emotion model on FER2013 (accuracy, or robustness to corruptions),
or the recommender on mood-labelled catalogues."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from moodtune.cli.common import JsonOpt, usage_error


class Split(str, Enum):
    Training = "Training"
    PublicTest = "PublicTest"
    PrivateTest = "PrivateTest"


EPILOG = """\b
moodtune eval MODEL_OR_ONNX --split PrivateTest   evaluates an emotion model on FER2013;
moodtune eval shipped --robustness --limit 2000   its accuracy under blur, noise, light, JPEG, ...;
moodtune eval music                               the recommender on both mood-labelled dev sets;
moodtune eval music --catalog data_moods.csv      ... on one labelled CSV;
moodtune eval music --variety                     how varied the starter catalogue's playlists are."""


def register(app: typer.Typer) -> None:
    app.command("eval", epilog=EPILOG)(evaluate)


def evaluate(
    target: Annotated[str, typer.Argument(help="'music', a zoo model name, a .pt checkpoint, an .onnx file, or 'shipped'")],
    split: Annotated[Split, typer.Option(help="emotion models: the FER2013 split")] = Split.PrivateTest,
    tta: Annotated[bool, typer.Option("--tta", help="emotion models: also average each face with its mirror image")] = False,
    robustness: Annotated[bool, typer.Option("--robustness", help="emotion models: accuracy on corrupted copies of the "
                                             "faces (3 severities per corruption) instead of the clean scores")] = False,
    report: Annotated[Path | None, typer.Option(metavar="DIR", show_default=False,
                                                help="emotion models: write plots and a markdown summary into DIR")] = None,
    limit: Annotated[int | None, typer.Option(min=1, show_default=False, help="evaluate on N images only (smoke tests)")] = None,
    data: Annotated[str | None, typer.Option(metavar="DIR", show_default=False,
                                             help="FER2013 image folder or fer2013.csv (default: <data>/fer2013)")] = None,
    catalog: Annotated[list[str] | None, typer.Option(metavar="FILE", show_default=False,
                                                      help="music: a mood-labelled CSV (repeatable; default: both dev sets)")] = None,
    variety: Annotated[bool, typer.Option("--variety", help="music: the starter catalogue's playlist variety table")] = False,
    json_out: JsonOpt = False,
) -> int:
    """Measure a model (accuracy, F1, confusion matrix; or --robustness) or the recommender (precision@k)."""
    if target == "music":
        if robustness or tta or report or limit or data:
            usage_error("--robustness, --tta, --report, --limit and --data are for emotion models, not 'music'")
        return _music(catalog, variety, json_out)
    if catalog or variety:
        usage_error("--catalog and --variety are for 'moodtune eval music'")
    if robustness:
        return _robustness(target, split.value, tta, limit, data, report, json_out)
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


def _music(catalogs: list[str] | None, variety: bool, json_out: bool) -> int:
    """``eval music``: the precision tables (0 when every bar holds), or the variety table."""
    from moodtune.music import evaluate as music

    if variety:
        if catalogs:
            usage_error("--variety measures the starter catalogue; it takes no --catalog")
        rows = music.starter_variety()
        print(json.dumps(rows, indent=2, ensure_ascii=False) if json_out else music.format_variety(rows))
        return 0
    results = music.evaluate_many(list(catalogs) if catalogs else None)
    if json_out:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    else:
        print("\n\n".join(music.format_table(r) for r in results))
    return 0 if all(r["passed"] for r in results) else 1


def _robustness(target: str, split: str, tta: bool, limit: int | None, data: str | None, report: Path | None,
                json_out: bool) -> int:
    """``eval MODEL --robustness``: the robustness card (``moodtune.training.robustness``)."""
    from moodtune.training.data import load
    from moodtune.training.evaluate import predictor
    from moodtune.training.robustness import robustness

    faces = load(data, ferplus=None).subset(split)
    if limit:
        faces = faces.sample(limit, 0)
    name, predict, _ = predictor(target, tta)
    card = robustness(predict, faces.images, faces.labels, name, split)
    if json_out:
        print(json.dumps(card.to_json()))
    else:
        print(f"## robustness of {card.model}\n")
        print(card.table())
    if report:
        from moodtune.errors import MoodtuneError

        try:
            report.mkdir(parents=True, exist_ok=True)
            (report / "robustness.md").write_text(card.table() + "\n")
            (report / "robustness.json").write_text(json.dumps(card.to_json(), indent=1) + "\n")
        except OSError as exc:
            raise MoodtuneError(f"cannot write the report into {report}: {exc.strerror or exc}") from None
        print(f"plot written to {card.plot(report / 'robustness.png')}")
    return 0
