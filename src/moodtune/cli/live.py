"""``moodtune live``: moods from a local webcam, in a window (or as text lines)."""

from __future__ import annotations

import glob
import os
import sys
import time
from typing import Annotated

import typer

from moodtune.cli.common import DetectorOpt, ModelOpt, value
from moodtune.errors import MoodtuneError

NO_CAMERA_HINT = "use `moodtune serve` and the browser page, or `moodtune live --source VIDEO` for a video file"


def register(app: typer.Typer) -> None:
    app.command("live")(live)


def live(
    camera: Annotated[int, typer.Option(min=0, metavar="INDEX", help="camera number (0: the first camera)")] = 0,
    source: Annotated[str | None, typer.Option(metavar="VIDEO", show_default=False,
                                               help="read this video file instead of a camera")] = None,
    no_window: Annotated[bool, typer.Option("--no-window", help="print moods as text instead of opening a window")] = False,
    half_life: Annotated[float, typer.Option(min=0, metavar="SECONDS", help="smoothing half-life")] = 0.5,
    detector: DetectorOpt = None,
    model: ModelOpt = None,
    max_frames: Annotated[int | None, typer.Option(min=1, metavar="N", show_default=False, help="stop after N frames")] = None,
) -> int:
    """Moods from your webcam, live, in a window (or as text lines).

    Finds the faces, tracks them and shows each one's smoothed expression. Opens a window where
    OpenCV has window support; otherwise prints one line whenever a face's mood changes. Press q or
    Esc in the window, or Ctrl+C, to stop. Nothing is recorded.
    """
    cap, name = open_source(camera, source)
    window = not no_window
    if window:
        window, why = has_window_support()
        if not window:
            print(f"moodtune live: {why}; showing moods as text instead (the browser page has the full view: moodtune serve)",
                  file=sys.stderr)
    from moodtune.pipeline import FrameAnalyzer

    analyzer = FrameAnalyzer(value(detector), model, half_life=half_life, fast=True)
    try:
        return _loop(cap, name, analyzer, window, max_frames, from_file=bool(source))
    finally:
        cap.release()
        if window:
            import cv2

            cv2.destroyAllWindows()


def has_window_support() -> tuple[bool, str]:
    """Whether ``cv2.imshow`` can open a window here, and why not."""
    import cv2

    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if gui.upper() in ("", "NONE"):
        return False, "this OpenCV has no window support (opencv-python-headless); pip install opencv-python for a window"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display (DISPLAY is not set)"
    return True, ""


def open_source(camera: int, source: str | None):
    """A ``cv2.VideoCapture`` on the camera or file; ``MoodtuneError`` with a clear message when there is none."""
    import cv2

    if source:
        from moodtune.video import open_video

        cap, _ = open_video(source)
        return cap, source
    if sys.platform.startswith("linux") and not glob.glob("/dev/video*"):
        raise MoodtuneError(f"no camera found on this computer (no /dev/video* device): {NO_CAMERA_HINT}")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        cap = cv2.VideoCapture(camera)
        ok = cap.isOpened() and cap.read()[0]
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not ok:
        cap.release()
        raise MoodtuneError(f"camera {camera} cannot be opened (missing, busy, or no permission): {NO_CAMERA_HINT}")
    return cap, f"camera {camera}"


def _loop(cap, name: str, analyzer, window: bool, max_frames: int | None, from_file: bool) -> int:
    import cv2

    from moodtune.app.draw import annotate

    title = f"moodtune live - {name} (q to quit)"
    last: dict[int, str] = {}
    frames, t0 = 0, time.monotonic()
    fps = 0.0
    print(f"moodtune live: reading {name}", file=sys.stderr, flush=True)
    try:
        while max_frames is None or frames < max_frames:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                if from_file:
                    break
                raise MoodtuneError(f"{name} stopped delivering frames")
            now = time.monotonic()
            fps_at = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if from_file else now
            faces = analyzer.process(bgr, at=fps_at)
            frames += 1
            fps = frames / max(now - t0, 1e-6)
            if window:
                view = annotate(bgr, [f.face for f in faces])
                cv2.putText(view, f"{fps:.0f} fps", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
                cv2.imshow(title, view)
                key = cv2.waitKey(1) & 0xFF
                if key in (ord("q"), 27) or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                    break
            for f in faces:
                if last.get(f.track) != f.face.emotion:
                    last[f.track] = f.face.emotion
                    print(f"{now - t0:7.1f}s  face {f.track}: {f.face.emotion} {f.face.confidence:.0%}  "
                          f"valence {f.face.valence:+.2f}  arousal {f.face.arousal:+.2f}", flush=True)
            for gone in analyzer.tracker.dropped:
                if last.pop(gone, None) is not None:
                    print(f"{now - t0:7.1f}s  face {gone}: gone", flush=True)
    except KeyboardInterrupt:
        pass
    print(f"moodtune live: {frames} frames, {fps:.1f} fps", file=sys.stderr)
    return 0
