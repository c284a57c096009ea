"""``moodtune analyze PATH...``: faces, emotions and valence/arousal for images, folders and videos."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from moodtune.cli.common import DetectorOpt, ModelOpt, value
from moodtune.contract import to_json
from moodtune.errors import MoodtuneError
from moodtune.inputs import display, iter_inputs


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)


def analyze(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="image file, folder of images, or video file",
                                                show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per input file per line; for a video, one per "
                                           'processed frame ({"path", "frame", "time", "faces": [... each with "track"]})')] = False,
    annotate: Annotated[Path | None, typer.Option(metavar="OUT_DIR", show_default=False,
                                                  help="write a copy of each image (for a video: of its processed frames, "
                                                  "as OUT_DIR/NAME.annotated.mp4) with boxes and labels drawn")] = None,
    every: Annotated[int, typer.Option(min=1, metavar="N", help="videos: analyse every N-th frame")] = 1,
    half_life: Annotated[float | None, typer.Option(min=0, max=1e9, metavar="SECONDS", show_default=False,
                                                    help="videos: smoothing half-life in seconds of video (default 0.5; 0: off)")] = None,
    detector: DetectorOpt = None,
    face_crop: Annotated[bool, typer.Option("--face-crop", help="each image already is one face crop (like FER2013): skip detection")] = False,
    model: ModelOpt = None,
) -> int:
    """Find faces in images and classify their expressions.

    Each face's expression (angry, disgust, fear, happy, sad, surprise, neutral) is placed on the
    valence/arousal plane. Folders are searched recursively. Video files (.mp4 .avi .mov .mkv .webm)
    are analysed frame by frame: each face keeps a track id and its probabilities are smoothed over
    time. Exit code 0 when every input was processed, 1 when some failed.
    """
    return analyze_paths(paths, json_out=json_out, annotate=annotate, every=every, half_life=half_life,
                         detector=value(detector), face_crop=face_crop, model=model)


def analyze_paths(paths: list[Path], json_out: bool = False, annotate: Path | None = None, every: int = 1,
                  half_life: float | None = None, detector: str | None = None, face_crop: bool = False,
                  model: str | None = None) -> int:
    """Analyse every input and print one result per file (or per video frame); 0 when all worked, else 1."""
    import moodtune
    from moodtune.video import is_video
    from moodtune.vision.decode import load_image

    failures = 0
    for path, error in iter_inputs(paths):
        if error is None and is_video(path):
            failures += 0 if _run_video(path, json_out, annotate, every, half_life, detector, face_crop, model) else 1
            continue
        faces = []
        if error is None:
            try:
                image = load_image(path)
                faces = moodtune.analyze_frame(image, detector=detector, face_crop_input=face_crop, model=model)
                if annotate:
                    from moodtune.app.draw import write_annotated

                    write_annotated(image, faces, annotate, path)
            except MoodtuneError as exc:
                error = str(exc)
        if error:
            failures += 1
        shown = display(path)
        if json_out:
            obj = {"path": shown, "error": error} if error else {"path": shown, "faces": to_json(faces)}
            print(json.dumps(obj), flush=True)
        elif error:
            print(f"{shown}: error: {error}", file=sys.stderr)
        else:
            print(f"{shown}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for i, f in enumerate(faces, 1):
                x, y, w, h = f.box
                print(f"  face {i} at ({x},{y}) {w}x{h}: {f.emotion} {f.confidence:.0%}  valence {f.valence:+.2f}  arousal {f.arousal:+.2f}")
    return 1 if failures else 0


def _run_video(path: Path, json_out: bool, annotate: Path | None, every: int, half_life: float | None,
               detector: str | None, face_crop: bool, model: str | None) -> bool:
    """Analyse one video file; prints per-frame JSON lines or a per-track summary. True when it worked."""
    from moodtune.contract import to_json
    from moodtune.pipeline import default_analyzer
    from moodtune.video import DEFAULT_HALF_LIFE_S, TrackSummary

    shown = display(path)
    if face_crop:
        print(f"{shown}: error: --face-crop is for images that are face crops, not for videos", file=sys.stderr)
        return False
    summary = TrackSummary()
    writer = None
    processed = 0
    try:
        frames = default_analyzer(detector=detector, model=model).iter_video(
            path, every=every, half_life=DEFAULT_HALF_LIFE_S if half_life is None else half_life,
            keep_images=bool(annotate))
        for frame in frames:
            processed += 1
            summary.add(frame)
            if json_out:
                print(json.dumps({"path": shown, **to_json(frame)}), flush=True)
            if annotate:
                writer = _write_video_frame(writer, frame, annotate, path, every)
    except MoodtuneError as exc:
        if json_out:
            print(json.dumps({"path": shown, "error": str(exc)}), flush=True)
        else:
            print(f"{shown}: error: {exc}", file=sys.stderr)
        return False
    finally:
        if writer is not None:
            writer.release()
    if not json_out:
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
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
        writer = cv2.VideoWriter(str(target), fourcc, max(1.0, fps / every), (w, h))
        if not writer.isOpened():
            raise MoodtuneError(f"cannot write {target}")
    writer.write(image)
    return writer
