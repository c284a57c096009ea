"""Batch augmentation on tensors, on whatever device the batch lives (GPU when there is one)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, rotate: float = 10.0, scale: tuple[float, float] = (0.85, 1.15), shift: float = 0.1,
            flip: float = 0.5, erase: float = 0.5) -> torch.Tensor:
    """Random affine (rotation ±``rotate``°, zoom, shift as a fraction of the side), mirror and
    random erasing, applied per sample. ``x``: (N, 1, S, S) float, any value range."""
    n, dev = x.shape[0], x.device
    ang = (torch.rand(n, device=dev) * 2 - 1) * math.radians(rotate)
    s = torch.empty(n, device=dev).uniform_(*scale)
    mirror = torch.where(torch.rand(n, device=dev) < flip, -1.0, 1.0)
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack(
        [torch.stack([cos * mirror, -sin, (torch.rand(n, device=dev) * 2 - 1) * shift * 2], 1),
         torch.stack([sin * mirror, cos, (torch.rand(n, device=dev) * 2 - 1) * shift * 2], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if erase > 0:
        out = random_erase(out, erase)
    return out


def random_erase(x: torch.Tensor, p: float, area: tuple[float, float] = (0.02, 0.2)) -> torch.Tensor:
    """Zero a random rectangle (after normalisation zero is mid-grey) in a share ``p`` of samples."""
    n, _, h, w = x.shape
    dev = x.device
    a = torch.empty(n, device=dev).uniform_(*area) * h * w
    ratio = torch.exp(torch.empty(n, device=dev).uniform_(math.log(0.3), math.log(3.3)))
    eh = torch.sqrt(a * ratio).clamp(1, h).long()
    ew = torch.sqrt(a / ratio).clamp(1, w).long()
    y0 = (torch.rand(n, device=dev) * (h - eh + 1)).long()
    x0 = (torch.rand(n, device=dev) * (w - ew + 1)).long()
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(w, device=dev)[None, None, :]
    box = (ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None]) & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None])
    box &= (torch.rand(n, device=dev) < p)[:, None, None]
    return x.masked_fill(box[:, None], 0.0)
