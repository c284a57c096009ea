"""Warm start: a trainable torch ``moodnet`` rebuilt from a shipped (int8 QDQ or float) ONNX export.

The export folds each BatchNorm into the convolution before it, so the graph holds one weight and
one bias per conv. Loading reverses that: the conv takes the (dequantised) folded weight, and the
BatchNorm after it is re-parametrised so that in eval mode it adds exactly the folded bias while its
running statistics are those of real Training faces (``gamma = sqrt(var + eps)``,
``beta = mean + bias``). In train mode batch statistics are then close to the running ones, so
fine-tuning starts from the shipped function instead of a perturbed one.

A wider model of the same layout (``moodnet_wide`` from ``moodnet``) is loaded through ``widen``
(Net2WiderNet, Chen et al. 2016): each added channel copies an existing one, and the layer after
it divides that channel's weights among its copies, so the wider network computes the same
function; a little noise on the copies lets them learn apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from moodtune.errors import MoodtuneError


def onnx_weights(path: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op, weight, bias) of each Conv/Gemm in graph order, int8 initialisers dequantised
    (``scale * (q - zero_point)``, per output channel). Of an ensemble graph
    (``training.ensemble``, node names ``m0_...``, ``m1_...``) only its first member's."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    dq = {n.output[0]: n.input for n in model.graph.node if n.op_type == "DequantizeLinear"}

    def value(name: str) -> np.ndarray:
        if name in init:
            return init[name].astype(np.float32)
        if name not in dq or dq[name][0] not in init:
            raise MoodtuneError(f"{path}: cannot resolve weight {name!r}")
        q, scale, zp = (init[n] for n in dq[name][:3])
        shape = (-1,) + (1,) * (q.ndim - 1) if np.ndim(scale) else ()
        return ((q.astype(np.float32) - np.reshape(zp, shape).astype(np.float32)) * np.reshape(scale, shape)).astype(np.float32)

    nodes = list(model.graph.node)
    if any(n.name.startswith("m1_") for n in nodes):
        nodes = [n for n in nodes if n.name.startswith("m0_")]
    out = []
    for n in nodes:
        if n.op_type in ("Conv", "Gemm"):
            w = value(n.input[1])
            b = value(n.input[2]) if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0], np.float32)
            out.append((n.op_type, w, b))
    return out


def widen(layers: list[tuple[str, np.ndarray, np.ndarray]], shapes: list[tuple[int, ...]], seed: int = 0,
          noise: float = 0.02) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``layers`` (a chain of Conv/Gemm weights, as ``onnx_weights`` gives them) widened to the
    weight ``shapes`` of a wider chain of the same layout whose last layer keeps its outputs: the
    same function, up to ``noise`` (relative to the layer's weight spread) on the copies' incoming
    weights. Raises ``MoodtuneError`` where the shapes are not a widening."""
    rng = np.random.default_rng(seed)
    pick = np.arange(layers[0][1].shape[1])  # new input channel -> the old one it copies
    out = []
    for i, ((op, w, b), shape) in enumerate(zip(layers, shapes, strict=True)):
        last = i == len(layers) - 1
        if w.shape[2:] != tuple(shape[2:]) or shape[1] < w.shape[1] or shape[0] < w.shape[0] or (last and shape[0] != w.shape[0]):
            raise MoodtuneError(f"cannot widen layer {i} ({op}, {w.shape}) to {shape}")
        copies = np.bincount(pick, minlength=w.shape[1]).astype(np.float32)
        w = w[:, pick] / copies[pick].reshape((1, -1) + (1,) * (w.ndim - 2))  # each input split among its copies
        pick = np.concatenate([np.arange(w.shape[0]), rng.integers(0, w.shape[0], shape[0] - w.shape[0])])
        old, w, b = w.shape[0], w[pick], b[pick]
        w[old:] += noise * w.std() * rng.standard_normal(w[old:].shape).astype(np.float32)
        out.append((op, w.astype(np.float32), b.astype(np.float32)))
    return out


@torch.no_grad()
def load_onnx_into(model: nn.Module, path: str | Path, calibration: torch.Tensor | None = None,
                   noise: float = 0.02) -> nn.Module:
    """Load the folded weights of ``path`` into ``model`` (a zoo model of the same architecture, or a
    wider one of the same layout (``widen``), whose convs have no bias and are each followed by a
    BatchNorm). ``calibration``: normalised faces (N, 1, S, S) that set the BatchNorm running
    statistics (without: mean 0, variance 1). ``noise``: ``widen``'s."""
    layers = onnx_weights(path)
    mods = list(model.modules())
    convs = [m for m in mods if isinstance(m, nn.Conv2d)]
    linears = [m for m in mods if isinstance(m, nn.Linear)]
    bns = [m for m in mods if isinstance(m, nn.BatchNorm2d)]
    want = [("Conv", tuple(c.weight.shape)) for c in convs] + [("Gemm", tuple(lin.weight.shape)) for lin in linears]
    have = [(op, w.shape) for op, w, _ in layers]
    if [op for op, _ in want] != [op for op, _ in have] or len(bns) != len(convs):
        raise MoodtuneError(f"{path}: its layers {have} do not match the model's {want}")
    if want != have:
        layers = widen(layers, [shape for _, shape in want], noise=noise)
    for conv, bn, (_, w, b) in zip(convs, bns, layers, strict=False):
        assert bn.running_mean is not None and bn.running_var is not None  # the zoo's BatchNorms track statistics
        conv.weight.copy_(torch.from_numpy(w))
        bn.running_mean.zero_()
        bn.running_var.fill_(1 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(torch.from_numpy(b))
    for lin, (_, w, b) in zip(linears, layers[len(convs):], strict=True):
        lin.weight.copy_(torch.from_numpy(w))
        lin.bias.copy_(torch.from_numpy(b))
    if calibration is not None:
        stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        hooks = [c.register_forward_hook(lambda m, _i, o: stats.__setitem__(m, (o.mean((0, 2, 3)), o.var((0, 2, 3))))) for c in convs]
        model.eval()
        model(calibration)
        for h in hooks:
            h.remove()
        for conv, bn in zip(convs, bns, strict=True):
            mean, var = stats[conv]
            assert bn.running_mean is not None and bn.running_var is not None
            bias = bn.bias.clone()
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean + bias)
    return model
