"""The robustness report card: accuracy on a FER2013 split under each corruption family at three
severities, through the runtime classifier (``moodtune eval MODEL --robustness``).

The corruptions are fixed and seeded (the same faces get the same corruption on every run):
low light (exposure gain with gamma), blur, sensor noise, JPEG, lower-face and upper-face
occlusion, roll (rotation) and low resolution. They are built from the primitives of
``training.augment`` with fixed parameters; training draws from ranges that include them, so this
card measures robustness to corruptions of the kinds trained for, not to unseen ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from moodtune.training import augment as A

#: family → (what the severities mean, parameter at severities 1, 2, 3)
SEVERITIES: dict[str, tuple[str, tuple]] = {
    "low light": ("exposure gain, gamma", ((0.6, 1.3), (0.4, 1.6), (0.25, 2.0))),
    "blur": ("Gaussian sigma, px of 48", (0.8, 1.2, 1.8)),
    "noise": ("Gaussian sigma, grey levels", (6.0, 12.0, 20.0)),
    "jpeg": ("JPEG quality", (50, 30, 15)),
    "lower-face occlusion": ("band top, fraction of the side (to the chin)", (0.70, 0.62, 0.55)),
    "upper-face occlusion": ("dark band over the eyes, rows", ((0.30, 0.42), (0.26, 0.46), (0.20, 0.50))),
    "rotation": ("roll, degrees (alternating sign)", (10.0, 20.0, 30.0)),
    "low resolution": ("side in px before scaling back to 48", (24, 16, 12)),
}


def corrupt(faces: np.ndarray, family: str, severity: int, seed: int = 0) -> np.ndarray:
    """``faces`` (N, S, S) uint8 under ``family`` at ``severity`` (1-3) → uint8, deterministic."""
    x = torch.from_numpy(faces).float()[:, None]
    n = len(faces)
    v = SEVERITIES[family][1][severity - 1]
    every = torch.ones(n, dtype=torch.bool)
    full = lambda val: torch.full((n,), float(val))  # noqa: E731
    if family == "low light":
        gain, gamma = v
        y = 255.0 * (x / 255.0) ** gamma * gain
    elif family == "blur":
        y = A.blur(x, every, full(v))
    elif family == "noise":
        y = A.noise(x, every, full(v), torch.Generator().manual_seed(seed))
    elif family == "jpeg":
        y = A.jpeg(x, every, full(v).long())
    elif family == "lower-face occlusion":
        y = A.band(x, every, full(v), full(1.0), full(128))
    elif family == "upper-face occlusion":
        y = A.band(x, every, full(v[0]), full(v[1]), full(20))
    elif family == "rotation":
        sign = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
        y = A.affine(x, sign * v, full(1.0), full(0), full(0))
    elif family == "low resolution":
        y = A.low_resolution(x, every, full(v).long())
    else:
        raise KeyError(family)
    return y.clamp(0, 255).round().to(torch.uint8)[:, 0].numpy()


@dataclass
class RobustnessCard:
    model: str
    split: str
    n: int
    clean: float
    accuracy: dict[str, list[float]]  # family → accuracy at severities 1, 2, 3

    def table(self) -> str:
        rows = [f"| corruption ({self.split}, {self.n:,} faces; clean {self.clean:.4f}) | severities | 1 | 2 | 3 | change at 2 |",
                "|---|---|---|---|---|---|"]
        for fam, accs in self.accuracy.items():
            what, params = SEVERITIES[fam]
            ps = " / ".join(str(p) for p in params)
            rows.append(f"| {fam} | {what}: {ps} | {accs[0]:.4f} | {accs[1]:.4f} | {accs[2]:.4f} | {(accs[1] - self.clean) * 100:+.1f} pts |")
        return "\n".join(rows)

    def to_json(self) -> dict:
        return {"model": self.model, "split": self.split, "n": self.n, "clean": round(self.clean, 4),
                "accuracy": {k: [round(a, 4) for a in v] for k, v in self.accuracy.items()},
                "severities": {k: list(v[1]) for k, v in SEVERITIES.items()}}

    def plot(self, path: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for fam, accs in self.accuracy.items():
            ax.plot([0, 1, 2, 3], [self.clean, *accs], marker="o", label=fam)
        ax.set_xticks([0, 1, 2, 3], ["clean", "1", "2", "3"])
        ax.set_xlabel("severity")
        ax.set_ylabel(f"accuracy ({self.split})")
        ax.set_title(f"robustness of {Path(self.model).name}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        return path


def robustness(predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray, labels: np.ndarray, model: str = "",
               split: str = "PrivateTest", families: list[str] | None = None) -> RobustnessCard:
    """Accuracy of ``predict`` (uint8 faces → probabilities) on clean and corrupted ``faces``."""
    clean = float((predict(faces).argmax(1) == labels).mean())
    acc = {}
    for fam in families or list(SEVERITIES):
        acc[fam] = [float((predict(corrupt(faces, fam, s)).argmax(1) == labels).mean()) for s in (1, 2, 3)]
    return RobustnessCard(model, split, len(labels), clean, acc)

