"""The report folder of ``moodtune eval MODEL --report DIR``: PNG plots and a markdown summary.

``DIR`` receives

- ``confusion.png``  the confusion matrix, counts and row-normalised (recall on the diagonal);
- ``per_class.png``  precision, recall and F1 per class;
- ``curves.png``     training curves, when a ``history.json`` lies beside the model or checkpoint;
- ``gradcam.png``    Grad-CAM heat maps on a few faces per class, when a torch model is at hand
  (a ``.pt`` checkpoint, a zoo name, or an ``.onnx`` file whose folder holds its ``best.pt``);
- ``metrics.json``   the numbers of ``Evaluation.to_json()``;
- ``summary.md``     the tables, linking the plots.

``gradcam.png`` is the only file here that shows faces; nothing is written outside ``DIR``.
Plots use matplotlib's object API (Agg canvas), so no display and no global backend switch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError

#: Faces per class in ``gradcam.png``.
GRADCAM_PER_CLASS = 4


def write_report(ev, out_dir: Path, gradcam_per_class: int = GRADCAM_PER_CLASS) -> Path:
    """Write the report of evaluation ``ev`` (a ``moodtune.training.evaluate.Evaluation``) into ``out_dir``.

    Returns the path of ``summary.md``. Training curves and Grad-CAM are skipped, with a note
    in the summary, when there is no ``history.json`` / no torch model for the evaluated target.
    """
    try:
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:  # pragma: no cover - matplotlib is in the [train] extra
        raise MoodtuneError("--report needs matplotlib: pip install 'moodtune[train]'") from None
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MoodtuneError(f"cannot create report folder {out}: {exc}") from None

    model_file, folder = _source(ev)
    plots: dict[str, str] = {}
    notes: dict[str, str] = {}

    _save(plot_confusion(ev.full.confusion), out / "confusion.png")
    plots["confusion"] = "confusion.png"
    _save(plot_per_class(ev.full), out / "per_class.png")
    plots["per_class"] = "per_class.png"

    history_path = folder / "history.json" if folder else None
    if history_path and history_path.is_file():
        history = json.loads(history_path.read_text())
        if history:
            _save(plot_history(history), out / "curves.png")
            plots["curves"] = "curves.png"
            notes["curves"] = f"From `{history_path}` ({len(history)} epochs)."
        else:
            notes["curves"] = f"`{history_path}` holds no epochs yet."
    else:
        notes["curves"] = "No training curves: no `history.json` lies beside the evaluated model."

    model, why = _torch_model(model_file, folder)
    faces = getattr(ev, "images", None)
    if model is None:
        notes["gradcam"] = f"No Grad-CAM: {why}."
    elif faces is None or len(faces) == 0:
        notes["gradcam"] = "No Grad-CAM: the evaluation carries no faces."
    else:
        pick = pick_faces(ev.labels, gradcam_per_class)
        pred = ev.probabilities.argmax(1)
        cams = grad_cam(model, faces[pick], pred[pick])
        _save(plot_gradcam(faces[pick], cams, ev.labels[pick], pred[pick], ev.probabilities[pick]), out / "gradcam.png")
        plots["gradcam"] = "gradcam.png"
        notes["gradcam"] = (f"{why}. Heat maps of the last convolution layer ({_describe(model)}) for the class the "
                            f"evaluated model predicted; the first {gradcam_per_class} faces of each true class in the "
                            "evaluated set. Title: predicted class and its probability (green right, red wrong).")

    (out / "metrics.json").write_text(json.dumps(ev.to_json(), indent=1) + "\n")
    summary = out / "summary.md"
    summary.write_text(_summary_markdown(ev, plots, notes))
    return summary


# --- where the evaluated model came from -----------------------------------------------------


def _source(ev) -> tuple[Path | None, Path | None]:
    """(model file, its folder) of an evaluation: the checkpoint for torch targets, else the .onnx."""
    card = ev.card or {}
    if card.get("checkpoint"):
        p = Path(card["checkpoint"])
        return p, p.parent
    name = str(ev.model).removesuffix(" +tta")
    p = Path(name)
    if p.suffix in (".onnx", ".pt"):
        return p, p.parent
    return None, None


def _torch_model(model_file: Path | None, folder: Path | None):
    """(model in eval mode, why) or (None, reason it is unavailable)."""
    if model_file is None:
        return None, "the evaluated target is neither a checkpoint nor a model file"
    ckpt: Path | None
    if model_file.suffix == ".pt":
        ckpt, origin = model_file, f"Grad-CAM on checkpoint `{model_file}`"
    else:
        ckpt = folder / "best.pt" if folder else None
        if ckpt is None or not ckpt.is_file():
            return None, f"it needs a torch model, and no `best.pt` lies beside `{model_file}`"
        origin = f"Grad-CAM on `{ckpt}`, the checkpoint `{model_file.name}` was exported from"
    try:
        from moodtune.training.checkpoint import load_model
    except ImportError:
        return None, "it needs torch (pip install 'moodtune[train]')"
    try:
        model, _, _ = load_model(ckpt)
    except MoodtuneError:
        raise
    except Exception as exc:  # a foreign or damaged checkpoint: the rest of the report still stands
        return None, f"`{ckpt}` could not be loaded as a moodtune checkpoint ({type(exc).__name__}: {exc})"
    return model.eval(), origin


def _describe(model) -> str:
    layer, shape = last_conv(model)
    return f"{type(layer).__name__}({layer.in_channels}→{layer.out_channels}), {shape[-2]}x{shape[-1]} maps"


# --- Grad-CAM --------------------------------------------------------------------------------


def last_conv(model, size: int = 48):
    """(module, output shape) of the last ``Conv2d`` *executed* in a forward pass whose output is
    still spatial (more than 1x1). Execution order, not registration order: a projection shortcut
    registered after a block's body would otherwise win."""
    import torch
    from torch import nn

    seen, hooks = [], []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda mod, _, out: seen.append((mod, tuple(out.shape)))))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 1, size, size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    spatial = [(m, s) for m, s in seen if s[-1] > 1 or s[-2] > 1]
    if not spatial:
        raise MoodtuneError(f"{type(model).__name__} has no convolution layer with a spatial output for Grad-CAM")
    return spatial[-1]


def grad_cam(model, faces: np.ndarray, target: np.ndarray | None = None, layer=None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) of ``model`` for uint8 faces (N, S, S).

    ``target`` (N,) class per face (default: the model's own prediction). The activations A of
    ``layer`` (default ``last_conv``) are weighted by the spatial mean of d logit / dA per channel,
    summed, rectified, upsampled to S x S and scaled to [0, 1] per face. Returns (N, S, S) float32.
    """
    import torch
    import torch.nn.functional as F

    from moodtune.training.export import normalise

    faces = np.asarray(faces)
    if faces.ndim != 3:
        raise ValueError(f"faces must be (N, S, S), got {faces.shape}")
    n, size = len(faces), faces.shape[-1]
    if n == 0:
        return np.zeros((0, size, size), np.float32)
    layer = layer if layer is not None else last_conv(model, size)[0]
    store = {}

    def keep(_, __, out):
        store["act"] = out
        return out.clone()  # later in-place ops (ReLU(inplace=True)) must not touch the saved activations

    was_training = model.training
    model.eval()
    hook = layer.register_forward_hook(keep)
    try:
        dev = next(model.parameters()).device
        x = normalise(torch.from_numpy(faces).to(dev).float()[:, None])
        with torch.enable_grad():
            logits = model(x).float()
            cls = logits.argmax(1) if target is None else torch.as_tensor(np.asarray(target), dtype=torch.long, device=dev)
            # Samples are independent in eval mode, so the gradient of the sum is each face's own gradient.
            (grad,) = torch.autograd.grad(logits.gather(1, cls[:, None]).sum(), store["act"])
    finally:
        hook.remove()
        model.train(was_training)
    act = store["act"].detach().float()
    weights = grad.float().mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]
    return (cam / peak).cpu().numpy().astype(np.float32)


def pick_faces(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` faces of each true class, class by class."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(len(CLASSES))]).astype(np.int64)


# --- plots -------------------------------------------------------------------------------------


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")


def plot_confusion(cm: np.ndarray):
    from matplotlib.figure import Figure

    cm = np.asarray(cm)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    fig = Figure(figsize=(13, 5.6))
    for ax, mat, title, fmt in ((fig.add_subplot(1, 2, 1), cm, "counts", "{:d}"),
                                (fig.add_subplot(1, 2, 2), norm, "row-normalised (diagonal = recall)", "{:.2f}")):
        im = ax.imshow(mat, cmap="Blues", vmin=0, vmax=max(1e-9, mat.max()))
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
        ax.set_yticks(range(len(CLASSES)), CLASSES)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"Confusion matrix, {title}")
        hi = mat.max() / 2 if mat.max() > 0 else 1
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                v = int(mat[i, j]) if fmt == "{:d}" else float(mat[i, j])
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                        color="white" if mat[i, j] > hi else "black")
    fig.tight_layout()
    return fig


def plot_per_class(scores):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(CLASSES))
    for k, (name, vals) in enumerate((("precision", scores.precision), ("recall", scores.recall), ("F1", scores.f1))):
        bars = ax.bar(x + (k - 1) * 0.27, vals, 0.27, label=name)
        ax.bar_label(bars, [f"{v:.2f}" for v in vals], fontsize=7, padding=1)
    ax.axhline(scores.macro_f1, color="gray", ls="--", lw=1, label=f"macro F1 {scores.macro_f1:.3f}")
    ax.axhline(scores.accuracy, color="black", ls=":", lw=1, label=f"accuracy {scores.accuracy:.3f}")
    ax.set_xticks(x, [f"{c}\n(n={int(n)})" for c, n in zip(CLASSES, scores.support, strict=True)])
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score")
    ax.set_title("Per-class precision, recall and F1")
    ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.tight_layout()
    return fig


def plot_history(history: list[dict]):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ep = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig = Figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    if any("train_loss" in h for h in history):
        ax.plot(ep, [h.get("train_loss", np.nan) for h in history], "o-", ms=3, label="train loss (augmented, soft targets)")
    if any("val_loss" in h for h in history):
        ax.plot(ep, [h.get("val_loss", np.nan) for h in history], "o-", ms=3, label="PublicTest loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("Loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax2 = fig.add_subplot(1, 2, 2)
    acc = [h.get("val_acc", np.nan) for h in history]
    ax2.plot(ep, acc, "o-", ms=3, color="C2", label="PublicTest accuracy")
    if not np.all(np.isnan(acc)):
        b = int(np.nanargmax(acc))
        ax2.plot([ep[b]], [acc[b]], "*", ms=12, color="C3", label=f"best {acc[b]:.4f} (epoch {ep[b]})")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_title("PublicTest accuracy (model selection)")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    for a in (ax, ax2):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_gradcam(faces: np.ndarray, cams: np.ndarray, labels: np.ndarray, pred: np.ndarray, probs: np.ndarray):
    from matplotlib.figure import Figure

    labels, pred = np.asarray(labels), np.asarray(pred)
    per = max(1, max(int((labels == c).sum()) for c in range(len(CLASSES))))
    classes = [c for c in range(len(CLASSES)) if (labels == c).any()]
    fig = Figure(figsize=(1.7 * per + 0.6, 1.85 * max(1, len(classes))))
    for r, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        for k in range(per):
            ax = fig.add_subplot(len(classes), per, r * per + k + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(CLASSES[c], fontsize=10)
            if k >= len(idx):
                ax.axis("off")
                continue
            i = idx[k]
            ax.imshow(faces[i], cmap="gray", vmin=0, vmax=255)
            ax.imshow(cams[i], cmap="jet", alpha=0.4, vmin=0, vmax=1)
            ok = pred[i] == labels[i]
            ax.set_title(f"{CLASSES[pred[i]]} {probs[i, pred[i]]:.2f}", fontsize=8, color="green" if ok else "red")
    fig.suptitle("Grad-CAM (rows: true class; titles: prediction)", fontsize=10)
    fig.tight_layout()
    return fig


# --- summary -----------------------------------------------------------------------------------


def _summary_markdown(ev, plots: dict[str, str], notes: dict[str, str]) -> str:
    n = int(ev.full.support.sum())
    card = ev.card or {}
    lines = [f"# {ev.model} on FER2013 {ev.split}", ""]
    facts = [f"{n} faces", f"{ev.seconds:.1f} s to classify ({ev.seconds / max(1, n) * 1000:.2f} ms per face, batched)"]
    for key, label in (("name", "model"), ("parameters", "parameters"), ("best_epoch", "best epoch"),
                       ("epochs_run", "epochs run"), ("public_test_accuracy", "PublicTest accuracy at selection"),
                       ("tta", "test-time augmentation"), ("hardware", "trained on")):
        if card.get(key) not in (None, ""):
            facts.append(f"{label}: {card[key]}")
    lines += ["- " + f for f in facts] + [""]
    lines += ["## Scores", "", "Macro averages over the 7 classes. \"minus Training duplicates\" drops the faces whose "
              "exact pixels also occur in the Training split.", "", ev.table(), ""]
    lines += ["## Per class", ""]
    if "per_class" in plots:
        lines += [f"![per-class precision, recall and F1]({plots['per_class']})", ""]
    lines += [ev.full.per_class_markdown(), ""]
    lines += ["## Confusion matrix", "", "Rows: true class; columns: predicted class.", ""]
    if "confusion" in plots:
        lines += [f"![confusion matrix]({plots['confusion']})", ""]
    lines += [ev.full.confusion_markdown(), ""]
    lines += ["## Training curves", ""]
    if "curves" in plots:
        lines += [f"![training curves]({plots['curves']})", ""]
    lines += [notes.get("curves", ""), ""]
    lines += ["## Grad-CAM", ""]
    if "gradcam" in plots:
        lines += [f"![Grad-CAM heat maps]({plots['gradcam']})", ""]
    lines += [notes.get("gradcam", ""), ""]
    lines += ["All numbers: `metrics.json`. Produced by `moodtune eval ... --report`.", ""]
    return "\n".join(lines)
