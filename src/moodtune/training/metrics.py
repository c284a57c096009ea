"""Classification metrics in plain numpy: confusion matrix, accuracy, per-class and macro P/R/F1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moodtune.emotion.labels import CLASSES


@dataclass
class Scores:
    """``confusion[i, j]``: faces of true class i predicted as j. Per-class arrays follow ``CLASSES``."""

    confusion: np.ndarray
    accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def macro_precision(self) -> float:
        return float(self.precision.mean())

    @property
    def macro_recall(self) -> float:
        return float(self.recall.mean())

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean())

    def summary(self) -> dict:
        return {"accuracy": round(self.accuracy, 4), "macro_precision": round(self.macro_precision, 4),
                "macro_recall": round(self.macro_recall, 4), "macro_f1": round(self.macro_f1, 4), "n": int(self.support.sum())}

    def per_class_markdown(self) -> str:
        rows = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for i, c in enumerate(CLASSES):
            rows.append(f"| {c} | {self.precision[i]:.3f} | {self.recall[i]:.3f} | {self.f1[i]:.3f} | {self.support[i]} |")
        return "\n".join(rows)

    def confusion_markdown(self) -> str:
        rows = ["| true \\ predicted | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
        for i, c in enumerate(CLASSES):
            rows.append(f"| {c} | " + " | ".join(str(v) for v in self.confusion[i]) + " |")
        return "\n".join(rows)


def score(y_true, y_pred, num_classes: int = len(CLASSES)) -> Scores:
    """Scores of integer predictions ``y_pred`` against ``y_true`` (both shape (N,)).

    Precision of a class never predicted, and recall of a class absent from ``y_true``, count as 0.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    accuracy = float(tp.sum() / max(1, len(y_true)))
    return Scores(cm, accuracy, precision, recall, f1, support)
