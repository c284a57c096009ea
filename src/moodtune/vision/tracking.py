"""Stable face ids across video frames: a small IoU tracker.

Each frame's face boxes are matched to the tracks of the frames before by greedy
intersection-over-union (best pairs first). A box that matches no track starts a new one
with a fresh id; a track that finds no box for more than ``max_missed`` processed frames
is dropped, and its id is never reused. For the few faces of a webcam or a home video this
is as good as the Hungarian algorithm and needs nothing beyond numpy.

>>> tracker = IoUTracker()
>>> tracker.update([(10, 10, 50, 50)])
[1]
>>> tracker.update([(200, 40, 50, 50), (14, 12, 50, 50)])  # the first face moved a little
[2, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]


def _int_box(box: Sequence[float]) -> Box:
    x, y, w, h = (int(round(v)) for v in box)
    return x, y, w, h


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes, in [0, 1]."""
    return float(iou_matrix([a], [b])[0, 0])


def iou_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> np.ndarray:
    """IoU of every (x, y, w, h) box in ``a`` with every one in ``b``: shape (len(a), len(b))."""
    pa = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    pb = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0, ax1, ay1 = pa[:, 0:1], pa[:, 1:2], pa[:, 0:1] + pa[:, 2:3], pa[:, 1:2] + pa[:, 3:4]
    bx0, by0, bx1, by1 = pb[:, 0], pb[:, 1], pb[:, 0] + pb[:, 2], pb[:, 1] + pb[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = (pa[:, 2:3] * pa[:, 3:4]) + (pb[:, 2] * pb[:, 3]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass
class Track:
    """One tracked face: its id, last box, how many frames it was seen and missed in a row."""

    id: int
    box: Box
    hits: int = 1
    missed: int = 0


class IoUTracker:
    """Give each face a stable integer id across frames.

    ``iou_threshold``: a box continues a track only when they overlap at least this much
    (0.3 tolerates quick head movement at 30 fps; lower it for sparsely sampled video).
    ``max_missed``: a track survives this many processed frames without a matching box
    (a blink of the detector, a hand in front of the face) before it is dropped.
    ``max_distance``: boxes and tracks left without an IoU match are then paired by the
    distance of their centres, measured in face sizes (mean side of the two boxes), when it
    is at most this and their sizes differ by less than 2x: a face that moved further than
    its own overlap between two processed frames (a quick turn, or a sparsely sampled
    video) keeps its id. 0 turns this off.
    ``max_tracks``: at most this many live tracks (the smallest-hit ones go first); bounds
    memory on endless streams.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 15, max_tracks: int = 64,
                 max_distance: float = 0.5):
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        self.iou_threshold = float(iou_threshold)
        self.max_distance = float(max_distance)
        self.max_missed = int(max_missed)
        self.max_tracks = int(max_tracks)
        self.tracks: list[Track] = []
        self._next_id = 1
        self.dropped: list[int] = []  # ids dropped by the last update()

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so old ids are never reused)."""
        self.tracks = []
        self.dropped = []

    def update(self, boxes: Sequence[Sequence[float]]) -> list[int]:
        """Match this frame's ``boxes`` (x, y, w, h) to the tracks; returns one id per box, in order."""
        rounded = [_int_box(b) for b in boxes]
        ids: list[int | None] = [None] * len(rounded)
        matched: set[int] = set()
        if rounded and self.tracks:
            m = iou_matrix([t.box for t in self.tracks], rounded)
            # greedy: best overlapping pair first, each track and each box used once
            for flat in np.argsort(-m, axis=None, kind="stable"):
                ti, bi = divmod(int(flat), len(rounded))
                if m[ti, bi] < self.iou_threshold:
                    break
                if ids[bi] is not None or ti in matched:
                    continue
                track = self.tracks[ti]
                track.box, track.hits, track.missed = rounded[bi], track.hits + 1, 0
                ids[bi] = track.id
                matched.add(ti)
        if self.max_distance > 0 and None in ids and len(matched) < len(self.tracks):
            self._match_by_distance(rounded, ids, matched)
        self.dropped = []
        kept = []
        for ti, track in enumerate(self.tracks):
            if ti not in matched:
                track.missed += 1
                if track.missed > self.max_missed:
                    self.dropped.append(track.id)
                    continue
            kept.append(track)
        self.tracks = kept
        for bi, box in enumerate(rounded):
            if ids[bi] is None:
                track = Track(self._next_id, box)
                self._next_id += 1
                self.tracks.append(track)
                ids[bi] = track.id
        if len(self.tracks) > self.max_tracks:
            self.tracks.sort(key=lambda t: (t.missed, -t.hits))
            self.dropped += [t.id for t in self.tracks[self.max_tracks :]]
            self.tracks = self.tracks[: self.max_tracks]
        return [int(i) for i in ids]  # type: ignore[arg-type]

    def _match_by_distance(self, boxes: list[Box], ids: list, matched: set[int]) -> None:
        free_t = [ti for ti in range(len(self.tracks)) if ti not in matched]
        free_b = [bi for bi, i in enumerate(ids) if i is None]
        pairs = []
        for ti in free_t:
            tx, ty, tw, th = self.tracks[ti].box
            for bi in free_b:
                bx, by, bw, bh = boxes[bi]
                side = (tw + th + bw + bh) / 4.0
                ratio = max(tw * th, 1) / max(bw * bh, 1)
                if side <= 0 or not 0.25 < ratio < 4.0:
                    continue
                d = np.hypot((tx + tw / 2) - (bx + bw / 2), (ty + th / 2) - (by + bh / 2)) / side
                if d <= self.max_distance:
                    pairs.append((d, ti, bi))
        for _, ti, bi in sorted(pairs):
            if ti in matched or ids[bi] is not None:
                continue
            track = self.tracks[ti]
            track.box, track.hits, track.missed = boxes[bi], track.hits + 1, 0
            ids[bi] = track.id
            matched.add(ti)

    @property
    def active_ids(self) -> set[int]:
        """Ids of the tracks still alive (seen or briefly missed)."""
        return {t.id for t in self.tracks}
