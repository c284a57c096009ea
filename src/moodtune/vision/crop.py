"""Face boxes → square grayscale crops framed the way FER2013 frames its faces."""

from __future__ import annotations

import cv2
import numpy as np

#: A detector box is widened by this factor (around its centre) to match FER2013's framing
#: (the whole face, forehead to chin, with a little margin). Chosen for BlazeFace, the default
#: detector, by ``python bench/detectors.py --framing``: on FER2013 PublicTest crops the FER
#: crop is 1.16x BlazeFace's box (median) and the box sits ~8% of the crop low, so the mean IoU
#: with FER's own crop peaks at 1.15-1.2 (0.706 / 0.705; 0.696 at 1.25); 1.2 keeps the whole
#: forehead. Haar boxes already match FER's crop (best at 1.0, IoU 0.786; 0.660 at 1.2).
FRAME_SCALE = 1.2


def face_crop(bgr_or_gray: np.ndarray, box: tuple[int, int, int, int], size: int, scale: float = FRAME_SCALE,
              dy: float = 0.0) -> np.ndarray:
    """Square gray crop of ``size``x``size`` (uint8) around ``box``, padded by edge replication.

    The crop's side is ``scale`` times the box's longer side; its centre is the box centre moved
    down by ``dy`` box heights (negative: up). Detectors carry their own ``frame_scale`` and
    ``frame_dy`` (see ``moodtune.vision.detect.framing``).
    """
    gray = bgr_or_gray if bgr_or_gray.ndim == 2 else cv2.cvtColor(bgr_or_gray, cv2.COLOR_BGR2GRAY)
    x, y, w, h = box
    side = max(w, h) * scale
    cx, cy = x + w / 2.0, y + h / 2.0 + dy * h
    # affine map from the square around the face to the output crop
    s = size / side
    m = np.array([[s, 0.0, size / 2.0 - s * cx], [0.0, s, size / 2.0 - s * cy]], dtype=np.float64)
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(gray, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def whole_image_crop(bgr_or_gray: np.ndarray, size: int) -> np.ndarray:
    """The whole image as one face crop (for inputs that already are face crops)."""
    gray = bgr_or_gray if bgr_or_gray.ndim == 2 else cv2.cvtColor(bgr_or_gray, cv2.COLOR_BGR2GRAY)
    if gray.shape == (size, size):
        return gray
    interp = cv2.INTER_AREA if min(gray.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp)
