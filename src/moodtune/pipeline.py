"""``Analyzer``: a face detector, an emotion model and their options, configured once.

>>> import moodtune
>>> an = moodtune.Analyzer(detector="blazeface", model="moodnet", threads=1, channels="rgb")  # doctest: +SKIP
>>> faces = an.analyze(rgb_array)                         # list[FaceResult], largest first  # doctest: +SKIP
>>> per_image = an.analyze_batch([a, b, c])               # one classifier call for all faces  # doctest: +SKIP
>>> for frame in an.iter_video("party.mp4", every=5):     # tracked, smoothed faces  # doctest: +SKIP
...     print(frame.frame, frame.time, [(f.track, f.emotion) for f in frame.faces])

``FrameAnalyzer`` is the live pipeline over an ``Analyzer``: for each frame it finds and
classifies the faces, gives each a stable track id (``moodtune.vision.tracking.IoUTracker``)
and smooths its probabilities over time (``moodtune.emotion.smoothing.EmaSmoother``); in fast
mode (streams) the detector's search is split over frames (see ``FrameAnalyzer``) and known
faces are followed in between. ``moodtune.analyze(image, **options)`` is a shortcut over a cached
``Analyzer(**options)``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodtune.emotion.classifier import EmotionClassifier, get_classifier
from moodtune.emotion.group import group_mood
from moodtune.emotion.smoothing import EmaSmoother
from moodtune.errors import MoodtuneError
from moodtune.types import MIN_FACE_PX, UNCERTAIN_BELOW, Detection, FaceResult, LiveFrame, TrackedFace, VideoFrame
from moodtune.video import DEFAULT_HALF_LIFE_S, open_video
from moodtune.vision.crop import face_crop, whole_image_crop
from moodtune.vision.decode import ImageInput, load_image
from moodtune.vision.detect import DEFAULT_DETECTOR, FaceDetector, framing, get_detector
from moodtune.vision.tracking import IoUTracker, iou_matrix

__all__ = ["ALIGN", "BLUR_BELOW", "Analyzer", "FrameAnalyzer", "analyze", "analyze_frame", "blur_score"]

#: ``FaceResult.uncertain``'s blur rule: a face whose gray model-input crop has a variance of the
#: Laplacian below this is too blurred to judge (a model card's ``blur_below`` overrides it).
#: Chosen on faces-wild-dev (``python bench/faces_wild.py``, 2026-12-01): the 6 faces below 80
#: (0.6%) were all read wrong (0.0%; 72.8% for the rest); the median face scores 1295.
BLUR_BELOW = 80.0
#: Roll the face crop so that BlazeFace's eye keypoints are level (``vision.crop.face_crop``).
#: Measured end to end on faces-wild-dev (``python bench/faces_wild.py``, shipped model,
#: 2026-12-01): upright 71.79% off, 72.35% on; rotated by +-15 degrees 67.67% off, 71.18% on.
ALIGN = True

CHANNELS = ("bgr", "rgb")


def blur_score(crop: np.ndarray) -> float:
    """Variance of the Laplacian of a gray crop (higher is sharper)."""
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


class Analyzer:
    """Find faces and classify their expressions, configured once.

    ``detector``: a name from ``moodtune.list_detectors()`` (default "blazeface") or any object
    with ``detect(bgr) -> list[Detection]``.
    ``model``: a shipped model's name (``moodtune.list_models()``), a path to an ONNX emotion
    model, or an ``EmotionClassifier``. One ONNX session per model file and thread count per
    process, however the path is spelled.
    ``threads``: ONNX Runtime intra-op threads for the detector and the model (default 1).
    ``channels``: how to read 3- and 4-channel arrays: "bgr" (OpenCV, the default) or "rgb"
    (PIL, imageio, browsers); files and bytes are decoded correctly either way.
    ``face_crop_input``: every image already is one face crop (like FER2013); no detection.
    ``align``: roll each crop so the eyes are level, where the detector gives keypoints.
    """

    def __init__(
        self,
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        model: str | os.PathLike | EmotionClassifier | None = None,
        threads: int = 1,
        channels: str = "bgr",
        face_crop_input: bool = False,
        align: bool = ALIGN,
    ):
        if channels not in CHANNELS:
            raise MoodtuneError(f"channels must be 'bgr' or 'rgb', not {channels!r}")
        if int(threads) < 1:
            raise MoodtuneError(f"threads must be 1 or more, got {threads}")
        self.threads = int(threads)
        self.detector = get_detector(detector, self.threads)
        self.classifier = get_classifier(model, self.threads)
        self.channels, self.face_crop_input, self.align = channels, bool(face_crop_input), bool(align)
        card = self.classifier.card
        self.uncertain_below = float(card.get("uncertain_below", UNCERTAIN_BELOW))
        self.blur_below = float(card.get("blur_below", BLUR_BELOW))

    def __repr__(self) -> str:
        return (f"Analyzer(detector={getattr(self.detector, 'name', type(self.detector).__name__)!r}, "
                f"threads={self.threads}, channels={self.channels!r}, align={self.align})")

    # ------------------------------------------------------------------ images

    def load(self, image: ImageInput) -> np.ndarray:
        """``image`` (path, bytes or array, see ``moodtune.vision.decode.load_image``) as BGR uint8;
        arrays are read in this analyzer's ``channels`` order."""
        if self.channels == "rgb" and isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] in (3, 4):
            image = image[:, :, [2, 1, 0, 3][: image.shape[2]]]
        return load_image(image)

    def analyze(self, image: ImageInput) -> list[FaceResult]:
        """The faces in one image (path, encoded bytes or array), largest first; [] when none.
        Raises ``MoodtuneError`` for unusable input."""
        return self.analyze_batch([image])[0]

    def analyze_batch(self, images: Sequence[ImageInput]) -> list[list[FaceResult]]:
        """``analyze`` for several images, with one classifier call for all their faces."""
        frames = [self.load(im) for im in images]
        if self.face_crop_input:
            return self._classify([(f, [_whole(f)], None) for f in frames], crop_input=True)
        return self._classify([(f, self.detector.detect(f), self.detector) for f in frames])

    def classify(self, bgr: np.ndarray, detections: Sequence[Detection], detector: FaceDetector | None = None) -> list[FaceResult]:
        """Classify already-detected faces of one BGR frame (framed for ``detector``, default
        this analyzer's), largest first."""
        return self._classify([(bgr, list(detections), detector or self.detector)])[0]

    def _classify(self, jobs: Sequence[tuple[np.ndarray, Sequence[Detection], Any]], crop_input: bool = False) -> list[list[FaceResult]]:
        return [[face for face, _ in faces] for faces in self._judged(jobs, crop_input)]

    def _judged(self, jobs: Sequence[tuple[np.ndarray, Sequence[Detection], Any]],
                crop_input: bool = False) -> list[list[tuple[FaceResult, bool]]]:
        """(face, judgeable) per detection per job, largest first per job, one model call."""
        size = self.classifier.input_size
        crops, owners = [], []
        for j, (bgr, detections, detector) in enumerate(jobs):
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            if crop_input:
                crops.append(whole_image_crop(gray, size))
                owners.append((j, detections[0]))
                continue
            scale, dy = framing(detector)
            for d in sorted(detections, key=lambda d: -(d.box[2] * d.box[3])):
                eyes = d.keypoints[:2] if self.align and d.keypoints else None
                crops.append(face_crop(gray, d.box, size, scale, dy, eyes))
                owners.append((j, d))
        out: list[list[tuple[FaceResult, bool]]] = [[] for _ in jobs]
        if not crops:
            return out
        probs = self.classifier.predict(np.stack(crops))
        for (j, d), crop, p in zip(owners, crops, probs, strict=True):
            judgeable = min(d.box[2], d.box[3]) >= MIN_FACE_PX and blur_score(crop) >= self.blur_below
            face = FaceResult.from_probabilities(d.box, p, d.score, d.keypoints, self.uncertain_below, judgeable)
            out[j].append((face, judgeable))
        return out

    # ------------------------------------------------------------------ streams

    def stream(self, **options: Any) -> FrameAnalyzer:
        """A ``FrameAnalyzer`` (tracking, smoothing, optional fast mode) over this analyzer."""
        return FrameAnalyzer(analyzer=self, **options)

    def iter_video(
        self,
        source: str | os.PathLike | int | Iterable[np.ndarray],
        every: int = 1,
        *,
        fast: bool | None = None,
        half_life: float = DEFAULT_HALF_LIFE_S,
        progress: bool | None = None,
        keep_images: bool = False,
        max_frames: int | None = None,
        start: float = 0.0,
        end: float = math.inf,
    ) -> Iterator[VideoFrame]:
        """Yield every ``every``-th frame of ``source`` with its tracked, smoothed faces.

        ``source``: a video file, a camera index (int), or any iterable of BGR (or, with
        ``channels="rgb"``, RGB) arrays. Frames of a file in between are skipped without being
        decoded. Smoothing runs on the frames' time stamps (``half_life`` seconds; the file's frame
        rate, else 30 fps), so it means the same whatever ``every`` is.
        ``fast``: fast mode (full detector every 30 processed frames, known faces followed in
        between); default: on for cameras and iterables, off for files.
        ``progress``: a tqdm bar on stderr (None: only when stderr is a terminal).
        ``keep_images``: attach each processed frame's image (for drawing).
        ``max_frames``: stop after this many processed frames.
        ``start``/``end``: a video file's time range in seconds (its sampled frames from ``start``
        up to, not including, ``end``; the frame numbers stay the file's).
        Raises ``MoodtuneError`` for a file that is not a readable video (or whose range from 0
        holds no decodable frame).
        """
        every = int(every)
        if every < 1:
            raise MoodtuneError(f"--every must be 1 or more, got {every}")
        is_file = isinstance(source, (str, os.PathLike))
        fps, total, name = 30.0, None, "frames"
        cap = None
        if is_file:
            cap, info = open_video(source)  # type: ignore[arg-type]
            fps = info.fps or 30.0
            total = math.ceil(info.frames / every) if info.frames else None
            name = Path(source).name  # type: ignore[arg-type]
        elif isinstance(source, int):
            cap = cv2.VideoCapture(source)
            if not cap.isOpened():
                cap.release()
                raise MoodtuneError(f"camera {source} cannot be opened")
            name = f"camera {source}"
        # a face must be lost for about a second of video before its track ends; sparse
        # sampling: faces move further between processed frames
        sparse = every > 2
        live = self.stream(fast=(not is_file) if fast is None else fast, half_life=half_life, unit="seconds",
                           max_missed=max(2, round(fps / every)), iou_threshold=0.15 if sparse else 0.3,
                           max_distance=1.5 if sparse else 0.5)
        if max_frames is not None and total is not None:
            total = min(total, max_frames)
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc=name, disable=(None if progress is None else not progress),
                   leave=False, dynamic_ncols=True)
        frames: Iterator[np.ndarray] | None = iter(source) if cap is None else None  # type: ignore[arg-type, assignment]
        done = index = 0
        if is_file and start > 0:
            index = math.ceil(start * fps / every) * every  # the range's first sampled frame
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)  # type: ignore[union-attr]
        try:
            while (max_frames is None or done < max_frames) and not (is_file and index / fps >= end):
                if cap is not None:
                    if index % every:
                        if not cap.grab():
                            break
                        index += 1
                        continue
                    ok, bgr = cap.read()
                    if not ok or bgr is None:
                        break
                    pos = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
                    t = index / fps if is_file and fps else pos
                else:
                    try:
                        bgr = next(frames)  # type: ignore[arg-type]
                    except StopIteration:
                        break
                    if index % every:
                        index += 1
                        continue
                    bgr = self.load(bgr)
                    t = index / fps
                faces = live.process(bgr, at=t)
                yield VideoFrame(index, t, faces, bgr if keep_images else None)
                done += 1
                index += 1
                bar.update(1)
        finally:
            if cap is not None:
                cap.release()
            bar.close()
        if done == 0 and is_file and start <= 0:
            raise MoodtuneError(f"{source}: no frame could be decoded")


def _whole(bgr: np.ndarray) -> Detection:
    return Detection((0, 0, int(bgr.shape[1]), int(bgr.shape[0])), 1.0)


class FrameAnalyzer:
    """Analyse a stream of BGR frames into tracked, smoothed faces.

    ``analyzer``: the ``Analyzer`` to use; without one, ``Analyzer(detector, model)`` is built
    (names or instances, defaults as there).
    ``fast``: with BlazeFace, every frame gets the detector's first, coarse scan (faces larger
    than about an eighth of the frame), except every ``full_search_every``-th frame (from the
    second on), which gets its finer scans instead (``BlazeFaceDetector.detect_small``: a full
    search split over two frames, so no frame pays for both); on those frames a face that
    continues a track seen on the frame before keeps that frame's reading, and only new faces
    are classified. Tracked faces a frame's search misses are looked for again in a square of
    ``follow_zoom`` times their last box, where they are large for the model. A frame costs
    about the same with or without faces (live video).
    ``full_search_every=1``: the whole detector on every frame.
    ``half_life``/``unit``: smoothing, see ``EmaSmoother`` ("seconds" uses the ``at`` passed to
    ``process``, by default the monotonic clock; "frames" counts ``process`` calls).
    ``iou_threshold``/``max_missed``/``max_distance``: tracking, see ``IoUTracker``.
    """

    def __init__(
        self,
        detector: str | FaceDetector | None = None,
        model: str | os.PathLike | EmotionClassifier | None = None,
        *,
        analyzer: Analyzer | None = None,
        half_life: float = DEFAULT_HALF_LIFE_S,
        unit: str = "seconds",
        iou_threshold: float = 0.3,
        max_missed: int = 15,
        max_distance: float = 0.5,
        fast: bool = False,
        full_search_every: int = 30,
        follow_zoom: float = 2.5,
    ):
        self.analyzer = analyzer or Analyzer(detector or DEFAULT_DETECTOR, model)
        self.detector = self.analyzer.detector
        self._fast = _fast_blazeface(self.analyzer.threads) if fast and _is_blazeface(self.detector) else None
        self.full_search_every = max(1, int(full_search_every))
        self.follow_zoom = float(follow_zoom)
        self._since_full = self.full_search_every - 2  # the second frame gets the finer scans
        self.tracker = IoUTracker(iou_threshold=iou_threshold, max_missed=max_missed, max_distance=max_distance)
        self.smoother = EmaSmoother(half_life=half_life, unit=unit)
        self.frames = 0
        self.last_search = "full"  # "full", "fine" or "coarse": what the last ``detect`` ran
        self._readings: dict[int, tuple[FaceResult, bool]] = {}  # each track's reading on the last frame

    def reset(self) -> None:
        """Forget all tracks and averages (e.g. when the camera changes)."""
        self.tracker.reset()
        self.smoother.reset()
        self._readings = {}
        self._since_full = self.full_search_every - 2

    def detect(self, bgr: np.ndarray) -> tuple[list[Detection], FaceDetector]:
        """(detections, the detector whose framing applies) for one frame (see the class docstring)."""
        if self._fast is None or self.full_search_every == 1:
            self.last_search = "full"
            return self.detector.detect(bgr), self.detector
        self._since_full += 1
        if self._since_full >= self.full_search_every:
            self._since_full = 0
            self.last_search = "fine"
            found = self.detector.detect_small(bgr)  # type: ignore[attr-defined]  # BlazeFace (``_fast``)
        else:
            self.last_search = "coarse"
            found = self._fast.detect(bgr)
        return found + self._follow(bgr, found), self._fast

    def _follow(self, bgr: np.ndarray, found: list[Detection]) -> list[Detection]:
        """Recently seen tracks that ``found`` misses, each looked for around its last box."""
        extra: list[Detection] = []
        for track in self.tracker.tracks:
            if track.missed > 2:
                continue
            taken = [d.box for d in found + extra]
            if taken and float(iou_matrix([track.box], taken).max()) >= 0.3:
                continue
            d = self._fast.follow(bgr, track.box, self.follow_zoom)  # type: ignore[union-attr]
            if d is not None:
                extra.append(d)
        return extra

    def analyze(self, bgr: np.ndarray) -> list[FaceResult]:
        """This frame's faces, unsmoothed, largest first (the computation of ``Analyzer.analyze``
        on a full-search frame)."""
        return [face for face, _ in self._analyze(bgr)]

    def _analyze(self, bgr: np.ndarray) -> list[tuple[FaceResult, bool]]:
        detections, det = self.detect(bgr)
        if self.last_search != "fine":
            return self.analyzer._judged([(bgr, detections, det)])[0]
        carried, new = self._carried(detections)
        judged = self.analyzer._judged([(bgr, new, det)])[0] + carried
        return sorted(judged, key=lambda fj: -(fj[0].box[2] * fj[0].box[3]))

    def _carried(self, detections: list[Detection]) -> tuple[list[tuple[FaceResult, bool]], list[Detection]]:
        """(readings carried over, detections to classify) for a fine-search frame, the costliest
        of a fast stream: a detection that continues a track seen on the frame before keeps
        that track's last reading in its new box, so it costs no classifier call."""
        live = [t for t in self.tracker.tracks if t.missed == 0 and t.id in self._readings]
        if not live or not detections:
            return [], list(detections)
        overlap = iou_matrix([d.box for d in detections], [t.box for t in live])
        carried, new = [], []
        for d, row in zip(detections, overlap, strict=True):
            best = int(row.argmax())
            if row[best] < self.tracker.iou_threshold:
                new.append(d)
                continue
            raw, judgeable = self._readings[live[best].id]
            face = FaceResult.from_probabilities(d.box, raw.probability_vector(), d.score, d.keypoints,
                                                 self.analyzer.uncertain_below, judgeable)
            carried.append((face, judgeable))
        return carried, new

    def process(self, bgr: np.ndarray, at: float | None = None) -> list[TrackedFace]:
        """Faces of one frame with track ids and smoothed probabilities, largest first.

        ``at``: time of the frame in seconds (unit "seconds"; default: now) or its frame index
        (unit "frames"; default: the number of frames processed before).
        """
        if at is None:
            at = time.monotonic() if self.smoother.unit == "seconds" else float(self.frames)
        self.frames += 1
        return self._track(self._analyze(bgr), at)

    def live_frame(self, bgr: np.ndarray, index: int, at: float | None = None) -> LiveFrame:
        """``process`` as a ``LiveFrame`` (what the WebSocket sends): faces, the group mood when
        there are two or more, and the time taken."""
        t0 = time.perf_counter()
        faces = self.process(bgr, at)
        group = group_mood(faces, uncertain_below=self.analyzer.uncertain_below) if len(faces) > 1 else None
        return LiveFrame(index, int(bgr.shape[1]), int(bgr.shape[0]), faces, group, round((time.perf_counter() - t0) * 1000, 1))

    def track(self, faces: Sequence[FaceResult], at: float) -> list[TrackedFace]:
        """Give already-analysed ``faces`` of one frame their track ids and smoothed probabilities."""
        return self._track([(f, True) for f in faces], at)

    def _track(self, judged: Sequence[tuple[FaceResult, bool]], at: float) -> list[TrackedFace]:
        ids = self.tracker.update([f.box for f, _ in judged])
        self.smoother.forget(self.tracker.dropped)
        self._readings = dict(zip(ids, judged, strict=True))
        out = []
        for tid, (raw, judgeable) in zip(ids, judged, strict=True):
            probs = self.smoother.update(tid, raw.probability_vector(), at)
            smooth = FaceResult.from_probabilities(raw.box, probs, raw.detection_score, raw.keypoints,
                                                   self.analyzer.uncertain_below, judgeable)
            out.append(TrackedFace(**vars(smooth), track=tid, raw_emotion=raw.emotion, raw=raw))
        return out


def _is_blazeface(detector: Any) -> bool:
    from moodtune.vision.blazeface import BlazeFaceDetector

    return isinstance(detector, BlazeFaceDetector)


@cache
def _fast_blazeface(threads: int) -> Any:
    """BlazeFace's first pass only (bounded time per frame), built once per thread count."""
    from moodtune.vision.blazeface import BlazeFaceDetector

    return BlazeFaceDetector(threads=threads, small_faces="never")


# ---------------------------------------------------------------------- module-level shortcuts


@lru_cache(maxsize=16)
def _cached(options: tuple[tuple[str, Any], ...]) -> Analyzer:
    return Analyzer(**dict(options))


def default_analyzer(**options: Any) -> Analyzer:
    """The ``Analyzer(**options)`` shared by ``moodtune.analyze`` calls with the same options
    (None values mean the defaults)."""
    opts = tuple(sorted((k, v) for k, v in options.items() if v is not None))
    try:
        return _cached(opts)
    except TypeError:  # an unhashable option value
        return Analyzer(**dict(opts))


def analyze(image: ImageInput, **options: Any) -> list[FaceResult]:
    """Find the faces in ``image`` and classify each one's expression.

    ``image``: a path, encoded bytes, or a numpy array (gray, BGR, BGRA; RGB with
    ``channels="rgb"``). ``options``: those of ``Analyzer`` (``detector``, ``model``,
    ``threads``, ``channels``, ``face_crop_input``, ``align``); the analyzer for a set of
    options is built once. Returns one ``FaceResult`` per face, largest first; [] when no face
    is found. Raises ``MoodtuneError`` for unusable input.
    """
    return default_analyzer(**options).analyze(image)


def analyze_frame(bgr: np.ndarray, **options: Any) -> list[FaceResult]:
    """``analyze`` for an already-decoded frame (video, webcam): a numpy array only.

    Other arrays are converted as ``analyze`` converts them (gray, BGRA, other dtypes); an array
    that is not an image (NaN, wrong shape or dtype) raises ``MoodtuneError``.
    """
    if not isinstance(bgr, np.ndarray):
        raise TypeError(f"analyze_frame takes a numpy array, not {type(bgr).__name__}; use analyze for files and bytes")
    return analyze(bgr, **options)
