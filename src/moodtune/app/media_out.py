"""Where ``analyze --annotate`` writes, and how it writes videos that browsers play.

``OutputPaths(out_dir)`` names each annotated copy after its input, keeping the input's folder
layout below the folder that was given (``photos/a/x.jpg`` → ``OUT/a/x.annotated.jpg``), and
never overwrites: a name already written in this run or already on disk becomes ``x-2.annotated.jpg``,
``x-3.annotated.jpg``...

``VideoOut`` writes annotated frames as WebM (VP9, else VP8), which Chromium, Firefox and Safari
play, through the OpenCV build's FFmpeg; H.264 MP4 (``avc1``) is the fallback where a build has
an H.264 encoder but no VP8/VP9. ``mp4v`` (MPEG-4 Part 2), which browsers do not play, is never used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from moodtune.errors import MoodtuneError

#: (fourcc, suffix) tried in order: what browsers play.
VIDEO_CODECS = (("VP90", ".webm"), ("VP80", ".webm"), ("avc1", ".mp4"))


class OutputPaths:
    """Annotated output paths under ``out_dir``, unique within a run and never over an existing file."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self._claimed: set[Path] = set()

    def base_for(self, source: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
        """``out_dir / <source's folder below root> / <source stem>`` (``root``: the folder the user
        named; None for a file named directly)."""
        source = Path(source)
        rel = Path()
        if root is not None:
            try:
                rel = source.parent.resolve().relative_to(Path(root).resolve())
            except ValueError:
                rel = Path()
        return self.out_dir / rel / source.stem

    def for_input(self, source: str | os.PathLike, root: str | os.PathLike | None = None, suffix: str | None = None) -> Path:
        """The path for ``source``'s annotated copy: ``base_for(source, root)`` + ``.annotated`` +
        ``suffix`` (the source's when None), numbered when the name is taken."""
        ext = suffix if suffix is not None else Path(source).suffix.lower()
        return self.claim(self.base_for(source, root), ".annotated" + ext)

    def claim(self, base: Path, ext: str) -> Path:
        """``base + ext``, or ``base-2 + ext``, ``base-3 + ext``...: the first name not written or claimed yet."""
        n = 1
        while True:
            p = base.with_name(base.name + (f"-{n}" if n > 1 else "") + ext)
            if p not in self._claimed and not p.exists():
                self._claimed.add(p)
                return p
            n += 1


def video_encoders() -> list[tuple[str, str]]:
    """The (fourcc, suffix) pairs of ``VIDEO_CODECS`` this OpenCV build can write."""
    import tempfile

    import cv2

    ok = []
    with tempfile.TemporaryDirectory(prefix="moodtune-codec-") as tmp:
        for fourcc, ext in VIDEO_CODECS:
            w = cv2.VideoWriter(str(Path(tmp) / f"probe{ext}"), cv2.VideoWriter.fourcc(*fourcc), 10, (64, 48))
            if w.isOpened():
                ok.append((fourcc, ext))
            w.release()
    return ok


class VideoOut:
    """Annotated frames to a video browsers play. ``path`` is known once the first frame is written.

    The file is ``paths.claim(base, ".annotated" + suffix)`` (``base``: e.g. ``paths.base_for(source,
    root)``), its suffix the codec's. Frames may have any
    size; they are padded to even dimensions (what the encoders need)."""

    def __init__(self, paths: OutputPaths, base: Path, fps: float):
        self.paths, self.base, self.fps = paths, Path(base), max(1.0, float(fps))
        self.path: Path | None = None
        self.codec: str | None = None
        self._writer: Any = None  # a cv2.VideoWriter once the first frame came
        self._size: tuple[int, int] | None = None

    def write(self, bgr: np.ndarray) -> None:
        import cv2

        h, w = bgr.shape[:2]
        if self._writer is None:
            self._open(w + w % 2, h + h % 2)
        assert self._size is not None  # _open set it or raised
        W, H = self._size
        if (w, h) != (W, H):
            bgr = cv2.copyMakeBorder(bgr, 0, max(0, H - h), 0, max(0, W - w), cv2.BORDER_CONSTANT)[:H, :W]
        self._writer.write(np.ascontiguousarray(bgr))

    def _open(self, w: int, h: int) -> None:
        import cv2

        try:
            self.base.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MoodtuneError(f"cannot create {self.base.parent}: {exc.strerror or exc}") from None
        for fourcc, ext in VIDEO_CODECS:
            target = self.paths.claim(self.base, ".annotated" + ext)
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*fourcc), self.fps, (w, h))
            if writer.isOpened():
                self._writer, self.path, self.codec, self._size = writer, target, fourcc, (w, h)
                return
            writer.release()
            target.unlink(missing_ok=True)
            self.paths._claimed.discard(target)  # noqa: SLF001 - give the unused name back
        raise MoodtuneError("this OpenCV build cannot encode VP9, VP8 or H.264 video: "
                            "install opencv-python-headless from PyPI (its FFmpeg has VP8/VP9)")

    def close(self) -> Path | None:
        """Finish the file; returns its path (None when no frame was written)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
