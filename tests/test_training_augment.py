"""Deployment augmentation: seeded determinism, and each family doing what it says on real-looking faces."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.training import augment as A  # noqa: E402
from moodtune.training.augment import DEPLOYMENT, Policy, augment  # noqa: E402

N, S = 16, 48


def faces(seed: int = 0) -> torch.Tensor:
    """Smooth face-like test images: a bright oval, darker eyes and mouth, some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:S, 0:S] / S
    out = []
    for _ in range(N):
        img = 60 + 120 * (((xx - 0.5) / 0.35) ** 2 + ((yy - 0.5) / 0.45) ** 2 < 1)
        img = img - 70 * ((np.abs(yy - 0.38) < 0.04) & (np.abs(np.abs(xx - 0.5) - 0.17) < 0.07))
        img = img - 60 * ((np.abs(yy - 0.75) < 0.04) & (np.abs(xx - 0.5) < 0.15))
        out.append(np.clip(img + rng.normal(0, 8, img.shape), 0, 255))
    return torch.from_numpy(np.stack(out).astype(np.float32))[:, None]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_same_seed_same_batch_other_seed_other_batch():
    x = faces()
    a, b, c = augment(x, gen(3)), augment(x, gen(3)), augment(x, gen(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 255
    assert (a - x).abs().mean() > 5  # it did change the faces


def test_augment_does_not_touch_the_global_rng_when_given_a_generator():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    augment(faces(), gen(1))
    assert torch.equal(before, torch.get_rng_state())


def test_every_family_is_drawn_at_its_rate():
    """Over many faces, the share changed by a photometric family matches its probability."""
    x = faces().repeat(32, 1, 1, 1)  # 512 faces
    p = Policy(rotate=0, frame=(1, 1), shift=0, flip=0, p_light=0, p_blur=0, p_noise=0.3, p_jpeg=0, p_lowres=0,
               p_patch=0, p_glasses=0, p_mask=0)
    changed = ((augment(x, gen(0), p) - x).abs().amax((1, 2, 3)) > 1).float().mean()
    assert 0.22 < changed < 0.38


def test_identity_framing_leaves_faces_unchanged_and_mirror_flips():
    x = faces()
    same = A.affine(x, torch.zeros(N), torch.ones(N), torch.zeros(N), torch.zeros(N))
    assert (same - x).abs().max() < 1e-3
    mirror = A.affine(x, torch.zeros(N), torch.ones(N), torch.zeros(N), torch.zeros(N), torch.ones(N, dtype=torch.bool))
    assert (mirror - torch.flip(x, dims=[3])).abs().max() < 1e-3


def test_rotation_by_90_degrees_turns_the_face():
    x = faces()
    rot = A.affine(x, torch.full((N,), 90.0), torch.ones(N), torch.zeros(N), torch.zeros(N))
    turned = [torch.rot90(x, k, dims=(2, 3)) for k in (1, -1)]
    err = min(float((rot - t)[..., 4:-4, 4:-4].abs().mean()) for t in turned)
    assert err < 1.0
    assert float((rot - x).abs().mean()) > 10


def test_zoom_out_shrinks_the_face():
    """A crop 1.4x the face shows the face smaller: the bright oval covers less of the image."""
    x = faces()
    out = A.affine(x, torch.zeros(N), torch.full((N,), 1.4), torch.zeros(N), torch.zeros(N))
    assert (out > 150).float().mean() < (x > 150).float().mean() * 0.8


def test_light_gain_gamma_contrast():
    x = faces()
    every = torch.ones(N, dtype=torch.bool)
    p = Policy(gain=(0.5, 0.5), gamma=(1.0, 1.0), contrast=(1.0, 1.0))
    assert torch.allclose(A.light(x, every, gen(), p), x * 0.5, atol=1e-3)
    dark = A.light(x, every, gen(), Policy(gain=(1, 1), gamma=(2.0, 2.0), contrast=(1, 1)))
    assert torch.allclose(dark, 255 * (x / 255) ** 2, atol=1e-2)
    flat = A.light(x, every, gen(), Policy(gain=(1, 1), gamma=(1, 1), contrast=(0.5, 0.5)))
    assert torch.allclose(flat.std((2, 3)), x.std((2, 3)) * 0.5, rtol=1e-3)
    none = torch.zeros(N, dtype=torch.bool)
    assert torch.equal(A.light(x, none, gen(), p), x)


def test_blur_smooths_and_keeps_the_mean():
    x = faces()
    every = torch.ones(N, dtype=torch.bool)
    out = A.blur(x, every, torch.full((N,), 1.5))
    grad = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()  # noqa: E731
    assert grad(out) < grad(x) * 0.6
    assert torch.allclose(out.mean((2, 3)), x.mean((2, 3)), atol=1.0)
    stronger = A.blur(x, every, torch.full((N,), 3.0))
    assert grad(stronger) < grad(out)


def test_noise_has_the_asked_sigma():
    x = faces()
    out = A.noise(x, torch.ones(N, dtype=torch.bool), torch.full((N,), 10.0), gen())
    assert float((out - x).std()) == pytest.approx(10.0, rel=0.05)


def test_jpeg_low_quality_loses_more_than_high_quality():
    x = faces()
    every = torch.ones(N, dtype=torch.bool)
    lo = A.jpeg(x, every, torch.full((N,), 20, dtype=torch.long))
    hi = A.jpeg(x, every, torch.full((N,), 90, dtype=torch.long))
    assert float((lo - x).abs().mean()) > 1.5 * float((hi - x).abs().mean()) > 0
    assert torch.equal(lo, lo.round())  # decoded 8-bit pixels


def test_low_resolution_removes_detail_the_small_side_cannot_hold():
    x = faces()
    every = torch.ones(N, dtype=torch.bool)
    small = A.low_resolution(x, every, torch.full((N,), 12, dtype=torch.long))
    grad = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()  # noqa: E731
    assert grad(small) < grad(x) * 0.5
    full = A.low_resolution(x, every, torch.full((N,), 48, dtype=torch.long))
    assert (full - x).abs().max() < 1e-3


def test_bands_cover_exactly_their_rows():
    x = faces()
    every = torch.ones(N, dtype=torch.bool)
    out = A.band(x, every, torch.full((N,), 0.5), torch.ones(N), torch.full((N,), 200.0))
    assert torch.all(out[:, :, 24:] == 200) and torch.equal(out[:, :, :24], x[:, :, :24])


def test_glasses_and_mask_occlude_eyes_and_mouth():
    x = faces()
    glasses = A.occlude(x, gen(), Policy(p_patch=0, p_glasses=1, p_mask=0))
    changed_rows = torch.nonzero((glasses != x).any(3).any(0)[0]).flatten()
    assert changed_rows.min() >= int(0.26 * S) - 1 and changed_rows.max() <= int(0.52 * S) + 1
    assert glasses[:, :, 18].mean() < 61  # the eye row is dark
    mask = A.occlude(x, gen(), Policy(p_patch=0, p_glasses=0, p_mask=1))
    changed_rows = torch.nonzero((mask != x).any(3).any(0)[0]).flatten()
    assert changed_rows.min() >= int(0.55 * S) - 1 and changed_rows.max() == S - 1
    assert mask[:, :, 36].mean() >= 120  # the mouth row is covered by a light mask


def test_patch_is_one_flat_rectangle():
    x = faces()
    out = A.patch(x, torch.ones(N, dtype=torch.bool), gen())
    for i in range(N):
        m = out[i, 0] != x[i, 0]
        ys, xs = torch.nonzero(m, as_tuple=True)
        assert len(ys) > 0
        box = out[i, 0, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert torch.all(box == box[0, 0])


def test_deployment_policy_ranges_are_the_issues():
    assert DEPLOYMENT.frame == (0.9, 1.4) and DEPLOYMENT.rotate == 20.0 and DEPLOYMENT.jpeg_quality == (20, 90)


def test_cli_augment_choices_are_the_policies():
    """``moodtune train --augment`` offers exactly ``POLICIES``; ``camera`` is deployment's camera
    families on basic's framing."""
    from moodtune.cli.train import Augment
    from moodtune.training.augment import BASIC, CAMERA, POLICIES

    assert [a.value for a in Augment] == list(POLICIES)
    assert (CAMERA.frame, CAMERA.rotate, CAMERA.p_patch) == (BASIC.frame, BASIC.rotate, BASIC.p_patch)
    assert (CAMERA.p_light, CAMERA.p_lowres, CAMERA.p_mask) == (DEPLOYMENT.p_light, DEPLOYMENT.p_lowres, DEPLOYMENT.p_mask)
