"""The public API: ``analyze`` an image into faces with emotions and valence/arousal."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from moodtune.emotion.affect import valence_arousal
from moodtune.emotion.classifier import EmotionClassifier, get_classifier
from moodtune.emotion.labels import CLASSES
from moodtune.vision.crop import face_crop, whole_image_crop
from moodtune.vision.decode import ImageInput, load_image
from moodtune.vision.detect import Detection, FaceDetector, framing, get_detector


@dataclass
class FaceResult:
    """One analysed face.

    ``box`` (x, y, w, h) in pixels of the input image (after EXIF rotation);
    ``probabilities`` maps all 7 class names to floats summing to 1; ``emotion`` is the
    top class and ``confidence`` its probability; ``valence`` and ``arousal`` lie in [-1, 1].
    """

    box: tuple[int, int, int, int]
    probabilities: dict[str, float]
    emotion: str
    confidence: float
    valence: float
    arousal: float
    detection_score: float = 1.0

    @classmethod
    def from_probabilities(cls, box, probs: np.ndarray, detection_score: float = 1.0) -> "FaceResult":
        probs = np.asarray(probs, dtype=np.float64)
        top = int(np.argmax(probs))
        v, a = valence_arousal(probs)
        return cls(
            box=tuple(int(b) for b in box),
            probabilities={c: float(p) for c, p in zip(CLASSES, probs)},
            emotion=CLASSES[top],
            confidence=float(probs[top]),
            valence=float(v),
            arousal=float(a),
            detection_score=float(detection_score),
        )

    def to_dict(self) -> dict:
        """JSON-ready dict in the CLI/HTTP shape (rounded floats, box as a list)."""
        d = asdict(self)
        d["box"] = list(self.box)
        d["probabilities"] = {k: round(v, 4) for k, v in self.probabilities.items()}
        for k in ("confidence", "valence", "arousal", "detection_score"):
            d[k] = round(d[k], 4)
        return d


def analyze(image: ImageInput, detector: str | None = None, face_crop_input: bool = False, model: str | None = None) -> list[FaceResult]:
    """Find the faces in ``image`` and classify each one's expression.

    ``image``: a path, encoded bytes, or a numpy array (gray or BGR).
    ``detector``: a name from ``moodtune.vision.detect.detector_names()`` (default BlazeFace).
    ``face_crop_input``: the image already is one face crop (like FER2013); skip detection.
    ``model``: path of an ONNX emotion model (default: the shipped one).
    Returns one ``FaceResult`` per face, largest first; an empty list when no face is found.
    Raises ``MoodtuneError`` for unusable input.
    """
    bgr = load_image(image)
    return analyze_frame(bgr, detector=detector, face_crop_input=face_crop_input, model=model)


def analyze_frame(bgr: np.ndarray, detector: str | None = None, face_crop_input: bool = False, model: str | None = None) -> list[FaceResult]:
    """``analyze`` for an already-decoded (H, W, 3) BGR uint8 frame (video, webcam).

    Other arrays are converted as ``analyze`` converts them (gray, BGRA, other dtypes); an array
    that is not an image (NaN, wrong shape or dtype) raises ``MoodtuneError``.
    """
    if not isinstance(bgr, np.ndarray):
        raise TypeError(f"analyze_frame takes a numpy array, not {type(bgr).__name__}; use analyze for files and bytes")
    bgr = load_image(bgr)  # no copy for a contiguous uint8 BGR frame
    clf = get_classifier(model)
    size = clf.input_size
    if face_crop_input:
        h, w = bgr.shape[:2]
        probs = clf.predict(whole_image_crop(bgr, size)[None])[0]
        return [FaceResult.from_probabilities((0, 0, w, h), probs)]
    det = get_detector(detector)
    return classify_detections(bgr, det.detect(bgr), det, clf)


def classify_detections(bgr: np.ndarray, detections: list[Detection], detector: FaceDetector,
                        classifier: EmotionClassifier) -> list[FaceResult]:
    """Crop each detected face with ``detector``'s FER framing and classify it; largest face first."""
    if not detections:
        return []
    scale, dy = framing(detector)
    detections = sorted(detections, key=lambda d: -(d.box[2] * d.box[3]))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    crops = np.stack([face_crop(gray, d.box, classifier.input_size, scale, dy) for d in detections])
    probs = classifier.predict(crops)
    return [FaceResult.from_probabilities(d.box, p, d.score) for d, p in zip(detections, probs)]
