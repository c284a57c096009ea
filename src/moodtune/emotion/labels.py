"""The FER2013 label set and each class's point on Russell's circumplex."""

from __future__ import annotations

import numpy as np

#: FER2013 class order (label index 0..6).
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: NRC-VAD lexicon (Mohammad 2018) valence and arousal of each class word, on its 0..1 scale.
_NRC_VAD = {
    "angry": (0.122, 0.830),
    "disgust": (0.052, 0.775),
    "fear": (0.073, 0.840),
    "happy": (1.000, 0.735),
    "sad": (0.225, 0.333),
    "surprise": (0.875, 0.875),
    "neutral": (0.469, 0.184),
}

#: (7, 2) array of (valence, arousal) per class, rescaled to [-1, 1].
CLASS_VA: np.ndarray = np.array([_NRC_VAD[c] for c in CLASSES], dtype=np.float64) * 2.0 - 1.0


def class_index(name: str) -> int:
    """Index of a class name; raises ``MoodtuneError`` naming the valid ones."""
    from moodtune.errors import MoodtuneError

    try:
        return CLASSES.index(name.strip().lower())
    except ValueError:
        raise MoodtuneError(f"unknown emotion {name!r}; expected one of: {', '.join(CLASSES)}") from None
