"""Grad-CAM of the report on toy models (no data needed)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.training.export import normalise  # noqa: E402
from moodtune.training.report import grad_cam, last_conv, pick_faces  # noqa: E402


class _Late(torch.nn.Module):
    """Registers its convolutions in the reverse of the order it runs them."""

    def __init__(self):
        super().__init__()
        self.late = torch.nn.Conv2d(4, 7, 3, padding=1)
        self.early = torch.nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        return self.late(torch.relu(self.early(x))).mean((2, 3))


def test_last_conv_follows_execution_order():
    m = _Late()
    layer, shape = last_conv(m)
    assert layer is m.late and shape == (1, 7, 48, 48)


def test_grad_cam_equals_class_activation_map_for_gap_linear_model():
    torch.manual_seed(0)
    conv, fc = torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.Linear(3, 7)
    model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), fc)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    target = np.array([0, 3, 6])
    cams = grad_cam(model, faces, target, layer=model[1])  # hook the ReLU output: the "feature maps"
    with torch.no_grad():
        act = torch.relu(conv(normalise(torch.from_numpy(faces).float()[:, None])))
        # d logit_c / dA_k = W[c, k] / (H W) everywhere, so Grad-CAM = relu(sum_k W[c,k] A_k) up to scale
        ref = torch.relu((fc.weight[torch.from_numpy(target)][:, :, None, None] * act).sum(1)).numpy()
    ref = ref / ref.reshape(3, -1).max(1)[:, None, None]
    assert cams.shape == (3, 48, 48) and cams.dtype == np.float32
    assert np.abs(cams - ref).max() < 1e-5
    assert cams.min() >= 0 and cams.max() <= 1 + 1e-6


def test_pick_faces_takes_the_first_of_each_class():
    labels = np.array([3, 0, 3, 3, 6, 0, 3])
    assert pick_faces(labels, 2).tolist() == [1, 5, 0, 2, 4]


def test_grad_cam_of_no_faces():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(2, 7))
    assert grad_cam(model, np.zeros((0, 48, 48), np.uint8)).shape == (0, 48, 48)
