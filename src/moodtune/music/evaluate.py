"""``moodtune eval music``: precision@10/20/50 of the recommender against any mood-labelled CSV.

The catalogue is imported with the importer its header selects (``data_moods`` for the two dev
sets), which never reads the label column; the labels are read separately, here, only to score
the playlists. Every row also prints the precision a random list would get (the label's share
of the rankable tracks), so a set with many ``Energetic`` tracks does not flatter a strategy.

Rows (the bars come from issue 11; ``2x random`` means twice the row's random baseline):

======================  ====================  ===========
emotion, strategy       expected labels       bar at P@50
======================  ====================  ===========
happy, match            Happy, Energetic      >= 0.85
surprise, match         Happy, Energetic      >= 0.85
sad, match              Sad, Calm             >= 0.85
happy, match (strict)   Happy                 >= 2x random
sad, match (strict)     Sad                   >= 2x random
angry, match            Energetic             (reported)
angry/fear/disgust,     Calm                  >= 0.6
calm
sad, lift (n=10)        first 3 Sad/Calm, last 3 Happy/Energetic, valence non-decreasing
======================  ====================  ===========

A labelled CSV needs a label column (``mood``, ``label`` or ``moods``) and title and artist
columns (any spelling the generic importer knows); an ``id`` column is used where filled.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from moodtune.config import data_dir
from moodtune.errors import MoodtuneError
from moodtune.music.importers import GENERIC_GUESSES
from moodtune.music.recommend import open_catalog, recommend
from moodtune.music.types import Playlist, artist_key, track_key

#: Cut-offs of the precision table.
CUTOFFS = (10, 20, 50)
LABEL_COLUMNS = ("mood", "label", "moods")


@dataclass(frozen=True)
class Case:
    """One row: the emotion and strategy asked for, the labels that count as hits, the bar at P@50.

    ``bar`` is an absolute precision; ``bar_x_random`` a multiple of the random baseline.
    """

    name: str
    emotion: str
    strategy: str
    expected: tuple[str, ...]
    bar: float | None = None
    bar_x_random: float | None = None


CASES: tuple[Case, ...] = (
    Case("happy, match", "happy", "match", ("Happy", "Energetic"), bar=0.85),
    Case("surprise, match", "surprise", "match", ("Happy", "Energetic"), bar=0.85),
    Case("sad, match", "sad", "match", ("Sad", "Calm"), bar=0.85),
    Case("happy, match (strict)", "happy", "match", ("Happy",), bar_x_random=2.0),
    Case("sad, match (strict)", "sad", "match", ("Sad",), bar_x_random=2.0),
    Case("angry, match", "angry", "match", ("Energetic",)),
    Case("angry, calm", "angry", "calm", ("Calm",), bar=0.6),
    Case("fear, calm", "fear", "calm", ("Calm",), bar=0.6),
    Case("disgust, calm", "disgust", "calm", ("Calm",), bar=0.6),
)

#: The dev sets ``moodtune eval music`` scores when no ``--catalog`` is given.
DEV_SETS = ("data_moods.csv", "mood_playlists/mood_playlists.csv")


def default_labels_path() -> Path:
    return data_dir() / "music" / DEV_SETS[0]


def dev_set_paths() -> list[Path]:
    """The shared dev sets (``data_moods.csv``, ``mood_playlists.csv``) that exist here."""
    return [p for p in (data_dir() / "music" / s for s in DEV_SETS) if p.is_file()]


def _column(fields: dict[str, str], names) -> str | None:
    return next((fields[n] for n in names if n in fields), None)


def read_labels(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Labels by Spotify id and by title|artist key, from a labelled CSV.

    Rows with an empty ``id`` are found by title and artist only (an empty id never
    matches: it used to give every id-less track the last such row's label).
    """
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise MoodtuneError(f"cannot read mood labels from {path}: {exc.strerror}") from None
    by_id: dict[str, str] = {}
    by_key: dict[str, str] = {}
    with f:
        reader = csv.DictReader(f)
        fields = {(n or "").strip().lower(): n for n in reader.fieldnames or ()}
        label = _column(fields, LABEL_COLUMNS)
        title = _column(fields, GENERIC_GUESSES["title"])
        artist = _column(fields, GENERIC_GUESSES["artist"])
        ident = _column(fields, ("id", "spotify_id", "track_id"))
        if not (label and title and artist):
            raise MoodtuneError(f"{path.name}: a labelled CSV needs a label column ({', '.join(LABEL_COLUMNS)}) "
                                "and title and artist columns")
        for row in reader:
            mood = (row.get(label) or "").strip().capitalize()
            if not mood:
                continue
            rid = (row.get(ident) or "").strip() if ident else ""
            if rid:
                by_id[rid] = mood
            by_key[track_key(row.get(title) or "", row.get(artist) or "")] = mood
    if not by_key:
        raise MoodtuneError(f"{path.name}: no labelled rows")
    return by_id, by_key


def _mood(track, labels) -> str | None:
    by_id, by_key = labels
    if track.spotify_id and track.spotify_id in by_id:
        return by_id[track.spotify_id]
    return by_key.get(track.key)


def _distinct_artists(pl: Playlist, k: int = 10) -> int:
    return len({artist_key(t.artists[0] if t.artists else "") for t in pl.tracks[:k]})


def _precision(moods: list, expected, k: int) -> float | None:
    top = moods[:k]
    return sum(m in expected for m in top) / len(top) if len(top) >= k else None


def evaluate(catalog: str | Path | None = None, n: int = 50) -> dict:
    """Score every case on one labelled CSV; a JSON-ready dict with per-case results and ``passed``."""
    cat_path = Path(catalog) if catalog else default_labels_path()
    if not cat_path.exists():
        raise MoodtuneError(f"catalogue not found: {cat_path} (pass --catalog a labelled CSV)")
    if cat_path.suffix.lower() != ".csv":
        raise MoodtuneError(f"{cat_path.name}: eval music needs a labelled CSV (a label column named mood)")
    labels = read_labels(cat_path)
    store = open_catalog(cat_path)
    tracks = list(store.iter_tracks())
    all_moods = [_mood(t, labels) for t in tracks if t.valence is not None and t.arousal is not None]
    n = max(n, max(CUTOFFS))
    rows = []
    for case in CASES:
        pl = recommend(case.emotion, strategy=case.strategy, n=n, catalog=store)
        moods = [_mood(t, labels) for t in pl.tracks]
        rnd = sum(m in case.expected for m in all_moods) / max(1, len(all_moods))
        prec = {k: _precision(moods, case.expected, k) for k in CUTOFFS}
        p50 = prec[max(CUTOFFS)]
        bar = case.bar if case.bar is not None else (case.bar_x_random * rnd if case.bar_x_random else None)
        rows.append({
            "case": case.name, "emotion": case.emotion, "strategy": case.strategy, "expected": list(case.expected),
            "precision": {str(k): None if v is None else round(v, 3) for k, v in prec.items()},
            "random": round(rnd, 3), "bar": None if bar is None else round(bar, 3),
            "bar_text": (f">= {case.bar}" if case.bar is not None else
                         f">= {case.bar_x_random:g}x random" if case.bar_x_random else "-"),
            "passed": None if bar is None else (p50 is not None and p50 >= bar - 1e-9),
            "distinct_artists_top10": _distinct_artists(pl),
        })
    pl = recommend("sad", strategy="lift", n=10, catalog=store)
    moods = [_mood(t, labels) for t in pl.tracks]
    vals = [t.valence for t in pl.tracks if t.valence is not None]  # ranked tracks all have one
    first_ok = sum(m in ("Sad", "Calm") for m in moods[:3])
    last_ok = sum(m in ("Happy", "Energetic") for m in moods[-3:])
    mono = all(b >= a - 1e-9 for a, b in pairwise(vals))
    lift = {
        "emotion": "sad", "strategy": "lift", "n": len(pl),
        "first3_sad_or_calm": first_ok, "last3_happy_or_energetic": last_ok,
        "valence_non_decreasing": mono, "moods": moods, "valence": [round(v, 3) for v in vals],
        "distinct_artists": _distinct_artists(pl),
        "passed": first_ok == 3 and last_ok == 3 and mono,
    }
    return {
        "catalog": str(cat_path),
        "tracks": len(all_moods),
        "labelled": sum(m is not None for m in all_moods),
        "cutoffs": list(CUTOFFS),
        "cases": rows,
        "lift": lift,
        "passed": all(r["passed"] is not False for r in rows) and lift["passed"],
    }


def format_table(res: dict) -> str:
    """The markdown table ``moodtune eval music`` prints for one labelled CSV."""
    ks = res["cutoffs"]
    lines = [
        f"catalogue: {res['catalog']} ({res['tracks']} rankable tracks, {res['labelled']} labelled; "
        "the label column is not read by the recommender)",
        "",
        "| emotion, strategy | expected | " + " | ".join(f"P@{k}" for k in ks) + " | random | bar (P@50) | artists in top 10 | result |",
        "|---|---|" + "---|" * len(ks) + "---|---|---|---|",
    ]
    for r in res["cases"]:
        ps = " | ".join("-" if r["precision"][str(k)] is None else f"{r['precision'][str(k)]:.2f}" for k in ks)
        result = "-" if r["passed"] is None else ("PASS" if r["passed"] else "FAIL")
        lines.append(f"| {r['case']} | {', '.join(r['expected'])} | {ps} | {r['random']:.2f} | {r['bar_text']} | "
                     f"{r['distinct_artists_top10']}/10 | {result} |")
    lf = res["lift"]
    lines += [
        "",
        f"sad, lift (n={lf['n']}): first 3 Sad/Calm {lf['first3_sad_or_calm']}/3, last 3 Happy/Energetic "
        f"{lf['last3_happy_or_energetic']}/3, valence non-decreasing: {'yes' if lf['valence_non_decreasing'] else 'no'}, "
        f"{lf['distinct_artists']}/{min(10, lf['n'])} artists: {'PASS' if lf['passed'] else 'FAIL'}",
        "lift moods:   " + " > ".join(str(m) for m in lf["moods"]),
        "lift valence: " + " > ".join(f"{v:.2f}" for v in lf["valence"]),
        "",
        "all bars hold" if res["passed"] else "SOME BARS FAIL",
    ]
    return "\n".join(lines)


def variety(pl: Playlist, k: int = 10) -> dict:
    """How varied the first ``k`` tracks are: distinct first artists, genres, decades and languages."""
    top = pl.tracks[:k]
    return {
        "artists": len({artist_key(t.artists[0]) for t in top if t.artists}),
        "genres": len({t.genres[0] for t in top if t.genres}),
        "decades": len({t.year // 10 for t in top if t.year}),
        "languages": len({t.language for t in top if t.language and t.language != "instrumental"}),
        "instrumental": sum(t.language == "instrumental" or (t.instrumentalness or 0) >= 0.5 for t in top),
    }


def starter_variety(n: int = 10) -> list[dict]:
    """``variety`` of the starter catalogue's playlist per emotion (auto) and per strategy (for ``sad``
    and ``angry``, the moods steered away from)."""
    from moodtune.emotion.labels import CLASSES
    from moodtune.music.recommend import starter_store
    from moodtune.music.strategies import list_strategies

    store = starter_store()
    rows = []
    for emotion in CLASSES:
        pl = recommend(emotion, n=n, catalog=store)
        rows.append({"emotion": emotion, "strategy": f"auto -> {pl.strategy}", **variety(pl, n),
                     "first": [f"{t.title} - {t.artist}" for t in pl.tracks[:3]]})
    for strategy in list_strategies()[1:]:
        for emotion in ("sad", "angry"):
            pl = recommend(emotion, strategy=strategy, n=n, catalog=store)
            rows.append({"emotion": emotion, "strategy": strategy, **variety(pl, n),
                         "first": [f"{t.title} - {t.artist}" for t in pl.tracks[:3]]})
    return rows


def format_variety(rows: list[dict]) -> str:
    """The variety table (markdown) of ``starter_variety``."""
    lines = ["| emotion | strategy | artists | genres | decades | languages (sung) | instrumental | first tracks |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['emotion']} | {r['strategy']} | {r['artists']} | {r['genres']} | {r['decades']} | "
                     f"{r['languages']} | {r['instrumental']} | {'; '.join(r['first'])} |")
    return "\n".join(lines)


def evaluate_many(catalogs: list[str | Path] | None = None) -> list[dict]:
    """``evaluate`` for each labelled CSV (default: the dev sets found under the data folder)."""
    paths = [Path(c) for c in catalogs] if catalogs else dev_set_paths()
    if not paths:
        raise MoodtuneError(f"no labelled CSV given and no dev set under {data_dir() / 'music'}; pass --catalog FILE")
    return [evaluate(p) for p in paths]

