"""A run's configuration and checkpoints: what ``train`` writes and ``evaluate``/``report`` read.

Kept apart from the training loop so that evaluation and reports load checkpoints without
importing the loop (and the loop imports evaluation without a circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from moodtune.training.export import normalise
from moodtune.training.zoo import create_model


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint so ``--resume`` needs only ``out``."""

    model: str
    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: int = 1
    schedule: str = "cosine"  # or "plateau" (ReduceLROnPlateau on PublicTest accuracy)
    patience: int = 0  # early stop after this many epochs without PublicTest gain (0: off)
    ferplus_mix: float = 0.25  # target = (1-m) * FER2013 one-hot + m * FER+ vote distribution
    label_smoothing: float = 0.0
    logit_adjust: float = 0.0  # tau of the logit-adjusted loss: CE(logits + tau * log prior); raw logits then favour macro recall
    init_onnx: str | None = None  # warm start from an exported moodnet (e.g. the shipped int8 model), see training.warmstart
    augment: str = "deployment"  # a name of training.augment.POLICIES: "deployment", "camera" or "basic"
    teachers: list[str] = field(default_factory=list)  # ONNX models whose mean answer on the clean face is distilled
    distill: float = 0.0  # target = (1-d) * the label target + d * the teachers' mean on the unaugmented face
    seed: int = 0
    device: str = "auto"
    limit: int | None = None  # train/select on the first N faces only (smoke tests)
    data: str | None = None
    weights: str | None = None
    export_tta: bool = True
    out: str = "runs/model"
    model_kwargs: dict = field(default_factory=dict)


def class_counts(cfg: TrainConfig) -> np.ndarray:
    """Faces per class in the run's Training faces (what the logit-adjusted loss took as its prior)."""
    from moodtune.training.data import load

    tr = load(cfg.data, ferplus=None).subset("Training")
    if cfg.limit:
        tr = tr.sample(cfg.limit, cfg.seed)
    return np.bincount(tr.labels, minlength=7)


def add_log_prior(model: torch.nn.Module, tau: float, counts: np.ndarray) -> None:
    """Add ``tau * log(class prior)`` (from Training ``counts``) to the bias of the model's last Linear."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    prior = (counts + 1.0) / (counts.sum() + len(counts))
    with torch.no_grad():
        last.bias.add_(tau * torch.log(torch.from_numpy(prior).float()))


def load_model(path: str | Path) -> tuple[torch.nn.Module, TrainConfig, dict]:
    """(model in eval mode, config, checkpoint dict) of a ``.pt`` checkpoint. A logit-adjusted run's
    model gets its prior back in the classifier's bias, so it predicts the posterior (as exported)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig(**ckpt["config"])
    model = create_model(cfg.model, **cfg.model_kwargs)
    model.load_state_dict(ckpt["model"])
    if cfg.logit_adjust:
        counts = np.asarray(ckpt["class_counts"]) if "class_counts" in ckpt else class_counts(cfg)
        add_log_prior(model, cfg.logit_adjust, counts)
    return model.eval(), cfg, ckpt


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> int:
    """Replace every BatchNorm's running statistics with their average over ``images`` (uint8
    faces (N, S, S), unaugmented); returns the number of layers. A run trained on augmented
    batches keeps the statistics of augmented faces, which shifts the features of clean ones
    (``docs/model/recognition-v2.md``: faces-wild-dev +3.8 points for the same weights)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over all batches
    was_training = model.training
    model.train()
    dev = next(model.parameters()).device
    for i in range(0, len(images), batch_size):
        model(normalise(images[i : i + batch_size].to(dev).float()[:, None]))
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)
    return len(layers)


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 512, tta: bool = False) -> torch.Tensor:
    """Probabilities (N, 7) for uint8 faces (N, S, S) on the model's device."""
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        x = normalise(images[i : i + batch_size].to(dev).float()[:, None])
        p = torch.softmax(model(x).float(), 1)
        if tta:
            p = (p + torch.softmax(model(torch.flip(x, dims=[3])).float(), 1)) / 2
        out.append(p.cpu())
    return torch.cat(out) if out else torch.zeros(0, 7)
