"""The shipped emotion models, as plain data: ``moodtune.list_models()`` shows them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from moodtune.config import ASSETS
from moodtune.errors import MoodtuneError


@dataclass(frozen=True)
class ModelEntry:
    """A shipped model: ``name``, a one-line ``summary`` and its ONNX ``file`` in ``moodtune/assets``
    (its card is the ``.json`` beside it)."""

    name: str
    summary: str
    file: str

    @property
    def path(self) -> Path:
        return ASSETS / self.file


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("moodnet", "two compact VGGs trained on FER2013 (+FER+ soft labels; one with camera-like augmentation) "
               "as one int8 graph, mirror TTA when unsure; the default",
               "emotion.onnx"),
)
DEFAULT_MODEL = "moodnet"


def model_path(model: str | os.PathLike | None) -> Path:
    """The ONNX file for a shipped model's name, a path, or None (the default model).
    A name that is neither a shipped model nor an existing file raises ``MoodtuneError``."""
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, str):
        for entry in MODELS:
            if entry.name == model:
                return entry.path
        if not model.lower().endswith(".onnx") and os.sep not in model and not Path(model).exists():
            raise MoodtuneError(f"unknown model {model!r}: give a path to an .onnx file or one of: {', '.join(e.name for e in MODELS)}")
    return Path(model).expanduser()
