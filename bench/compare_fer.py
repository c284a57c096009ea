"""moodtune vs the ``fer`` package (25.10.3), head to head on the same inputs, as a markdown table.

    python bench/compare_fer.py                       # full run (~5 min on 2 cores; the first time also installs)
    python bench/compare_fer.py --limit 100           # quick run: 100 FER2013 crops, 100 photos, fewer repeats
    python bench/compare_fer.py --no-keras            # skip fer's (slow) Keras model variant
    python bench/compare_fer.py --note "a training job was using the other core"

Run it with moodtune's development venv (``.venv/bin/python``: moodtune itself for reading the
data and scoring, matplotlib for the sample photo, packaging for the install sizes). It prints the
table and writes it to ``--out`` (default ``reports/compare_fer.md``) and the raw summary beside
it as JSON. Not part of CI (it installs TensorFlow).

Two virtual environments, created on first use and reused (both under the git-ignored ``.cache/``):

* ``.cache/fer-venv``: ``fer==25.10.3`` installed with ``--no-deps``, then ``FER_REQUIREMENTS``
  under the exact ``FER_CONSTRAINTS``. A plain ``pip install fer==25.10.3`` does not give a
  working fer: with ``tensorflow-cpu`` and ``opencv-contrib-python-headless<5`` asked for, pip still
  adds full ``tensorflow`` (a second copy) and ``opencv-contrib-python`` 5 (a second ``cv2``
  package over the first), ``facenet-pytorch`` with torch, triton and the CUDA 13 ``nvidia-*``
  wheels (only for fer's optional MTCNN detector), moviepy, pandas and matplotlib (only for its
  video class); and without ``setuptools<81`` the newest setuptools (84 here), which has no
  ``pkg_resources`` any more, and ``fer.fer`` imports it. What is installed here is exactly what
  ``fer.fer.FER`` (Haar cascade + TFLite or Keras model) imports.
* ``.cache/moodtune-venv``: ``pip install .`` of this checkout, no extras (numpy,
  opencv-python-headless, onnxruntime, pillow, tqdm), reinstalled when ``src/moodtune`` changed.

Each measurement runs in a fresh worker process (``bench/compare_fer_worker.py``) with the tool's
own venv, one at a time, so the tools never share a process and each peak RSS is its own.
Both run on one thread (OMP/MKL/OpenBLAS = 1, OpenCV 1, ONNX Runtime intra-op 1, TensorFlow
intra-op = inter-op = 1, fer's TFLite interpreter ``num_threads=1``). What is measured:

* FER2013 PrivateTest 48x48 crops (all 3,589): each crop goes straight to the classifier.
  moodtune: ``analyze_frame(crop, face_crop_input=True)`` (the ``moodtune analyze --face-crop``
  path); fer: ``FER(offsets=(0, 0)).detect_emotions(crop, face_rectangles=[(0, 0, 48, 48)])``
  (its way to skip detection; the default 10 px offsets would pad the crop and cost 16 points),
  top class as fer's ``top_emotion`` picks it. Scored with ``moodtune.training.metrics.score``.
* faces-wild-dev (1,067 photos, one person each, labels happy/neutral/surprise from students,
  noisy; no face boxes): each tool decodes the file itself and runs its default detector and
  classifier. "Found" = at least one face (a recall proxy, as in ``bench/detectors.py``);
  end-to-end accuracy counts a photo with no face found as wrong and uses the largest face.
* Speed: a 640x480 frame with one face (Grace Hopper, ``bench/detectors.py``'s frame, face
  ~250 px) and the photo as shipped (512x600: the size fer's earlier 78 ms was measured on),
  full pipeline from a decoded BGR array, median over ``--repeats`` after warm-up, process CPU
  time in brackets (not inflated by other processes). Classifier alone: one face, model input
  ready (moodtune 48x48 uint8; fer 64x64 float32), median over 5x ``--repeats``.
* Peak memory: ``VmHWM`` of the worker process that ran the speed task (import, model load,
  frames). Install size: sum of the files in the RECORD of every installed distribution in the
  tool's runtime dependency closure (``Requires-Dist``, markers evaluated, no extras), pip excluded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from moodtune.emotion.labels import CLASSES
from moodtune.training.metrics import score

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "compare_fer_worker.py"
sys.path.insert(0, str(WORKER.parent))  # bench/: detectors.py's test frame and CPU name, also when imported by tests

FER_VERSION = "25.10.3"
#: what fer.fer.FER imports, besides fer itself (installed with --no-deps)
FER_REQUIREMENTS = [
    "tensorflow-cpu==2.21.0",
    "opencv-contrib-python-headless==4.14.0.94",
    "setuptools==80.10.2",  # < 81: fer.fer imports pkg_resources
    "numpy==2.4.6",
    "pillow==13.0.0",
    "requests==2.34.2",
]
#: the whole environment that installed and imported here (pip freeze of .cache/fer-venv)
FER_CONSTRAINTS = [
    "absl-py==2.5.1", "astunparse==1.6.3", "certifi==2026.10.18", "charset-normalizer==3.5.2", "flatbuffers==25.12.19",
    "gast==0.7.0", "google-pasta==0.2.0", "grpcio==1.85.1", "h5py==3.14.0", "idna==3.20", "keras==3.15.1",
    "libclang==18.1.1", "markdown-it-py==4.3.0", "mdurl==0.1.2", "ml-dtypes==0.6.0", "namex==0.1.0", "numpy==2.4.6",
    "opencv-contrib-python-headless==4.14.0.94", "opt-einsum==3.4.0", "optree==0.20.0", "packaging==26.3",
    "pillow==13.0.0", "protobuf==7.36.2", "pygments==2.21.0", "requests==2.34.2", "rich==15.0.0", "setuptools==80.10.2",
    "six==1.17.0", "tensorflow-cpu==2.21.0", "termcolor==3.3.0", "typing-extensions==4.16.0", "urllib3==2.8.0",
    "wheel==0.48.0", "wrapt==2.5.2",
]
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MOODTUNE_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
              "PYTHONWARNINGS": "ignore"}
NO_FACE = len(CLASSES)  # class index of "no face found" in end-to-end scoring


# --------------------------------------------------------------------------- environments
def canon(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def installed(python: Path) -> dict[str, str]:
    """{canonical name: version} of the distributions installed for ``python``."""
    code = ("import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return {canon(k): v for k, v in json.loads(out).items()}


def missing_pins(have: dict[str, str], pins: list[str]) -> list[str]:
    """The ``name==version`` pins that ``have`` does not satisfy exactly."""
    out = []
    for pin in pins:
        name, version = pin.split("==")
        if have.get(canon(name)) != version:
            out.append(pin)
    return out


def pip(python: Path, *args: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    print("$ " + " ".join(cmd[2:]), file=sys.stderr)
    subprocess.run(cmd, check=True)


def ensure_fer_venv(venv: Path) -> Path:
    """Create or reuse the fer venv; install the pinned combination if anything differs."""
    python = venv_python(venv)
    if not python.is_file():
        print(f"creating {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if missing_pins(installed(python), [f"fer=={FER_VERSION}", *FER_REQUIREMENTS]):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(FER_CONSTRAINTS) + "\n")
        try:
            pip(python, "--no-deps", f"fer=={FER_VERSION}")
            pip(python, "-c", f.name, *FER_REQUIREMENTS)
            print("(pip's complaint that fer's other declared requirements are missing is expected: see this script's "
                  "docstring)", file=sys.stderr)
        finally:
            os.unlink(f.name)
        left = missing_pins(installed(python), [f"fer=={FER_VERSION}", *FER_REQUIREMENTS])
        if left:
            raise SystemExit(f"{venv}: could not install {', '.join(left)}")
    return python


def tree_digest(root: Path) -> str:
    """Digest of the files of a package folder (``__pycache__`` left out)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())


def ensure_moodtune_venv(venv: Path) -> Path:
    """Create or reuse a venv with ``pip install .`` (no extras); reinstall moodtune if src/ changed."""
    python = venv_python(venv)
    if not python.is_file():
        print(f"creating {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pkg = site_packages(python) / "moodtune"
    if not pkg.is_dir() or tree_digest(pkg) != tree_digest(ROOT / "src" / "moodtune"):
        pip(python, "--force-reinstall", "--no-deps", str(ROOT))
    pip(python, str(ROOT))  # dependencies (a no-op when satisfied)
    return python


def install_size(site: Path, roots: list[str]) -> dict:
    """Bytes on disk of the installed distributions in the dependency closure of ``roots``.

    Each distribution counts the files its RECORD lists (including compiled .pyc and console
    scripts); requirements whose markers do not hold here, and extras, are skipped. Declared
    requirements that are not installed are listed under ``not_installed``."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    dists = {canon(d.metadata["Name"]): d for d in md.distributions(path=[str(site)])}
    seen, missing, stack = set(), [], [canon(r) for r in roots]
    while stack:
        name = stack.pop()
        if name in seen or name in missing:
            continue
        if name not in dists:
            missing.append(name)
            continue
        seen.add(name)
        for req in dists[name].requires or []:
            r = Requirement(req)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                stack.append(canon(r.name))
    sizes = {}
    for name in seen:
        files = {Path(dists[name].locate_file(f)).resolve() for f in dists[name].files or []}
        sizes[name] = sum(p.stat().st_size for p in files if p.is_file())
    return {"bytes": sum(sizes.values()), "per_dist": dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
            "not_installed": sorted(missing), "site_packages_bytes": tree_bytes(site, skip=("pip",))}


def tree_bytes(site: Path, skip: tuple[str, ...] = ()) -> int:
    """Apparent size of every file under ``site``, top-level entries named in ``skip`` (and their
    .dist-info) left out: a cross-check of the RECORD sums."""
    total = 0
    for entry in site.iterdir():
        if entry.name in skip or (entry.name.split("-")[0] in skip and entry.name.endswith(".dist-info")):
            continue
        files = [entry] if entry.is_file() else (p for p in entry.rglob("*") if p.is_file() and not p.is_symlink())
        total += sum(p.stat().st_size for p in files)
    return total


# --------------------------------------------------------------------------- inputs
def fer2013_crops(limit: int | None, data: Path | None):
    """(images, labels, duplicate-of-Training mask) of FER2013 PrivateTest; ``limit`` picks the
    same seeded subset as ``moodtune eval --limit``."""
    from moodtune.training.data import load, train_test_duplicates

    full = load(data, ferplus=None)
    test, dups = full.subset("PrivateTest"), train_test_duplicates(full, "PrivateTest")
    keep = np.arange(len(test))
    if limit:
        keep = np.sort(np.random.default_rng(0).permutation(len(test))[:limit])  # as training.evaluate.evaluate
    return test.images[keep], test.labels[keep], dups[keep]


def wild_photos(root: Path, limit: int | None) -> tuple[list[str], np.ndarray]:
    """Absolute paths and label indices from ``faces-wild-dev/labels.csv``."""
    import csv

    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if limit:
        rows = [rows[i] for i in np.sort(np.random.default_rng(0).permutation(len(rows))[:limit])]
    return [str(root / r["path"]) for r in rows], np.array([CLASSES.index(r["label"]) for r in rows])


def frames(folder: Path) -> dict[str, str]:
    """The timing inputs as PNG files both workers read: 640x480 frame and the 512x600 photo."""
    import cv2
    from detectors import bench_frame
    from matplotlib import cbook

    frame, _ = bench_frame()
    photo = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    out = {}
    for name, img in (("frame 640x480", frame), (f"photo {photo.shape[1]}x{photo.shape[0]}", photo)):
        path = folder / (name.replace(" ", "_") + ".png")
        cv2.imwrite(str(path), img)
        out[name] = str(path)
    return out


# --------------------------------------------------------------------------- workers
def run_worker(python: Path, tool: str, task: str, job: dict, tmp: Path, timeout: float = 3600,
               pythonpath: str | None = None, label: str | None = None) -> dict:
    """Run one worker task; ``pythonpath``: import the tool from there (e.g. another checkout's src)."""
    job = {**job, "spawn_time": time.time()}
    label = label or tool
    job_path, res_path, log_path = (tmp / f"{label}-{task}.{ext}" for ext in ("job.json", "result.json", "log"))
    job_path.write_text(json.dumps(job))
    env = {**os.environ, **THREAD_ENV}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    print(f"  {label:9s} {task:8s} ...", end="", flush=True, file=sys.stderr)
    with open(log_path, "w") as log:
        proc = subprocess.run([str(python), str(WORKER), "--tool", tool, "--task", task, "--job", str(job_path),
                               "--result", str(res_path)], stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout,
                              cwd=tmp, check=False)
    print(f" {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if proc.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise SystemExit(f"worker {label}/{task} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(res_path.read_text())


# --------------------------------------------------------------------------- scoring and table
def class_index(emotion: str | None) -> int:
    return NO_FACE if emotion is None else CLASSES.index(emotion)


def summarize_fer2013(pred: list[str], labels: np.ndarray, dups: np.ndarray) -> dict:
    p = np.array([class_index(e) for e in pred])
    full, dedup = score(labels, p), score(labels[~dups], p[~dups])
    return {"fer_n": len(labels), "fer_acc": full.accuracy, "fer_f1": full.macro_f1, "fer_n_dedup": int((~dups).sum()),
            "fer_acc_dedup": dedup.accuracy, "fer_f1_dedup": dedup.macro_f1}


def summarize_wild(photos: list[dict], labels: np.ndarray) -> dict:
    """End-to-end scores: a photo without a face found counts as wrong (predicted "no face");
    macro-F1 is over the classes present in ``labels``."""
    p = np.array([class_index(ph["emotion"]) for ph in photos])
    s = score(labels, p, num_classes=len(CLASSES) + 1)
    present = np.unique(labels)
    found = p != NO_FACE
    return {"wild_n": len(labels), "wild_found": int(found.sum()), "wild_multi": sum(ph["faces"] > 1 for ph in photos),
            "wild_acc": s.accuracy, "wild_f1": float(s.f1[present].mean()),
            "wild_acc_found": float((p[found] == labels[found]).mean()) if found.any() else float("nan")}


def agreement(a: list[dict], b: list[dict]) -> tuple[int, int]:
    """(photos where both found a face and gave the same class, photos where both found a face)."""
    both = [(x["emotion"], y["emotion"]) for x, y in zip(a, b, strict=False) if x["emotion"] and y["emotion"]]
    return sum(x == y for x, y in both), len(both)


def summarize_speed(res: dict) -> dict:
    out = {"cold_s": res["cold_start_s"], "rss_mb": res["peak_rss_mb"], "clf_ms": res["classifier"]["ms"],
           "clf_cpu_ms": res["classifier"]["cpu_ms"]}
    for name, r in res["frames"].items():
        key = "frame" if name.startswith("frame") else "photo"
        out.update({f"{key}_ms": r["ms"], f"{key}_cpu_ms": r["cpu_ms"], f"{key}_faces": r["faces"], f"{key}_name": name,
                    f"{key}_repeats": r["repeats"]})
    return out


def summarize(raw: dict, crop_labels: np.ndarray, dups: np.ndarray, photo_labels: np.ndarray) -> dict:
    """One tool's worker results ({task: result}) merged into the flat summary ``build_rows`` reads."""
    s = {}
    if "fer2013" in raw:
        s.update(summarize_fer2013(raw["fer2013"]["pred"], crop_labels, dups))
    if "wild" in raw:
        s.update(summarize_wild(raw["wild"]["photos"], photo_labels))
    if "speed" in raw:
        s.update(summarize_speed(raw["speed"]))
    return s


def verdict(m: float, f: float, kind: str) -> str:
    """The ratio/winner cell. ``kind``: "points" (a share, higher better), "count" (higher better),
    "fewer" (a count, lower better), or "ratio" (time, memory, size: lower better)."""
    if m is None or f is None or (isinstance(m, float) and np.isnan(m)) or (isinstance(f, float) and np.isnan(f)):
        return "n/a"
    if kind == "points":
        d = (m - f) * 100
        return "tie" if abs(d) < 0.05 else f"{'moodtune' if d > 0 else 'fer'} +{abs(d):.1f} pts"
    if kind in ("count", "fewer"):
        d = m - f
        better = d > 0 if kind == "count" else d < 0
        return "tie" if d == 0 else f"{'moodtune' if better else 'fer'} ({d:+d})"
    if f <= 0 or m <= 0:
        return "n/a"
    r = m / f
    return f"{r:.2f} (moodtune {1 / r:.1f}x less)" if r < 1 else f"{r:.2f} (fer {r:.1f}x less)"


def time_verdict(m: float, f: float, m_cpu: float | None = None, f_cpu: float | None = None) -> str:
    """Ratio moodtune/fer of two times and who is faster; with CPU times, their ratio too."""
    if not m or not f:
        return "n/a"
    r = m / f
    cell = f"{r:.3f} (moodtune {1 / r:.1f}x faster)" if r < 1 else f"{r:.2f} (fer {r:.1f}x faster)"
    if m_cpu and f_cpu:
        cell += f"; CPU {m_cpu / f_cpu:.3f}"
    return cell


def build_rows(m: dict, f: dict) -> list[tuple[str, str, str, str]]:
    """(metric, moodtune cell, fer cell, ratio/winner cell) from two summaries (keys missing in
    either are skipped, so a partial run still gives a table)."""
    rows = []

    def have(*keys):
        return all(k in m and k in f for k in keys)

    def pct(v):
        return f"{v * 100:.1f}%"

    def ms(s, key):
        return f"{s[f'{key}_ms']:.1f} ({s[f'{key}_cpu_ms']:.1f} CPU)"

    def tv(key):
        return time_verdict(m[f"{key}_ms"], f[f"{key}_ms"], m[f"{key}_cpu_ms"], f[f"{key}_cpu_ms"])

    if have("fer_acc"):
        n = m["fer_n"]
        rows.append((f"FER2013 PrivateTest accuracy ({n:,} crops, no detection)", pct(m["fer_acc"]), pct(f["fer_acc"]),
                     verdict(m["fer_acc"], f["fer_acc"], "points")))
        rows.append(("FER2013 PrivateTest macro-F1", f"{m['fer_f1']:.3f}", f"{f['fer_f1']:.3f}", verdict(m["fer_f1"], f["fer_f1"], "points")))
        rows.append((f"FER2013 PrivateTest accuracy, minus Training duplicates ({m['fer_n_dedup']:,})", pct(m["fer_acc_dedup"]),
                     pct(f["fer_acc_dedup"]), verdict(m["fer_acc_dedup"], f["fer_acc_dedup"], "points")))
    if have("wild_found"):
        n = m["wild_n"]
        rows.append((f"faces-wild-dev: photos with a face found (of {n:,})", f"{m['wild_found']:,} ({m['wild_found'] / n:.1%})",
                     f"{f['wild_found']:,} ({f['wild_found'] / n:.1%})", verdict(m["wild_found"], f["wild_found"], "count")))
        rows.append(("faces-wild-dev: photos with more than one face (one person each)", str(m["wild_multi"]), str(f["wild_multi"]),
                     verdict(m["wild_multi"], f["wild_multi"], "fewer")))
        rows.append(("faces-wild-dev: end-to-end accuracy (no face = wrong)", pct(m["wild_acc"]), pct(f["wild_acc"]),
                     verdict(m["wild_acc"], f["wild_acc"], "points")))
        rows.append(("faces-wild-dev: end-to-end macro-F1 (happy/neutral/surprise)", f"{m['wild_f1']:.3f}", f"{f['wild_f1']:.3f}",
                     verdict(m["wild_f1"], f["wild_f1"], "points")))
        rows.append(("faces-wild-dev: accuracy on the photos where the tool found a face", pct(m["wild_acc_found"]),
                     pct(f["wild_acc_found"]), verdict(m["wild_acc_found"], f["wild_acc_found"], "points")))
    if have("frame_ms"):
        rows.append((f"ms per {m['frame_name']}, one face, detect+classify (median; CPU ms)", ms(m, "frame"), ms(f, "frame"),
                     tv("frame")))
    if have("photo_ms"):
        rows.append((f"ms per {m['photo_name']} (the earlier reference's size), detect+classify", ms(m, "photo"), ms(f, "photo"),
                     tv("photo")))
    if have("clf_ms"):
        rows.append(("ms per face, classifier alone (median; CPU ms)", ms(m, "clf"), ms(f, "clf"), tv("clf")))
    if have("cold_s"):
        rows.append(("cold start: process start to first frame analysed (s)", f"{m['cold_s']:.1f}", f"{f['cold_s']:.1f}",
                     time_verdict(m["cold_s"], f["cold_s"])))
    if have("rss_mb"):
        rows.append(("peak memory (RSS high-water of the speed worker), MiB", f"{m['rss_mb']:.0f}", f"{f['rss_mb']:.0f}",
                     verdict(m["rss_mb"], f["rss_mb"], "ratio")))
    if have("size_mb"):
        rows.append(("install size (runtime dependency closure), MiB", f"{m['size_mb']:.0f}", f"{f['size_mb']:.0f}",
                     verdict(m["size_mb"], f["size_mb"], "ratio")))
    return rows


def markdown_table(rows: list[tuple[str, str, str, str]], names: tuple[str, str] = ("moodtune", "fer")) -> str:
    lines = [f"| metric | {names[0]} | {names[1]} | ratio moodtune/fer or winner |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    from moodtune.config import data_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, metavar="N",
                    help="quick run: N FER2013 crops and N photos (seeded samples), repeats capped at 20")
    ap.add_argument("--repeats", type=int, default=100, help="timed runs per frame (default 100; classifier alone: 5x)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed runs before timing (default 10)")
    ap.add_argument("--out", default="reports/compare_fer.md", help="markdown file to write (default reports/compare_fer.md)")
    ap.add_argument("--fer-venv", default=str(ROOT / ".cache" / "fer-venv"), help="venv for fer (created if missing)")
    ap.add_argument("--moodtune-venv", default=str(ROOT / ".cache" / "moodtune-venv"),
                    help="venv with `pip install .` of this checkout (created if missing)")
    ap.add_argument("--no-keras", action="store_true", help="skip fer's Keras model variant (use_tflite=False)")
    ap.add_argument("--keras-accuracy", action="store_true",
                    help="also score fer's Keras model on FER2013 and faces-wild-dev (default: speed only; ~5 more minutes)")
    ap.add_argument("--data", default=None, help="shared data folder (default: $MOODTUNE_DATA or ../shared/data)")
    ap.add_argument("--note", default="", help="a line about the conditions, printed under the table")
    args = ap.parse_args(argv)
    repeats = min(args.repeats, 20) if args.limit else args.repeats
    data = Path(args.data) if args.data else data_dir()
    load_start = os.getloadavg()[0]
    started = dt.datetime.now().astimezone()

    print("environments:", file=sys.stderr)
    fer_py = ensure_fer_venv(Path(args.fer_venv))
    mt_py = ensure_moodtune_venv(Path(args.moodtune_venv))
    sizes = {"moodtune": install_size(site_packages(mt_py), ["moodtune"]),
             "fer": install_size(site_packages(fer_py), ["fer", *(r.split("==")[0] for r in FER_REQUIREMENTS)])}

    print("inputs:", file=sys.stderr)
    crops, crop_labels, dups = fer2013_crops(args.limit, data / "fer2013")
    photos, photo_labels = wild_photos(data / "faces-wild-dev", args.limit)
    tools = [("moodtune", mt_py), ("fer", fer_py)] + ([] if args.no_keras else [("fer-keras", fer_py)])
    raw: dict[str, dict] = {t: {} for t, _ in tools}
    with tempfile.TemporaryDirectory(prefix="compare_fer-") as tmp_name:
        tmp = Path(tmp_name)
        np.savez(tmp / "crops.npz", images=crops)
        job = {"crops": str(tmp / "crops.npz"), "photos": photos, "frames": frames(tmp), "main_frame": "frame 640x480",
               "warmup": args.warmup, "repeats": repeats}
        print("workers (one at a time):", file=sys.stderr)
        for task in ("fer2013", "wild", "speed"):
            for tool, python in tools:
                if tool == "fer-keras" and task != "speed" and not args.keras_accuracy:
                    continue
                raw[tool][task] = run_worker(python, tool, task, job, tmp)

    summary = {tool: summarize(raw[tool], crop_labels, dups, photo_labels) for tool, _ in tools}
    for tool, s in summary.items():
        s["size_mb"] = sizes["moodtune" if tool == "moodtune" else "fer"]["bytes"] / 2**20
    report = render_report(args, summary, raw, sizes, photos, started, load_start, repeats)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    (out.with_suffix(".json")).write_text(json.dumps({"summary": summary, "sizes": sizes}, indent=1, default=float))
    print(f"\nwritten to {out} (and {out.with_suffix('.json').name})", file=sys.stderr)
    return 0


def render_report(args, summary: dict, raw: dict, sizes: dict, photos: list[str], started, load_start: float, repeats: int) -> str:
    from detectors import cpu_name

    m, f = summary["moodtune"], summary["fer"]
    agree, both = agreement(raw["moodtune"]["wild"]["photos"], raw["fer"]["wild"]["photos"])
    load_end = os.getloadavg()[0]
    lines = [
        f"## moodtune vs fer {FER_VERSION}" + (f" (quick run: --limit {args.limit})" if args.limit else ""),
        "",
        (f"{started:%Y-%m-%d %H:%M %Z}; {cpu_name()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB; "
         f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
         f"load average {load_start:.2f} at start, {load_end:.2f} at end."),
        "",
        f"- {raw['moodtune']['speed']['config']}",
        f"- {raw['fer']['speed']['config']}",
        ("- one thread each (OMP/MKL/OpenBLAS 1, OpenCV 1, ONNX Runtime intra-op 1, TensorFlow intra-/inter-op 1, "
         "TFLite num_threads 1); each task in a fresh worker process of the tool's own venv, one at a time; "
         f"timings are medians over {repeats} runs after {args.warmup} warm-up runs (classifier alone: {repeats * 5}); "
         "CPU ms = process CPU time, which other processes on the machine do not inflate."),
        "",
        markdown_table(build_rows(m, f)),
        "",
    ]
    if args.note:
        lines += [f"Conditions: {args.note}", ""]
    lines += [
        (f"Agreement on faces-wild-dev: the tools give the same class on {agree:,} of the {both:,} photos where both found"
         f" a face ({agree / max(1, both):.1%}). Its labels are noisy (given by students) and cover 3 classes (happy 500, "
         "neutral 500, surprise 67 in the full set)."),
        "",
    ]
    if "fer-keras" in summary:
        k = summary["fer-keras"]
        rows = [r for r in build_rows(m, k) if not r[0].startswith(("install", "faces-wild-dev: photos with"))]
        lines += ["### moodtune vs fer with its Keras model (`FER(use_tflite=False)`; same Haar detector, same venv)", "",
                  markdown_table(rows, ("moodtune", "fer (Keras)")), ""]
        if "fer_acc" not in k:
            lines += ["(Speed only: fer's TFLite model is its quantized copy of this Keras model; `--keras-accuracy` scores it too.)", ""]
    lines += ["### Notes", ""]
    for tool, s in summary.items():
        for key in ("frame", "photo"):
            if s.get(f"{key}_faces", 1) != 1:
                lines.append(f"- WARNING: {tool} found {s[f'{key}_faces']} faces in the {s[f'{key}_name']} (one expected).")
    for tool, size in sizes.items():
        top = ", ".join(f"{n} {b / 2**20:.0f}" for n, b in list(size["per_dist"].items())[:5])
        lines.append(f"- install size, {tool}: {size['bytes'] / 2**20:.0f} MiB in {len(size['per_dist'])} distributions "
                     f"(largest, MiB: {top}); the whole site-packages less pip: {size['site_packages_bytes'] / 2**20:.0f} MiB"
                     + (f"; declared by fer but not installed (see the docstring): {', '.join(size['not_installed'])}"
                        if size["not_installed"] else "") + ".")
    peaks = "; ".join(f"{tool}: " + ", ".join(f"{task} {r['peak_rss_mb']:.0f}" for task, r in raw[tool].items()) for tool in raw)
    lines.append(f"- peak RSS of every worker process, MiB ({peaks}).")
    per_item = [f"{t}: {raw[t]['fer2013']['seconds'] / max(1, summary[t]['fer_n']) * 1e3:.2f} ms per FER2013 crop, "
                f"{raw[t]['wild']['ms_per_photo_median']:.1f} ms per faces-wild-dev photo (median, decoding included)"
                for t in raw if "fer2013" in raw[t] and "wild" in raw[t]]
    lines.append("- throughput in the accuracy runs (one image per call): " + "; ".join(per_item) + ".")
    lines.append("- fer's crops: `FER(offsets=(0, 0)).detect_emotions(crop, face_rectangles=[(0, 0, 48, 48)])`; with its "
                 "default 10 px offsets the crop gets a grey margin and accuracy drops by ~16 points. fer rounds scores to "
                 "2 decimals; ties go to the first class, as in its `top_emotion`.")
    lines.append("- earlier reference for fer: 65.8% / macro-F1 0.639 on PrivateTest; 78 ms per 600x512 photo (Haar + TFLite), "
                 "121 ms with its Keras model.")
    lines.append(f"- reproduce: `.venv/bin/python bench/compare_fer.py{' --limit ' + str(args.limit) if args.limit else ''}`"
                 f" (installs into `.cache/{Path(args.fer_venv).name}` and `.cache/{Path(args.moodtune_venv).name}` on first use).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
