"""Annotated outputs: paths that keep the folder layout and never overwrite, labels that stay inside
the picture without colliding, and annotated videos that Chromium really plays."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from moodtune.app.draw import annotate, place_labels
from moodtune.app.media_out import OutputPaths, VideoOut, video_encoders

CHROMIUM = os.environ.get("MOODTUNE_CHROMIUM", "/usr/bin/chromium")


def _overlap(a, b) -> int:
    return max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])) * max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))


def test_paths_keep_the_layout_and_never_overwrite(tmp_path):
    src = tmp_path / "photos"
    for sub in ("a", "b/c"):
        (src / sub).mkdir(parents=True)
        (src / sub / "x.jpg").write_bytes(b"")
    out = tmp_path / "out"
    paths = OutputPaths(out)
    assert paths.for_input(src / "a" / "x.jpg", root=src) == out / "a" / "x.annotated.jpg"
    assert paths.for_input(src / "b" / "c" / "x.jpg", root=src) == out / "b" / "c" / "x.annotated.jpg"
    assert paths.for_input(src / "a" / "x.jpg", root=src) == out / "a" / "x-2.annotated.jpg"  # named twice in a run
    (out / "y.annotated.jpg").parent.mkdir(parents=True, exist_ok=True)
    (out / "y.annotated.jpg").write_bytes(b"earlier run")
    again = OutputPaths(out)  # a later run: the file on disk is kept
    assert again.for_input(tmp_path / "y.png", suffix=".jpg") == out / "y-2.annotated.jpg"
    assert (out / "y.annotated.jpg").read_bytes() == b"earlier run"


def test_labels_stay_inside_and_apart():
    W, H = 640, 200
    # a row of touching faces (a group photo) and one at the top-right corner
    boxes = [(10 + 60 * i, 40, 58, 58) for i in range(8)] + [(600, 0, 40, 40)]
    sizes = [(110, 22)] * len(boxes)
    spots = place_labels(boxes, sizes, W, H)
    for r in spots:
        assert 0 <= r[0] and r[0] + r[2] <= W and 0 <= r[1] and r[1] + r[3] <= H
    assert all(_overlap(a, b) == 0 for i, a in enumerate(spots) for b in spots[i + 1:])


def test_annotate_draws_inside_the_picture(hopper_bgr):
    import moodtune

    face = moodtune.analyze(hopper_bgr)[0]
    edge = SimpleNamespace(box=(hopper_bgr.shape[1] - 30, 0, 30, 30), emotion="happy", confidence=0.9, uncertain=True)
    out = annotate(hopper_bgr, [face, edge])
    assert out.shape == hopper_bgr.shape and not np.array_equal(out, hopper_bgr)
    # the corner face's label was moved inside: the happy colour fills a patch at the right edge
    right = out[:, -5:]
    assert (np.abs(right.astype(int) - (0, 200, 255)).sum(axis=2) < 30).sum() > 50


@pytest.mark.slow
def test_annotated_video_plays_in_chromium(tmp_path, hopper_bgr):
    assert video_encoders(), "this OpenCV build encodes neither VP9, VP8 nor H.264"
    frame = cv2.resize(hopper_bgr, (321, 375))  # odd sizes are padded
    paths = OutputPaths(tmp_path)
    with VideoOut(paths, paths.base_for(tmp_path / "clip.mp4"), fps=10) as video:
        for i in range(20):
            video.write(np.roll(frame, i * 3, axis=1))
    path = video.path
    assert path.name in ("clip.annotated.webm", "clip.annotated.mp4") and video.codec != "mp4v" and path.stat().st_size > 1000
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n >= 18
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    kind = "video/webm" if path.suffix == ".webm" else "video/mp4"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--mute-audio",
                                                                                       "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page()
        page.route("http://moodtune.test/", lambda r: r.fulfill(body='<video id="v" src="/v" muted autoplay></video>', content_type="text/html"))
        page.route("http://moodtune.test/v", lambda r: r.fulfill(body=path.read_bytes(), content_type=kind))
        page.goto("http://moodtune.test/")
        page.wait_for_function("() => { const v = document.getElementById('v'); return v.ended || v.currentTime > 0.5 || v.error; }",
                               timeout=60_000)
        got = page.evaluate("() => { const v = document.getElementById('v'); "
                            "return {w: v.videoWidth, h: v.videoHeight, error: v.error && v.error.code, d: v.duration}; }")
        browser.close()
    assert got["error"] is None and (got["w"], got["h"]) == (322, 376) and got["d"] > 1.5
