"""``moodtune analyze PATH...``: faces, emotions and valence/arousal for images and folders."""

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
        "valence/arousal plane. Exit code 0 when every input was processed, 1 when some failed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image file or folder")
    p.add_argument("--json", action="store_true", help="one JSON object per input file per line")
    p.add_argument("--annotate", metavar="OUT_DIR", help="write a copy of each image with boxes and labels drawn")
    p.add_argument("--detector", help="face detector: blazeface (default) or haar")
    p.add_argument("--face-crop", action="store_true", help="each image already is one face crop (like FER2013): skip detection")
    p.add_argument("--model", help="ONNX emotion model (default: the shipped one)")
    p.set_defaults(func=run)


def iter_inputs(paths: list[str]):
    """Yield (path, error) for every image under ``paths``; folders are walked recursively (links not followed)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = False
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        found = True
                        yield Path(root) / name, None
            if not found:
                yield path, f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        elif path.exists() or path.is_symlink():
            yield path, None
        else:
            yield path, f"{path}: no such file or folder"


def run(args) -> int:
    import moodtune
    from moodtune.vision.decode import load_image
    from moodtune.vision.detect import get_detector

    if args.detector:
        try:
            get_detector(args.detector)  # an unknown name is a usage error, found before any work
        except MoodtuneError as exc:
            print(f"moodtune analyze: error: {exc}", file=sys.stderr)
            return 2
    failures = 0
    for path, error in iter_inputs(args.paths):
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
    d = face.to_dict()
    return {k: d[k] for k in ("box", "emotion", "confidence", "probabilities", "valence", "arousal")}


def _display(path: Path) -> str:
    """The path as text; undecodable bytes in file names are escaped instead of crashing the output."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")
