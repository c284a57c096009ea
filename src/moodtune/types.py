"""The core types every layer shares: boxes, keypoints, detections, analysed and tracked faces,
live and video frames.

They are plain dataclasses; ``moodtune.contract.to_json`` turns them into the one JSON shape
used by ``--json``, HTTP and the WebSocket (floats annotated ``Rounded`` get 4 decimals there,
a box is ``[x, y, w, h]``, keypoints ``[[x, y], ...]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from moodtune.contract import Rounded
from moodtune.emotion.affect import valence_arousal
from moodtune.emotion.labels import CLASSES

#: (x, y, w, h) in pixels of the input image.
Box = tuple[int, int, int, int]
#: (x, y) in pixels of the input image.
Point = tuple[Rounded, Rounded]
#: BlazeFace's six points, in this order: right eye, left eye (the person's own right and left:
#: the right eye is the one on the image's left), nose tip, mouth centre, right ear, left ear.
Keypoints = tuple[Point, ...]
KEYPOINT_NAMES: tuple[str, ...] = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")

#: ``FaceResult.uncertain`` defaults, see its docstring.
UNCERTAIN_BELOW = 0.5
MIN_FACE_PX = 40


@dataclass(frozen=True)
class Detection:
    """One face found by a detector: ``box`` (x, y, w, h) in pixels of the input image, ``score``
    in [0, 1], and ``keypoints`` (BlazeFace's six points, ``KEYPOINT_NAMES``) or None."""

    box: Box
    score: Rounded
    keypoints: Keypoints | None = None


@dataclass
class FaceResult:
    """One analysed face.

    ``box`` (x, y, w, h) in pixels of the input image (after EXIF rotation); ``probabilities``
    maps all 7 class names to floats summing to 1; ``emotion`` is the top class and
    ``confidence`` its probability; ``valence`` and ``arousal`` (in [-1, 1]) are the
    probability-weighted circumplex points of the classes; ``detection_score`` the detector's
    score; ``keypoints`` BlazeFace's six points in input pixels (``KEYPOINT_NAMES``; None for
    Haar and face-crop input).

    ``uncertain`` ("not sure") is true when the face cannot be judged well: the top probability
    is below the model card's ``uncertain_below`` (default ``UNCERTAIN_BELOW`` = 0.5), or the
    face box is narrower than ``MIN_FACE_PX`` (40 px), or its crop is too blurred (variance of
    the Laplacian of the gray model-input crop below the card's ``blur_below``, see
    ``moodtune.pipeline.BLUR_BELOW``, 80). The numbers are reported as computed all the same.
    """

    box: Box
    probabilities: dict[str, Rounded]
    emotion: str
    confidence: Rounded
    valence: Rounded
    arousal: Rounded
    detection_score: Rounded = 1.0
    keypoints: Keypoints | None = None
    uncertain: bool = False

    @classmethod
    def from_probabilities(
        cls,
        box: Sequence[float],
        probs: np.ndarray | Sequence[float],
        detection_score: float = 1.0,
        keypoints: Keypoints | None = None,
        uncertain_below: float = UNCERTAIN_BELOW,
        judgeable: bool = True,
    ) -> FaceResult:
        """The face with class probabilities ``probs`` (7,); ``uncertain`` follows from the top
        probability and ``uncertain_below``, and is always true when not ``judgeable``
        (too small or too blurred)."""
        p = np.asarray(probs, dtype=np.float64)
        top = int(np.argmax(p))
        v, a = valence_arousal(p)
        return cls(
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
            probabilities={c: float(q) for c, q in zip(CLASSES, p, strict=True)},
            emotion=CLASSES[top],
            confidence=float(p[top]),
            valence=float(v),
            arousal=float(a),
            detection_score=float(detection_score),
            keypoints=keypoints,
            uncertain=bool(not judgeable or p[top] < uncertain_below),
        )

    def probability_vector(self) -> np.ndarray:
        """The probabilities as a (7,) array in ``CLASSES`` order."""
        return np.array([self.probabilities[c] for c in CLASSES], dtype=np.float64)


@dataclass
class TrackedFace(FaceResult):
    """A face in a stream: the smoothed result (this frame's box, probabilities averaged over the
    track) with its ``track`` id and ``raw_emotion``, the top class of this frame alone.
    ``raw`` is this frame's unsmoothed ``FaceResult`` (not part of the JSON)."""

    track: int = 0
    raw_emotion: str = ""
    raw: Annotated[FaceResult | None, Field(exclude=True)] = field(default=None, repr=False, compare=False)

    @property
    def face(self) -> FaceResult:
        """The smoothed face itself (kept for callers written against the older pair shape)."""
        return self


@dataclass
class LiveFrame:
    """One frame of a stream (the WebSocket's answer): its ``frame`` index, size, the tracked
    ``faces``, the ``group`` mood (``moodtune.emotion.group.group_mood``) when there are two or
    more faces, and the analysis time ``ms``."""

    frame: int
    width: int
    height: int
    faces: list[TrackedFace]
    group: FaceResult | None = None
    ms: float = 0.0


@dataclass
class VideoFrame:
    """One processed frame of a video file: its ``frame`` index in the file, ``time`` in seconds,
    tracked ``faces``; ``image`` is the decoded BGR frame (kept in memory only, for drawing;
    not part of the JSON)."""

    frame: int
    time: Rounded
    faces: list[TrackedFace]
    image: Annotated[Any, Field(exclude=True)] = field(default=None, repr=False, compare=False)

    @property
    def index(self) -> int:
        return self.frame
