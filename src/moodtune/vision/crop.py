"""Face boxes → square grayscale crops framed the way FER2013 frames its faces, optionally
rolled so that the eyes are level."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

#: A detector box is widened by this factor (around its centre) to match FER2013's framing
#: (the whole face, forehead to chin, with a little margin). Chosen for BlazeFace, the default
#: detector, by ``python bench/detectors.py --framing``: on FER2013 PublicTest crops the FER
#: crop is 1.16x BlazeFace's box (median) and the box sits ~8% of the crop low, so the mean IoU
#: with FER's own crop peaks at 1.15-1.2 (0.706 / 0.705; 0.696 at 1.25); 1.2 keeps the whole
#: forehead. Haar boxes already match FER's crop (best at 1.0, IoU 0.786; 0.660 at 1.2).
FRAME_SCALE = 1.2

Eyes = Sequence[Sequence[float]]


def eye_roll(eyes: Eyes) -> float:
    """The face's roll in degrees from its two eye centres ((x, y) of the eye on the image's
    left, then the other; BlazeFace's keypoints 0 and 1): positive when the line from the first
    to the second eye goes down (clockwise in image coordinates)."""
    (ax, ay), (bx, by) = eyes
    return math.degrees(math.atan2(by - ay, bx - ax))


def crop_matrix(box: Sequence[float], size: int, scale: float = FRAME_SCALE, dy: float = 0.0,
                roll: float = 0.0) -> np.ndarray:
    """The 2x3 affine map from image pixels to a ``size`` x ``size`` crop of ``box`` (x, y, w, h).

    The crop's side is ``scale`` times the box's longer side; its centre is the box centre moved
    down by ``dy`` box heights (negative: up); the crop is turned by ``-roll`` degrees about that
    centre, so that a face rolled by ``roll`` (``eye_roll``) comes out upright. The same geometry
    serves run time (``face_crop``) and training (aligned crops from the same keypoints).
    """
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * scale
    cx, cy = x + w / 2.0, y + h / 2.0 + dy * h
    s = size / side
    t = math.radians(roll)
    c, sn = math.cos(t) * s, math.sin(t) * s
    # rotate by -roll about (cx, cy), scale by s, and put (cx, cy) at the crop's centre
    return np.array([[c, sn, size / 2.0 - c * cx - sn * cy], [-sn, c, size / 2.0 + sn * cx - c * cy]], dtype=np.float64)


def face_crop(bgr_or_gray: np.ndarray, box: Sequence[float], size: int, scale: float = FRAME_SCALE,
              dy: float = 0.0, eyes: Eyes | None = None) -> np.ndarray:
    """Square gray crop of ``size``x``size`` (uint8) around ``box``, padded by edge replication.

    The crop's side is ``scale`` times the box's longer side; its centre is the box centre moved
    down by ``dy`` box heights (negative: up). Detectors carry their own ``frame_scale`` and
    ``frame_dy`` (see ``moodtune.vision.detect.framing``). ``eyes`` (two (x, y) points, see
    ``eye_roll``): the crop is rolled so that they are level.
    """
    gray = bgr_or_gray if bgr_or_gray.ndim == 2 else cv2.cvtColor(bgr_or_gray, cv2.COLOR_BGR2GRAY)
    m = crop_matrix(box, size, scale, dy, eye_roll(eyes) if eyes is not None else 0.0)
    interp = cv2.INTER_AREA if size < max(box[2], box[3]) * scale else cv2.INTER_LINEAR
    return cv2.warpAffine(gray, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def whole_image_crop(bgr_or_gray: np.ndarray, size: int) -> np.ndarray:
    """The whole image as one face crop (for inputs that already are face crops)."""
    gray = bgr_or_gray if bgr_or_gray.ndim == 2 else cv2.cvtColor(bgr_or_gray, cv2.COLOR_BGR2GRAY)
    if gray.shape == (size, size):
        return gray
    interp = cv2.INTER_AREA if min(gray.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp)
