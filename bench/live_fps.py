"""Frames per second of the live pipeline on a 640x480 stream with one face.

The stream is Grace Hopper's portrait (matplotlib's sample photo) drifting across a 640x480
frame, JPEG-encoded as the browser page sends it. Each row times one stage of what the
server's WebSocket does per frame, on one thread:

* analysis + tracking + smoothing (``moodtune.video.FrameAnalyzer.process``, fast mode);
* the same plus JPEG decoding and the JSON reply: the whole live pipeline per frame;
* for comparison: a frame without a face, and the plain ``moodtune.analyze_frame``.

    python bench/live_fps.py [--frames 300]

Prints a markdown table. The goal of issue 5 is >= 60 fps for the live pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import cv2
import numpy as np


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


def timed(fn, items, warmup: int = 10) -> np.ndarray:
    for it in items[:warmup]:
        fn(it)
    out = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t0)
    return np.array(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames per row (default 300)")
    args = ap.parse_args(argv)

    import moodtune
    from moodtune.web.routers.live import decode_frame
    from moodtune.video import FrameAnalyzer, face_json, group

    frames = hopper_stream(args.frames)
    jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes() for f in frames]
    blank = [np.full((480, 640, 3), 100, np.uint8)] * args.frames

    analyzer = FrameAnalyzer(fast=True)
    faces_seen = []

    def analysis(bgr):
        faces_seen.append(len(analyzer.process(bgr)))

    live = FrameAnalyzer(fast=True)

    def pipeline(data):
        bgr = decode_frame(data)
        faces = live.process(bgr)
        g = group(faces)
        json.dumps({"faces": [f.to_dict() for f in faces], "group": face_json(g) if g and len(faces) > 1 else None})

    empty = FrameAnalyzer(fast=True)
    rows = [
        ("analysis + tracking + smoothing (1 face)", timed(analysis, frames)),
        ("**live pipeline: JPEG decode + analysis + tracking + smoothing + JSON (1 face)**", timed(pipeline, jpegs)),
        ("live pipeline, frame without a face", timed(lambda b: empty.process(b), blank)),
        ("moodtune.analyze_frame (no tracking, full detector)", timed(lambda b: moodtune.analyze_frame(b), frames)),
    ]
    assert min(faces_seen) == 1 == max(faces_seen), f"expected one face in every frame, got {set(faces_seen)}"
    print(f"Live pipeline on a 640x480 stream, {args.frames} frames per row, one thread per stream "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, MOODTUNE_THREADS={os.environ.get('MOODTUNE_THREADS', '1')})\n")
    print("| stage | fps | ms/frame p50 | ms/frame p95 |")
    print("|---|---:|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {len(t) / t.sum():.1f} | {np.percentile(t, 50) * 1e3:.1f} | {np.percentile(t, 95) * 1e3:.1f} |")


if __name__ == "__main__":
    main()
