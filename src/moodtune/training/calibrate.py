"""Calibrated confidence: temperature scaling, expected calibration error, the "not sure" threshold.

The temperature is fitted on PublicTest logits (minimum negative log-likelihood) and lives in the
exported graph (``logits / T`` before the softmax, see ``export.Deployable``). ``uncertain_below``
(a top probability) goes into the model card; the runtime marks a face uncertain under it.
"""

from __future__ import annotations

import numpy as np


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    return float(-_log_softmax(logits / t)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, lo: float = 0.25, hi: float = 8.0) -> float:
    """The temperature T minimising the NLL of ``softmax(logits / T)`` (golden-section search on log T)."""
    a, b = np.log(lo), np.log(hi)
    r = (np.sqrt(5) - 1) / 2
    c, d = b - r * (b - a), a + r * (b - a)
    for _ in range(60):
        if nll(logits, labels, np.exp(c)) < nll(logits, labels, np.exp(d)):
            b, d = d, c
            c = b - r * (b - a)
        else:
            a, c = c, d
            d = a + r * (b - a)
    return float(np.exp((a + b) / 2))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the face-weighted mean |accuracy - mean top probability| over
    ``bins`` equal-width bins of the top probability."""
    top, pred = probs.max(1), probs.argmax(1)
    right = pred == labels
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(top, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(right[m].mean() - top[m].mean())
    return float(total / max(1, len(labels)))


def uncertain_threshold(probs: np.ndarray, labels: np.ndarray, min_accuracy: float = 0.5, window: float = 0.05,
                        grid: np.ndarray | None = None) -> dict:
    """The "not sure" threshold: the lowest top probability t from which on faces are right at least
    ``min_accuracy`` of the time, judged locally (faces whose top probability lies within ``window``
    of each grid point at or above t). Under it an answer is more likely wrong than right.
    Returns the threshold with the share of faces under it and the accuracy on both sides."""
    grid = np.round(np.arange(0.20, 0.96, 0.01), 2) if grid is None else grid
    top, right = probs.max(1), probs.argmax(1) == labels
    per_point = []
    for t in grid:
        m = np.abs(top - t) <= window
        per_point.append(right[m].mean() if m.sum() >= 20 else np.nan)
    local = np.array(per_point)
    bad = np.nonzero(local < min_accuracy)[0]  # NaN (too few faces) never counts as bad
    best = float(grid[bad[-1] + 1]) if len(bad) and bad[-1] + 1 < len(grid) else float(grid[0])
    m = top < best
    return {"uncertain_below": best, "share_uncertain": round(float(m.mean()), 4),
            "accuracy_uncertain": round(float(right[m].mean()), 4) if m.any() else None,
            "accuracy_confident": round(float(right[~m].mean()), 4) if (~m).any() else None}


RULE = "lowest top probability from which on faces near each probability are right at least half the time (window 0.05)"


def calibration_card(probs: np.ndarray, labels: np.ndarray, temperature: float, before: np.ndarray | None = None) -> dict:
    """The card's ``temperature_scaling`` entry from PublicTest probabilities of the runtime classifier
    (``before``: the same model's probabilities at temperature 1)."""
    card = {"temperature": temperature, "fitted_on": "FER2013 PublicTest (minimum NLL)",
            "ece_after": round(ece(probs, labels), 4), "ece_bins": 15}
    if before is not None:
        card["ece_before"] = round(ece(before, labels), 4)
    return card


def measure(model: str, data=None, write: bool = False) -> dict:
    """ECE and the "not sure" threshold of an exported model on PublicTest through the runtime
    classifier; with ``write`` they go into its card (``uncertain_below``, ``uncertain_rule``,
    ``ece_public_test``). The graph is not changed: a temperature needs a re-export (``train.finish``)."""
    import json
    from pathlib import Path

    from moodtune.config import ASSETS
    from moodtune.training.evaluate import evaluate

    path = ASSETS / "emotion.onnx" if model == "shipped" else Path(model)
    ev = evaluate(str(path), "PublicTest", data=data)
    rule = uncertain_threshold(ev.probabilities, ev.labels)
    logp = np.log(np.clip(ev.probabilities, 1e-12, None))
    t = fit_temperature(logp, ev.labels)
    out = {"accuracy": round(ev.full.accuracy, 4), "ece_public_test": round(ece(ev.probabilities, ev.labels), 4),
           "temperature_if_refitted": round(t, 4),
           "ece_if_refitted": round(ece(np.exp(_log_softmax(logp / t)), ev.labels), 4), **rule}
    if write:
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text())
        card["uncertain_below"] = rule["uncertain_below"]
        card["uncertain_rule"] = {"chosen_on": "FER2013 PublicTest through the runtime classifier",
                                  "rule": RULE,
                                  **{k: v for k, v in rule.items() if k != "uncertain_below"}}
        card["ece_public_test"] = out["ece_public_test"]
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    return out


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="ECE and the 'not sure' threshold of an exported model on PublicTest")
    ap.add_argument("model", help="'shipped' or an .onnx file")
    ap.add_argument("--write", action="store_true", help="write uncertain_below and the ECE into the model's card")
    a = ap.parse_args()
    print(json.dumps(measure(a.model, write=a.write)))
