"""The robustness report card: fixed seeded corruptions, the accuracy table, and ``moodtune eval --robustness`` on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from moodtune.cli import main  # noqa: E402
from moodtune.emotion.labels import CLASSES  # noqa: E402
from moodtune.training.export import export_onnx  # noqa: E402
from moodtune.training.robustness import SEVERITIES, corrupt, robustness  # noqa: E402
from moodtune.training.zoo import create_model  # noqa: E402


def textured(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48] / 48
    base = 110 + 60 * np.sin(6 * xx[None] + rng.uniform(0, 6, (n, 1, 1))) * np.cos(5 * yy[None])
    return np.clip(base + rng.normal(0, 10, (n, 48, 48)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("family", list(SEVERITIES))
def test_each_corruption_is_deterministic_and_grows_with_severity(family):
    faces = textured(12)
    outs = [corrupt(faces, family, s) for s in (1, 2, 3)]
    assert all(o.dtype == np.uint8 and o.shape == faces.shape for o in outs)
    assert np.array_equal(outs[1], corrupt(faces, family, 2))
    diffs = [np.abs(o.astype(float) - faces).mean() for o in outs]
    assert 0 < diffs[0] < diffs[1] < diffs[2], diffs


def test_occlusions_cover_the_face_half_they_name():
    faces = textured(4)
    lower, upper = corrupt(faces, "lower-face occlusion", 2), corrupt(faces, "upper-face occlusion", 2)
    assert np.array_equal(lower[:, :28], faces[:, :28]) and np.all(lower[:, 31:] == 128)
    assert np.array_equal(upper[:, 30:], faces[:, 30:]) and np.all(upper[:, 13:21] == 20)


def test_card_scores_a_brightness_reader_right():
    """A 'model' that reads the class from the face's brightness: perfect when clean, fooled by
    low light, unmoved by a rotation (which keeps the mean)."""
    labels = np.arange(140) % 7
    faces = np.repeat((40 + 30 * labels).astype(np.uint8)[:, None, None], 48, 1).repeat(48, 2)

    def predict(x):
        cls = np.clip(np.round((x.reshape(len(x), -1).mean(1) - 40) / 30), 0, 6).astype(int)
        return np.eye(7)[cls]

    card = robustness(predict, faces, labels, "brightness", families=["low light", "rotation"])
    assert card.clean == 1.0
    assert card.accuracy["rotation"] == [1.0, 1.0, 1.0]
    assert max(card.accuracy["low light"]) < 0.5  # darker faces read as darker classes
    table = card.table()
    assert "| low light |" in table and "| rotation |" in table and "clean 1.0000" in table


def test_eval_robustness_on_a_tiny_model(tmp_path, capsys):
    torch.manual_seed(0)
    onnx_path = export_onnx(create_model("cnn3").eval(), tmp_path / "tiny.onnx", tta="none", card={"name": "tiny"})
    faces, labels = textured(40, seed=3), np.arange(40) % 7
    csv = tmp_path / "fer2013.csv"
    with open(csv, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for img, y in zip(faces, labels, strict=True):
            f.write(f"{y},{' '.join(map(str, img.ravel()))},PrivateTest\n")
        f.write(f"0,{' '.join(['0'] * 2304)},Training\n")
    report = tmp_path / "report"
    assert main(["eval", str(onnx_path), "--robustness", "--data", str(csv), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "clean " in out and all(f"| {fam} |" in out for fam in SEVERITIES)
    assert (report / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((report / "robustness.json").read_text())
    assert data["n"] == 40 and set(data["accuracy"]) == set(SEVERITIES)
    assert all(len(v) == 3 and all(0 <= a <= 1 for a in v) for v in data["accuracy"].values())
    from moodtune.emotion.classifier import EmotionClassifier

    clean = (EmotionClassifier.load(onnx_path).predict(faces).argmax(1) == labels).mean()
    assert data["clean"] == pytest.approx(clean, abs=1e-4)
    assert len(CLASSES) == 7
