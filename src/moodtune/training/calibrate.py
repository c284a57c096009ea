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


def uncertain_threshold(probs: np.ndarray, labels: np.ndarray, max_accuracy: float = 0.5,
                        grid: np.ndarray | None = None) -> dict:
    """The highest top-probability threshold t (on ``grid``) under which the model is right at most
    ``max_accuracy`` of the time: below it an answer is more likely wrong than right, so "not sure".
    Returns the threshold with the share of faces under it and the accuracy on both sides."""
    grid = np.round(np.arange(0.20, 0.80, 0.01), 2) if grid is None else grid
    top, right = probs.max(1), probs.argmax(1) == labels
    best = float(grid[0])
    for t in grid:
        m = top < t
        if m.any() and right[m].mean() <= max_accuracy:
            best = float(t)
    m = top < best
    return {"uncertain_below": best, "share_uncertain": round(float(m.mean()), 4),
            "accuracy_uncertain": round(float(right[m].mean()), 4) if m.any() else None,
            "accuracy_confident": round(float(right[~m].mean()), 4) if (~m).any() else None}


def calibration_card(probs: np.ndarray, labels: np.ndarray, temperature: float, before: np.ndarray | None = None) -> dict:
    """The card's ``temperature_scaling`` entry from PublicTest probabilities of the runtime classifier
    (``before``: the same model's probabilities at temperature 1)."""
    card = {"temperature": temperature, "fitted_on": "FER2013 PublicTest (minimum NLL)",
            "ece_after": round(ece(probs, labels), 4), "ece_bins": 15}
    if before is not None:
        card["ece_before"] = round(ece(before, labels), 4)
    return card
