"""``moodtune live``: moods from a local webcam, in a window (or as text lines)."""

from __future__ import annotations

import glob
import os
import sys
import time

from moodtune.errors import MoodtuneError

NO_CAMERA_HINT = "use `moodtune serve` and the browser page, or `moodtune live --source VIDEO` for a video file"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "live",
        help="moods from your webcam, live, in a window",
        description="Read the webcam, find the faces, track them and show each one's smoothed expression. "
        "Opens a window where OpenCV has window support; otherwise (e.g. opencv-python-headless, or no "
        "display) prints one line whenever a face's mood changes. Press q or Esc in the window, or Ctrl+C, to stop. "
        "Nothing is recorded.",
    )
    p.add_argument("--camera", type=int, default=0, metavar="INDEX", help="camera number (default 0: the first camera)")
    p.add_argument("--source", metavar="VIDEO", help="read this video file instead of a camera")
    p.add_argument("--no-window", action="store_true", help="print moods as text instead of opening a window")
    p.add_argument("--half-life", type=float, default=0.5, metavar="SECONDS", help="smoothing half-life (default 0.5)")
    p.add_argument("--detector", help="face detector: blazeface (default) or haar")
    p.add_argument("--model", help="ONNX emotion model (default: the shipped one)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.set_defaults(func=run)


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


def open_source(args):
    """A ``cv2.VideoCapture`` on the camera or file; ``MoodtuneError`` with a clear message when there is none."""
    import cv2

    if args.source:
        from moodtune.video import open_video

        cap, _ = open_video(args.source)
        return cap, args.source
    if sys.platform.startswith("linux") and not glob.glob("/dev/video*"):
        raise MoodtuneError(f"no camera found on this computer (no /dev/video* device): {NO_CAMERA_HINT}")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        cap = cv2.VideoCapture(args.camera)
        ok = cap.isOpened() and cap.read()[0]
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not ok:
        cap.release()
        raise MoodtuneError(f"camera {args.camera} cannot be opened (missing, busy, or no permission): {NO_CAMERA_HINT}")
    return cap, f"camera {args.camera}"


def run(args) -> int:
    if args.half_life < 0 or (args.max_frames is not None and args.max_frames < 1):
        print("moodtune live: error: --half-life must be >= 0 and --max-frames >= 1", file=sys.stderr)
        return 2
    cap, name = open_source(args)
    window = not args.no_window
    if window:
        window, why = has_window_support()
        if not window:
            print(f"moodtune live: {why}; showing moods as text instead (the browser page has the full view: moodtune serve)",
                  file=sys.stderr)
    from moodtune.pipeline import FrameAnalyzer

    analyzer = FrameAnalyzer(args.detector, args.model, half_life=args.half_life, fast=True)
    try:
        return _loop(cap, name, analyzer, window, args.max_frames, from_file=bool(args.source))
    finally:
        cap.release()
        if window:
            import cv2

            cv2.destroyAllWindows()


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
