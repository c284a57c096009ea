"""The model zoo as a registry: ``create_model("name")`` builds any architecture of the papers.

Every model takes (N, 1, S, S) float faces already normalised (``x / 255 - 0.5`` / 0.25,
see ``moodtune.training.export.Preprocess``) and returns (N, 7) logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def add(fn):
        MODELS[name] = fn
        return fn

    return add


def create_model(name: str, num_classes: int = 7, weights: str | None = None, **kwargs) -> nn.Module:
    """Build model ``name`` from ``MODELS``; ``weights`` is an optional local state-dict file.

    Weights are loaded non-strictly where shapes match (e.g. an ImageNet backbone whose
    classifier differs), and the loaded/skipped counts are printed.
    """
    from moodtune.errors import MoodtuneError

    if name not in MODELS:
        raise MoodtuneError(f"unknown model {name!r}; the zoo has: {', '.join(sorted(MODELS))}")
    model = MODELS[name](num_classes=num_classes, **kwargs)
    if weights:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = state.get("model", state)
        own = model.state_dict()
        ok = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(ok, strict=False)
        print(f"loaded {len(ok)}/{len(own)} tensors from {weights}")
    return model


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# --- the papers' models ---------------------------------------------------------------------


@register("cnn3")
def cnn3(num_classes: int = 7) -> nn.Module:
    """The seeds' simple CNN: 3 blocks of conv-conv-pool with 32/64/128 filters, dense 256."""
    layers, cin = [], 1
    for c in (32, 64, 128):
        layers += [conv_bn_relu(cin, c), conv_bn_relu(c, c), nn.MaxPool2d(2), nn.Dropout(0.25)]
        cin = c
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(3),
        nn.Flatten(),
        nn.Linear(128 * 9, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(256, num_classes),
    )


class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class XceptionBlock(nn.Module):
    """Residual block of Xception's entry flow: (relu-sepconv-bn) x2, max-pool, 1x1 strided shortcut."""

    def __init__(self, cin: int, cout: int, first_relu: bool = True, reps: int = 2, stride: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        for i in range(reps):
            if first_relu or i > 0:
                layers.append(nn.ReLU(inplace=False))
            layers += [SeparableConv(c, cout), nn.BatchNorm2d(cout)]
            c = cout
        if stride > 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.body = nn.Sequential(*layers)
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if (cin != cout or stride != 1)
            else nn.Identity()
        )

    def forward(self, x):
        return self.body(x) + self.skip(x)


@register("mini_xception")
def mini_xception(num_classes: int = 7) -> nn.Module:
    """Arriaga et al. 2017: two 8-filter convs, four residual separable modules 16/32/64/128, conv to classes, GAP."""
    return nn.Sequential(
        conv_bn_relu(1, 8),
        conv_bn_relu(8, 8),
        *[XceptionBlock(cin, cout, first_relu=False) for cin, cout in ((8, 16), (16, 32), (32, 64), (64, 128))],
        nn.Conv2d(128, num_classes, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


@register("xception")
def xception(num_classes: int = 7, width: float = 1.0) -> nn.Module:
    """Chollet's Xception (entry, 8 middle blocks, exit flow) adapted to 48x48 faces (stride-1 stem)."""

    def w(c: int) -> int:
        return max(8, int(c * width))

    middle = [XceptionBlock(w(728), w(728), reps=3, stride=1) for _ in range(8)]
    return nn.Sequential(
        conv_bn_relu(1, w(32), stride=1),
        conv_bn_relu(w(32), w(64)),
        XceptionBlock(w(64), w(128), first_relu=False),
        XceptionBlock(w(128), w(256)),
        XceptionBlock(w(256), w(728)),
        *middle,
        XceptionBlock(w(728), w(1024)),
        SeparableConv(w(1024), w(1536)),
        nn.BatchNorm2d(w(1536)),
        nn.ReLU(inplace=True),
        SeparableConv(w(1536), w(2048)),
        nn.BatchNorm2d(w(2048)),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(w(2048), num_classes),
    )


class PreActBottleneck(nn.Module):
    """ResNet v2 bottleneck: BN-ReLU before each conv, projection shortcut from the pre-activation."""

    def __init__(self, cin: int, mid: int, stride: int = 1):
        super().__init__()
        cout = mid * 4
        self.pre = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
        )
        self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        pre = self.pre(x)
        skip = self.proj(pre) if self.proj is not None else x
        return self.body(pre) + skip


@register("resnet50v2")
def resnet50v2(num_classes: int = 7, width: float = 1.0) -> nn.Module:
    """He et al. 2016 pre-activation ResNet-50 (3-4-6-3 bottlenecks), 3x3 stride-1 stem for 48x48 faces."""
    layers: list[nn.Module] = [nn.Conv2d(1, int(64 * width), 3, 1, 1, bias=False)]
    cin = int(64 * width)
    for i, (blocks, mid) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True)):
        mid = int(mid * width)
        for b in range(blocks):
            layers.append(PreActBottleneck(cin, mid, stride=2 if (b == 0 and i > 0) else 1))
            cin = mid * 4
    layers += [nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


# --- moodtune's own ---------------------------------------------------------------------------


@register("vgg_kc")
def vgg_kc(num_classes: int = 7) -> nn.Module:
    """Khaireddin & Chen 2021 VGG variant: 4 stages of 2x conv-BN-ReLU (64..512), FC 4096-4096 (for GPU runs)."""
    layers, cin = [], 1
    for c in (64, 128, 256, 512):
        layers += [conv_bn_relu(cin, c), conv_bn_relu(c, c), nn.MaxPool2d(2)]
        cin = c
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(512 * 4, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )


@register("moodnet")
def moodnet(num_classes: int = 7, widths: tuple[int, ...] = (32, 64, 128, 256)) -> nn.Module:
    """moodtune's flagship: a compact VGG (one conv at full resolution, then 2 convs per stage),
    global average pooling and a dropout classifier (about 96 M multiply-adds per face)."""
    c0, *rest = widths
    layers, cin = [conv_bn_relu(1, c0), nn.MaxPool2d(2)], c0
    for i, c in enumerate(rest):
        layers += [conv_bn_relu(cin, c), conv_bn_relu(c, c)]
        if i < len(rest) - 1:
            layers.append(nn.MaxPool2d(2))
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(cin, num_classes))


@register("moodnet_wide")
def moodnet_wide(num_classes: int = 7) -> nn.Module:
    """moodnet at 1.5x the widths (48/96/192/384): about 2.2x the multiply-adds; ``--init-onnx``
    widens a shipped moodnet into it (``training.warmstart.widen``)."""
    return moodnet(num_classes, widths=(48, 96, 192, 384))
