"""Temperature scaling, calibration error, the "not sure" threshold, and the temperature inside the exported graph."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from moodtune.emotion.classifier import EmotionClassifier  # noqa: E402
from moodtune.training.calibrate import ece, fit_temperature, nll, uncertain_threshold  # noqa: E402
from moodtune.training.export import export_onnx, normalise  # noqa: E402
from moodtune.training.zoo import create_model  # noqa: E402


def sampled(t_true: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits / t_true): a model overconfident by t_true."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, 7))
    p = np.exp(z / t_true)
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(7, p=row) for row in p])
    return z, y


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_fitted_temperature_recovers_the_true_one_and_lowers_ece():
    z, y = sampled(2.0)
    t = fit_temperature(z, y)
    assert t == pytest.approx(2.0, rel=0.08)
    assert nll(z, y, t) < nll(z, y, 1.0)
    before, after = ece(softmax(z), y), ece(softmax(z / t), y)
    assert before > 0.1 and after < 0.02


def test_ece_of_a_calibrated_model_is_small_and_of_a_constant_guess_exact():
    z, y = sampled(1.0)
    assert ece(softmax(z), y) < 0.02
    probs = np.tile([0.9, 0.1, 0, 0, 0, 0, 0], (100, 1))
    labels = np.array([0] * 60 + [1] * 40)  # always "0" with 90%, right 60% of the time
    assert ece(probs, labels) == pytest.approx(0.3)


def test_uncertain_threshold_sits_where_answers_become_more_right_than_wrong():
    rng = np.random.default_rng(0)
    top = rng.uniform(0.2, 1.0, 20000)
    right = rng.uniform(size=top.size) < top  # a calibrated model: right with probability = top
    probs = np.zeros((top.size, 7))
    probs[:, 0] = top
    probs[:, 1:] = ((1 - top) / 6)[:, None]
    labels = np.where(right, 0, 1)
    rule = uncertain_threshold(probs, labels)
    assert 0.45 <= rule["uncertain_below"] <= 0.56
    assert rule["accuracy_uncertain"] < 0.5 < rule["accuracy_confident"]
    assert rule["share_uncertain"] == pytest.approx((top < rule["uncertain_below"]).mean(), abs=1e-4)


def test_exported_graph_divides_the_logits_by_the_temperature_before_the_softmax(tmp_path):
    torch.manual_seed(0)
    model = create_model("cnn3").eval()
    path = export_onnx(model, tmp_path / "m.onnx", tta="none", card={}, temperature=2.5)
    graph = onnx.load(str(path)).graph
    consts = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = onnx.numpy_helper.to_array(n.attribute[0].t)
    producer = {o: n for n in graph.node for o in n.output}
    softmax_node = next(n for n in graph.node if n.op_type == "Softmax")
    div = producer[softmax_node.input[0]]
    assert div.op_type == "Div" and float(consts[div.input[1]]) == pytest.approx(2.5)
    faces = np.random.default_rng(0).integers(0, 256, (8, 48, 48)).astype(np.uint8)
    with torch.no_grad():
        logits = model(normalise(torch.from_numpy(faces).float()[:, None])).numpy()
    got = EmotionClassifier.load(path).predict(faces)
    assert np.abs(got - softmax(logits / 2.5)).max() < 1e-5
    assert np.abs(got - softmax(logits)).max() > 1e-3  # the temperature does change the probabilities
