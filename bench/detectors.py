"""Face detectors compared: recall on faces-wild-dev and speed, as a markdown table.

    python bench/detectors.py               # all 1,067 photos (~3 min on 2 cores, mostly Haar)
    python bench/detectors.py --limit 200   # quicker
    python bench/detectors.py --framing     # also: how each detector's boxes relate to FER2013's framing
    python bench/detectors.py --detectors blazeface --box-calibration
    python bench/detectors.py --sizes       # the face-size sweep: found, p50/p95 ms per row, vs fer and a previous checkout

Every registered detector (``moodtune.vision.detect.detector_names()``) runs on every photo of
``<data>/faces-wild-dev/images`` (one face each, so "found" is a recall proxy; false positives
are not measured). Speed is measured single-threaded (ONNX Runtime intra-op threads = 1,
OpenCV threads = 1) so that figures are comparable between machines and runs:

* ms per image: median detection time over the photos (decoding not included);
* ms per 640x480 frame: median over repeated runs on a 640x480 frame cut from a real photo
  (matplotlib's ``grace_hopper.jpg``, a 4:3 crop scaled to 640x480, face ~250 px wide), and on
  the same frame with the face blurred away ("no face": every fallback pass runs). In
  brackets the CPU time of the measuring thread, which other processes on a busy machine do
  not inflate (everything runs in that one thread).

``--sizes`` sweeps what users meet (``size_rows``): 640x480 frames on a textured background
(scikit-image's ``coffee``) with one real face photo (matplotlib's Grace Hopper with her head and
shoulders, and ``--sizes-photos`` faces-wild-dev photos, which are tight face crops, pasted at
several places) at face widths 48-260 px, an empty frame, and a 20-face group photo
(``tests/corpus.py``'s crowd). Each tool runs in its own worker process
(``compare_fer_worker.py``, task ``sizes``), one thread: this checkout, a previous checkout
(``--previous``, default the git commit ``--previous-rev`` exported to a temporary folder) and
the ``fer`` package (``.cache/fer-venv``, installed on first use, see ``compare_fer.py``;
``--no-fer`` skips it). A face counts as found when a box overlaps it with IoU > 0.3; p50/p95
are over every call of the row (``--sizes-repeats`` rounds over its frames); "detector" is the
detector alone, "pipeline" detection plus classification of every face.

``--box-calibration`` measures how BlazeFace's full-range boxes differ from the short-range
ones on the same faces (every 5th photo), the source of the calibration in ``FULL_RANGE``.

``--framing`` puts FER2013 PublicTest crops (48x48, upscaled 4x, on a black canvas) in front of
each detector and prints the ``FRAME_SCALE`` (crop side / box side) that reproduces FER2013's
framing, and the mean IoU with the FER crop for a few scales (see ``moodtune.vision.crop``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ["MOODTUNE_THREADS"] = "1"  # before any detector is built

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from moodtune.config import data_dir  # noqa: E402
from moodtune.vision.decode import IMAGE_SUFFIXES, load_image  # noqa: E402
from moodtune.vision.detect import detector_names, get_detector
from moodtune.vision.detect import framing as detector_framing  # noqa: E402


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_frame() -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 BGR frame from a real photo (face ~250 px wide), and the same frame with the
    face blurred away (no detector finds a face in it, so every fallback pass runs)."""
    from matplotlib import cbook

    photo = load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))  # 512x600
    crop = photo[40 : 40 + photo.shape[1] * 3 // 4]  # 4:3, from the cap to the collar
    frame = cv2.resize(crop, (640, 480), interpolation=cv2.INTER_AREA)
    empty = frame.copy()
    empty[:, 150:500] = cv2.GaussianBlur(empty[:, 150:500], (0, 0), 30)
    return frame, empty


def time_frame(det, frame: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU (this thread) milliseconds of ``det.detect(frame)``."""
    for _ in range(5):
        det.detect(frame)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        det.detect(frame)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


def framing(names: list[str], limit: int) -> None:
    root = data_dir() / "fer2013" / "images" / "PublicTest"
    files = sorted(root.glob("*/*.png"))
    if not files:
        print(f"\n(no FER2013 images under {root}; --framing skipped)")
        return
    step = max(1, len(files) // limit)
    files = files[::step][:limit]
    scales = (1.0, 1.1, 1.15, 1.2, 1.25, 1.3)
    print(f"\nFER2013 framing ({len(files)} PublicTest crops, 4x upscaled on a black canvas):\n")
    print("| detector | found | FER crop side / box side (median, IQR) | box centre below crop centre | "
          + " | ".join(f"IoU @{s}" for s in scales) + " | IoU at its framing (scale, dy) |")
    print("|---|---:|---|---:|" + "---:|" * (len(scales) + 1))
    for name in names:
        det = get_detector(name)
        rows = []
        for f in files:
            gray = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            canvas = np.zeros((384, 384), np.uint8)
            canvas[96:288, 96:288] = cv2.resize(gray, (192, 192), interpolation=cv2.INTER_CUBIC)
            found = det.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
            if found:
                x, y, w, h = found[0].box
                rows.append((192.0 / max(w, h), (x + w / 2 - 192) / 192, (y + h / 2 - 192) / 192))
        if not rows:
            print(f"| {name} | 0 | | |" + " |" * len(scales))
            continue
        r = np.array(rows)

        def iou(k: float, dx: float, dy: float, s: float, shift: float = 0.0) -> float:
            side = s / k  # our crop's side in FER crop sides
            dy = dy + shift / k  # our crop's centre moves by `shift` box heights
            ix = max(0.0, min(0.5, dx + side / 2) - max(-0.5, dx - side / 2))
            iy = max(0.0, min(0.5, dy + side / 2) - max(-0.5, dy - side / 2))
            inter = ix * iy
            return inter / (1.0 + side * side - inter)

        ious = [np.mean([iou(k, dx, dy, s) for k, dx, dy in r]) for s in scales]
        fs, fdy = detector_framing(det)
        ious.append(np.mean([iou(k, dx, dy, fs, fdy) for k, dx, dy in r]))
        q1, med, q3 = np.percentile(r[:, 0], [25, 50, 75])
        print(
            f"| {name} | {len(r)}/{len(files)} | {med:.2f} ({q1:.2f}-{q3:.2f}) | {int(round(np.median(r[:, 2]) * 100))}% of crop | "
            + " | ".join(f"{v:.3f}" for v in ious)
            + f" ({fs}, {fdy:+.2f}) |"
        )


def box_calibration(images: list[np.ndarray]) -> None:
    """Median full-range box relative to the short-range box of the same face (raw MediaPipe
    boxes), the source of ``FULL_RANGE.box_scale`` and ``box_dy`` in moodtune.vision.blazeface."""
    import dataclasses

    from moodtune.vision.blazeface import FULL_RANGE, SHORT_RANGE, BlazeNet, weighted_nms

    short, full = BlazeNet(SHORT_RANGE, 1), BlazeNet(dataclasses.replace(FULL_RANGE, box_scale=1.0, box_dy=0.0), 1)
    rows = []
    for img in images:
        # the face at sizes both models handle: 70% / 60% / 100% of the short-range input, half that for full range
        for fill_short, fill_full in ((0.7, 0.35), (0.6, 0.3), (1.0, 0.5)):
            a, b = short(img, fill=fill_short), full(img, fill=fill_full)
            if len(a[1]) and len(b[1]):
                sa, sb = weighted_nms(*a)[0][0], weighted_nms(*b)[0][0]
                wa = sa[2] - sa[0]
                rows.append(((sb[2] - sb[0]) / wa, ((sb[1] + sb[3]) - (sa[1] + sa[3])) / 2 / wa))
    r = np.array(rows)
    print(
        f"\nfull-range vs short-range box of the same face ({len(r)} faces): width x{np.median(r[:, 0]):.3f}, "
        f"centre {-np.median(r[:, 1]) * 100:.1f}% of the short-range width higher (medians)"
    )


# ----------------------------------------------------------------------------- the size sweep

SIZES = (48, 64, 96, 128, 160, 200, 260)
#: Grace Hopper's face in matplotlib's grace_hopper.jpg (x, y, w, h), checked by eye
HOPPER_FACE = (160, 125, 210, 220)


def _background() -> np.ndarray:
    from skimage import data

    return cv2.resize(np.ascontiguousarray(data.coffee()[:, :, ::-1]), (640, 480), interpolation=cv2.INTER_AREA)


def paste_face(bg: np.ndarray, photo: np.ndarray, face: tuple[int, int, int, int], width: int,
               at: tuple[float, float]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``photo`` scaled so that its ``face`` box is ``width`` px wide, the face with a margin of up
    to 0.6 face widths (as much as the photo has) pasted onto a copy of ``bg`` with the face
    centre at ``at`` (fractions of the frame, clamped so the face stays inside). Returns (frame,
    face box x, y, w, h)."""
    x, y, w, h = face
    s = width / w
    m = int(0.6 * w)
    x0, y0 = max(0, x - m), max(0, y - m)
    crop = photo[y0 : y + h + m, x0 : x + w + m]
    crop = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    fw, fh = round(w * s), round(h * s)
    H, W = bg.shape[:2]
    cx = min(max(at[0] * W, fw / 2 + 1), W - fw / 2 - 1)
    cy = min(max(at[1] * H, fh / 2 + 1), H - fh / 2 - 1)
    # where the crop's top-left lands so that the face centre is at (cx, cy)
    ox, oy = round(cx - (x - x0 + w / 2) * s), round(cy - (y - y0 + h / 2) * s)
    frame = bg.copy()
    sx0, sy0 = max(0, -ox), max(0, -oy)
    dx0, dy0 = max(0, ox), max(0, oy)
    dx1, dy1 = min(W, ox + crop.shape[1]), min(H, oy + crop.shape[0])
    frame[dy0:dy1, dx0:dx1] = crop[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    return frame, (round(cx - fw / 2), round(cy - fh / 2), fw, fh)


def size_rows(n_photos: int) -> list[tuple[str, list[np.ndarray], list[list[tuple[int, int, int, int]]]]]:
    """The sweep's rows: (name, frames, the true face boxes of each frame); the wild photos are
    spread evenly over faces-wild-dev (sorted by name)."""
    from matplotlib import cbook

    faces = [(load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), HOPPER_FACE)]
    folder = data_dir() / "faces-wild-dev" / "images"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if files and n_photos:
        # the face box of a wild photo: BlazeFace's on the photo itself (one large face each)
        det = get_detector("blazeface")
        for p in files[:: max(1, len(files) // n_photos)][:n_photos]:
            img = load_image(p)
            found = det.detect(img)
            if found:
                faces.append((img, found[0].box))
    places = [(0.5, 0.5), (0.25, 0.7), (0.75, 0.3), (0.2, 0.25), (0.8, 0.75)]
    bg = _background()
    rows = []
    for width in SIZES:
        frames, truths = [], []
        for i, (photo, box) in enumerate(faces):
            frame, truth = paste_face(bg, photo, box, width, places[i % len(places)])
            frames.append(frame)
            truths.append([truth])
        rows.append((f"{width} px face", frames, truths))
    rows.append(("empty frame", [bg], [[]]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import corpus

    crowd = corpus.bgr(corpus.crowd((60, 65, 210, 220)))  # the Hopper face in corpus.photo()
    tile, face_w = 160, 80  # crowd(): each tile is the face with half a face of margin each side
    truths = [(c * tile + tile // 4, r * tile + tile // 4, face_w, face_w) for r in range(4) for c in range(5)]
    rows.append(("20-face group (800x640)", [crowd], [truths]))
    return rows


def _box_iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _found(boxes: list, truths: list) -> tuple[int, int]:
    """(true faces matched by a box with IoU > 0.3, boxes matching no true face)."""
    hit = sum(any(_box_iou(b, t) > 0.3 for b in boxes) for t in truths)
    extra = sum(not any(_box_iou(b, t) > 0.3 for t in truths) for b in boxes)
    return hit, extra


def sizes(args) -> None:
    import json
    import subprocess
    import tempfile

    import compare_fer

    rows = size_rows(args.sizes_photos)
    root = Path(__file__).resolve().parents[1]
    tools: list[tuple[str, str, Path, str | None]] = [("moodtune", "moodtune", Path(sys.executable), str(root / "src"))]
    tmp = Path(tempfile.mkdtemp(prefix="moodtune-sizes-"))
    previous = args.previous
    if previous is None and args.previous_rev:
        dest = tmp / "previous"
        dest.mkdir()
        archive = subprocess.run(["git", "-C", str(root), "archive", args.previous_rev, "src"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        previous = str(dest / "src")
    if previous:
        tools.append((f"previous ({args.previous_rev or previous})", "moodtune", Path(sys.executable), previous))
    if not args.no_fer:
        try:
            fer_python = compare_fer.ensure_fer_venv(root / ".cache" / "fer-venv")
            tools.append((f"fer {compare_fer.FER_VERSION}", "fer", fer_python, None))
        except (SystemExit, subprocess.CalledProcessError, OSError) as exc:
            print(f"(fer could not be installed: {exc}; its columns are left out)")
    job = {"rows": {}, "warmup": 3, "repeats": args.sizes_repeats}
    for name, frames, _ in rows:
        paths = []
        for i, f in enumerate(frames):
            path = tmp / f"{name.split()[0]}-{i}.png"
            cv2.imwrite(str(path), f)
            paths.append(str(path))
        job["rows"][name] = paths
    results = {}
    for label, tool, python, path in tools:
        results[label] = compare_fer.run_worker(python, tool, "sizes", job, tmp, timeout=1800, pythonpath=path,
                                                label=label.split()[0])["rows"]
    load = os.getloadavg()
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
          f"(1 / 5 / 15 min) at the end; 1 thread per tool; {args.sizes_repeats} rounds per row; wall-clock ms "
          "(p50 / p95) and in brackets this thread's CPU ms (p50 / p95), which other processes do not inflate\n")
    for mode in ("detect", "pipeline"):
        print(f"{'detector alone' if mode == 'detect' else 'pipeline (detection + classification of every face)'}:\n")
        print("| frames | " + " | ".join(f"{label}: found | {label}: ms p50 / p95 (CPU)" for label, *_ in tools) + " |")
        print("|---|" + "---:|---:|" * len(tools))
        for name, frames, truths in rows:
            cells = []
            for label, *_ in tools:
                r = results[label][name][mode]
                hit = extra = 0
                for boxes, t in zip(r["boxes"], truths, strict=False):
                    h_, e_ = _found(boxes, t)
                    hit, extra = hit + h_, extra + e_
                total = sum(len(t) for t in truths)
                found = f"{hit}/{total}" + (f" (+{extra} other)" if extra else "") if total else f"{extra} boxes"
                w, c = np.array(r["wall_ms"]), np.array(r["cpu_ms"])
                cells += [found, f"{np.percentile(w, 50):.2f} / {np.percentile(w, 95):.2f} "
                                 f"({np.percentile(c, 50):.2f} / {np.percentile(c, 95):.2f})"]
            print(f"| {name} ({len(frames)} frame{'s' if len(frames) > 1 else ''}) | " + " | ".join(cells) + " |")
        print()
    if args.sizes_json:
        Path(args.sizes_json).write_text(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N photos (sorted by name)")
    ap.add_argument("--repeats", type=int, default=200, help="runs per 640x480 frame timing (default 200)")
    ap.add_argument("--detectors", nargs="*", default=None, help="names (default: all registered)")
    ap.add_argument("--framing", action="store_true", help="also measure framing against FER2013 crops")
    ap.add_argument("--framing-limit", type=int, default=300, help="FER2013 crops for --framing (default 300)")
    ap.add_argument("--box-calibration", action="store_true", help="also measure BlazeFace full-range vs short-range boxes")
    ap.add_argument("--sizes", action="store_true", help="only the face-size sweep (see the docstring)")
    ap.add_argument("--sizes-photos", type=int, default=5, help="faces-wild-dev photos per size row besides Hopper (default 5)")
    ap.add_argument("--sizes-repeats", type=int, default=20, help="rounds over each row's frames (default 20)")
    ap.add_argument("--previous", default=None, help="src folder of another moodtune checkout to compare with")
    ap.add_argument("--previous-rev", default="eb89be6", help="git revision to compare with when --previous is not given ('' for none)")
    ap.add_argument("--no-fer", action="store_true", help="leave the fer package out of --sizes")
    ap.add_argument("--sizes-json", default=None, help="also write the raw --sizes timings here")
    args = ap.parse_args()
    if args.sizes:
        cv2.setNumThreads(1)
        sizes(args)
        return

    cv2.setNumThreads(1)
    folder = data_dir() / "faces-wild-dev" / "images"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        sys.exit(f"no photos in {folder}: set MOODTUNE_DATA to the shared data folder")
    if args.limit:
        files = files[: args.limit]
    names = args.detectors or detector_names()

    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None

    images = [load_image(p) for p in (tqdm(files, desc="decoding", file=sys.stderr, leave=False) if tqdm else files)]
    frame, empty = bench_frame()

    import onnxruntime as ort

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; load average {load:.2f} at start")
    print(f"threads: 1 (ONNX Runtime {ort.__version__} intra-op, OpenCV {cv2.__version__}); Python {platform.python_version()}")
    print(f"photos: {folder} ({len(files)})\n")
    print("| detector | images | faces found | ms per image (median) | ms per 640x480 frame (median; CPU ms) "
          "| ms per 640x480 frame, no face (median; CPU ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        det = get_detector(name)
        det.detect(images[0])  # warm-up (lazy model loads)
        found, times = 0, []
        it = tqdm(images, desc=name, file=sys.stderr, leave=False) if tqdm else images
        for img in it:
            t0 = time.perf_counter()
            boxes = det.detect(img)
            times.append(time.perf_counter() - t0)
            found += bool(boxes)
        ms_frame, cpu_frame = time_frame(det, frame, args.repeats)
        ms_empty, cpu_empty = time_frame(det, empty, max(20, args.repeats // 4))
        print(
            f"| {name} | {len(images)} | {100.0 * found / len(images):.2f}% | {statistics.median(times) * 1e3:.2f} "
            f"| {ms_frame:.2f} ({cpu_frame:.2f}) | {ms_empty:.2f} ({cpu_empty:.2f}) |"
        )
    if args.framing:
        framing(names, args.framing_limit)
    if args.box_calibration:
        box_calibration(images[::5])


if __name__ == "__main__":
    main()
