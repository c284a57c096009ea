"""Class probabilities → a point on the valence/arousal plane."""

from __future__ import annotations

import numpy as np

from moodtune.emotion.labels import CLASS_VA


def valence_arousal(probabilities: np.ndarray) -> np.ndarray:
    """Probability-weighted mean of the class points.

    ``probabilities``: shape (7,) or (N, 7), rows summing to 1.
    Returns shape (2,) or (N, 2): valence and arousal, each in [-1, 1].
    """
    p = np.asarray(probabilities, dtype=np.float64)
    return np.clip(p @ CLASS_VA, -1.0, 1.0)
