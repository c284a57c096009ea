"""Annotated copies of analysed images: boxes, labels and confidence drawn on the picture.

Labels never leave the image and never overlap each other: ``place_labels`` tries, for each
face, the spots above its box, below it, inside its top and bottom edges, then beside it,
shifted back inside the picture, and keeps the first that is free (else the least covered).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from moodtune.errors import MoodtuneError

#: BGR colour per emotion.
COLOURS = {"angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (160, 60, 160), "happy": (0, 200, 255),
           "sad": (200, 120, 40), "surprise": (0, 140, 255), "neutral": (180, 180, 180)}
FONT = cv2.FONT_HERSHEY_SIMPLEX

Rect = tuple[int, int, int, int]  # x, y, width, height


def _overlap(a: Rect, b: Rect) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _inside(r: Rect, width: int, height: int) -> Rect:
    x, y, w, h = r
    return (int(min(max(0, x), max(0, width - w))), int(min(max(0, y), max(0, height - h))), w, h)


def place_labels(boxes: list[Rect], sizes: list[tuple[int, int]], width: int, height: int) -> list[Rect]:
    """A rectangle (x, y, w, h) for each label of size ``sizes[i]`` (w, h) next to ``boxes[i]``,
    inside the ``width`` x ``height`` image and, wherever the image has room, overlapping no other label."""
    placed: list[Rect] = []
    for (x, y, w, h), (lw, lh) in zip(boxes, sizes, strict=True):
        candidates = [(x, y - lh), (x, y + h), (x, y), (x, y + h - lh), (x + w, y), (x - lw, y),
                      (x + w - lw, y - lh), (x + w - lw, y + h)]
        best: Rect = (x, y, lw, lh)  # the first candidate replaces it
        best_cost: int | None = None
        for cx, cy in candidates:
            r = _inside((cx, cy, lw, lh), width, height)
            cost = sum(_overlap(r, p) for p in placed)
            if best_cost is None or cost < best_cost:
                best, best_cost = r, cost
            if cost == 0:
                break
        if best_cost:  # every candidate collides: slide down (then up) from the best one to a free row
            for dy in range(lh, height, max(1, lh // 2)):
                for sign in (1, -1):
                    r = _inside((best[0], best[1] + sign * dy, lw, lh), width, height)
                    if not any(_overlap(r, p) for p in placed):
                        best, best_cost = r, 0
                        break
                if not best_cost:
                    break
        placed.append(best)
    return placed


def annotate(bgr: np.ndarray, faces) -> np.ndarray:
    """A copy of ``bgr`` with each face's box and "emotion NN%" drawn ("not sure: ..." for an uncertain face)."""
    out = bgr.copy()
    height, width = out.shape[:2]
    thick = max(1, round(max(height, width) / 400))
    labels, sizes, scales = [], [], []
    for f in faces:
        label = f"{'not sure: ' if getattr(f, 'uncertain', False) else ''}{f.emotion} {f.confidence:.0%}"
        scale = max(0.4, min(2.0, f.box[2] / 160))
        (tw, th), base = cv2.getTextSize(label, FONT, scale, thick)
        while tw + 4 > width and scale > 0.3:  # a label wider than the picture: smaller type
            scale *= 0.8
            (tw, th), base = cv2.getTextSize(label, FONT, scale, thick)
        labels.append(label)
        scales.append((scale, th, base))
        sizes.append((tw + 4, th + base + 4))
    for f in faces:
        x, y, w, h = f.box
        cv2.rectangle(out, (x, y), (x + w, y + h), COLOURS.get(f.emotion, (255, 255, 255)), thick + 1)
    spots = place_labels([tuple(f.box) for f in faces], sizes, width, height)
    for f, label, (scale, th, _base), (lx, ly, lw, lh) in zip(faces, labels, scales, spots, strict=True):
        cv2.rectangle(out, (lx, ly), (lx + lw - 1, ly + lh - 1), COLOURS.get(f.emotion, (255, 255, 255)), -1)
        cv2.putText(out, label, (lx + 2, ly + 2 + th), FONT, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out


def write_annotated(bgr: np.ndarray, faces, out_dir: Path, source: Path, target: Path | None = None) -> Path:
    """Write the annotated image to ``target`` (default ``out_dir/<source stem>.annotated.jpg``;
    ``moodtune.app.media_out.OutputPaths.for_input`` gives one that keeps the folder layout); returns it."""
    target = Path(target) if target is not None else Path(out_dir) / f"{source.stem}.annotated.jpg"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MoodtuneError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
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
