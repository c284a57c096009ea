"""``moodtune eval``: measure an emotion model on FER2013, or the recommender on a mood-labelled catalogue."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="measure a model (accuracy, F1, confusion matrix) or the recommender (precision@10)",
        description=(
            "moodtune eval MODEL_OR_ONNX --split PrivateTest  evaluates an emotion model on FER2013;\n"
            "moodtune eval music --catalog data_moods.csv      measures the recommender against mood labels."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", help="'music', a model name from the zoo, a .pt checkpoint, or an .onnx file (default model: 'shipped')")
    g = p.add_argument_group("emotion models")
    g.add_argument("--split", default="PrivateTest", choices=["Training", "PublicTest", "PrivateTest"])
    g.add_argument("--tta", action="store_true", help="average the prediction of the face and its mirror image (torch checkpoints)")
    g.add_argument("--report", metavar="DIR", help="write plots and a markdown summary into DIR")
    g.add_argument("--robustness", action="store_true", help="accuracy under 8 corruption families x 3 severities (issue 13)")
    g.add_argument("--limit", type=int, help="evaluate on the first N images only (smoke tests)")
    g.add_argument("--data", metavar="DIR", help="FER2013 image folder or fer2013.csv (default: <data>/fer2013)")
    m = p.add_argument_group("music")
    m.add_argument("--catalog", metavar="PATH", help="mood-labelled CSV (data_moods.csv schema) or catalogue database")
    m.add_argument("--n", type=int, default=10, help="playlist length (default 10)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.target == "music":
        from moodtune.music.evaluate import run as run_music

        return run_music(args)
    from moodtune.training.evaluate import run as run_model

    return run_model(args)
