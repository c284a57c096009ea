"""Export a trained model to the ONNX contract of ``moodtune.emotion.classifier``."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

MEAN, STD = 0.5, 0.25


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Raw 0..255 pixels → the network's input scale."""
    return (x / 255.0 - MEAN) / STD


class Deployable(nn.Module):
    """Raw pixels in, probabilities out; with ``tta`` the mirror image's prediction is averaged in."""

    def __init__(self, model: nn.Module, tta: bool = False):
        super().__init__()
        self.model, self.tta = model, tta

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        x = normalise(faces)
        if self.tta:
            logits = self.model(torch.cat([x, torch.flip(x, dims=[3])]))
            n = faces.shape[0]
            return (torch.softmax(logits[:n], 1) + torch.softmax(logits[n:], 1)) / 2
        return torch.softmax(self.model(x), 1)


def export_onnx(model: nn.Module, path: str | Path, size: int = 48, tta: bool = False, card: dict | None = None) -> Path:
    """Write ``path`` (.onnx, input ``faces`` (N,1,S,S) raw pixels, output ``probabilities``) and its card (.json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapped = Deployable(model.cpu().eval(), tta=tta).eval()
    tmp = path.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(
            wrapped, torch.zeros(1, 1, size, size), str(tmp), input_names=["faces"], output_names=["probabilities"],
            dynamic_axes={"faces": {0: "n"}, "probabilities": {0: "n"}}, opset_version=17, dynamo=False,
        )
    tmp.replace(path)
    if card is not None:
        card = {**card, "input_size": size, "tta": "hflip" if tta else "none", "onnx": path.name}
        path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return path
