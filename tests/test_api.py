"""The public API on real photos: faces, probabilities, valence/arousal, input kinds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import moodtune
from moodtune.emotion.affect import valence_arousal
from moodtune.emotion.labels import CLASS_VA, CLASSES


def _check_face(face: moodtune.FaceResult, shape) -> None:
    assert list(face.probabilities) == list(CLASSES)
    assert abs(sum(face.probabilities.values()) - 1) < 1e-4
    assert face.emotion == max(face.probabilities, key=face.probabilities.get)
    assert face.confidence == pytest.approx(face.probabilities[face.emotion])
    assert -1 <= face.valence <= 1 and -1 <= face.arousal <= 1
    x, y, w, h = face.box
    assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= shape[1] and y + h <= shape[0]


def test_analyze_path_bytes_array_gray(hopper_path, hopper_bgr):
    by_path = moodtune.analyze(hopper_path)
    assert len(by_path) == 1
    _check_face(by_path[0], hopper_bgr.shape)
    x, y, w, h = by_path[0].box  # the face is in the upper middle of the portrait
    assert 100 < x + w / 2 < 420 and 60 < y + h / 2 < 330 and w > 100
    by_bytes = moodtune.analyze(hopper_path.read_bytes())
    assert by_bytes[0].box == by_path[0].box
    by_array = moodtune.analyze(moodtune.vision.decode.load_image(hopper_path))
    assert by_array[0].probabilities == pytest.approx(by_path[0].probabilities, abs=1e-5)
    gray = cv2.cvtColor(hopper_bgr, cv2.COLOR_BGR2GRAY)
    by_gray = moodtune.analyze(gray)
    assert len(by_gray) == 1 and by_gray[0].emotion in CLASSES


def test_analyze_with_haar(astronaut_bgr):
    faces = moodtune.analyze(astronaut_bgr, detector="haar")
    assert len(faces) >= 1
    _check_face(faces[0], astronaut_bgr.shape)


def test_no_face_is_an_empty_result():
    assert moodtune.analyze(np.zeros((480, 640, 3), np.uint8)) == []
    assert moodtune.analyze(np.full((200, 300), 180, np.uint8)) == []


def test_face_crop_input_uses_whole_image(hopper_bgr):
    faces = moodtune.analyze(hopper_bgr, face_crop_input=True)
    assert len(faces) == 1 and faces[0].box == (0, 0, hopper_bgr.shape[1], hopper_bgr.shape[0])


def test_unknown_detector_is_a_clear_error(hopper_bgr):
    with pytest.raises(moodtune.MoodtuneError, match="unknown detector"):
        moodtune.analyze(hopper_bgr, detector="nope")


def test_valence_arousal_projection():
    # a certain class lands on its own circumplex point; NRC-VAD happy = (1.000, .735) → (1.0, 0.47)
    for i in range(7):
        p = np.eye(7)[i]
        assert np.allclose(valence_arousal(p), CLASS_VA[i])
    assert np.allclose(valence_arousal(np.eye(7)[CLASSES.index("happy")]), [1.0, 0.47])
    mix = np.zeros(7)
    mix[[CLASSES.index("happy"), CLASSES.index("sad")]] = 0.5
    assert np.allclose(valence_arousal(mix), (CLASS_VA[3] + CLASS_VA[4]) / 2)
    assert valence_arousal(np.full((5, 7), 1 / 7)).shape == (5, 2)


def test_shipped_model_has_a_card():
    from moodtune.emotion.classifier import get_classifier

    clf = get_classifier()
    assert clf.input_size == 48
    for key in ("architecture", "trained_on", "public_test_accuracy", "epochs_run"):
        assert key in clf.card


@pytest.mark.shared
def test_fer_crops_are_mostly_right(shared_data):
    """The shipped model on 70 real PrivateTest crops (10 per class) beats chance by far."""
    from moodtune.emotion.classifier import get_classifier

    root = shared_data / "fer2013" / "images" / "PrivateTest"
    crops, labels = [], []
    for i, c in enumerate(CLASSES):
        for p in sorted((root / c).glob("*.png"))[:10]:
            crops.append(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE))
            labels.append(i)
    pred = get_classifier().predict(np.stack(crops)).argmax(1)
    assert (pred == np.array(labels)).mean() > 0.35  # chance is 1/7 = 0.14
