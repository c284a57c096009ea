"""Annotated copies of analysed images: boxes, labels and confidence drawn on the picture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodtune.errors import MoodtuneError

#: BGR colour per emotion.
COLOURS = {"angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (160, 60, 160), "happy": (0, 200, 255),
           "sad": (200, 120, 40), "surprise": (0, 140, 255), "neutral": (180, 180, 180)}


def annotate(bgr: np.ndarray, faces) -> np.ndarray:
    """A copy of ``bgr`` with each face's box and "emotion NN%" drawn."""
    out = bgr.copy()
    thick = max(1, round(max(out.shape[:2]) / 400))
    for f in faces:
        x, y, w, h = f.box
        colour = COLOURS.get(f.emotion, (255, 255, 255))
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick + 1)
        label = f"{f.emotion} {f.confidence:.0%}"
        scale = max(0.4, min(2.0, w / 160))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 8 > 0 else y + h + th + 4
        cv2.rectangle(out, (x, ty - th - 4), (x + tw + 4, ty + base), colour, -1)
        cv2.putText(out, label, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out


def write_annotated(bgr: np.ndarray, faces, out_dir: Path, source: Path) -> Path:
    """Write the annotated image as ``out_dir/<source stem>.annotated.jpg``; returns its path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MoodtuneError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    target = out_dir / f"{source.stem}.annotated.jpg"
    ok, buf = cv2.imencode(".jpg", annotate(bgr, faces), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise MoodtuneError(f"could not encode annotated image for {source}")
    tmp = target.with_suffix(".tmp")
    try:
        tmp.write_bytes(buf.tobytes())
        tmp.replace(target)
    except OSError as exc:
        raise MoodtuneError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
