"""Worker for ``bench/compare_fer.py``: runs ONE task for ONE tool in its own process and venv.

    <venv>/bin/python bench/compare_fer_worker.py --tool {moodtune,fer,fer-keras} --task {fer2013,wild,speed,sizes} \
        --job job.json --result result.json

Not meant to be run by hand: ``compare_fer.py`` (and ``detectors.py --sizes``, task ``sizes``)
writes the job (inputs, repeats) and reads the result. This file imports only the standard library, numpy and OpenCV at module level (both
venvs have them) and the tool itself inside its adapter, so the moodtune side never loads
TensorFlow and the fer side never loads moodtune. Both tools run behind the same harness, so
every measurement (loops, warm-up, clocks) is the same code for both.

Threads: one for both tools, set before the tool is imported: OMP/MKL/OpenBLAS = 1 (env, set by
the parent), OpenCV ``setNumThreads(1)``, moodtune ``MOODTUNE_THREADS=1`` (ONNX Runtime intra-op
1), TensorFlow intra-op = inter-op = 1, and fer's TFLite interpreter built with ``num_threads=1``
(put in ``FER``'s class-level interpreter cache before ``FER()`` is built; fer itself leaves it
to TFLite).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # FER2013 order; both tools use it


# --------------------------------------------------------------------------- tool adapters
class Moodtune:
    """moodtune through its public API (``moodtune.analyze``, ``analyze_frame``; also the API of
    earlier versions, so that a previous checkout can run behind the same harness)."""

    def __init__(self) -> None:
        os.environ["MOODTUNE_THREADS"] = "1"
        import moodtune
        from moodtune import analyze_frame
        from moodtune.emotion.classifier import get_classifier
        from moodtune.vision.crop import face_crop
        from moodtune.vision.detect import framing, get_detector

        self.mt, self.analyze_frame = moodtune, analyze_frame
        self.clf, self.det = get_classifier(), get_detector()
        self._face_crop, self._framing = face_crop, framing
        self.version = getattr(moodtune, "__version__", None) or _dist_version("moodtune")
        import onnxruntime

        self.config = (f"moodtune {self.version}: detector {self.det.name}, shipped emotion.onnx "
                       f"({self.clf.input_size}x{self.clf.input_size}), ONNX Runtime {onnxruntime.__version__}, 1 thread")

    def crop(self, gray: np.ndarray) -> str:
        """One 48x48 FER2013 crop, the ``moodtune analyze --face-crop`` path (detection skipped)."""
        faces = self.analyze_frame(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), face_crop_input=True)
        return faces[0].emotion

    def photo(self, path: str) -> list[tuple[tuple[int, int, int, int], str]]:
        """Decode + detect + classify a photo file: [(box, emotion)], largest face first."""
        return [(f.box, f.emotion) for f in self.mt.analyze(path)]

    def frame(self, bgr: np.ndarray) -> int:
        return len(self.analyze_frame(bgr))

    def frame_boxes(self, bgr: np.ndarray) -> list:
        """Detection + classification of a decoded frame: the face boxes (x, y, w, h)."""
        return [list(f.box) for f in self.analyze_frame(bgr)]

    def detect_boxes(self, bgr: np.ndarray) -> list:
        """The default detector alone."""
        return [list(d.box) for d in self.det.detect(bgr)]

    def classifier_input(self, bgr: np.ndarray):
        """The classifier's input for the largest face of ``bgr``, as the pipeline builds it."""
        d = max(self.det.detect(bgr), key=lambda d: d.box[2] * d.box[3])
        scale, dy = self._framing(self.det)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        return self._face_crop(gray, d.box, self.clf.input_size, scale, dy)[None]  # (1, 48, 48) uint8

    def classify(self, x) -> None:
        self.clf.predict(x)


class Fer:
    """The ``fer`` package (``fer.fer.FER``), Haar cascade detector (its default; MTCNN needs
    facenet-pytorch, i.e. torch, which is not installed), TFLite model (its default) or Keras."""

    def __init__(self, keras: bool = False) -> None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import warnings

        warnings.filterwarnings("ignore")
        from fer.fer import FER  # `from fer import FER` does not work in 25.10.3

        if not keras:  # fer builds tf.lite.Interpreter(model_path) without num_threads; seed its cache with a 1-thread one
            import pkg_resources

            path = pkg_resources.resource_filename("fer", "data/emotion_model_quantized.tflite")
            interp = tf.lite.Interpreter(model_path=path, num_threads=1)
            interp.allocate_tensors()
            FER._tflite_interpreter_cache = interp
        self.keras = keras
        self.fer = FER(use_tflite=not keras)
        # the crop path: FER2013 crops are the whole face, so no extra margin (offsets default to 10 px)
        self.fer_crop = FER(use_tflite=not keras, offsets=(0, 0))
        self.version = _dist_version("fer")
        self.config = (f"fer {self.version}: Haar cascade (OpenCV {cv2.__version__}), "
                       f"{'Keras model (use_tflite=False)' if keras else 'TFLite quantized model (default)'}, "
                       f"TensorFlow {tf.__version__}, 1 thread")

    @staticmethod
    def _top(emotions: dict) -> str:  # what fer's own top_emotion() does
        return max(emotions, key=lambda k: emotions[k])

    def crop(self, gray: np.ndarray) -> str:
        """One 48x48 crop straight to the classifier: ``detect_emotions`` with the whole image as the
        face rectangle (its documented way to skip detection), no offsets."""
        h, w = gray.shape
        faces = self.fer_crop.detect_emotions(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), face_rectangles=[(0, 0, w, h)])
        return self._top(faces[0]["emotions"])

    def photo(self, path: str):
        faces = self.fer.detect_emotions(path)  # fer decodes the path itself (cv2.imread)
        faces = sorted(faces, key=lambda f: -(f["box"][2] * f["box"][3]))
        return [(tuple(int(v) for v in f["box"]), self._top(f["emotions"])) for f in faces]

    def frame(self, bgr: np.ndarray) -> int:
        return len(self.fer.detect_emotions(bgr))

    def frame_boxes(self, bgr: np.ndarray) -> list:
        return [[int(v) for v in f["box"]] for f in self.fer.detect_emotions(bgr)]

    def detect_boxes(self, bgr: np.ndarray) -> list:
        """fer's face detector alone (``find_faces``, its Haar cascade)."""
        return [[int(v) for v in b] for b in self.fer.find_faces(bgr)]

    def classifier_input(self, bgr: np.ndarray):
        """The classifier's input for the largest face, as ``detect_emotions`` builds it (64x64, [-1, 1])."""
        x, y, w, h = max(self.fer.find_faces(bgr), key=lambda b: b[2] * b[3])
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        face = cv2.resize(gray[max(0, y - 10) : y + h + 10, max(0, x - 10) : x + w + 10], (64, 64))
        return ((face.astype(np.float32) / 255.0 - 0.5) * 2.0)[None]  # (1, 64, 64) float32

    def classify(self, x) -> None:
        self.fer._classify_emotions(x)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def make_tool(name: str):
    cv2.setNumThreads(1)
    if name == "moodtune":
        return Moodtune()
    if name in ("fer", "fer-keras"):
        return Fer(keras=name == "fer-keras")
    raise SystemExit(f"unknown tool {name!r}")


# --------------------------------------------------------------------------- tasks
def task_fer2013(tool, job: dict) -> dict:
    images = np.load(job["crops"])["images"]
    t0 = time.perf_counter()
    pred = [tool.crop(img) for img in images]
    return {"pred": pred, "seconds": time.perf_counter() - t0}


def task_wild(tool, job: dict) -> dict:
    out, times = [], []
    for path in job["photos"]:
        t0 = time.perf_counter()
        faces = tool.photo(path)
        times.append(time.perf_counter() - t0)
        out.append({"faces": len(faces), "emotion": faces[0][1] if faces else None, "box": list(faces[0][0]) if faces else None})
    return {"photos": out, "ms_per_photo_median": statistics.median(times) * 1e3 if times else None}


def timed(fn, arg, warmup: int, repeats: int) -> dict:
    """Median wall-clock and process-CPU milliseconds of ``fn(arg)`` after ``warmup`` calls.

    Process CPU time (all threads) is not inflated by other processes on a busy machine."""
    for _ in range(warmup):
        fn(arg)
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn(arg)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"ms": statistics.median(wall) * 1e3, "cpu_ms": statistics.median(cpu) * 1e3, "repeats": repeats,
            "p90_ms": float(np.percentile(wall, 90)) * 1e3}


def task_speed(tool, job: dict) -> dict:
    frames = {name: cv2.imread(path, cv2.IMREAD_COLOR) for name, path in job["frames"].items()}
    first = frames[job["main_frame"]]
    faces_first = tool.frame(first)
    first_result = time.time()  # cold start ends: imports, model loads, first frame analysed
    res = {"cold_start_s": first_result - job["spawn_time"], "frames": {}}
    for name, bgr in frames.items():
        r = timed(tool.frame, bgr, job["warmup"], job["repeats"])
        r["faces"] = tool.frame(bgr)
        res["frames"][name] = r
    res["frames"][job["main_frame"]]["faces_first_call"] = faces_first
    x = tool.classifier_input(first)
    res["classifier"] = timed(tool.classify, x, job["warmup"] * 4, job["repeats"] * 5)
    res["classifier"]["input"] = f"{x.dtype}{list(x.shape)}"
    return res


def task_sizes(tool, job: dict) -> dict:
    """Per row of frames (PNG files): the boxes found and every timing, for the detector alone
    (``detect``) and the whole pipeline (``pipeline``), ``repeats`` rounds over the row's frames
    after ``warmup`` calls on its first frame. Wall-clock and this thread's CPU milliseconds."""
    out = {}
    for row, paths in job["rows"].items():
        frames = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths]
        res = {}
        for mode, fn in (("detect", tool.detect_boxes), ("pipeline", tool.frame_boxes)):
            for _ in range(job["warmup"]):
                fn(frames[0])
            boxes = [fn(f) for f in frames]
            wall, cpu = [], []
            for _ in range(job["repeats"]):
                for f in frames:
                    c0, t0 = time.thread_time(), time.perf_counter()
                    fn(f)
                    wall.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.thread_time() - c0) * 1e3)
            res[mode] = {"boxes": boxes, "wall_ms": wall, "cpu_ms": cpu}
        out[row] = res
    return {"rows": out}


def peak_rss_mb() -> float:
    """High-water resident set size of this process (``VmHWM``), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, choices=["moodtune", "fer", "fer-keras"])
    ap.add_argument("--task", required=True, choices=["fer2013", "wild", "speed", "sizes"])
    ap.add_argument("--job", required=True, help="JSON file written by compare_fer.py")
    ap.add_argument("--result", required=True, help="JSON file to write")
    args = ap.parse_args(argv)
    with open(args.job) as f:
        job = json.load(f)
    tool = make_tool(args.tool)
    result = {"fer2013": task_fer2013, "wild": task_wild, "speed": task_speed, "sizes": task_sizes}[args.task](tool, job)
    result.update(tool=args.tool, task=args.task, config=tool.config, version=tool.version, peak_rss_mb=peak_rss_mb(),
                  python=sys.version.split()[0], threads={k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MOODTUNE_THREADS")})
    tmp = args.result + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, args.result)


if __name__ == "__main__":
    main()
