"""Face boxes → square grayscale crops framed the way FER2013 frames its faces."""

from __future__ import annotations

import cv2
import numpy as np

#: A detector box is widened by this factor (around its centre) to match FER2013's framing,
#: which shows the whole head with a little margin. Chosen on faces-wild-dev (see bench/).
FRAME_SCALE = 1.25


def face_crop(bgr_or_gray: np.ndarray, box: tuple[int, int, int, int], size: int, scale: float = FRAME_SCALE) -> np.ndarray:
    """Square gray crop of ``size``x``size`` (uint8) centred on ``box``, padded by edge replication."""
    gray = bgr_or_gray if bgr_or_gray.ndim == 2 else cv2.cvtColor(bgr_or_gray, cv2.COLOR_BGR2GRAY)
    x, y, w, h = box
    side = max(w, h) * scale
    cx, cy = x + w / 2.0, y + h / 2.0
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
