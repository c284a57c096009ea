"""Warm start: an exported (BatchNorm-folded, int8 or float) moodnet loads back into a trainable torch moodnet."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from moodtune.config import ASSETS, data_dir  # noqa: E402
from moodtune.emotion.classifier import EmotionClassifier  # noqa: E402
from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.training.export import export_onnx, normalise, quantize_onnx  # noqa: E402
from moodtune.training.warmstart import load_onnx_into, onnx_weights, widen  # noqa: E402
from moodtune.training.zoo import create_model  # noqa: E402

WIDTHS = (8, 16, 16, 32)  # a small moodnet: same layer pattern as the shipped one


def random_faces(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 220, (n, 1, 1))
    return np.clip(base + rng.normal(0, 40, (n, 48, 48)), 0, 255).astype(np.uint8)


def trained_bn_model() -> torch.nn.Module:
    """A small moodnet whose BatchNorms hold non-trivial statistics and affine parameters."""
    torch.manual_seed(0)
    model = create_model("moodnet", widths=WIDTHS)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(normalise(torch.from_numpy(random_faces(64)).float()[:, None]))
    return model.eval()


def torch_probs(model: torch.nn.Module, faces: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model.eval()(normalise(torch.from_numpy(faces).float()[:, None])), 1).numpy()


def test_float_export_round_trips_exactly_and_calibration_keeps_the_function(tmp_path):
    src = trained_bn_model()
    path = export_onnx(src, tmp_path / "m.onnx", tta="none", card={})
    faces = random_faces(32, seed=1)
    expected = EmotionClassifier.load(path).predict(faces)
    plain = load_onnx_into(create_model("moodnet", widths=WIDTHS), path)
    assert np.abs(torch_probs(plain, faces) - expected).max() < 1e-4
    calib = normalise(torch.from_numpy(random_faces(256, seed=2)).float()[:, None])
    model = load_onnx_into(create_model("moodnet", widths=WIDTHS), path, calibration=calib)
    assert np.abs(torch_probs(model, faces) - expected).max() < 1e-4
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        z = conv(calib)
    assert torch.allclose(bn.running_mean, z.mean((0, 2, 3)), atol=1e-4)  # real statistics, so train mode starts close
    model.train()
    with torch.no_grad():
        train_mode = torch.softmax(model[:-2](calib[:64]).flatten(1) @ model[-1].weight.T + model[-1].bias, 1)
    assert (train_mode.argmax(1).numpy() == torch_probs(model, random_faces(256, seed=2)[:64]).argmax(1)).mean() > 0.8


def test_int8_export_loads_dequantised(tmp_path):
    src = trained_bn_model()
    path = export_onnx(src, tmp_path / "m.onnx", tta="none", card={})
    q = quantize_onnx(path, random_faces(128, seed=3))
    faces = random_faces(64, seed=4)
    model = load_onnx_into(create_model("moodnet", widths=WIDTHS), q)
    got, want = torch_probs(model, faces), torch_probs(src, faces)
    assert np.abs(got - want).mean() < 0.02  # int8 weights: close to the float network, not equal
    assert not np.array_equal(got, want)


def test_a_different_architecture_or_a_narrower_one_is_refused(tmp_path):
    path = export_onnx(trained_bn_model(), tmp_path / "m.onnx", tta="none", card={})
    with pytest.raises(MoodtuneError, match="do not match"):
        load_onnx_into(create_model("cnn3"), path)
    with pytest.raises(MoodtuneError, match="cannot widen layer 1"):
        load_onnx_into(create_model("moodnet", widths=(8, 8, 16, 32)), path)


def test_a_wider_model_loads_the_same_function(tmp_path):
    path = export_onnx(trained_bn_model(), tmp_path / "m.onnx", tta="none", card={})
    faces = random_faces(64, seed=5)
    expected = EmotionClassifier.load(path).predict(faces)
    wide = create_model("moodnet", widths=(12, 24, 20, 48))
    layers = onnx_weights(path)
    exact = widen(layers, [tuple(m.weight.shape) for m in wide.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))], noise=0)
    assert [w.shape for _, w, _ in exact] == [(12, 1, 3, 3), (24, 12, 3, 3), (24, 24, 3, 3), (20, 24, 3, 3), (20, 20, 3, 3),
                                             (48, 20, 3, 3), (48, 48, 3, 3), (7, 48)]
    assert np.array_equal(exact[0][1][:8], layers[0][1]) and np.array_equal(exact[-1][2], layers[-1][2])
    calib = normalise(torch.from_numpy(random_faces(256, seed=2)).float()[:, None])
    assert np.abs(torch_probs(load_onnx_into(wide, path, calibration=calib, noise=0), faces) - expected).max() < 1e-6
    model = load_onnx_into(wide, path, calibration=calib)  # widen's default noise on the copies
    got = torch_probs(model, faces)
    assert np.abs(got - expected).max() > 1e-6  # the copies have moved apart
    assert np.abs(got - expected).max() < 0.05 and (got.argmax(1) == expected.argmax(1)).mean() > 0.9
    assert next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).weight.shape == (12, 1, 3, 3)


FER = data_dir() / "fer2013"


@pytest.mark.shared
@pytest.mark.skipif(not (FER / "images" / "PublicTest").is_dir(), reason=f"FER2013 not found at {FER}")
def test_the_shipped_model_loads_back_and_answers_as_the_runtime_does(tmp_path):
    import cv2
    import onnx.utils

    files = sorted((FER / "images" / "PublicTest").glob("*/*.png"))[::12][:300]
    faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files])
    # the shipped graph is an ensemble: its first member (cut out of the graph) is what loads back
    member = tmp_path / "member0.onnx"
    onnx.utils.extract_model(str(ASSETS / "emotion.onnx"), str(member), ["faces"], ["m0_probabilities"])
    calib = normalise(torch.from_numpy(faces).float()[:, None])
    runtime = EmotionClassifier.load(member)._run(faces, 256)  # the single pass, no mirror
    for name in ("moodnet", "moodnet_wide"):  # moodnet_wide: widened, with noise on the copies
        model = load_onnx_into(create_model(name), ASSETS / "emotion.onnx", calibration=calib)
        assert (torch_probs(model, faces).argmax(1) == runtime.argmax(1)).mean() > 0.95, name
