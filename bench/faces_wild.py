"""End to end on faces-wild-dev: roll alignment on or off (upright and rotated photos), and the
blur / confidence figures behind ``FaceResult.uncertain``, as markdown tables.

    python bench/faces_wild.py                 # all 1,067 photos (~1 min on one core)
    python bench/faces_wild.py --limit 300
    python bench/faces_wild.py --webcam        # only the webcam-like frames (see ``webcam_frames``)

Each photo goes through ``moodtune.Analyzer`` (default detector and shipped model, one thread);
the largest face's top class is compared with the photo's label (happy / neutral / surprise,
from students, noisy); a photo without a face counts as wrong. "rotated +-15" turns every photo
by +15 and by -15 degrees in memory (edges replicated) and scores both copies.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import cv2
import numpy as np

from moodtune.config import data_dir
from moodtune.pipeline import BLUR_BELOW, Analyzer, blur_score
from moodtune.vision.crop import face_crop
from moodtune.vision.decode import load_image
from moodtune.vision.detect import framing


def rotated(img: np.ndarray, degrees: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def webcam_frames(images: list[np.ndarray], labels: list[str], seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Every third photo pasted, 200-330 px high (faces of ~90-150 px), at a random place of a
    640x480 textured frame: what a webcam sees, with the same labels (seeded)."""
    rng = np.random.default_rng(seed)
    bg = cv2.resize((rng.random((60, 80, 3)) * 255).astype(np.uint8), (640, 480), interpolation=cv2.INTER_LINEAR)
    frames, out_labels = [], []
    for img, lab in zip(images[::3], labels[::3], strict=True):
        h = int(rng.integers(200, 330))
        w = int(img.shape[1] * h / img.shape[0])
        if w > 600:
            continue
        y, x = int(rng.integers(0, 480 - h + 1)), int(rng.integers(0, 640 - w + 1))
        frame = bg.copy()
        frame[y:y + h, x:x + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        frames.append(frame)
        out_labels.append(lab)
    return frames, out_labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--webcam", action="store_true", help="only the webcam-like frames (to compare library versions: "
                    "PYTHONPATH=<an older checkout>/src python bench/faces_wild.py --webcam)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    root = data_dir() / "faces-wild-dev"
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))[: args.limit]
    if not rows:
        sys.exit(f"no labels in {root}: set MOODTUNE_DATA to the shared data folder")
    images = [load_image(root / r["path"]) for r in rows]
    labels = [r["label"] for r in rows]
    print(f"faces-wild-dev: {len(rows)} photos; load average {os.getloadavg()[0]:.2f}\n")

    print("| photos | alignment | found | end-to-end accuracy |")
    print("|---|---|---:|---:|")
    cams, cam_labels = webcam_frames(images, labels)
    if args.webcam:
        sets, set_labels = {"webcam-like 640x480": cams}, {"webcam-like 640x480": cam_labels}
    else:
        sets = {"upright": images, "rotated +-15": [rotated(im, a) for im in images for a in (15, -15)],
                "webcam-like 640x480": cams}
        set_labels = {"upright": labels, "rotated +-15": [lab for lab in labels for _ in (15, -15)],
                      "webcam-like 640x480": cam_labels}
    for name, imgs in sets.items():
        for align in (False, True):
            an = Analyzer(align=align)
            found = right = 0
            for im, lab in zip(imgs, set_labels[name], strict=False):
                faces = an.analyze(im)
                found += bool(faces)
                right += bool(faces) and faces[0].emotion == lab
            print(f"| {name} ({len(imgs)}) | {'on' if align else 'off'} | {100 * found / len(imgs):.2f}% | "
                  f"{100 * right / len(imgs):.2f}% |")

    if args.webcam:
        return
    # what the uncertain rule flags, and how right the model is there
    an = Analyzer()
    scale, dy = framing(an.detector)
    recs = []
    for im, lab in zip(images, labels, strict=False):
        faces = an.analyze(im)
        if not faces:
            continue
        f = faces[0]
        eyes = f.keypoints[:2] if an.align and f.keypoints else None
        crop = face_crop(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), f.box, an.classifier.input_size, scale, dy, eyes)
        recs.append((blur_score(crop), f.confidence, min(f.box[2], f.box[3]), f.emotion == lab, f.uncertain))
    r = np.array(recs, dtype=float)
    blur, conf, right, unsure = r[:, 0], r[:, 1], r[:, 3].astype(bool), r[:, 4].astype(bool)
    q = np.percentile(blur, [1, 5, 10, 25, 50])
    print(f"\nvariance of the Laplacian of the 48x48 model input (faces found: {len(r)}): "
          f"percentiles 1/5/10/25/50 = {' / '.join(f'{v:.0f}' for v in q)}\n")
    print("| rule | faces flagged | accuracy flagged | accuracy of the rest |")
    print("|---|---:|---:|---:|")

    def row(name: str, flag: np.ndarray) -> None:
        acc = f"{100 * right[flag].mean():.1f}%" if flag.any() else "-"
        rest = f"{100 * right[~flag].mean():.1f}%" if (~flag).any() else "-"
        print(f"| {name} | {int(flag.sum())} ({100 * flag.mean():.1f}%) | {acc} | {rest} |")

    for t in (20, 40, 60, 80, 120):
        row(f"blur < {t}" + (" (BLUR_BELOW)" if t == BLUR_BELOW else ""), blur < t)
    for t in (0.4, 0.5, 0.6):
        row(f"top probability < {t}", conf < t)
    row(f"uncertain (as shipped: top < {an.uncertain_below}, box < 40 px, blur < {an.blur_below:g})", unsure)


if __name__ == "__main__":
    main()
