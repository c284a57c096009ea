"""Face detectors behind one interface, chosen by name from a registry."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Protocol

import numpy as np

from moodtune.errors import MoodtuneError


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` is (x, y, w, h) in pixels of the input image; ``score`` in [0, 1]."""

    box: tuple[int, int, int, int]
    score: float


class FaceDetector(Protocol):
    """Anything with ``detect(bgr) -> list[Detection]``; ``bgr`` is (H, W, 3) uint8.

    Optional ``frame_scale`` and ``frame_dy`` say how to widen and move the box so that the
    face is framed as in FER2013 (measured by ``bench/detectors.py --framing``).
    """

    name: str

    def detect(self, bgr: np.ndarray) -> list[Detection]: ...


#: name → factory. Detector modules add themselves with ``@register("name")``.
DETECTORS: dict[str, Callable[[], FaceDetector]] = {}
DEFAULT_DETECTOR = "blazeface"


def register(name: str):
    """Class decorator adding a detector factory to ``DETECTORS``."""

    def add(factory):
        DETECTORS[name] = factory
        return factory

    return add


@lru_cache(maxsize=None)
def get_detector(name: str | None = None) -> FaceDetector:
    """The detector called ``name`` (default ``DEFAULT_DETECTOR``), built once per process."""
    _load_builtin()
    name = name or DEFAULT_DETECTOR
    if name not in DETECTORS:
        raise MoodtuneError(f"unknown detector {name!r}; choose one of: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name]()


def framing(detector: FaceDetector) -> tuple[float, float]:
    """(scale, dy) turning this detector's boxes into FER2013-like crops (``moodtune.vision.crop.face_crop``)."""
    from moodtune.vision.crop import FRAME_SCALE

    return getattr(detector, "frame_scale", FRAME_SCALE), getattr(detector, "frame_dy", 0.0)


def detector_names() -> list[str]:
    """Names accepted by ``get_detector``."""
    _load_builtin()
    return sorted(DETECTORS)


def _load_builtin() -> None:
    from moodtune.vision import blazeface, haar  # noqa: F401  (registration side effect)
