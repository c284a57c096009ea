"""The runtime expression classifier: an ONNX model plus its model card.

Contract of a moodtune emotion model (what ``moodtune train`` exports):
input ``faces`` float32 (N, 1, S, S) holding raw gray pixel values 0..255, output
``probabilities`` float32 (N, 7) in ``CLASSES`` order. Normalisation and softmax live inside
the graph; so does the mirror test-time augmentation of a card saying ``"tta": "hflip"``. A card
saying ``"tta": "hflip-gated"`` asks this runtime for the mirror pass only where the first pass is
unsure (top probability under ``"tta_gate"``): nearly all of the accuracy of the full mirror pass
for a third of its cost. Evaluation and users run this same class, so both compute the same thing.
The card (same name, ``.json``) says S and how it scored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from moodtune.config import ASSETS
from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError

DEFAULT_MODEL = ASSETS / "emotion.onnx"


@dataclass
class EmotionClassifier:
    """Classify gray face crops. Build with ``EmotionClassifier.load(path)``."""

    session: ort.InferenceSession
    input_size: int
    card: dict

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int = 0) -> EmotionClassifier:
        """Open an ONNX emotion model; ``threads=0`` lets ONNX Runtime choose."""
        path = Path(path) if path else DEFAULT_MODEL
        if not path.is_file():
            raise MoodtuneError(f"emotion model not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise MoodtuneError(f"{path}: not a usable ONNX model ({exc})") from None
        shape = session.get_inputs()[0].shape
        size = shape[-1] if isinstance(shape[-1], int) else 48
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        classes = session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(CLASSES):
            raise MoodtuneError(f"{path}: model has {classes} outputs, expected {len(CLASSES)}")
        return cls(session, int(size), card)

    def predict(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``crops``: (N, S, S) uint8 gray faces → (N, 7) float probabilities."""
        crops = np.asarray(crops)
        if crops.ndim == 2:
            crops = crops[None]
        if crops.shape[1:] != (self.input_size, self.input_size):
            raise ValueError(f"crops must be (N, {self.input_size}, {self.input_size}), got {crops.shape}")
        probs = self._run(crops, batch_size)
        if self.card.get("tta") == "hflip-gated" and len(probs):
            unsure = probs.max(axis=1) < float(self.card["tta_gate"])
            if unsure.any():
                probs[unsure] = (probs[unsure] + self._run(crops[unsure][:, :, ::-1], batch_size)) / 2
        return probs / probs.sum(axis=1, keepdims=True)

    def _run(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        name = self.session.get_inputs()[0].name
        out = []
        for i in range(0, len(crops), batch_size):
            x = crops[i : i + batch_size].astype(np.float32)[:, None]
            out.append(self.session.run(None, {name: x})[0])
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def get_classifier(model: str | os.PathLike | EmotionClassifier | None = None, threads: int = 1) -> EmotionClassifier:
    """The classifier for ``model``: a shipped model's name (``moodtune.emotion.models.MODELS``),
    a path to an ONNX file, an ``EmotionClassifier`` (returned as it is) or None (the shipped
    default). Loaded once per process per (resolved file, threads), however the path is spelled.
    ``threads``: ONNX Runtime intra-op threads (default 1, like the face detector: one face is
    too small a job to split, and streams or requests then run side by side on separate cores)."""
    if isinstance(model, EmotionClassifier):
        return model
    from moodtune.emotion.models import model_path

    path = model_path(model)
    try:
        path = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing file, symlink loop: load() says which
        pass
    return _load(path, max(1, int(threads)))


@lru_cache(maxsize=16)
def _load(path: Path, threads: int) -> EmotionClassifier:
    return EmotionClassifier.load(path, threads=threads)
