"""``moodtune eval MODEL``: score an emotion model on a FER2013 split, full and de-duplicated.

ONNX files go through ``moodtune.emotion.classifier`` (the path users run, so the shipped
model is measured exactly as it answers); torch checkpoints go through the zoo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtune.config import ASSETS
from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError
from moodtune.training.data import FerData, load, train_test_duplicates
from moodtune.training.metrics import Scores, score


@dataclass
class Evaluation:
    """Scores of one model on one split: all faces, and faces whose pixels do not occur in Training."""

    model: str
    split: str
    full: Scores
    dedup: Scores
    probabilities: np.ndarray
    labels: np.ndarray
    seconds: float
    card: dict = field(default_factory=dict)
    images: np.ndarray | None = None  # (N, S, S) uint8 faces, in the order of ``labels`` (for reports)

    def table(self) -> str:
        rows = ["| subset | faces | accuracy | macro precision | macro recall | macro F1 |", "|---|---|---|---|---|---|"]
        for name, s in (("full", self.full), ("minus Training duplicates", self.dedup)):
            rows.append(f"| {name} | {int(s.support.sum())} | {s.accuracy:.4f} | {s.macro_precision:.4f} | "
                        f"{s.macro_recall:.4f} | {s.macro_f1:.4f} |")
        return "\n".join(rows)

    def to_json(self) -> dict:
        return {"model": self.model, "split": self.split, "full": self.full.summary(), "dedup": self.dedup.summary(),
                "per_class": {c: {"precision": round(float(self.full.precision[i]), 4), "recall": round(float(self.full.recall[i]), 4),
                                  "f1": round(float(self.full.f1[i]), 4), "support": int(self.full.support[i])} for i, c in enumerate(CLASSES)},
                "confusion": self.full.confusion.tolist(), "seconds": round(self.seconds, 2)}


def predictor(target: str, tta: bool = False) -> tuple[str, Callable[[np.ndarray], np.ndarray], dict]:
    """(display name, ``predict(uint8 faces (N,S,S)) -> probs (N,7)``, card) for a model reference.

    ``target``: "shipped", an .onnx path, a .pt checkpoint, or a zoo name (uses ``runs/NAME/best.pt``).
    """
    if target == "shipped":
        target = str(ASSETS / "emotion.onnx")
    path = Path(target)
    if path.suffix == ".onnx":
        from moodtune.emotion.classifier import EmotionClassifier

        clf = EmotionClassifier.load(path)
        if tta and clf.card.get("tta") not in ("hflip", "hflip-gated"):
            raise MoodtuneError(f"{path}: --tta needs a model exported with mirror TTA (its card's \"tta\")")
        return str(path), clf.predict, clf.card
    if path.suffix != ".pt":
        path = Path("runs") / target / "best.pt"
    if not path.is_file():
        raise MoodtuneError(f"no model at {path}: give 'shipped', an .onnx file, a .pt checkpoint or a trained zoo name")
    import torch

    from moodtune.training.checkpoint import load_model, predict

    model, cfg, ckpt = load_model(path)
    card = {"name": cfg.model, "checkpoint": str(path), "epoch": ckpt.get("epoch", -1) + 1}
    return f"{path}{' +tta' if tta else ''}", lambda x: predict(model, torch.from_numpy(x), tta=tta).numpy(), card


def evaluate(target: str, split: str = "PrivateTest", tta: bool = False, limit: int | None = None,
             data: FerData | None = None, data_path: str | None = None) -> Evaluation:
    """Evaluate ``target`` (see ``predictor``) on ``split``."""
    data = data if data is not None else load(data_path, ferplus=None)
    dups = train_test_duplicates(data, split) if split != "Training" else np.zeros(len(data.subset(split)), bool)
    test = data.subset(split)
    if limit:
        keep = np.sort(np.random.default_rng(0).permutation(len(test))[:limit])
        test, dups = FerData(test.images[keep], test.labels[keep], test.splits[keep], test.rows[keep]), dups[keep]
    name, predict, card = predictor(target, tta)
    t0 = time.perf_counter()
    probs = predict(test.images)
    seconds = time.perf_counter() - t0
    pred = probs.argmax(1)
    return Evaluation(name, split, score(test.labels, pred), score(test.labels[~dups], pred[~dups]), probs, test.labels, seconds, card,
                      test.images)

