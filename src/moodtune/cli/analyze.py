"""``moodtune analyze PATH...``: faces, emotions and valence/arousal for images, folders and videos,
here (``--engine local``) or on a Ray cluster (``--engine ray``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import IO, Annotated

import typer

from moodtune.cli.common import DetectorOpt, ModelOpt, path_error, usage_error, value
from moodtune.contract import to_json
from moodtune.errors import MoodtuneError
from moodtune.inputs import display, iter_inputs


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)


def analyze(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="image file, folder of images, or video file",
                                                show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per input file per line; for a video, one per "
                                           'processed frame ({"path", "frame", "time", "faces": [... each with "track"]})')] = False,
    annotate: Annotated[Path | None, typer.Option(metavar="OUT_DIR", show_default=False,
                                                  help="write a copy of each image (OUT_DIR/<its folder below PATH>/NAME.annotated.jpg; "
                                                  "for a video, of its processed frames as NAME.annotated.webm) with boxes and "
                                                  "labels drawn; existing files are never overwritten")] = None,
    every: Annotated[int, typer.Option(min=1, metavar="N", help="videos: analyse every N-th frame")] = 1,
    half_life: Annotated[float | None, typer.Option(min=0, max=1e9, metavar="SECONDS", show_default=False,
                                                    help="videos: smoothing half-life in seconds of video (default 0.5; 0: off)")] = None,
    detector: DetectorOpt = None,
    face_crop: Annotated[bool, typer.Option("--face-crop", help="each image already is one face crop (like FER2013): skip detection")] = False,
    model: ModelOpt = None,
    engine: Annotated[Engine, typer.Option(help="local: in this process; ray: on Ray (pip install 'moodtune[ray]'), "
                                           "printing JSON lines")] = Engine.local,
    address: Annotated[str | None, typer.Option(metavar="ADDR", show_default=False,
                                                help="--engine ray: a running cluster (ray://host:10001 or auto; "
                                                "default: a local Ray instance)")] = None,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="--engine ray: actors, each with its own models")] = 2,
    out: Annotated[Path | None, typer.Option(metavar="FILE", show_default=False,
                                             help="also write the JSON lines to FILE (.jsonl); --engine ray: a name "
                                             "ending in .parquet writes a Parquet folder")] = None,
) -> int:
    """Find faces in images and classify their expressions.

    Each face's expression (angry, disgust, fear, happy, sad, surprise, neutral) is placed on the
    valence/arousal plane. Folders are searched recursively. Video files (.mp4 .avi .mov .mkv .webm)
    are analysed frame by frame: each face keeps a track id and its probabilities are smoothed over
    time. Exit code 0 when every input was processed, 1 when some failed.
    """
    from moodtune.emotion.models import model_path

    model_path(model)  # an unknown --model: one error line before any input is read
    if engine is Engine.ray:
        if annotate is not None or face_crop:
            usage_error("--annotate and --face-crop work with --engine local only")
        return analyze_on_ray(paths, address, out, workers, value(detector), model, every, half_life)
    if address is not None:
        usage_error("--address is for --engine ray")
    if out is not None and out.suffix.lower() == ".parquet":
        usage_error("--out FILE.parquet needs --engine ray; --engine local writes JSON lines")
    sink = _open_out(out)
    try:
        return analyze_paths(paths, json_out=json_out, annotate=annotate, every=every, half_life=half_life,
                             detector=value(detector), face_crop=face_crop, model=model,
                             also=None if sink is None else lambda obj: sink.write(json.dumps(obj) + "\n"))
    finally:
        if sink is not None:
            sink.close()


def _open_out(out: Path | None) -> IO[str] | None:
    if out is None:
        return None
    try:
        return open(out, "w", encoding="utf-8")
    except OSError as exc:
        raise MoodtuneError(f"cannot write {out}: {exc.strerror or exc}") from None


def analyze_on_ray(paths: list[Path], address: str | None, out: Path | None, workers: int, detector: str | None,
                   model: str | None, every: int, half_life: float | None) -> int:
    """``--engine ray``: print ``analyze_with_ray``'s JSON objects as lines; 1 when any input failed."""
    from moodtune.engines.ray_batch import analyze_with_ray  # imports ray only when called

    failed = False
    lines = sys.stdout
    # Ray's driver prints its own notices ("(raylet) A worker died ...") with print(): to stderr
    # while the job runs, so that stdout holds the JSON lines only
    with contextlib.redirect_stdout(sys.stderr):
        for obj in analyze_with_ray(paths, address=address, out=out, num_workers=workers, detector=detector, model=model,
                                    every=every, half_life=half_life):
            failed = failed or "error" in obj
            print(json.dumps(obj), file=lines, flush=True)
    return 1 if failed else 0


def analyze_paths(paths: list[Path], json_out: bool = False, annotate: Path | None = None, every: int = 1,
                  half_life: float | None = None, detector: str | None = None, face_crop: bool = False,
                  model: str | None = None, also: Callable[[dict], object] | None = None) -> int:
    """Analyse every input and print one result per file (or per video frame); 0 when all worked, else 1.

    ``also``: called with each JSON object (``--out``), whether or not they are printed."""
    import moodtune
    from moodtune.app.media_out import OutputPaths
    from moodtune.video import is_video
    from moodtune.vision.decode import load_image

    outputs = OutputPaths(annotate) if annotate else None

    def emit(obj: dict) -> None:
        if json_out:
            print(json.dumps(obj), flush=True)
        if also is not None:
            also(obj)

    failures = 0
    for path, error, root in iter_inputs(paths, with_root=True):
        if error is None and is_video(path):
            failures += 0 if _run_video(path, root, emit, json_out, outputs, every, half_life, detector, face_crop, model) else 1
            continue
        faces = []
        if error is None:
            try:
                image = load_image(path)
                faces = moodtune.analyze_frame(image, detector=detector, face_crop_input=face_crop, model=model)
                if outputs is not None:
                    from moodtune.app.draw import write_annotated

                    write_annotated(image, faces, outputs.out_dir, path, target=outputs.for_input(path, root=root, suffix=".jpg"))
            except MoodtuneError as exc:
                error = str(exc)
        if error:
            failures += 1
        shown = display(path)
        emit({"path": shown, "error": error} if error else {"path": shown, "faces": to_json(faces)})
        if json_out:
            continue
        if error:
            path_error(shown, error)
        else:
            print(f"{shown}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for i, f in enumerate(faces, 1):
                x, y, w, h = f.box
                sure = " (not sure)" if f.uncertain else ""
                print(f"  face {i} at ({x},{y}) {w}x{h}: {f.emotion} {f.confidence:.0%}{sure}  "
                      f"valence {f.valence:+.2f}  arousal {f.arousal:+.2f}")
    return 1 if failures else 0


def _run_video(path: Path, root: Path | None, emit: Callable[[dict], None], json_out: bool, outputs, every: int,
               half_life: float | None, detector: str | None, face_crop: bool, model: str | None) -> bool:
    """Analyse one video file; emits per-frame JSON objects, prints a per-track summary. True when it worked."""
    from moodtune.app.draw import annotate
    from moodtune.app.media_out import VideoOut
    from moodtune.pipeline import default_analyzer
    from moodtune.video import DEFAULT_HALF_LIFE_S, TrackSummary, open_video

    shown = display(path)
    if face_crop:
        path_error(shown, "--face-crop is for images that are face crops, not for videos")
        return False
    summary = TrackSummary()
    writer = None
    processed = 0
    try:
        if outputs is not None:
            cap, info = open_video(path)
            cap.release()
            writer = VideoOut(outputs, outputs.base_for(path, root), fps=(info.fps or 30.0) / every)
        frames = default_analyzer(detector=detector, model=model).iter_video(
            path, every=every, half_life=DEFAULT_HALF_LIFE_S if half_life is None else half_life,
            keep_images=writer is not None)
        for frame in frames:
            processed += 1
            summary.add(frame)
            emit({"path": shown, **to_json(frame)})
            if writer is not None:
                writer.write(annotate(frame.image, [f.face for f in frame.faces]))
    except MoodtuneError as exc:
        emit({"path": shown, "error": str(exc)})
        if not json_out:
            path_error(shown, str(exc))
        return False
    finally:
        written = writer.close() if writer is not None else None
    if not json_out:
        rows = summary.rows()
        print(f"{shown}: {processed} frame{'s' if processed != 1 else ''} analysed, "
              f"{len(rows)} face track{'s' if len(rows) != 1 else ''}" + (f"; annotated video: {written}" if written else ""))
        for r in rows:
            print(f"  track {r['track']}: {r['frames']} frame{'s' if r['frames'] != 1 else ''}, {r['first']:.1f}s to {r['last']:.1f}s, mostly {r['emotion']}"
                  f"  valence {r['valence']:+.2f}  arousal {r['arousal']:+.2f}")
    return True
