"""``moodtune catalog``: import, inspect and search the music catalogue."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodtune.errors import MoodtuneError

EPILOG = """formats (--format, detected from the header by default):
  spotify_tracks  Kaggle "Spotify Tracks Dataset" (track_id, artists, track_name, track_genre, ...)
  spotify_music   Kaggle "Spotify Music Dataset" (high/low_popularity_spotify_data.csv)
  data_moods      mood-labelled data_moods.csv (its mood column is not imported)
  top_hits        "Top Hits Spotify 2000-2019" (songs_normalize.csv)
  deam            DEAM valence/arousal annotations (a static_annotations_*.csv or the DEAM folder)
  generic         any CSV with title and artist columns; map others with --map FIELD=COLUMN
                  (fields: title artist album year genre popularity duration_ms spotify_id valence
                   energy tempo danceability acousticness loudness mode instrumentalness tags language)

An import is one transaction: it lands completely or not at all, and can be re-run (duplicates,
same Spotify id or same title + artist, are merged). Bad rows are listed with their line numbers
and skipped.

examples:
  moodtune catalog import ../shared/data/music/high_popularity_spotify_data.csv
  moodtune catalog import mysongs.csv --format generic --map title=Song --map artist=Singer
  moodtune catalog stats
  moodtune catalog search "bohemian"
  moodtune catalog list --genre jazz --limit 20
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "catalog",
        help="import, list and search the music catalogue",
        description="Manage the music catalogue (a SQLite file; default <moodtune home>/catalog.sqlite).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION")

    def common(sp):
        sp.add_argument("--catalog", metavar="PATH", help="catalogue database (default: <moodtune home>/catalog.sqlite)")

    imp = csub.add_parser("import", help="import CSV files into the catalogue", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("files", nargs="+", metavar="FILE", help="CSV file(s) or a DEAM folder")
    imp.add_argument("--format", default="auto", help="auto (default), spotify_tracks, spotify_music, data_moods, top_hits, deam, generic")
    imp.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN", help="column mapping for the generic format (repeatable)")
    imp.add_argument("--max-bad", type=int, metavar="N", help="import nothing if more than N rows are bad")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.add_argument("--json", action="store_true")
    common(imp)

    st = csub.add_parser("stats", help="counts: tracks, sources, genres, measured vs estimated values")
    st.add_argument("--json", action="store_true")
    common(st)

    ls = csub.add_parser("list", help="list tracks (most popular first)")
    ls.add_argument("--genre", help="only this genre")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    common(ls)

    se = csub.add_parser("search", help="find tracks by title, artist or album")
    se.add_argument("text")
    se.add_argument("--limit", type=int, default=20)
    se.add_argument("--json", action="store_true")
    common(se)

    sc = csub.add_parser("scan", help="add a local music folder (tags via mutagen, features via librosa; pip install 'moodtune[scan]')")
    sc.add_argument("folder")
    sc.add_argument("--no-audio", action="store_true", help="read tags only, skip audio analysis")
    sc.add_argument("--no-progress", action="store_true")
    common(sc)

    cl = csub.add_parser("clear", help="delete every track from the catalogue")
    cl.add_argument("--yes", action="store_true", help="really do it")
    common(cl)

    p.set_defaults(func=run, _catalog_parser=p)


def _open_for_write(path):
    from moodtune.music.store import CatalogStore

    return CatalogStore.open(path, create=True)


def _open_for_read(path):
    """The catalogue named by --catalog, else the user catalogue, else the starter (with a note)."""
    from moodtune.music.recommend import open_catalog
    from moodtune.music.store import default_catalog_path

    if path:
        return open_catalog(path), None
    store = open_catalog(None)
    note = None
    if store.path == ":memory:":
        note = f"no catalogue at {default_catalog_path()} yet; showing the starter catalogue that recommendations use"
    return store, note


def _mapping(items):
    out = {}
    for it in items:
        if "=" not in it:
            raise MoodtuneError(f"--map expects FIELD=COLUMN, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip().lower()] = v.strip()
    return out


def _track_line(t) -> str:
    meta = ", ".join(str(x) for x in (t.year, t.genre) if x)
    v = "?" if t.valence is None else f"{t.valence:.2f}"
    a = "?" if t.arousal is None else f"{t.arousal:.2f}"
    est = " est." if {"valence", "arousal"} & set(t.estimated) else ""
    return f"{t.id:24s} {t.title} — {t.artist}" + (f" ({meta})" if meta else "") + f"  v {v} a {a}{est}"


def run(args) -> int:
    cmd = args.catalog_command
    if cmd is None:
        args._catalog_parser.print_help()
        return 2
    if cmd == "import":
        from moodtune.music.importers import import_file

        store = _open_for_write(args.catalog)
        mapping = _mapping(args.map)
        reports = []
        for f in args.files:
            rep = import_file(Path(f), store, format=args.format, mapping=mapping or None,
                              progress=not (args.no_progress or args.json), max_bad=args.max_bad)
            reports.append(rep)
            if not args.json:
                print(rep.summary())
                if rep.without_features:
                    print(f"  {rep.without_features} rows had no audio features (their values are genre estimates)")
                for line, why in rep.bad[:20]:
                    print(f"  line {line}: {why}")
                if len(rep.bad) > 20:
                    print(f"  ... and {len(rep.bad) - 20} more bad rows")
        if args.json:
            print(json.dumps([r.__dict__ for r in reports], indent=2, default=list))
        else:
            print(f"catalogue: {store.path}")
        return 0
    if cmd == "stats":
        store, note = _open_for_read(args.catalog)
        s = store.stats()
        if args.json:
            print(json.dumps(dict(s, note=note), indent=2, ensure_ascii=False))
            return 0
        if note:
            print(note)
        print(f"catalogue: {s['path']}")
        print(f"tracks: {s['tracks']} ({s['rankable']} with valence and arousal; {s['measured_valence']} measured, "
              f"{s['estimated_valence_or_arousal']} estimated)")
        print(f"artists: {s['artists']}; with a Spotify id: {s['with_spotify_id']}; years: {s['years'][0]}-{s['years'][1]}")
        print("sources: " + ", ".join(f"{k} {v}" for k, v in s["sources"].items()))
        print("genres:  " + ", ".join(f"{k} {v}" for k, v in list(s["genres"].items())[:25])
              + (f", ... ({len(s['genres'])} in all)" if len(s["genres"]) > 25 else ""))
        return 0
    if cmd in ("list", "search"):
        store, note = _open_for_read(args.catalog)
        if cmd == "list":
            tracks = store.search("", limit=args.limit, genre=args.genre)
        else:
            tracks = store.search(args.text, limit=args.limit)
        if args.json:
            print(json.dumps([t.to_dict() for t in tracks], indent=2, ensure_ascii=False))
            return 0
        if note:
            print(note)
        for t in tracks:
            print(_track_line(t))
        if not tracks:
            print("no tracks found")
            return 1
        return 0
    if cmd == "scan":
        from moodtune.music.scan import scan_folder

        store = _open_for_write(args.catalog)
        rep = scan_folder(args.folder, store, audio=not args.no_audio, progress=not args.no_progress)
        print(rep.summary())
        for path, why in rep.bad[:20]:
            print(f"  {path}: {why}")
        return 0
    if cmd == "clear":
        if not args.yes:
            raise MoodtuneError("catalog clear deletes every track; add --yes to confirm")
        store = _open_for_write(args.catalog)
        print(f"removed {store.clear()} tracks from {store.path}")
        return 0
    raise MoodtuneError(f"unknown catalog action {cmd!r}")  # pragma: no cover
