#!/usr/bin/env python
"""Cross-set check of the recommender's tunable constants (issue 11, item 1).

The mapping has three constants that a mood-labelled set could tune: the calm target's arousal
(``strategies.CALM_POINT``), calm's instrumental preference (``CALM_LYRICS``) and match's
valence weight (``MATCH_W_VALENCE``). For each dev set, this picks the combination of a small grid
that scores best on that set alone (mean P@50 over the rows of ``moodtune eval music`` that have
a bar), then scores it on the other set: fit on one, score on the other, both ways, next to the
shipped constants. A rule that only holds on the set it was fitted on shows up as a drop.

``--ceiling`` adds what the audio features can carry at all: for each set and label, a
gradient-boosted classifier fitted on that very set (5-fold cross-validated, so each track is
scored by a model that never saw it) ranks the tracks, and its P@50 is the label's ceiling for
any rule built on these features; the shipped rule's P@50 for the same label stands beside it.

Usage: ``python tools/music_cross_set.py [--ceiling]`` (needs ../shared/data/music and
scikit-learn, from ``moodtune[train]``).
"""

from __future__ import annotations

import argparse
import itertools
import sys

from moodtune.music import evaluate as E
from moodtune.music import strategies as S

GRID = {
    "calm_arousal": (-0.9, -0.7, -0.5),
    "calm_lyrics": (0.0, -0.05, -0.1),
    "match_w_valence": (1.0, 2.0),
}


def apply(calm_arousal: float, calm_lyrics: float, match_w_valence: float) -> None:
    S.CALM_POINT = (S.CALM_POINT[0], calm_arousal)
    S.CALM_LYRICS = calm_lyrics
    S.MATCH_W_VALENCE = match_w_valence


def score(path) -> dict:
    res = E.evaluate(path)
    rows = [r for r in res["cases"] if r["bar"] is not None]
    p50 = {r["case"]: r["precision"]["50"] for r in rows}
    return {"mean": sum(p50.values()) / len(p50), "calm": p50["angry, calm"],
            "happy strict": p50["happy, match (strict)"], "sad strict": p50["sad, match (strict)"],
            "bars": sum(bool(r["passed"]) for r in rows) + bool(res["lift"]["passed"]), "of": len(rows) + 1}


#: Audio features the ceiling's classifier reads (those both dev sets have).
CEILING_FEATURES = ["valence", "energy", "acousticness", "instrumentalness", "tempo", "loudness", "danceability",
                    "speechiness", "liveness"]
#: The label each ceiling row scores, and the ``moodtune eval music`` row whose P@50 is the rule's.
CEILING_ROWS = {"Calm": "angry, calm", "Happy": "happy, match (strict)", "Sad": "sad, match (strict)"}


def ceiling(path, k: int = 50, seed: int = 0) -> dict[str, float]:
    """Cross-validated P@k of a classifier fitted on ``path`` itself, per label of ``CEILING_ROWS``."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    df = pd.read_csv(path).dropna(subset=[*CEILING_FEATURES, "mood"])
    x = df[CEILING_FEATURES].to_numpy(float)
    out = {}
    for label in CEILING_ROWS:
        y = (df["mood"].str.capitalize() == label).to_numpy()
        model = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=150, random_state=seed)
        p = cross_val_predict(model, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed), method="predict_proba")
        out[label] = float(y[np.argsort(-p[:, 1], kind="stable")[:k]].mean())
    return out


def print_ceiling(paths) -> None:
    print("\n| set | label | random | shipped rule P@50 | ceiling P@50 (fitted on the set, cross-validated) |")
    print("|---|---|---|---|---|")
    for p in paths:
        res = E.evaluate(p)
        rows = {r["case"]: r for r in res["cases"]}
        ceil = ceiling(p)
        for label, case in CEILING_ROWS.items():
            print(f"| {p.name} | {label} | {rows[case]['random']:.2f} | {rows[case]['precision']['50']:.2f} | {ceil[label]:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ceiling", action="store_true", help="also print what the audio features can carry per label")
    args = ap.parse_args()
    paths = E.dev_set_paths()
    if len(paths) < 2:
        print("needs both dev sets under ../shared/data/music", file=sys.stderr)
        return 2
    shipped = (S.CALM_POINT[1], S.CALM_LYRICS, S.MATCH_W_VALENCE)
    combos = list(itertools.product(*GRID.values()))
    table = {}
    for combo in combos:
        apply(*combo)
        table[combo] = {p.name: score(p) for p in paths}
    apply(*shipped)
    print("| constants chosen on | calm arousal, calm lyrics, match w_valence | scored on | mean P@50 | calm P@50 | "
          "happy strict | sad strict | bars held |")
    print("|---|---|---|---|---|---|---|---|")
    choices = [("shipped", shipped)] + [(f.name, max(combos, key=lambda c: table[c][f.name]["mean"])) for f in paths]
    for label, combo in choices:
        for p in paths:
            s = table[combo][p.name] if combo in table else None
            if s is None:
                apply(*combo)
                s = score(p)
                apply(*shipped)
            own = " (fitted here)" if label == p.name else ""
            print(f"| {label} | {', '.join(f'{x:g}' for x in combo)} | {p.name}{own} | {s['mean']:.3f} | {s['calm']:.2f} | "
                  f"{s['happy strict']:.2f} | {s['sad strict']:.2f} | {s['bars']}/{s['of']} |")
    if args.ceiling:
        print_ceiling(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
