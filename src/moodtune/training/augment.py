"""Batch augmentation for how faces reach the classifier at run time, on tensors.

Each family mimics one way a deployed face differs from a FER2013 crop: the detector's framing
(crop 0.9-1.4x the face, off-centre) and roll, light (dark, gamma, contrast), focus (blur), sensor
noise, JPEG compression, occlusion (a random patch, sunglasses, a mask) and low resolution (a small
face scaled up). ``augment`` draws every random number from the ``generator`` it is given, so a
batch is reproduced exactly from a seed. Faces are raw pixels (N, 1, S, S) float in 0..255, in and out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Policy:
    """Ranges and probabilities of the families (each applied to a random share ``p_*`` of faces)."""

    rotate: float = 20.0  # degrees, ±
    frame: tuple[float, float] = (0.9, 1.4)  # crop side / face side (zoom out above 1)
    shift: float = 0.08  # crop centre offset, fraction of the side, ±
    flip: float = 0.5
    p_light: float = 0.25
    gain: tuple[float, float] = (0.3, 1.0)  # multiplicative exposure (0.3: a dark room)
    gamma: tuple[float, float] = (0.6, 2.2)
    contrast: tuple[float, float] = (0.5, 1.3)
    p_blur: float = 0.15
    blur_sigma: tuple[float, float] = (0.5, 1.8)  # px at 48x48
    p_noise: float = 0.15
    noise_sigma: tuple[float, float] = (3.0, 15.0)  # grey levels
    p_jpeg: float = 0.2
    jpeg_quality: tuple[int, int] = (20, 90)
    p_lowres: float = 0.15
    lowres_side: tuple[int, int] = (12, 32)  # px the face had before it was scaled up to 48
    p_patch: float = 0.1
    p_glasses: float = 0.05
    p_mask: float = 0.07


DEPLOYMENT = Policy()


def _u(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _pick(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def augment(x: torch.Tensor, generator: torch.Generator | None = None, policy: Policy = DEPLOYMENT) -> torch.Tensor:
    """All families of ``policy`` in deployment order: occlusion (on the face), framing and roll,
    light, blur, low resolution, noise, JPEG. Returns raw pixels clipped to 0..255."""
    g = generator if generator is not None else torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    dev = x.device
    x = x.cpu().float()
    n = x.shape[0]
    x = occlude(x, g, policy)
    x = frame(x, g, policy)
    x = light(x, _pick(n, policy.p_light, g), g, policy)
    x = blur(x, _pick(n, policy.p_blur, g), _u(n, *policy.blur_sigma, g))
    x = low_resolution(x, _pick(n, policy.p_lowres, g), torch.randint(policy.lowres_side[0], policy.lowres_side[1] + 1, (n,), generator=g))
    x = noise(x, _pick(n, policy.p_noise, g), _u(n, *policy.noise_sigma, g), g)
    x = jpeg(x, _pick(n, policy.p_jpeg, g), torch.randint(policy.jpeg_quality[0], policy.jpeg_quality[1] + 1, (n,), generator=g))
    return x.clamp(0, 255).to(dev)


def affine(x: torch.Tensor, angle_deg: torch.Tensor, scale: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
           mirror: torch.Tensor | None = None) -> torch.Tensor:
    """Resample each face as a crop ``scale`` times its side, rolled by ``angle_deg``, centred at
    (``tx``, ``ty``) fractions of the side; edges replicated, as ``moodtune.vision.crop`` pads."""
    a = torch.deg2rad(angle_deg.float())
    m = torch.where(mirror, -1.0, 1.0) if mirror is not None else torch.ones_like(a)
    cos, sin = torch.cos(a) * scale, torch.sin(a) * scale
    theta = torch.stack([torch.stack([cos * m, -sin, tx * 2], 1), torch.stack([sin * m, cos, ty * 2], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def frame(x: torch.Tensor, g: torch.Generator, p: Policy = DEPLOYMENT) -> torch.Tensor:
    """Framing jitter (zoom, shift), roll and mirror."""
    n = x.shape[0]
    return affine(x, _u(n, -p.rotate, p.rotate, g), _u(n, *p.frame, g), _u(n, -p.shift, p.shift, g),
                  _u(n, -p.shift, p.shift, g), _pick(n, p.flip, g))


def light(x: torch.Tensor, which: torch.Tensor, g: torch.Generator, p: Policy = DEPLOYMENT) -> torch.Tensor:
    """Exposure gain, gamma and contrast around the face's mean, for the faces in ``which``."""
    n = x.shape[0]
    gain = _u(n, *p.gain, g).view(n, 1, 1, 1)
    gamma = torch.exp(_u(n, math.log(p.gamma[0]), math.log(p.gamma[1]), g)).view(n, 1, 1, 1)
    contrast = _u(n, *p.contrast, g).view(n, 1, 1, 1)
    y = 255.0 * (x.clamp(0, 255) / 255.0) ** gamma * gain
    mean = y.mean((2, 3), keepdim=True)
    y = mean + (y - mean) * contrast
    return torch.where(which.view(n, 1, 1, 1), y, x)


def blur(x: torch.Tensor, which: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` px (per face) for the faces in ``which``."""
    if not which.any():
        return x
    n, r = x.shape[0], 4
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma.view(n, 1) ** 2))
    k = k / k.sum(1, keepdim=True)
    y = x.reshape(1, n, *x.shape[2:])
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), k.view(n, 1, 1, -1), groups=n)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.view(n, 1, -1, 1), groups=n)
    return torch.where(which.view(n, 1, 1, 1), y.reshape(x.shape), x)


def low_resolution(x: torch.Tensor, which: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """Shrink each face in ``which`` to ``side`` px (area) and scale it back up (bilinear)."""
    out = x.clone()
    size = x.shape[-1]
    for i in torch.nonzero(which).flatten().tolist():
        s = int(side[i])
        small = F.interpolate(x[i : i + 1], size=(s, s), mode="area")
        out[i : i + 1] = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return out


def noise(x: torch.Tensor, which: torch.Tensor, sigma: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Additive Gaussian sensor noise of ``sigma`` grey levels for the faces in ``which``."""
    n = x.shape[0]
    z = torch.randn(x.shape, generator=g) * sigma.view(n, 1, 1, 1)
    return torch.where(which.view(n, 1, 1, 1), x + z, x)


def jpeg(x: torch.Tensor, which: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Encode and decode each face in ``which`` as JPEG at ``quality`` (OpenCV, as cameras and uploads do)."""
    out = x.clone()
    for i in torch.nonzero(which).flatten().tolist():
        img = x[i, 0].clamp(0, 255).round().to(torch.uint8).numpy()
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality[i])])
        out[i, 0] = torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32))  # type: ignore[union-attr]  # a JPEG just encoded decodes
    return out


def band(x: torch.Tensor, which: torch.Tensor, top: torch.Tensor, bottom: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Fill the rows from ``top`` to ``bottom`` (fractions of the side, per face) with ``value``."""
    n, s = x.shape[0], x.shape[-1]
    rows = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    m = (rows[None] >= top.view(n, 1)) & (rows[None] < bottom.view(n, 1)) & which.view(n, 1)
    m = m.view(n, 1, s, 1).expand_as(x)
    return torch.where(m, value.view(n, 1, 1, 1).expand_as(x), x)


def patch(x: torch.Tensor, which: torch.Tensor, g: torch.Generator, area: tuple[float, float] = (0.04, 0.2)) -> torch.Tensor:
    """A random rectangle of a random grey (a hand, a cup, a strand of hair) over the faces in ``which``."""
    n, _, h, w = x.shape
    a = _u(n, *area, g) * h * w
    ratio = torch.exp(_u(n, math.log(0.3), math.log(3.3), g))
    eh = torch.sqrt(a * ratio).clamp(1, h).long()
    ew = torch.sqrt(a / ratio).clamp(1, w).long()
    y0 = (torch.rand(n, generator=g) * (h - eh + 1)).long()
    x0 = (torch.rand(n, generator=g) * (w - ew + 1)).long()
    value = _u(n, 0, 255, g)
    ys = torch.arange(h)[None, :, None]
    xs = torch.arange(w)[None, None, :]
    box = (ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None]) & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None])
    box &= which[:, None, None]
    return torch.where(box[:, None], value.view(n, 1, 1, 1), x)


def occlude(x: torch.Tensor, g: torch.Generator, p: Policy = DEPLOYMENT) -> torch.Tensor:
    """Random patches; dark glasses-like bands over the eyes (rows ~0.28-0.48 of a FER crop);
    light mask-like bands over nose, mouth and chin (from ~0.55-0.65 down)."""
    n = x.shape[0]
    x = patch(x, _pick(n, p.p_patch, g), g)
    top = _u(n, 0.26, 0.34, g)
    x = band(x, _pick(n, p.p_glasses, g), top, top + _u(n, 0.12, 0.18, g), _u(n, 0, 60, g))
    return band(x, _pick(n, p.p_mask, g), _u(n, 0.55, 0.66, g), torch.ones(n), _u(n, 120, 255, g))


#: The augmentation of the runs before deployment augmentation (framing, roll ±10°, mirror, patches).
BASIC = Policy(rotate=10.0, frame=(0.87, 1.18), shift=0.1, p_light=0, p_blur=0, p_noise=0, p_jpeg=0, p_lowres=0,
               p_patch=0.5, p_glasses=0, p_mask=0)
#: Deployment's camera families (light, blur, noise, JPEG, low resolution, occlusion bands) on
#: BASIC's framing and roll: the runtime's crop is FER2013's framing (``BlazeFaceDetector.frame_scale``)
#: and its roll is aligned from the eyes, so the wider framing jitter of DEPLOYMENT may only cost.
CAMERA = Policy(rotate=BASIC.rotate, frame=BASIC.frame, shift=BASIC.shift, p_patch=BASIC.p_patch)
#: DEPLOYMENT with the corruptions that cost most (low light, blur, low resolution, a covered lower
#: face) about twice as often: for an ensemble member whose partner was trained on clean faces.
ROBUST = Policy(p_light=0.4, p_blur=0.3, p_noise=0.2, p_lowres=0.35, p_mask=0.15, p_glasses=0.08)
#: The policies by name (``moodtune train --augment``).
POLICIES = {"deployment": DEPLOYMENT, "camera": CAMERA, "robust": ROBUST, "basic": BASIC}
