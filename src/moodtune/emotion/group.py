"""The mood of a group of faces: the one place it is computed (live frames, ``recommend`` for
several faces, the web page)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError
from moodtune.types import UNCERTAIN_BELOW, FaceResult


def group_mood(faces: Sequence[FaceResult], weights: Sequence[float] | None = None,
               uncertain_below: float = UNCERTAIN_BELOW) -> FaceResult:
    """The mean affect of several faces, as one ``FaceResult``.

    The probabilities are averaged (optionally weighted, e.g. by face size), so emotion,
    confidence, valence and arousal all follow from the mean (valence/arousal are linear in the
    probabilities, so they are the mean of the faces' points as well); the box is the union of
    the faces' boxes, the detection score their mean, no keypoints; ``uncertain`` when the mean's
    top probability is below ``uncertain_below`` or every face is uncertain. Raises
    ``MoodtuneError`` for an empty group or bad weights.
    """
    faces = list(faces)
    if not faces:
        raise MoodtuneError("no face in the group")
    probs = np.array([[f.probabilities.get(c, 0.0) for c in CLASSES] for f in faces], dtype=np.float64)
    w = np.ones(len(faces)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(faces),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise MoodtuneError("group weights must be one non-negative number per face, not all zero")
    mean = (probs * w[:, None]).sum(axis=0) / w.sum()
    boxes = np.array([f.box for f in faces], dtype=np.int64)
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    score = float(np.mean([f.detection_score for f in faces]))
    judgeable = not all(getattr(f, "uncertain", False) for f in faces)
    return FaceResult.from_probabilities((x0, y0, x1 - x0, y1 - y0), mean, score,
                                         uncertain_below=uncertain_below, judgeable=judgeable)
