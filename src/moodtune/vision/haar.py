"""OpenCV's Haar cascade, the detector the papers use (XMLs ship in opencv-python 4.x)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodtune.errors import MoodtuneError
from moodtune.types import Detection


class HaarDetector:
    """``haarcascade_frontalface_default`` with the usual scale 1.1, 5 neighbours, 30 px minimum."""

    name = "haar"
    #: Haar boxes already frame the face as FER2013 does (IoU with FER's crop 0.786 at 1.0, 0.660 at 1.2).
    frame_scale, frame_dy = 1.0, 0.0

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30, threads: int = 1):
        """``threads`` is accepted for a uniform factory signature (OpenCV's own thread pool applies)."""
        xml = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]  # cv2.data: not in the stubs
        self._cascade = cv2.CascadeClassifier(str(xml))
        if self._cascade.empty():
            raise MoodtuneError(f"Haar cascade not found at {xml}; install opencv-python-headless<5")
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        gray = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        boxes, _, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        out = []
        for (x, y, w, h), wt in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True):
            score = float(1.0 / (1.0 + np.exp(-float(wt))))  # cascade level weight → (0, 1)
            out.append(Detection((int(x), int(y), int(w), int(h)), score))
        return sorted(out, key=lambda d: -d.score)
