"""``moodtune catalog``: import, inspect and search the music catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from moodtune import choices
from moodtune.cli.common import DatabaseOpt, JsonOpt, usage_error
from moodtune.contract import to_json
from moodtune.errors import MoodtuneError


def _formats_help() -> str:
    """One line per import format (from ``moodtune.music.formats.FORMATS``)."""
    from moodtune.music.formats import FORMATS
    from moodtune.music.importers import GENERIC_GUESSES

    lines = [f"  {f.name:<15} {f.description} (columns: {', '.join(f.required)})" for f in FORMATS]
    lines.append(f"  {'':<15} generic fields for --map FIELD=COLUMN: {' '.join(GENERIC_GUESSES)}")
    return "\n".join(lines)


EPILOG = "\b\nformats (--format, detected from the header by default):\n" + _formats_help() + """

\b
An import adds the file's tracks to your catalogue (a new catalogue starts from the starter
catalogue, so what you heard before stays); --replace keeps only the imported files' tracks (the
file is read completely before anything is removed). Each file is one transaction: it lands
completely or not at all, and can be re-run (duplicates, same Spotify id or same title + artist,
are merged). Bad rows are listed with their line numbers and skipped.

\b
examples:
  moodtune catalog import ../shared/data/music/high_popularity_spotify_data.csv
  moodtune catalog import mysongs.csv --format generic --map title=Song --map artist=Singer
  moodtune catalog stats
  moodtune catalog search "bohemian"
  moodtune catalog list --genre jazz --limit 20
  moodtune catalog map --out map.png --clusters 5
"""


catalog_app = typer.Typer(name="catalog", no_args_is_help=True, epilog=EPILOG, rich_markup_mode=None,
                          help="Import, list and search the music catalogue (a SQLite file; default "
                          "<moodtune home>/catalog.sqlite).")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog", help="import, list, search and map the music catalogue")


def _format_choice() -> Any:
    from moodtune.music.formats import list_formats

    return choices.choice_enum("Format", ["auto", *list_formats()])


if TYPE_CHECKING:
    from moodtune.choices import Choice_ as Format
else:
    Format = _format_choice()
CatalogPath = Annotated[str | None, typer.Option("--catalog", metavar="PATH", show_default=False,
                                                 help="catalogue database (default: <moodtune home>/catalog.sqlite)")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="no progress bar")]
Limit = Annotated[int, typer.Option(min=1, help="at most this many tracks")]


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


@catalog_app.command("import", epilog=EPILOG)
def import_(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="CSV file(s) or a DEAM folder", show_default=False)],
    format: Annotated[Format, typer.Option(help="the file's schema (auto: detected from the header)")] = Format("auto"),
    map: Annotated[list[str] | None, typer.Option("--map", metavar="FIELD=COLUMN", show_default=False,
                                                  help="column mapping for the generic format (repeatable)")] = None,
    max_bad: Annotated[int | None, typer.Option(min=0, metavar="N", show_default=False,
                                                help="import nothing if more than N rows are bad")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="keep only these files' tracks (default: add to the catalogue)")] = False,
    no_progress: NoProgress = False,
    json_out: JsonOpt = False,
    catalog: CatalogPath = None,
    database: DatabaseOpt = None,
) -> int:
    """Import CSV files into the catalogue (each file in one transaction: all of it or nothing)."""
    from moodtune.music.importers import import_catalog

    mapping = _mapping(map or [])
    store = _open_for_write(catalog)
    reports = []
    for i, f in enumerate(files):
        rep = import_catalog(f, store, format.value, mapping or None, not (no_progress or json_out), max_bad,
                             replace=replace and i == 0)
        reports.append(rep)
        if not json_out:
            print(rep.summary())
            if rep.without_features:
                print(f"  {rep.without_features} rows had no audio features (their values are genre estimates)")
            for line, why in rep.bad[:20]:
                print(f"  line {line}: {why}")
            if len(rep.bad) > 20:
                print(f"  ... and {len(rep.bad) - 20} more bad rows")
    if json_out:
        print(json.dumps([r.__dict__ for r in reports], indent=2, default=list))
    else:
        print(f"catalogue: {store.path}")
    return 0


@catalog_app.command("stats")
def stats(json_out: JsonOpt = False, catalog: CatalogPath = None, database: DatabaseOpt = None) -> int:
    """Counts: tracks, sources, genres, measured vs estimated values."""
    store, note = _open_for_read(catalog)
    s = store.stats()
    if json_out:
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


@catalog_app.command("list")
def list_(genre: Annotated[str | None, typer.Option(help="only this genre", show_default=False)] = None, limit: Limit = 20,
          json_out: JsonOpt = False, catalog: CatalogPath = None, database: DatabaseOpt = None) -> int:
    """List tracks (most popular first)."""
    return _show(catalog, "", genre, limit, json_out)


@catalog_app.command("search")
def search(text: str, limit: Limit = 20, json_out: JsonOpt = False, catalog: CatalogPath = None,
           database: DatabaseOpt = None) -> int:
    """Find tracks by title, artist or album."""
    return _show(catalog, text, None, limit, json_out)


def _show(catalog: str | None, text: str, genre: str | None, limit: int, json_out: bool) -> int:
    store, note = _open_for_read(catalog)
    tracks = store.search(text, limit=limit, genre=genre)
    if json_out:
        print(json.dumps(to_json(tracks), indent=2, ensure_ascii=False))
        return 0
    if note:
        print(note)
    for t in tracks:
        print(_track_line(t))
    if not tracks:
        print("no tracks found")
        return 1
    return 0


@catalog_app.command("scan")
def scan(folder: Path, no_audio: Annotated[bool, typer.Option("--no-audio", help="read tags only, skip audio analysis")] = False,
         no_progress: NoProgress = False, catalog: CatalogPath = None, database: DatabaseOpt = None) -> int:
    """Add a local music folder (tags via mutagen, features via librosa; pip install 'moodtune[scan]')."""
    from moodtune.music.scan import scan_folder

    store = _open_for_write(catalog)
    rep = scan_folder(folder, store, audio=not no_audio, progress=not no_progress)
    print(rep.summary())
    for path, why in rep.bad[:20]:
        print(f"  {path}: {why}")
    return 0


@catalog_app.command("clear")
def clear(yes: Annotated[bool, typer.Option("--yes", help="really do it")] = False, catalog: CatalogPath = None,
          database: DatabaseOpt = None) -> int:
    """Delete every track from the catalogue."""
    if not yes:
        raise MoodtuneError("catalog clear deletes every track; add --yes to confirm")
    store = _open_for_write(catalog)
    print(f"removed {store.clear()} tracks from {store.path}")
    return 0


@catalog_app.command("map")
def map_(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="the picture to write (.png, .svg or .pdf)")],
    clusters: Annotated[int, typer.Option("--clusters", min=1, max=12, metavar="K", help="mood clusters (k-means)")] = 4,
    json_out: JsonOpt = False,
    catalog: CatalogPath = None,
    database: DatabaseOpt = None,
) -> int:
    """Draw the catalogue on the valence/arousal plane with its K mood clusters; print each cluster's size."""
    from moodtune.music.catalog_map import draw_catalog_map

    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        usage_error(f"--out: the file name must end in .png, .svg or .pdf, got {out.name!r}")
    store, note = _open_for_read(catalog)
    found = draw_catalog_map(store, out, clusters)
    sizes = found.sizes()
    if json_out:
        print(json.dumps({"catalog": store.description, "out": str(out), "clusters": [
            {"name": name, "tracks": size, "valence": round(float(c[0]), 3), "arousal": round(float(c[1]), 3)}
            for name, size, c in zip(found.names, sizes, found.centres, strict=True)]}, indent=2, ensure_ascii=False))
        return 0
    if note:
        print(note)
    print(f"catalogue: {store.description} ({sum(sizes)} tracks)")
    for name, size, c in zip(found.names, sizes, found.centres, strict=True):
        print(f"  {name:<11} {size:>6} tracks  centre valence {c[0]:.2f} arousal {c[1]:.2f}")
    print(f"map written to {out}")
    return 0
