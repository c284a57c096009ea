#!/usr/bin/env python
"""Compute ``src/moodtune/assets/genre_stats.json``: genre-level feature statistics and the
calibrated music-arousal formula. Statistics only: no row of the shared data is written.

Inputs (under ``moodtune.config.data_dir() / "music"``):

* ``high_popularity_spotify_data.csv`` + ``low_popularity_spotify_data.csv`` ("Spotify Music
  Dataset"): one genre per row (``playlist_genre``), deduplicated per (track_id, genre).
* ``songs_normalize.csv`` ("Top Hits 2000-2019"): multi-label genres, each label counted,
  deduplicated per (artist, song).
* ``data_moods.csv`` is read only for the held-out check printed at the end (it has no genres
  and is never used for fitting).

The arousal formula (see ``moodtune.music.features``): a logistic regression of
calm-context (0) vs energetic-context (1) playlists on energy, normalised loudness, normalised
tempo and acousticness, fitted on the Spotify Music Dataset; its weights are rescaled so that
the formula's output has the mean and standard deviation of ``energy`` over that corpus.

Usage::

    python tools/genre_stats.py            # writes the json, prints a summary
    python tools/genre_stats.py --check    # recompute and compare with the shipped json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from moodtune.config import ASSETS, data_dir
from moodtune.music.features import loudness_norm, normalize_genre, split_genres, tempo_norm

OUT = ASSETS / "genre_stats.json"
FEATURES = ["valence", "energy", "tempo", "loudness", "acousticness", "instrumentalness", "danceability"]

#: Playlist contexts used as weak arousal labels: (genre, subgenre or None for all).
CALM_CONTEXTS = [
    ("wellness", None), ("classical", None), ("lofi", None), ("ambient", None),
    ("jazz", "smooth"), ("pop", "soft"), ("latin", "chill"), ("hip-hop", "chill"),
    ("folk", "indie"), ("folk", "nordic"),
]
ENERGETIC_CONTEXTS = [
    ("metal", None), ("punk", None), ("soca", None),
    ("electronic", "hardstyle"), ("electronic", "techno"), ("electronic", "future bass"),
    ("indian", "workout"), ("hip-hop", "drill"), ("hip-hop", "grime"), ("hip-hop", "trap"),
    ("afrobeats", "gqom"), ("brazilian", "funk"), ("latin", "reggaeton"),
    ("rock", "80s"), ("rock", "modern"), ("rock", "feel-good"),
]


def _in(contexts, genre, sub):
    return any(g == genre and (s is None or s == sub) for g, s in contexts)


def _float(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def _complete_features(row) -> dict | None:
    """The row's ``FEATURES`` as floats, or None when any is missing or not a number."""
    feats = {k: _float(row, k) for k in FEATURES}
    return None if any(v is None for v in feats.values()) else feats


def read_rows(music: Path):
    """Yield (genre, subgenre, feature dict, source) per (track, genre)."""
    seen = set()
    for name in ("high_popularity_spotify_data.csv", "low_popularity_spotify_data.csv"):
        with open(music / name, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                genre = normalize_genre(row["playlist_genre"])
                key = (row["track_id"], genre)
                if key in seen:
                    continue
                seen.add(key)
                feats = _complete_features(row)
                if feats is None:
                    continue
                yield genre, row["playlist_subgenre"].strip().lower(), feats, "spotify_music"
    with open(music / "songs_normalize.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["artist"].strip().lower(), row["song"].strip().lower())
            if key in seen:
                continue
            seen.add(key)
            feats = _complete_features(row)
            if feats is None:
                continue
            for genre in split_genres(row["genre"]):
                yield genre, "", feats, "top_hits"


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 50) -> np.ndarray:
    """Newton-Raphson L2 logistic regression; returns [bias, w...]."""
    Xb = np.c_[np.ones(len(X)), X]
    w = np.zeros(Xb.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-Xb @ w))
        g = Xb.T @ (p - y) + l2 * w
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb + l2 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def design(f: dict) -> list[float]:
    return [f["energy"], float(loudness_norm(f["loudness"])), float(tempo_norm(f["tempo"])), f["acousticness"]]


def compute(music: Path) -> dict:
    rows = list(read_rows(music))
    # --- arousal calibration on the Spotify Music Dataset's playlist contexts
    X, y, allX = [], [], []
    for genre, sub, feats, source in rows:
        if source != "spotify_music":
            continue
        allX.append(design(feats))
        if _in(CALM_CONTEXTS, genre, sub):
            X.append(design(feats))
            y.append(0.0)
        elif _in(ENERGETIC_CONTEXTS, genre, sub):
            X.append(design(feats))
            y.append(1.0)
    X, y, allX = np.array(X), np.array(y), np.array(allX)
    w = fit_logistic(X, y)
    raw = allX @ w[1:]
    energy = allX[:, 0]
    scale = energy.std() / raw.std()
    coef = w[1:] * scale
    c0 = energy.mean() - scale * raw.mean()
    formula = {"c0": c0, "energy": coef[0], "loudness": coef[1], "tempo": coef[2], "acousticness": coef[3]}
    formula = {k: round(float(v), 5) for k, v in formula.items()}

    def arousal(f):
        d = design(f)
        return float(np.clip(formula["c0"] + formula["energy"] * d[0] + formula["loudness"] * d[1]
                             + formula["tempo"] * d[2] + formula["acousticness"] * d[3], 0, 1))

    # --- genre statistics
    by_genre: dict[str, list[dict]] = defaultdict(list)
    for genre, _sub, feats, _src in rows:
        by_genre[genre].append(dict(feats, arousal=arousal(feats)))
    unique = {}
    for _genre, _sub, feats, _src in rows:
        unique[tuple(feats[k] for k in FEATURES)] = dict(feats, arousal=arousal(feats))

    def summary(items):
        out = {"n": len(items)}
        for k in [*FEATURES, "arousal"]:
            vals = np.array([it[k] for it in items], dtype=np.float64)
            out[k] = round(float(vals.mean()), 4)
            out[k + "_std"] = round(float(vals.std()), 4)
        return out

    genres = {g: summary(items) for g, items in sorted(by_genre.items()) if len(items) >= 5}

    # --- held-out check on data_moods.csv (moods used only here, to report)
    check = {}
    moods_path = music / "data_moods.csv"
    if moods_path.is_file():
        with open(moods_path, newline="", encoding="utf-8") as f:
            mrows = list(csv.DictReader(f))
        feats = [{k: float(r[k]) for k in ("energy", "loudness", "tempo", "acousticness")} for r in mrows]
        high = np.array([r["mood"] in ("Happy", "Energetic") for r in mrows])
        check = {
            "dataset": "data_moods.csv (held out)",
            "auc_high_vs_low_arousal_moods_energy_only": round(auc(np.array([f["energy"] for f in feats]), high), 4),
            "auc_high_vs_low_arousal_moods_formula": round(auc(np.array([arousal(f) for f in feats]), high), 4),
        }
    return {
        "about": "Genre-level statistics (means/stds, not rows) of Spotify audio features, computed by "
                 "tools/genre_stats.py from the shared Spotify Music Dataset and Top Hits 2000-2019 CSVs.",
        "arousal_formula": {
            "coefficients": formula,
            "inputs": "energy, clip((loudness_dB+40)/40,0,1), clip((tempo-60)/120,0,1), acousticness",
            "fit": {
                "method": "L2 logistic regression calm-context vs energetic-context playlists, "
                          "rescaled to energy's mean/std",
                "n_calm": int((y == 0).sum()),
                "n_energetic": int((y == 1).sum()),
                "calm_contexts": [f"{g}/{s or '*'}" for g, s in CALM_CONTEXTS],
                "energetic_contexts": [f"{g}/{s or '*'}" for g, s in ENERGETIC_CONTEXTS],
            },
            "held_out_check": check,
        },
        "overall": summary(list(unique.values())),
        "genres": genres,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="music data folder (default: <data_dir>/music)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="compare with the existing json instead of writing")
    args = ap.parse_args(argv)
    music = args.data or (data_dir() / "music")
    if not (music / "high_popularity_spotify_data.csv").is_file():
        print(f"music data not found under {music}", file=sys.stderr)
        return 1
    stats = compute(music)
    text = json.dumps(stats, indent=1, sort_keys=False) + "\n"
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print("genre_stats.json is up to date" if same else "genre_stats.json differs from a fresh computation")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    f = stats["arousal_formula"]
    print(f"wrote {args.out}: {len(stats['genres'])} genres, overall n={stats['overall']['n']}")
    print("arousal =", " + ".join(f"{v:+.4f}*{k}" if k != "c0" else f"{v:+.4f}" for k, v in f["coefficients"].items()))
    for k, v in f["held_out_check"].items():
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
