"""The training loop: seeded, checkpointed every epoch, resumable, CPU or CUDA unchanged.

Selection uses PublicTest only (best checkpoint by PublicTest accuracy); PrivateTest is
never read here. The finished run exports ``model.onnx`` + ``model.json`` (the model card).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from moodtune.training.augment import BASIC, DEPLOYMENT, augment
from moodtune.training.data import FerData, load
from moodtune.training.export import export_onnx, normalise, quantize_onnx
from moodtune.training.zoo import MODELS, create_model


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
    augment: str = "deployment"  # "deployment" (training.augment.DEPLOYMENT) or "basic" (framing, roll, mirror only)
    seed: int = 0
    device: str = "auto"
    limit: int | None = None  # train/select on the first N faces only (smoke tests)
    data: str | None = None
    weights: str | None = None
    export_tta: bool = True
    out: str = "runs/model"
    model_kwargs: dict = field(default_factory=dict)


def channels_last_safe(model: torch.nn.Module) -> bool:
    """False when the model has a 1x1 strided convolution with < 16 input channels: oneDNN's NHWC
    backward-weights kernel for it writes out of bounds on x86 CPUs (segfault or wrong gradients,
    uxlfoundation/oneDNN#6035), e.g. mini_xception's first shortcut (8 -> 16, stride 2)."""
    return not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1 and m.in_channels < 16
                   for m in model.modules())


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def describe_device(dev: torch.device) -> str:
    """What a run trains on, for the model card: the GPU's name, or the CPU and its thread count."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _targets(data: FerData, mix: float, smoothing: float) -> torch.Tensor:
    onehot = np.eye(7, dtype=np.float32)[data.labels]
    t = onehot if data.soft is None or mix <= 0 else (1 - mix) * onehot + mix * data.soft
    if smoothing > 0:
        t = (1 - smoothing) * t + smoothing / 7
    return torch.from_numpy(t.astype(np.float32))


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


def train(cfg: TrainConfig, resume: bool = False, epochs: int | None = None) -> Path:
    """Run (or resume) training; returns the path of the exported ONNX model.

    A resumed run keeps its saved configuration; ``epochs`` may shorten or extend it (the
    cosine schedule then follows the new length from the next epoch on).
    """
    out = Path(cfg.out)
    last = out / "last.pt"
    state = None
    if resume and last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=False)
        cfg = TrainConfig(**{**state["config"], **({"epochs": epochs} if epochs else {})})
        print(f"resuming {cfg.model} from epoch {state['epoch'] + 1}/{cfg.epochs} in {out}")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    dev = pick_device(cfg.device)
    if dev.type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(os.cpu_count() or 1)

    data = load(cfg.data)
    tr, va = data.subset("Training"), data.subset("PublicTest")
    if cfg.limit:
        tr, va = tr.sample(cfg.limit, cfg.seed), va.sample(cfg.limit, cfg.seed)
    x_tr = torch.from_numpy(tr.images).to(dev)  # uint8 on the device: 66 MB for all of Training
    y_tr = _targets(tr, cfg.ferplus_mix, cfg.label_smoothing).to(dev)
    x_va, y_va = torch.from_numpy(va.images), torch.from_numpy(va.labels)

    model = create_model(cfg.model, weights=cfg.weights if state is None else None, **cfg.model_kwargs)
    if cfg.init_onnx and state is None:
        from moodtune.training.warmstart import load_onnx_into

        load_onnx_into(model, cfg.init_onnx, normalise(torch.from_numpy(tr.sample(2048, cfg.seed).images).float()[:, None]))
        if cfg.logit_adjust:  # the loss adds the prior back: start from the same posterior as the loaded model
            add_log_prior(model, -cfg.logit_adjust, np.bincount(tr.labels, minlength=7))
        print(f"initialised from {cfg.init_onnx}")
    model = model.to(dev)
    log_prior = torch.log(torch.from_numpy(np.bincount(tr.labels, minlength=7) + 1.0).float() / (len(tr) + 7)).to(dev)
    policy = {"deployment": DEPLOYMENT, "basic": BASIC}[cfg.augment]
    channels_last = dev.type == "cpu" and channels_last_safe(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, len(x_tr) // cfg.batch_size)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=5) if cfg.schedule == "plateau" else None
    history, best, start = [], -1.0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if plateau is not None and state.get("plateau"):
            plateau.load_state_dict(state["plateau"])
        history, best, start = state["history"], state["best"], state["epoch"] + 1
        torch.set_rng_state(state["rng"])

    def lr_at(step: int) -> float:
        warm = cfg.warmup_epochs * steps_per_epoch
        if step < warm:
            return cfg.lr * (step + 1) / warm
        if cfg.schedule == "cosine":
            total = cfg.epochs * steps_per_epoch
            return cfg.lr * 0.5 * (1 + np.cos(np.pi * (step - warm) / max(1, total - warm)))
        return opt.param_groups[0]["lr"]

    amp = dev.type == "cuda"
    hardware = describe_device(dev)
    for epoch in range(start, cfg.epochs):
        model.train()
        t0 = time.time()
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        order = torch.randperm(len(x_tr), generator=gen).to(dev)
        aug_gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch + 7919)
        total_loss, bar = 0.0, tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False)
        for b in bar:
            step = epoch * steps_per_epoch + b
            if cfg.schedule == "cosine" or step < cfg.warmup_epochs * steps_per_epoch:
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            x = normalise(augment(x_tr[idx].float()[:, None], aug_gen, policy))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(x)
            loss = -(y_tr[idx] * F.log_softmax(logits.float() + cfg.logit_adjust * log_prior, 1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += loss.item()
            if b % 20 == 0:
                bar.set_postfix(loss=f"{total_loss / (b + 1):.3f}")
        raw = predict(model, x_va)  # softmax of the raw logits: class-balanced when logit_adjust is 1
        probs = torch.softmax(torch.log(raw.clamp_min(1e-12)) + cfg.logit_adjust * log_prior.cpu(), 1)  # the posterior
        acc = float((probs.argmax(1) == y_va).float().mean())
        val_loss = float(F.nll_loss(torch.log(probs.clamp_min(1e-8)), y_va))
        if plateau is not None:
            plateau.step(acc)
        rec = {"epoch": epoch + 1, "train_loss": total_loss / steps_per_epoch, "val_loss": val_loss, "val_acc": acc,
               "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 1)}
        if cfg.logit_adjust:
            rec["val_acc_balanced"] = float((raw.argmax(1) == y_va).float().mean())
        rec["val_recall"] = [round(float(((probs.argmax(1) == c) & (y_va == c)).sum() / max(1, int((y_va == c).sum()))), 4) for c in range(7)]
        history.append(rec)
        improved = acc > best
        best = max(best, acc)
        print(f"epoch {epoch + 1}/{cfg.epochs}: train loss {rec['train_loss']:.4f}  PublicTest acc {acc:.4f} "
              f"macro recall {np.mean(rec['val_recall']):.4f} loss {val_loss:.4f}  lr {rec['lr']:.5f}  {rec['seconds']:.0f}s{'  *best*' if improved else ''}", flush=True)
        ckpt = {"config": asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                "plateau": plateau.state_dict() if plateau else None, "epoch": epoch, "history": history, "best": best,
                "rng": torch.get_rng_state()}
        _atomic_save(ckpt, last)
        if improved:
            _atomic_save({"config": asdict(cfg), "model": model.state_dict(), "epoch": epoch, "val_acc": acc,
                          "hardware": hardware}, out / "best.pt")
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if cfg.patience and len(history) - 1 - int(np.argmax([h["val_acc"] for h in history])) >= cfg.patience:
            print(f"early stop: no PublicTest gain for {cfg.patience} epochs")
            break
    return finish(out)


def finish(out: Path, tta: str | None = None) -> Path:
    """Export the best checkpoint of run ``out`` to ONNX with its model card (and the int8 copy);
    ``tta`` (one of ``export.TTA_MODES``) overrides the run's ``export_tta``."""
    best = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    cfg = TrainConfig(**best["config"])
    model = create_model(cfg.model, **cfg.model_kwargs)
    model.load_state_dict(best["model"])
    if cfg.logit_adjust:  # export the posterior: the prior the loss added goes into the classifier's bias
        tr = load(cfg.data, ferplus=None).subset("Training")
        add_log_prior(model, cfg.logit_adjust, np.bincount(tr.labels, minlength=7))
    history = json.loads((out / "history.json").read_text()) if (out / "history.json").is_file() else []
    card = {
        "name": cfg.model,
        "architecture": " ".join((MODELS[cfg.model].__doc__ or cfg.model).split()),
        "parameters": sum(p.numel() for p in model.parameters()),
        "trained_on": "FER2013 Training split (28,709 faces)" + (f", FER+ soft-label mix {cfg.ferplus_mix}" if cfg.ferplus_mix else ""),
        "selected_on": "FER2013 PublicTest accuracy",
        "best_epoch": best["epoch"] + 1,
        "epochs_run": len(history),
        "public_test_accuracy": round(best["val_acc"], 4),
        "train_minutes": round(sum(h["seconds"] for h in history) / 60, 1),
        "hardware": best.get("hardware", "unknown"),
        "config": asdict(cfg),
    }
    path = export_onnx(model, out / "model.onnx", tta=cfg.export_tta if tta is None else tta, card=card)
    print(f"exported {path} (PublicTest {best['val_acc']:.4f} at epoch {best['epoch'] + 1})")
    quantize_run(path, cfg)
    return path


def add_log_prior(model: torch.nn.Module, tau: float, counts: np.ndarray) -> None:
    """Add ``tau * log(class prior)`` (from Training ``counts``) to the bias of the model's last Linear."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    prior = (counts + 1.0) / (counts.sum() + len(counts))
    with torch.no_grad():
        last.bias += tau * torch.log(torch.from_numpy(prior).float())


def quantize_run(path: Path, cfg: TrainConfig) -> Path:
    """Write the int8 copy of the run's ONNX model, calibrated on Training, scored on PublicTest."""
    from moodtune.training.evaluate import evaluate

    data = load(cfg.data, ferplus=None)
    q = quantize_onnx(path, data.subset("Training").sample(512, cfg.seed).images)
    ev = evaluate(str(q), "PublicTest", limit=cfg.limit, data=data)
    card_path = q.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["public_test_accuracy"] = round(ev.full.accuracy, 4)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"exported {q} (int8; PublicTest {ev.full.accuracy:.4f} through ONNX Runtime)")
    return q


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
