"""``moodtune analyze PATH...``: faces, emotions and valence/arousal for images, folders and videos."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from moodtune.errors import MoodtuneError
from moodtune.vision.decode import IMAGE_SUFFIXES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "analyze",
        help="find faces in images and classify their expressions",
        description="Find the faces in each image (folders are searched recursively), classify each face's "
        "expression into angry, disgust, fear, happy, sad, surprise, neutral, and place it on the "
        "valence/arousal plane. Video files (.mp4 .avi .mov .mkv .webm) are analysed frame by frame: each "
        "face keeps a track id across frames and its probabilities are smoothed over time. "
        "Exit code 0 when every input was processed, 1 when some failed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image file, folder of images, or video file")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per input file per line; for a video, one per processed frame "
                   '({"path", "frame", "time", "faces": [... each with "track"]})')
    p.add_argument("--annotate", metavar="OUT_DIR",
                   help="write a copy of each image (for a video: of its processed frames, as OUT_DIR/NAME.annotated.mp4) "
                   "with boxes and labels drawn")
    p.add_argument("--every", type=int, default=1, metavar="N", help="videos: analyse every N-th frame (default 1: all)")
    p.add_argument("--half-life", type=float, default=None, metavar="SECONDS",
                   help="videos: smoothing half-life in seconds of video (default 0.5; 0 turns smoothing off)")
    p.add_argument("--detector", help="face detector: blazeface (default) or haar")
    p.add_argument("--face-crop", action="store_true", help="each image already is one face crop (like FER2013): skip detection")
    p.add_argument("--model", help="ONNX emotion model (default: the shipped one)")
    p.set_defaults(func=run)


def iter_inputs(paths: list[str]):
    """Yield (path, error) for every image under ``paths``; folders are walked recursively (links not followed)."""
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
            exists = is_dir or path.exists() or path.is_symlink()
        except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte in it
            yield path, f"{path}: cannot open ({getattr(exc, 'strerror', None) or exc})"
            continue
        if is_dir:
            found = False
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        found = True
                        yield Path(root) / name, None
            if not found:
                yield path, f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        elif exists:
            yield path, None
        else:
            yield path, f"{path}: no such file or folder"


def run(args) -> int:
    import moodtune
    from moodtune.video import is_video
    from moodtune.vision.decode import load_image
    from moodtune.vision.detect import get_detector

    if args.detector:
        try:
            get_detector(args.detector)  # an unknown name is a usage error, found before any work
        except MoodtuneError as exc:
            print(f"moodtune analyze: error: {exc}", file=sys.stderr)
            return 2
    if args.every < 1:
        print("moodtune analyze: error: --every must be 1 or more", file=sys.stderr)
        return 2
    if args.half_life is not None and not (args.half_life >= 0 and args.half_life < float("inf")):
        print("moodtune analyze: error: --half-life must be a number of seconds >= 0", file=sys.stderr)
        return 2
    failures = 0
    for path, error in iter_inputs(args.paths):
        if error is None and is_video(path):
            failures += 0 if _run_video(path, args) else 1
            continue
        faces = []
        if error is None:
            try:
                image = load_image(path)
                faces = moodtune.analyze_frame(image, detector=args.detector, face_crop_input=args.face_crop, model=args.model)
                if args.annotate:
                    from moodtune.app.draw import write_annotated

                    write_annotated(image, faces, Path(args.annotate), path)
            except MoodtuneError as exc:
                error = str(exc)
        if error:
            failures += 1
        shown = _display(path)
        if args.json:
            obj = {"path": shown, "error": error} if error else {"path": shown, "faces": [_face_json(f) for f in faces]}
            print(json.dumps(obj), flush=True)
        elif error:
            print(f"{shown}: error: {error}", file=sys.stderr)
        else:
            print(f"{shown}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for i, f in enumerate(faces, 1):
                x, y, w, h = f.box
                print(f"  face {i} at ({x},{y}) {w}x{h}: {f.emotion} {f.confidence:.0%}  valence {f.valence:+.2f}  arousal {f.arousal:+.2f}")
    return 1 if failures else 0


def _face_json(face) -> dict:
    from moodtune.contract import to_json

    return to_json(face)


def _run_video(path: Path, args) -> bool:
    """Analyse one video file; prints per-frame JSON lines or a per-track summary. True when it worked."""
    from moodtune.contract import to_json
    from moodtune.pipeline import default_analyzer
    from moodtune.video import DEFAULT_HALF_LIFE_S, TrackSummary

    shown = _display(path)
    if args.face_crop:
        print(f"{shown}: error: --face-crop is for images that are face crops, not for videos", file=sys.stderr)
        return False
    summary = TrackSummary()
    writer = None
    processed = 0
    try:
        frames = default_analyzer(detector=args.detector, model=args.model).iter_video(
                            path, every=args.every, half_life=DEFAULT_HALF_LIFE_S if args.half_life is None else args.half_life,
                            keep_images=bool(args.annotate))
        for frame in frames:
            processed += 1
            summary.add(frame)
            if args.json:
                print(json.dumps({"path": shown, **to_json(frame)}), flush=True)
            if args.annotate:
                writer = _write_video_frame(writer, frame, Path(args.annotate), path, args.every)
    except MoodtuneError as exc:
        if args.json:
            print(json.dumps({"path": shown, "error": str(exc)}), flush=True)
        else:
            print(f"{shown}: error: {exc}", file=sys.stderr)
        return False
    finally:
        if writer is not None:
            writer.release()
    if not args.json:
        rows = summary.rows()
        print(f"{shown}: {processed} frame{'s' if processed != 1 else ''} analysed, "
              f"{len(rows)} face track{'s' if len(rows) != 1 else ''}")
        for r in rows:
            print(f"  track {r['track']}: {r['frames']} frame{'s' if r['frames'] != 1 else ''}, {r['first']:.1f}s to {r['last']:.1f}s, mostly {r['emotion']}"
                  f"  valence {r['valence']:+.2f}  arousal {r['arousal']:+.2f}")
    return True


def _write_video_frame(writer, frame, out_dir: Path, source: Path, every: int):
    """Append one annotated frame to ``out_dir/<stem>.annotated.mp4`` (opened on the first frame)."""
    import cv2

    from moodtune.app.draw import annotate

    image = annotate(frame.image, [f.face for f in frame.faces])
    if writer is None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MoodtuneError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
        cap = cv2.VideoCapture(str(source))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
        cap.release()
        target = out_dir / f"{source.stem}.annotated.mp4"
        h, w = image.shape[:2]
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), max(1.0, fps / every), (w, h))
        if not writer.isOpened():
            raise MoodtuneError(f"cannot write {target}")
    writer.write(image)
    return writer


def _display(path: Path) -> str:
    """The path as text; undecodable bytes in file names are escaped instead of crashing the output."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")
