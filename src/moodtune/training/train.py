"""The training loop: seeded, checkpointed every epoch, resumable, CPU or CUDA unchanged.

Selection uses PublicTest only (best checkpoint by PublicTest accuracy); PrivateTest is
never read here. The finished run exports ``model.onnx`` + ``model.json`` (the model card).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from moodtune.training.augment import POLICIES, augment
from moodtune.training.checkpoint import TrainConfig, add_log_prior, load_model, predict, recalibrate_batchnorm
from moodtune.training.data import FerData, load
from moodtune.training.export import export_onnx, normalise, quantize_onnx
from moodtune.training.zoo import MODELS, create_model


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


def teacher_targets(teachers: list[str], images: np.ndarray, cache: Path | None = None) -> np.ndarray:
    """The teachers' mean probabilities (N, 7) on ``images`` (uint8 (N, S, S) faces as they are,
    unaugmented), each through the runtime classifier (its temperature and mirror rule): an
    augmented face is then taught what the ensemble says of the clean one. Kept in ``cache``
    (``.npy``) so a resumed run does not recompute them."""
    if cache is not None and cache.is_file():
        probs = np.load(cache)
        if probs.shape == (len(images), 7):
            return probs
    from moodtune.emotion.classifier import EmotionClassifier

    probs = np.mean([EmotionClassifier.load(t).predict(images) for t in teachers], axis=0).astype(np.float32)
    if cache is not None:
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, probs)
        os.replace(tmp, cache)
    return probs


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
    y_tr = _targets(tr, cfg.ferplus_mix, cfg.label_smoothing)
    if cfg.teachers and cfg.distill > 0:
        taught = teacher_targets(cfg.teachers, tr.images, out / "teacher.npy")
        print(f"distilling {len(cfg.teachers)} teacher(s) (weight {cfg.distill}): they agree with the Training labels on "
              f"{float((taught.argmax(1) == tr.labels).mean()):.4f} of its faces")
        y_tr = (1 - cfg.distill) * y_tr + cfg.distill * torch.from_numpy(taught)
    y_tr = y_tr.to(dev)
    x_va, y_va = torch.from_numpy(va.images), torch.from_numpy(va.labels)

    counts = np.bincount(tr.labels, minlength=7)
    log_prior = torch.log(torch.from_numpy(counts + 1.0).float() / (len(tr) + 7)).to(dev)
    model = create_model(cfg.model, weights=cfg.weights if state is None else None, **cfg.model_kwargs)
    if cfg.init_onnx and state is None:
        from moodtune.training.warmstart import load_onnx_into

        load_onnx_into(model, cfg.init_onnx, normalise(torch.from_numpy(tr.sample(2048, cfg.seed).images).float()[:, None]))
        if cfg.logit_adjust:  # the loss adds the prior back: start from the same posterior as the loaded model
            add_log_prior(model, -cfg.logit_adjust, counts)
        print(f"initialised from {cfg.init_onnx}")
    model = model.to(dev)
    policy = POLICIES[cfg.augment]
    channels_last = dev.type == "cpu" and channels_last_safe(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # the stubs lack memory_format
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
              f"macro recall {np.mean(rec['val_recall']):.4f} loss {val_loss:.4f}  lr {rec['lr']:.5f}  {rec['seconds']:.0f}s"
              f"{'  *best*' if improved else ''}", flush=True)
        ckpt = {"config": asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                "plateau": plateau.state_dict() if plateau else None, "epoch": epoch, "history": history, "best": best,
                "rng": torch.get_rng_state(), "class_counts": counts.tolist()}
        _atomic_save(ckpt, last)
        if improved:
            _atomic_save({"config": asdict(cfg), "model": model.state_dict(), "epoch": epoch, "val_acc": acc,
                          "hardware": hardware, "class_counts": counts.tolist()}, out / "best.pt")
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if cfg.patience and len(history) - 1 - int(np.argmax([h["val_acc"] for h in history])) >= cfg.patience:
            print(f"early stop: no PublicTest gain for {cfg.patience} epochs")
            break
    return finish(out)


#: faces whose statistics ``finish(clean_bn=True)`` gives the BatchNorm layers
CLEAN_BN_FACES = 8192


def finish(out: Path, tta: str | None = None, calibrate: bool = True, clean_bn: bool = False) -> Path:
    """Export the best checkpoint of run ``out`` to ONNX with its model card (and the int8 copy);
    ``tta`` (one of ``export.TTA_MODES``) overrides the run's ``export_tta``. With ``calibrate`` the
    temperature fitted on PublicTest goes into the graph and calibration figures into the cards.
    ``clean_bn``: the BatchNorm statistics of ``CLEAN_BN_FACES`` unaugmented Training faces
    instead of the augmented batches' (``checkpoint.recalibrate_batchnorm``)."""
    from moodtune.training.calibrate import calibration_card, fit_temperature

    model, cfg, best = load_model(out / "best.pt")
    history = json.loads((out / "history.json").read_text()) if (out / "history.json").is_file() else []
    data = load(cfg.data, ferplus=None)
    if clean_bn:
        faces = data.subset("Training")
        faces = faces.sample(CLEAN_BN_FACES, cfg.seed + 1)
        recalibrate_batchnorm(model, torch.from_numpy(faces.images))  # keeps the model in eval mode
    va = data.subset("PublicTest")
    if cfg.limit:
        va = va.sample(cfg.limit, cfg.seed)
    logp = torch.log(predict(model, torch.from_numpy(va.images)).clamp_min(1e-12)).numpy()  # logits up to a constant
    temperature = fit_temperature(logp, va.labels) if calibrate else 1.0
    card = {
        "name": cfg.model,
        "architecture": " ".join((MODELS[cfg.model].__doc__ or cfg.model).split()),
        "parameters": sum(p.numel() for p in model.parameters()),
        "trained_on": "FER2013 Training split (28,709 faces)" + (f", FER+ soft-label mix {cfg.ferplus_mix}" if cfg.ferplus_mix else "")
                      + (f", distilled from {len(cfg.teachers)} teacher(s), weight {cfg.distill}" if cfg.teachers and cfg.distill else ""),
        "selected_on": "FER2013 PublicTest accuracy",
        "best_epoch": best["epoch"] + 1,
        "epochs_run": len(history),
        "public_test_accuracy": round(best["val_acc"], 4),
        "train_minutes": round(sum(h["seconds"] for h in history) / 60, 1),
        "hardware": best.get("hardware", "unknown"),
        "config": asdict(cfg),
        "batchnorm_statistics": (f"{CLEAN_BN_FACES} unaugmented Training faces (recalibrated after training)" if clean_bn
                                 else "the training batches' (augmented)"),
    }
    if calibrate:
        single = calibration_card(torch.softmax(torch.from_numpy(logp / temperature), 1).numpy(), va.labels, temperature,
                                  before=torch.softmax(torch.from_numpy(logp), 1).numpy())
        card["temperature_scaling"] = {**single, "ece_of": "torch model, single pass"}
    path = export_onnx(model, out / "model.onnx", tta=cfg.export_tta if tta is None else tta, card=card, temperature=temperature)
    print(f"exported {path} (PublicTest {best['val_acc']:.4f} at epoch {best['epoch'] + 1}; temperature {temperature:.3f})")
    score_export(path, cfg, data)
    score_export(quantize_onnx(path, data.subset("Training").sample(512, cfg.seed).images), cfg, data)
    return path


def score_export(path: Path, cfg: TrainConfig, data: FerData) -> Path:
    """Score an exported model on PublicTest through the runtime classifier; write into its card the
    accuracy, the runtime's calibration error and the "not sure" threshold ``uncertain_below``."""
    from moodtune.training.calibrate import RULE, ece, uncertain_threshold
    from moodtune.training.evaluate import evaluate

    ev = evaluate(str(path), "PublicTest", limit=cfg.limit, data=data)
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["public_test_accuracy"] = round(ev.full.accuracy, 4)
    card["public_test_macro_recall"] = round(ev.full.macro_recall, 4)
    if "temperature_scaling" in card:
        card["temperature_scaling"]["ece_runtime"] = round(ece(ev.probabilities, ev.labels), 4)
    rule = uncertain_threshold(ev.probabilities, ev.labels)
    card["uncertain_below"] = rule.pop("uncertain_below")
    card["uncertain_rule"] = {"chosen_on": "FER2013 PublicTest through the runtime classifier",
                              "rule": RULE, **rule}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"scored {path} ({card.get('precision', 'float')}; PublicTest {ev.full.accuracy:.4f} through ONNX Runtime; "
          f"uncertain below {card['uncertain_below']})")
    return path


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
