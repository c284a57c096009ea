"""``moodtune eval music``: precision@N of the recommender against a mood-labelled catalogue.

The catalogue (``data_moods.csv`` schema) is imported with the ``data_moods`` importer, which
never reads the ``mood`` column; the labels are read separately, here, only to score the
playlists. Rows of the table (the bars come from the project's issue):

====================  ==================  ======
emotion, strategy     expected moods      bar
====================  ==================  ======
happy, match          Happy, Energetic    ≥ 0.9
surprise, match       Happy, Energetic    ≥ 0.9
sad, match            Sad, Calm           ≥ 0.9
angry, match          Energetic           ≥ 0.7
angry/fear/disgust,   Calm                ≥ 0.8
calm
sad, lift             first 3 Sad/Calm, last 3 Happy/Energetic, valence non-decreasing
====================  ==================  ======
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from moodtune.config import data_dir
from moodtune.errors import MoodtuneError
from moodtune.music.recommend import open_catalog, recommend
from moodtune.music.types import Playlist, track_key

#: (emotion, strategy, expected moods, bar)
CASES = [
    ("happy", "match", ("Happy", "Energetic"), 0.9),
    ("surprise", "match", ("Happy", "Energetic"), 0.9),
    ("sad", "match", ("Sad", "Calm"), 0.9),
    ("angry", "match", ("Energetic",), 0.7),
    ("angry", "calm", ("Calm",), 0.8),
    ("fear", "calm", ("Calm",), 0.8),
    ("disgust", "calm", ("Calm",), 0.8),
]


def default_labels_path() -> Path:
    return data_dir() / "music" / "data_moods.csv"


def read_labels(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Mood labels by Spotify id and by title|artist key, from a data_moods-schema CSV."""
    by_id: dict[str, str] = {}
    by_key: dict[str, str] = {}
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise MoodtuneError(f"cannot read mood labels from {path}: {exc.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        need = {"name", "artist", "id", "mood"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise MoodtuneError(f"{path.name}: a mood-labelled CSV needs the columns {', '.join(sorted(need))}")
        for row in reader:
            by_id[row["id"].strip()] = row["mood"].strip()
            by_key[track_key(row["name"], row["artist"])] = row["mood"].strip()
    return by_id, by_key


def _mood(track, labels) -> str | None:
    by_id, by_key = labels
    return by_id.get(track.spotify_id or "") or by_key.get(track.key)


def _distinct_artists(pl: Playlist, k: int = 10) -> int:
    from moodtune.music.types import artist_key

    return len({artist_key(t.artist) for t in pl.tracks[:k]})


def evaluate(catalog: str | Path | None = None, n: int = 10) -> dict:
    """Run every case; returns a JSON-ready dict with per-case results and ``passed``."""
    cat_path = Path(catalog) if catalog else default_labels_path()
    if not cat_path.exists():
        raise MoodtuneError(f"catalogue not found: {cat_path} (pass --catalog data_moods.csv)")
    labels_path = cat_path if cat_path.suffix.lower() == ".csv" else default_labels_path()
    labels = read_labels(labels_path)
    store = open_catalog(cat_path)
    rows = []
    for emotion, strategy, expected, bar in CASES:
        t0 = time.perf_counter()
        pl = recommend(emotion, strategy=strategy, n=n, catalog=store)
        ms = (time.perf_counter() - t0) * 1000
        moods = [_mood(t, labels) for t in pl.tracks]
        hits = sum(m in expected for m in moods)
        p = hits / max(1, len(moods))
        rows.append({
            "emotion": emotion, "strategy": strategy, "expected": list(expected), "bar": bar,
            "precision": round(p, 3), "passed": p >= bar, "moods": moods,
            "distinct_artists": _distinct_artists(pl), "ms": round(ms, 2),
        })
    # lift
    pl = recommend("sad", strategy="lift", n=n, catalog=store)
    moods = [_mood(t, labels) for t in pl.tracks]
    vals = [t.valence for t in pl.tracks]
    first_ok = sum(m in ("Sad", "Calm") for m in moods[:3])
    last_ok = sum(m in ("Happy", "Energetic") for m in moods[-3:])
    mono = all(b >= a - 1e-9 for a, b in zip(vals, vals[1:]))
    lift = {
        "emotion": "sad", "strategy": "lift", "n": len(pl),
        "first3_sad_or_calm": first_ok, "last3_happy_or_energetic": last_ok,
        "valence_non_decreasing": mono, "moods": moods, "valence": [round(v, 3) for v in vals],
        "distinct_artists": _distinct_artists(pl),
        "passed": first_ok == 3 and last_ok == 3 and mono,
    }
    return {
        "catalog": str(cat_path),
        "tracks": len(store.index()),
        "n": n,
        "cases": rows,
        "lift": lift,
        "passed": all(r["passed"] for r in rows) and lift["passed"],
    }


def format_table(res: dict) -> str:
    lines = [
        f"catalogue: {res['catalog']} ({res['tracks']} rankable tracks; the mood column is not read by the recommender)",
        "",
        f"| emotion, strategy | expected moods | precision@{res['n']} | bar | distinct artists | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["cases"]:
        lines.append(
            f"| {r['emotion']}, {r['strategy']} | {', '.join(r['expected'])} | {r['precision']:.2f} | "
            f">= {r['bar']} | {r['distinct_artists']}/{min(10, len(r['moods']))} | {'PASS' if r['passed'] else 'FAIL'} |"
        )
    lf = res["lift"]
    lines.append(
        f"| sad, lift (n={lf['n']}) | first 3 Sad/Calm: {lf['first3_sad_or_calm']}/3, last 3 Happy/Energetic: "
        f"{lf['last3_happy_or_energetic']}/3, valence non-decreasing: {'yes' if lf['valence_non_decreasing'] else 'no'} | - | all | "
        f"{lf['distinct_artists']}/{min(10, lf['n'])} | {'PASS' if lf['passed'] else 'FAIL'} |"
    )
    lines.append("")
    lines.append("lift moods:   " + " > ".join(str(m) for m in lf["moods"]))
    lines.append("lift valence: " + " > ".join(f"{v:.2f}" for v in lf["valence"]))
    lines.append("")
    lines.append("all bars hold" if res["passed"] else "SOME BARS FAIL")
    return "\n".join(lines)


def run(args) -> int:
    """Entry point of ``moodtune eval music`` (args.catalog, args.n, args.json)."""
    res = evaluate(getattr(args, "catalog", None), int(getattr(args, "n", 10) or 10))
    if getattr(args, "json", False):
        print(json.dumps(res, indent=2))
    else:
        print(format_table(res))
    return 0 if res["passed"] else 1
