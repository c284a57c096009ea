"""Frames per second of the live pipeline on a 640x480 stream with one face.

The stream is Grace Hopper's portrait (matplotlib's sample photo) drifting across a 640x480
frame, JPEG-encoded as the browser page sends it. Each row times one stage of what the
server's WebSocket does per frame, on one thread:

* analysis + tracking + smoothing (``moodtune.FrameAnalyzer.process``, fast mode);
* the same plus JPEG decoding and the JSON reply (``FrameAnalyzer.live_frame`` through
  ``moodtune.contract.to_json``): the whole live pipeline per frame;
* fast-mode streams with one face of 64, 96, 128 and 200 px moving over a textured background
  (``bench/detectors.py``'s sweep background), including their full-search frames: the max
  column is the slowest frame of the stream;
* for comparison: a frame without a face, and the plain ``moodtune.analyze_frame``.

Times are this thread's CPU time (``time.thread_time``: other processes on a busy machine do
not inflate it) and, for the max, wall-clock as well.

    python bench/live_fps.py [--frames 300]

Prints a markdown table. The goal of issue 5 is >= 60 fps for the live pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # detectors.py's sweep frames


def hopper_stream(n: int, size=(640, 480)) -> list[np.ndarray]:
    import matplotlib.cbook

    img = cv2.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    w, h = size
    s = 0.8 * min(w / img.shape[1], h / img.shape[0])
    face = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), 100, np.uint8)
        x = 20 + (i * 3) % (w - face.shape[1] - 40)
        y = (h - face.shape[0]) // 2
        f[y : y + face.shape[0], x : x + face.shape[1]] = face
        frames.append(f)
    return frames


def sized_stream(n: int, width: int) -> list[np.ndarray]:
    """Hopper's face ``width`` px wide drifting over the sweep's textured 640x480 background."""
    import matplotlib.cbook
    from detectors import HOPPER_FACE, _background, paste_face

    from moodtune.vision.decode import load_image

    photo = load_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    bg = _background()
    return [paste_face(bg, photo, HOPPER_FACE, width, (0.3 + 0.4 * (i % 100) / 100, 0.5))[0] for i in range(n)]


def timed(fn, items, warmup: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(CPU seconds, wall seconds) per item."""
    for it in items[:warmup]:
        fn(it)
    cpu, wall = [], []
    for it in items:
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(it)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return np.array(cpu), np.array(wall)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames per row (default 300)")
    args = ap.parse_args(argv)

    import moodtune
    from moodtune.contract import to_json
    from moodtune.pipeline import FrameAnalyzer
    from moodtune.web.routers.live import decode_frame

    frames = hopper_stream(args.frames)
    jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes() for f in frames]
    blank = [np.full((480, 640, 3), 100, np.uint8)] * args.frames

    analyzer = FrameAnalyzer(fast=True)
    faces_seen = []

    def analysis(bgr):
        faces_seen.append(len(analyzer.process(bgr)))

    live = FrameAnalyzer(fast=True)

    def pipeline(data):
        json.dumps(to_json(live.live_frame(decode_frame(data), 0)))

    empty = FrameAnalyzer(fast=True)
    rows = [
        ("analysis + tracking + smoothing (1 face)", timed(analysis, frames)),
        ("**live pipeline: JPEG decode + analysis + tracking + smoothing + JSON (1 face)**", timed(pipeline, jpegs)),
        ("live pipeline, frame without a face", timed(lambda b: empty.process(b), blank)),
        *[(f"fast-mode stream, {w} px face on a textured background", timed(FrameAnalyzer(fast=True).process, sized_stream(args.frames, w)))
          for w in (64, 96, 128, 200)],
        ("moodtune.analyze_frame (no tracking, full detector)", timed(lambda b: moodtune.analyze_frame(b), frames)),
    ]
    assert min(faces_seen) == 1 == max(faces_seen), f"expected one face in every frame, got {set(faces_seen)}"
    print(f"Live pipeline on a 640x480 stream, {args.frames} frames per row, one thread per stream "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, MOODTUNE_THREADS={os.environ.get('MOODTUNE_THREADS', '1')})\n")
    print(f"load average {os.getloadavg()[0]:.2f}; CPU ms of this thread (max: CPU / wall)\n")
    print("| stage | fps (CPU) | ms/frame p50 | ms/frame p95 | ms/frame max (CPU / wall) |")
    print("|---|---:|---:|---:|---:|")
    for name, (t, wall) in rows:
        print(f"| {name} | {len(t) / t.sum():.1f} | {np.percentile(t, 50) * 1e3:.1f} | {np.percentile(t, 95) * 1e3:.1f} "
              f"| {t.max() * 1e3:.1f} / {wall.max() * 1e3:.1f} |")


if __name__ == "__main__":
    main()
