"""faces-wild-dev end to end: each photo through ``moodtune.analyze`` (decode, detect, crop, classify),
the largest face's emotion scored against ``labels.csv``; a photo without a face counts as wrong.

    python -m moodtune.training.wild [--model MODEL.onnx] [--json]

This is what ``moodtune analyze <data>/faces-wild-dev/images --json`` answers, scored in-process.
It is a development set: use it (with PublicTest) to select models, never to fit them.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from moodtune.config import data_dir
from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError


@dataclass
class WildScore:
    """Accuracy over all photos, recall per labelled class, and the share of neutral faces read as each class."""

    n: int
    found: int
    accuracy: float
    recall: dict[str, float]
    neutral_as: dict[str, float]

    def summary(self) -> dict:
        return {"n": self.n, "found": self.found, "accuracy": round(self.accuracy, 4),
                "recall": {k: round(v, 4) for k, v in self.recall.items()},
                "neutral_as": {k: round(v, 4) for k, v in self.neutral_as.items()}}

    def line(self) -> str:
        rec = ", ".join(f"{k} {v:.3f}" for k, v in self.recall.items())
        return (f"faces-wild-dev: accuracy {self.accuracy:.4f} ({self.n} photos, {self.found} with a face); recall {rec}; "
                f"neutral read as angry {self.neutral_as['angry']:.3f}, as sad {self.neutral_as['sad']:.3f}")


def labelled_photos(root: Path | None = None) -> tuple[list[Path], np.ndarray]:
    root = Path(root) if root else data_dir() / "faces-wild-dev"
    if not (root / "labels.csv").is_file():
        raise MoodtuneError(f"faces-wild-dev not found at {root} (labels.csv missing)")
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [root / r["path"] for r in rows], np.array([CLASSES.index(r["label"]) for r in rows])


def predictions(paths: list[Path], model: str | None = None) -> np.ndarray:
    """Class index of the largest face per photo (-1: no face found)."""
    import moodtune

    out = np.full(len(paths), -1, np.int64)
    for i, p in enumerate(tqdm(paths, desc="faces-wild-dev", unit="photo", leave=False)):
        faces = moodtune.analyze(str(p), model=model)
        if faces:
            out[i] = CLASSES.index(faces[0].emotion)
    return out


def score_predictions(pred: np.ndarray, labels: np.ndarray) -> WildScore:
    present = [c for c in range(len(CLASSES)) if (labels == c).any()]
    neutral = labels == CLASSES.index("neutral")
    return WildScore(
        n=len(labels), found=int((pred >= 0).sum()), accuracy=float((pred == labels).mean()),
        recall={CLASSES[c]: float((pred[labels == c] == c).mean()) for c in present},
        neutral_as={c: float((pred[neutral] == i).mean()) if neutral.any() else float("nan") for i, c in enumerate(CLASSES)},
    )


def score_wild(model: str | None = None, root: Path | None = None) -> WildScore:
    paths, labels = labelled_photos(root)
    return score_predictions(predictions(paths, model), labels)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="ONNX emotion model (default: the shipped one)")
    ap.add_argument("--root", type=Path, help="faces-wild-dev folder (default <data>/faces-wild-dev)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    s = score_wild(args.model, args.root)
    print(json.dumps(s.summary()) if args.json else s.line())


if __name__ == "__main__":
    main()
