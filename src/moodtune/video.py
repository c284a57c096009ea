"""Faces over time: video files, webcams and frame streams, with tracking and smoothing.

``FrameAnalyzer`` is the live pipeline: for each frame it finds and classifies the faces
(like ``moodtune.analyze_frame``), gives each face a stable track id
(``moodtune.vision.tracking.IoUTracker``) and smooths its probabilities over time
(``moodtune.emotion.smoothing.EmaSmoother``). The web server keeps one per WebSocket
connection; ``moodtune live`` one per camera; ``iter_video`` one per file.

>>> for frame in iter_video("party.mp4", every=5):          # doctest: +SKIP
...     print(frame.index, frame.time, [(f.track, f.face.emotion) for f in frame.faces])
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from moodtune.api import FaceResult, classify_detections
from moodtune.emotion.classifier import get_classifier
from moodtune.emotion.labels import CLASSES
from moodtune.emotion.smoothing import EmaSmoother, group_affect
from moodtune.errors import MoodtuneError
from moodtune.vision.detect import get_detector
from moodtune.vision.tracking import IoUTracker, iou_matrix

#: File name endings treated as video by ``moodtune analyze``.
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

#: Default smoothing half-life in seconds: the label follows a real change of expression
#: within about a second, but not a single odd frame.
DEFAULT_HALF_LIFE_S = 0.5


@dataclass
class TrackedFace:
    """A face in a stream: its ``track`` id, the smoothed result ``face`` and this frame's ``raw`` one.

    ``face`` has this frame's box and the smoothed probabilities (and so the smoothed
    emotion, confidence, valence and arousal).
    """

    track: int
    face: FaceResult
    raw: FaceResult

    def to_dict(self) -> dict:
        """The CLI/HTTP face shape plus ``track`` (and the unsmoothed top class as ``raw_emotion``)."""
        d = face_json(self.face)
        d["track"] = self.track
        d["raw_emotion"] = self.raw.emotion
        return d


def face_json(face: FaceResult) -> dict:
    """The JSON shape of one face in ``moodtune analyze --json`` and ``/api/analyze``."""
    d = face.to_dict()
    return {k: d[k] for k in ("box", "emotion", "confidence", "probabilities", "valence", "arousal")}


class FrameAnalyzer:
    """Analyse a stream of BGR frames into tracked, smoothed faces.

    ``detector``: a detector name (default BlazeFace). With ``fast=True`` and BlazeFace the
    expensive search of the whole frame for small faces runs only every ``full_search_every``
    frames; in between, faces it found are followed in zoomed regions around their last box
    (see ``detect``), so a frame costs about the same with or without faces (live video).
    ``model``: ONNX emotion model path (default: the shipped one).
    ``half_life``/``unit``: smoothing, see ``EmaSmoother`` ("seconds" uses the ``at`` passed
    to ``process``, by default the monotonic clock; "frames" counts ``process`` calls).
    ``iou_threshold``/``max_missed``/``max_distance``: tracking, see ``IoUTracker``.
    """

    def __init__(
        self,
        detector: str | None = None,
        model: str | None = None,
        half_life: float = DEFAULT_HALF_LIFE_S,
        unit: str = "seconds",
        iou_threshold: float = 0.3,
        max_missed: int = 15,
        max_distance: float = 0.5,
        fast: bool = False,
        full_search_every: int = 30,
    ):
        self.classifier = get_classifier(model)
        self.detector = get_detector(detector)
        self._fast = None
        if fast and getattr(self.detector, "name", "") == "blazeface":
            self._fast = _fast_blazeface()
        self.full_search_every = max(1, int(full_search_every))
        self.follow_zoom = 2.5
        self._since_full = self.full_search_every - 1  # the first frame gets a full search
        self.tracker = IoUTracker(iou_threshold=iou_threshold, max_missed=max_missed, max_distance=max_distance)
        self.smoother = EmaSmoother(half_life=half_life, unit=unit)
        self.frames = 0

    def reset(self) -> None:
        """Forget all tracks and averages (e.g. when the camera changes)."""
        self.tracker.reset()
        self.smoother.reset()
        self._since_full = self.full_search_every - 1

    def detect(self, bgr: np.ndarray):
        """(detections, the detector whose framing applies) for one frame.

        Fast mode (BlazeFace): the short-range pass finds faces larger than about a fifth of
        the frame; faces already tracked that it misses (smaller ones: people further away,
        a group) are looked for again in a square of ``follow_zoom`` times their last box, where
        they are large for the model; and every ``full_search_every`` frames the full detector
        searches the whole frame for new small faces.
        """
        if self._fast is None:
            return self.detector.detect(bgr), self.detector
        self._since_full += 1
        if self._since_full >= self.full_search_every:
            self._since_full = 0
            return self.detector.detect(bgr), self.detector
        found = self._fast.detect(bgr)
        return found + self._follow(bgr, found), self._fast

    def _follow(self, bgr: np.ndarray, found: list) -> list:
        """Re-detect recently seen tracks that ``found`` misses, each in a zoomed region around its last box."""
        from moodtune.vision.blazeface import weighted_nms
        from moodtune.vision.detect import Detection

        h, w = bgr.shape[:2]
        extra: list = []
        for track in self.tracker.tracks:
            if track.missed > 2:
                continue
            taken = [d.box for d in found + extra]
            if taken and float(iou_matrix([track.box], taken).max()) >= 0.3:
                continue
            x, y, bw, bh = track.box
            side = self.follow_zoom * max(bw, bh)
            roi = (x + bw / 2 - side / 2, y + bh / 2 - side / 2, side, side)
            boxes, scores = weighted_nms(*self._fast.short(bgr, roi))
            if not len(scores):
                continue
            x0, y0, x1, y1 = boxes[int(np.argmax(scores))].tolist()
            x0, y0, x1, y1 = max(0, round(x0)), max(0, round(y0)), min(w, round(x1)), min(h, round(y1))
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                extra.append(Detection((x0, y0, x1 - x0, y1 - y0), float(scores.max())))
        return extra

    def analyze(self, bgr: np.ndarray) -> list[FaceResult]:
        """This frame's faces, unsmoothed, largest first: the computation of ``moodtune.analyze_frame``
        (same detector boxes, the detector's own FER framing, same model)."""
        detections, det = self.detect(bgr)
        return classify_detections(bgr, detections, det, self.classifier)

    def process(self, bgr: np.ndarray, at: float | None = None) -> list[TrackedFace]:
        """Faces of one frame with track ids and smoothed probabilities, largest first.

        ``at``: time of the frame in seconds (unit "seconds"; default: now) or its frame index
        (unit "frames"; default: the number of frames processed before).
        """
        if at is None:
            at = time.monotonic() if self.smoother.unit == "seconds" else float(self.frames)
        self.frames += 1
        return self.track(self.analyze(bgr), at)

    def track(self, faces: list[FaceResult], at: float) -> list[TrackedFace]:
        """Give already-analysed ``faces`` of one frame their track ids and smoothed probabilities."""
        ids = self.tracker.update([f.box for f in faces])
        self.smoother.forget(self.tracker.dropped)
        out = []
        for tid, raw in zip(ids, faces):
            probs = self.smoother.update(tid, [raw.probabilities[c] for c in CLASSES], at)
            out.append(TrackedFace(tid, FaceResult.from_probabilities(raw.box, probs, raw.detection_score), raw))
        return out


def group(faces: list[TrackedFace]) -> FaceResult | None:
    """The group's mean smoothed affect (``group_affect``), or None without faces."""
    return group_affect([f.face for f in faces]) if faces else None


_FAST = None


def _fast_blazeface():
    """BlazeFace without the small-face passes (bounded time per frame), built once."""
    global _FAST
    if _FAST is None:
        from moodtune.vision.blazeface import BlazeFaceDetector

        _FAST = BlazeFaceDetector(small_faces="never")
    return _FAST


# ----------------------------------------------------------------------------- files


@dataclass
class VideoInfo:
    """What a video file says about itself (``frames`` may be 0 when the container does not say)."""

    path: str
    width: int
    height: int
    fps: float
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps > 0 and self.frames > 0 else 0.0


@dataclass
class VideoFrame:
    """One processed frame: its ``index`` in the file, ``time`` in seconds, tracked ``faces``.

    ``image`` is the decoded BGR frame (kept in memory only, for drawing).
    """

    index: int
    time: float
    faces: list[TrackedFace]
    image: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"frame": self.index, "time": round(self.time, 3), "faces": [f.to_dict() for f in self.faces]}


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path``'s suffix is one of ``VIDEO_SUFFIXES``."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def open_video(path: str | os.PathLike) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video file; raises ``MoodtuneError`` when it is missing or cannot be decoded."""
    p = Path(path)
    if p.is_dir():
        raise MoodtuneError(f"{p}: is a folder, not a video")
    if not p.is_file():
        raise MoodtuneError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise MoodtuneError(f"{p}: file is empty (0 bytes)")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        cap.release()
        raise MoodtuneError(f"{p}: not a video moodtune can read (MP4, AVI, MOV, MKV, WebM with common codecs)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 0.0
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    info = VideoInfo(str(p), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), fps, max(frames, 0))
    return cap, info


def iter_video(
    path: str | os.PathLike,
    every: int = 1,
    detector: str | None = None,
    model: str | None = None,
    half_life: float = DEFAULT_HALF_LIFE_S,
    progress: bool | None = None,
    keep_images: bool = False,
    max_frames: int | None = None,
) -> Iterator[VideoFrame]:
    """Yield every ``every``-th frame of a video file with its tracked, smoothed faces.

    Frames in between are skipped without being decoded. Smoothing runs on the frames'
    time stamps (``half_life`` seconds), so it means the same whatever ``every`` is.
    ``progress``: a tqdm bar on stderr (None: only when stderr is a terminal).
    ``keep_images``: attach each processed frame's image (for drawing).
    ``max_frames``: stop after this many processed frames.
    Raises ``MoodtuneError`` for a file that is not a readable video.
    """
    every = int(every)
    if every < 1:
        raise MoodtuneError(f"--every must be 1 or more, got {every}")
    cap, info = open_video(path)
    fps = info.fps or 30.0
    # a face must be lost for about a second of video before its track ends
    max_missed = max(2, round(fps / every))
    # sparse sampling: faces move further between processed frames
    analyzer = FrameAnalyzer(detector, model, half_life=half_life, unit="seconds", max_missed=max_missed,
                             iou_threshold=0.3 if every <= 2 else 0.15, max_distance=0.5 if every <= 2 else 1.5)
    total = math.ceil(info.frames / every) if info.frames else None
    if max_frames is not None and total is not None:
        total = min(total, max_frames)
    bar = None
    try:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc=Path(path).name, disable=(None if progress is None else not progress),
                   leave=False, dynamic_ncols=True)
    except ImportError:  # pragma: no cover - tqdm is a dependency
        pass
    done = 0
    index = 0
    try:
        while max_frames is None or done < max_frames:
            if index % every:
                if not cap.grab():
                    break
                index += 1
                continue
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            t = index / info.fps if info.fps else float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
            faces = analyzer.process(bgr, at=t)
            yield VideoFrame(index, t, faces, bgr if keep_images else None)
            done += 1
            index += 1
            if bar is not None:
                bar.update(1)
    finally:
        cap.release()
        if bar is not None:
            bar.close()
    if done == 0:
        raise MoodtuneError(f"{path}: no frame could be decoded")


class TrackSummary:
    """Running summary of a video per track: frames seen, first/last time, the most frequent
    smoothed emotion, mean valence/arousal. Feed it frames with ``add``; read ``rows()``."""

    def __init__(self):
        self._tracks: dict[int, dict] = {}

    def add(self, frame: VideoFrame) -> None:
        for f in frame.faces:
            s = self._tracks.setdefault(f.track, {"track": f.track, "frames": 0, "first": frame.time, "last": frame.time,
                                                  "counts": {}, "valence": 0.0, "arousal": 0.0})
            s["frames"] += 1
            s["last"] = frame.time
            s["counts"][f.face.emotion] = s["counts"].get(f.face.emotion, 0) + 1
            s["valence"] += f.face.valence
            s["arousal"] += f.face.arousal

    def rows(self) -> list[dict]:
        """One dict per track, most seen first."""
        out = []
        for s in self._tracks.values():
            n, counts = s["frames"], s["counts"]
            out.append({"track": s["track"], "frames": n, "first": s["first"], "last": s["last"],
                        "emotion": max(counts, key=counts.get), "valence": s["valence"] / n, "arousal": s["arousal"] / n})
        return sorted(out, key=lambda r: -r["frames"])
