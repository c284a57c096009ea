"""Video files: which names are videos, opening them, and a per-track summary of a run.

The live pipeline itself (tracking, smoothing, fast mode) is ``moodtune.pipeline.FrameAnalyzer``;
``moodtune.Analyzer.iter_video`` walks a file, a camera or any iterable of frames through it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from moodtune.errors import MoodtuneError

#: File name endings treated as video by ``moodtune analyze``.
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

#: Default smoothing half-life in seconds: the label follows a real change of expression
#: within about a second, but not a single odd frame.
DEFAULT_HALF_LIFE_S = 0.5


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


class TrackSummary:
    """Running summary of a video per track: frames seen, first/last time, the most frequent
    smoothed emotion, mean valence/arousal. Feed it ``VideoFrame``s with ``add``; read ``rows()``."""

    def __init__(self) -> None:
        self._tracks: dict[int, dict] = {}

    def add(self, frame: Any) -> None:
        for f in frame.faces:
            s = self._tracks.setdefault(f.track, {"track": f.track, "frames": 0, "first": frame.time, "last": frame.time,
                                                  "counts": {}, "valence": 0.0, "arousal": 0.0})
            s["frames"] += 1
            s["last"] = frame.time
            s["counts"][f.emotion] = s["counts"].get(f.emotion, 0) + 1
            s["valence"] += f.valence
            s["arousal"] += f.arousal

    def rows(self) -> list[dict]:
        """One dict per track, most seen first."""
        out = []
        for s in self._tracks.values():
            n, counts = s["frames"], s["counts"]
            out.append({"track": s["track"], "frames": n, "first": s["first"], "last": s["last"],
                        "emotion": max(counts, key=counts.get), "valence": s["valence"] / n, "arousal": s["arousal"] / n})
        return sorted(out, key=lambda r: -r["frames"])
