#!/usr/bin/env python
"""Cross-set check of the recommender's tunable constants (issue 11, item 1).

The mapping has three constants that a mood-labelled set could tune: the calm target's arousal
(``strategies.CALM_POINT``), calm's instrumental preference (``CALM_LYRICS``) and match's
valence weight (``MATCH_W_VALENCE``). For each dev set, this picks the combination of a small grid
that scores best on that set alone (mean P@50 over the rows of ``moodtune eval music`` that have
a bar), then scores it on the other set: fit on one, score on the other, both ways, next to the
shipped constants. A rule that only holds on the set it was fitted on shows up as a drop.

Usage: ``python tools/music_cross_set.py`` (needs ../shared/data/music).
"""

from __future__ import annotations

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


def main() -> int:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
