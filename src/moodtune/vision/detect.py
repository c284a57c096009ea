"""Face detectors behind one interface, chosen by name from ``DETECTORS`` (plain data)."""

from __future__ import annotations

from functools import cache
from typing import Protocol, runtime_checkable

import numpy as np

from moodtune.registry import Entry, lookup
from moodtune.types import Detection

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "Detection", "FaceDetector", "detector_names", "framing", "get_detector"]


@runtime_checkable
class FaceDetector(Protocol):
    """Anything with ``detect(bgr) -> list[Detection]``; ``bgr`` is (H, W, 3) uint8.

    Optional ``frame_scale`` and ``frame_dy`` say how to widen and move the box so that the
    face is framed as in FER2013 (measured by ``bench/detectors.py --framing``).
    """

    def detect(self, bgr: np.ndarray) -> list[Detection]: ...


#: The detectors moodtune ships; ``target`` builds one (called with ``threads=``).
DETECTORS: tuple[Entry, ...] = (
    Entry("blazeface", "MediaPipe BlazeFace (short- and full-range models, ONNX), with keypoints; the default",
          "moodtune.vision.blazeface:BlazeFaceDetector"),
    Entry("haar", "OpenCV's Haar cascade (frontal faces), as the FER papers use it; no keypoints",
          "moodtune.vision.haar:HaarDetector"),
)
DEFAULT_DETECTOR = "blazeface"


def get_detector(name: str | FaceDetector | None = None, threads: int = 1) -> FaceDetector:
    """The detector called ``name`` (default ``DEFAULT_DETECTOR``), built once per (name, threads)
    per process; a detector instance is returned as it is. Unknown names raise ``MoodtuneError``."""
    if name is not None and not isinstance(name, str):
        return name
    return _build(name or DEFAULT_DETECTOR, int(threads))


@cache
def _build(name: str, threads: int) -> FaceDetector:
    return lookup(DETECTORS, name, "detector").load()(threads=threads)


def framing(detector: FaceDetector) -> tuple[float, float]:
    """(scale, dy) turning this detector's boxes into FER2013-like crops (``moodtune.vision.crop.face_crop``)."""
    from moodtune.vision.crop import FRAME_SCALE

    return getattr(detector, "frame_scale", FRAME_SCALE), getattr(detector, "frame_dy", 0.0)


def detector_names() -> list[str]:
    """Names accepted by ``get_detector``."""
    return [e.name for e in DETECTORS]
