"""``moodtune catalog map --out map.png``: the whole catalogue on the valence/arousal plane, with its mood clusters.

Each rankable track is a point at (2 * valence - 1, 2 * arousal - 1), the page's circle and
the face scale; k-means (numpy, seeded k-means++) groups the points into ``k`` clusters, each
named after one of the four mood categories (the assignment with the least total distance) of the mood-labelled datasets (happy,
energetic, calm, sad; further clusters are numbered). The seven expression classes are marked
for reference. Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np

from moodtune.emotion.labels import CLASS_VA, CLASSES
from moodtune.errors import MoodtuneError

#: Mood categories on the music scale (valence, arousal in [0, 1]) that clusters are named after.
MOODS = {"happy": (0.8, 0.6), "energetic": (0.5, 0.85), "calm": (0.55, 0.25), "sad": (0.2, 0.3)}
COLOURS = {"happy": "#f0b400", "energetic": "#e0542f", "calm": "#2f9e77", "sad": "#3a78c8"}


@dataclass
class MoodClusters:
    """k-means of the catalogue: ``labels`` (N,) cluster per track, ``centres`` (k, 2) on the music scale, ``names`` (k,)."""

    labels: np.ndarray
    centres: np.ndarray
    names: list[str]

    def sizes(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(self.names)).tolist()


def kmeans(points: np.ndarray, k: int, seed: int = 0, iters: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(labels, centres) of k-means on ``points`` (N, 2) with k-means++ seeding."""
    rng = np.random.default_rng(seed)
    n = len(points)
    k = max(1, min(int(k), n))
    centres = [points[rng.integers(n)]]
    for _ in range(1, k):
        d = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        total = d.sum()
        centres.append(points[rng.choice(n, p=d / total)] if total > 0 else points[rng.integers(n)])
    c = np.array(centres, np.float64)
    labels = np.zeros(n, np.int64)
    for _ in range(iters):
        labels = np.argmin(((points[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        new = np.array([points[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return labels, c


def mood_clusters(valence: np.ndarray, arousal: np.ndarray, k: int = 4, seed: int = 0) -> MoodClusters:
    """Cluster tracks (music-scale valence/arousal) and name each cluster after its nearest free mood."""
    pts = np.column_stack([valence, arousal]).astype(np.float64)
    labels, centres = kmeans(pts, k, seed)
    moods = list(MOODS)
    dist = np.hypot(*(centres[:, None, :] - np.array([MOODS[m] for m in moods])[None]).transpose(2, 0, 1))
    k = len(centres)
    if k <= len(moods):  # cluster j is named moods[perm[j]]
        pairs = [list(enumerate(p)) for p in permutations(range(len(moods)), k)]
    else:  # moods[i] names cluster perm[i]; the other clusters are numbered
        pairs = [[(j, i) for i, j in enumerate(p)] for p in permutations(range(k), len(moods))]
    best = min(pairs, key=lambda ps: sum(dist[j, i] for j, i in ps))
    names = [f"cluster {j + 1}" for j in range(k)]
    for j, i in best:
        names[j] = moods[i]
    return MoodClusters(labels, centres, names)


def draw_catalog_map(store, out: str | os.PathLike, k: int = 4, title: str | None = None) -> MoodClusters:
    """Draw the catalogue ``store`` (a ``CatalogStore``) with its ``k`` mood clusters to ``out`` (PNG, SVG or PDF)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MoodtuneError("catalog map needs matplotlib: pip install matplotlib") from None
    idx = store.index()
    if len(idx) == 0:
        raise MoodtuneError("the catalogue has no tracks with valence and arousal to draw")
    clusters = mood_clusters(idx.valence, idx.arousal, k)
    x, y = 2 * idx.valence.astype(np.float64) - 1, 2 * idx.arousal.astype(np.float64) - 1
    fig, ax = plt.subplots(figsize=(7.5, 7.5), dpi=120)
    ax.add_patch(plt.Circle((0, 0), 1, fill=False, color="#b8bcc8", lw=1.2))
    ax.axhline(0, color="#d9dbe3", lw=0.8)
    ax.axvline(0, color="#d9dbe3", lw=0.8)
    size = max(1.5, min(30.0, 3000 / len(idx)))
    sizes = clusters.sizes()
    for j, name in enumerate(clusters.names):
        m = clusters.labels == j
        colour = COLOURS.get(name, f"C{j}")
        ax.scatter(x[m], y[m], s=size, color=colour, alpha=0.35 if len(idx) > 2000 else 0.7, linewidths=0, rasterized=True,
                   label=f"{name}: {sizes[j]} tracks")
        cx, cy = 2 * clusters.centres[j] - 1
        ax.scatter([cx], [cy], s=160, color=colour, edgecolors="black", linewidths=1.2, zorder=3)
        ax.annotate(name, (cx, cy), xytext=(8, 8), textcoords="offset points", fontsize=11, weight="bold", zorder=4)
    for c, (v, a) in zip(CLASSES, CLASS_VA, strict=True):
        ax.scatter([v], [a], marker="x", s=30, color="#5b6070", zorder=3)
        ax.annotate(c, (v, a), xytext=(4, -10), textcoords="offset points", fontsize=8, color="#5b6070")
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.set_xlabel("valence: unpleasant → pleasant")
    ax.set_ylabel("arousal: calm → excited")
    ax.set_title(title or f"{getattr(store, 'description', 'catalogue')}: {len(idx)} tracks, {len(sizes)} mood clusters",
                 fontsize=10)
    ax.legend(loc="lower right", fontsize=8, markerscale=max(1.0, 6 / size ** 0.5), framealpha=0.9)
    fig.tight_layout()
    try:
        fig.savefig(Path(out))
    except OSError as exc:
        raise MoodtuneError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return clusters
