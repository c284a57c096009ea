"""CSV importers: known Spotify dataset schemas, DEAM annotations, and a generic column mapping.

``import_file(path, store)`` detects the format from the header (or takes ``format=``),
parses every row, reports bad rows with their line numbers (and skips them), and merges the
good ones into the store in one transaction. Formats (``moodtune.music.formats.FORMATS``):

* ``spotify_tracks``: Kaggle "Spotify Tracks Dataset" (track_id, artists, album_name,
  track_name, track_genre, ...; artists separated by ``;``).
* ``spotify_music``: Kaggle "Spotify Music Dataset" (high/low_popularity_spotify_data.csv:
  track_id, track_name, track_artist, playlist_genre, ...).
* ``data_moods``: the mood-labelled data_moods.csv (name, artist, id, release_date, ...,
  mood). The ``mood`` column is NOT imported: moodtune computes affect from the features
  (and ``moodtune eval music`` uses the labels only to score).
* ``top_hits``: "Top Hits Spotify 2000-2019" (songs_normalize.csv: artist, song, year, genre, ...).
* ``deam``: DEAM static annotations (song_id, valence_mean, arousal_mean on 1..9) joined with
  the ``metadata_*.csv`` files beside them (artist, title, genre); pass either annotation
  file or the DEAM folder.
* ``generic``: any CSV, with a column mapping ``{"title": "Song", "artist": "Singer", ...}``
  (common names are recognised without a mapping).

Artists: the source's own list where it has one (``;`` in spotify_tracks and generic CSVs; the
comma list of spotify_music, keeping names such as "Earth, Wind & Fire" whole); a column that
holds one artist is never split. Titles lose release-version suffixes ("- Remastered 2009").
Playlist-context genres ("gaming", "wellness") are marked ``gaming (playlist)`` and dropped when
the same track also carries a real genre. ``import_catalog`` is what ``catalog import`` runs:
the file is added to the starter catalogue, or replaces everything with ``replace=True``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moodtune.errors import MoodtuneError
from moodtune.music.features import mark_context, split_genres
from moodtune.music.formats import FORMATS, get_format
from moodtune.music.store import CatalogStore
from moodtune.music.types import Track, display_title, split_artists

# ----------------------------------------------------------------------------- format table


#: Column names tried for each field of the generic format, in order.
GENERIC_GUESSES = {
    "title": ("title", "name", "track_name", "track", "song", "song_name"),
    "artist": ("artist", "artists", "track_artist", "artist_name", "singer"),
    "album": ("album", "album_name", "track_album_name"),
    "year": ("year", "release_date", "track_album_release_date", "date"),
    "genre": ("genre", "genres", "track_genre", "playlist_genre"),
    "popularity": ("popularity", "track_popularity"),
    "duration_ms": ("duration_ms", "length"),
    "spotify_id": ("spotify_id", "track_id", "id"),
    "valence": ("valence",),
    "energy": ("energy",),
    "tempo": ("tempo", "bpm"),
    "danceability": ("danceability",),
    "acousticness": ("acousticness",),
    "loudness": ("loudness",),
    "mode": ("mode",),
    "instrumentalness": ("instrumentalness",),
    "tags": ("tags", "mood_tags"),
    "language": ("language", "lang"),
}


@dataclass
class ImportReport:
    """Result of one import: counts and the bad rows (line number, reason)."""

    path: str
    format: str
    rows: int = 0  #: data rows read (header excluded)
    good: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    added: int = 0
    merged: int = 0
    total: int = 0
    without_features: int = 0  #: good rows that carried no audio features
    distinct_ids: int = 0  #: distinct Spotify ids among the good rows
    distinct_pairs: int = 0  #: distinct exact (title, artist) pairs among the good rows

    def summary(self) -> str:
        ids = f", {self.distinct_ids} distinct Spotify ids" if self.distinct_ids else ""
        return (
            f"{self.path}: format {self.format}: {self.rows} rows{ids}, {self.distinct_pairs} distinct title+artist pairs, "
            f"{self.good} imported "
            f"({self.added} new tracks, {self.merged} merged into existing ones), {len(self.bad)} bad rows skipped; "
            f"catalogue now holds {self.total} tracks"
        )


class BadRow(ValueError):
    """A row that cannot be imported; the message says why."""


# ----------------------------------------------------------------------------- value parsing

_ID_RE = re.compile(r"^[0-9A-Za-z]{22}$")


def _text(row: dict, col: str | None) -> str | None:
    if not col:
        return None
    v = row.get(col)
    if v is None:
        return None
    v = v.replace("\t", " ").strip()
    return v or None


def _float(row: dict, col: str | None, lo: float | None = None, hi: float | None = None) -> float | None:
    v = _text(row, col)
    if v is None:
        return None
    try:
        f = float(v)
    except ValueError:
        raise BadRow(f"column {col!r}: {v!r} is not a number") from None
    if f != f:  # NaN
        return None
    if (lo is not None and f < lo) or (hi is not None and f > hi):
        raise BadRow(f"column {col!r}: {f} is outside [{lo}, {hi}]")
    return f


def _int(row: dict, col: str | None, lo=None, hi=None) -> int | None:
    f = _float(row, col, lo, hi)
    return None if f is None else int(round(f))


def _year(row: dict, col: str | None) -> int | None:
    v = _text(row, col)
    if v is None:
        return None
    m = re.search(r"(1[89]\d\d|20\d\d)", v)
    if not m:
        raise BadRow(f"column {col!r}: no year in {v!r}")
    return int(m.group(1))


def _spotify_id(row: dict, col: str | None) -> str | None:
    v = _text(row, col)
    if v is None:
        return None
    v = v.rsplit(":", 1)[-1].rsplit("/", 1)[-1].split("?")[0]
    return v if _ID_RE.match(v) else None


def _artists(text: str | None, fmt: str) -> list[str]:
    """The row's artists: split at the format's separator, or one name (commas included)."""
    sep = get_format(fmt).artists
    if not text:
        return []
    return split_artists(text, sep) if sep else [text.strip()]


def _title(row: dict, col: str | None) -> str | None:
    t = _text(row, col)
    return display_title(t) if t else None


#: Spotify's audio-feature columns, named the same in every Spotify-derived CSV schema.
SPOTIFY_FEATURES = {k: k for k in ("valence", "energy", "tempo", "danceability", "acousticness", "loudness", "mode", "instrumentalness")}


def _features(row: dict, cols: Mapping[str, str | None]) -> dict:
    return {
        "valence": _float(row, cols.get("valence"), 0, 1),
        "energy": _float(row, cols.get("energy"), 0, 1),
        "tempo": _float(row, cols.get("tempo"), 0, 300),
        "danceability": _float(row, cols.get("danceability"), 0, 1),
        "acousticness": _float(row, cols.get("acousticness"), 0, 1),
        "loudness": _float(row, cols.get("loudness"), -70, 10),
        "mode": _int(row, cols.get("mode"), 0, 1),
        "instrumentalness": _float(row, cols.get("instrumentalness"), 0, 1),
    }


def _require(title: str | None, artists: list[str]) -> str:
    """The title, after checking that the row has one and an artist."""
    if not title:
        raise BadRow("empty title")
    if not artists:
        raise BadRow("empty artist")
    return title


# ----------------------------------------------------------------------------- row parsers


def _row_spotify_tracks(row: dict, source: str) -> Track:
    title = _title(row, "track_name")
    artists = _artists(_text(row, "artists"), "spotify_tracks")
    title = _require(title, artists)
    feats = _features(row, SPOTIFY_FEATURES)
    return Track(
        title=title, artists=artists, album=_text(row, "album_name"), genres=mark_context(split_genres(_text(row, "track_genre"))),
        popularity=_float(row, "popularity", 0, 100), duration_ms=_int(row, "duration_ms", 0),
        spotify_id=_spotify_id(row, "track_id"), sources=[source], **feats,
    )


def _row_spotify_music(row: dict, source: str) -> Track:
    title = _title(row, "track_name")
    artists = _artists(_text(row, "track_artist"), "spotify_music")
    title = _require(title, artists)
    feats = _features(row, SPOTIFY_FEATURES)
    return Track(
        title=title, artists=artists, album=_text(row, "track_album_name"),
        year=_year(row, "track_album_release_date"), genres=mark_context(split_genres(_text(row, "playlist_genre"))),
        popularity=_float(row, "track_popularity", 0, 100), duration_ms=_int(row, "duration_ms", 0),
        spotify_id=_spotify_id(row, "track_id"), sources=[source], **feats,
    )


def _row_data_moods(row: dict, source: str) -> Track:
    # NOTE: the "mood" column is deliberately not read.
    title = _title(row, "name")
    artists = _artists(_text(row, "artist"), "data_moods")
    title = _require(title, artists)
    feats = _features(row, {**SPOTIFY_FEATURES, "mode": None})  # data_moods has no mode column
    return Track(
        title=title, artists=artists, album=_text(row, "album"), year=_year(row, "release_date"),
        popularity=_float(row, "popularity", 0, 100), duration_ms=_int(row, "length", 0),
        spotify_id=_spotify_id(row, "id"), sources=[source], **feats,
    )


def _row_top_hits(row: dict, source: str) -> Track:
    title = _title(row, "song")
    artists = _artists(_text(row, "artist"), "top_hits")
    title = _require(title, artists)
    feats = _features(row, SPOTIFY_FEATURES)
    return Track(
        title=title, artists=artists, year=_year(row, "year"), genres=split_genres(_text(row, "genre")),
        popularity=_float(row, "popularity", 0, 100), duration_ms=_int(row, "duration_ms", 0),
        sources=[source], **feats,
    )


def _generic_columns(fieldnames: list[str], mapping: dict[str, str] | None) -> dict[str, str | None]:
    lower = {f.strip().lower(): f for f in fieldnames}
    cols: dict[str, str | None] = {}
    for fld, guesses in GENERIC_GUESSES.items():
        cols[fld] = next((lower[g] for g in guesses if g in lower), None)
    for fld, col in (mapping or {}).items():
        if fld not in GENERIC_GUESSES:
            raise MoodtuneError(f"unknown field {fld!r} in the column mapping; fields: {', '.join(GENERIC_GUESSES)}")
        if col not in fieldnames and col.lower() not in lower:
            raise MoodtuneError(f"column {col!r} (mapped to {fld}) is not in the file; columns: {', '.join(fieldnames)}")
        cols[fld] = col if col in fieldnames else lower[col.lower()]
    missing = [f for f in ("title", "artist") if not cols.get(f)]
    if missing:
        raise MoodtuneError(
            f"generic CSV: no column for {' and '.join(missing)}; columns are: {', '.join(fieldnames)}; "
            "map them with --map title=COLUMN --map artist=COLUMN"
        )
    return cols


def _make_generic(cols: dict[str, str | None]) -> Callable[[dict, str], Track]:
    def parse(row: dict, source: str) -> Track:
        title = _title(row, cols["title"])
        artists = _artists(_text(row, cols["artist"]), "generic")
        title = _require(title, artists)
        feats = _features(row, cols)
        tags = [t.strip().lower() for t in re.split(r"[;,|]", _text(row, cols.get("tags")) or "") if t.strip()]
        return Track(
            title=title, artists=artists, album=_text(row, cols.get("album")), year=_year(row, cols.get("year")),
            genres=split_genres(_text(row, cols.get("genre"))), popularity=_float(row, cols.get("popularity"), 0, 100),
            duration_ms=_int(row, cols.get("duration_ms"), 0), spotify_id=_spotify_id(row, cols.get("spotify_id")),
            tags=tags, language=_text(row, cols.get("language")), sources=[source], **feats,
        )

    return parse


_PARSERS: dict[str, Callable[[dict, str], Track]] = {
    "spotify_tracks": _row_spotify_tracks,
    "spotify_music": _row_spotify_music,
    "data_moods": _row_data_moods,
    "top_hits": _row_top_hits,
}

# ----------------------------------------------------------------------------- reading files


#: Longest CSV line read, in characters. No catalogue row comes near it; a longer line (a binary
#: file, a damaged export) is refused after reading this much, never read whole into memory.
MAX_LINE = 1 << 20


def _lines(f: io.TextIOBase, name: str) -> Iterator[str]:
    """The lines of ``f``, each read with a bounded buffer. Raises ``MoodtuneError`` for a line over
    ``MAX_LINE`` characters or for bytes that are not text in the file's encoding."""
    number = 0
    while True:
        try:
            line = f.readline(MAX_LINE + 1)
        except UnicodeDecodeError as exc:
            enc = "UTF-16" if f.encoding.startswith("utf-16") else "UTF-8"
            raise MoodtuneError(f"{name}: the text after line {number} is not {enc} ({exc.reason}); "
                                "save the whole file as UTF-8") from None
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise MoodtuneError(f"{name}: line {number} is longer than {MAX_LINE // 2**20} MB, which no catalogue row is "
                                "(is this really a CSV file?)")
        yield line


class _Reader(csv.DictReader):
    """A ``csv.DictReader`` over ``_lines`` whose CSV errors (a field over the size limit, say) are
    ``MoodtuneError``s naming the file and line."""

    def __init__(self, f: io.TextIOBase, name: str, **kw):
        super().__init__(_lines(f, name), **kw)
        self.name = name
        self.header: list[str] = []  # the stripped column names (``_open_csv`` sets them)

    def _csv_error(self, exc: csv.Error) -> MoodtuneError:
        return MoodtuneError(f"{self.name}: line {self.reader.line_num}: {exc}")  # self.line_num lags a row

    @property
    def fieldnames(self):
        try:
            return super().fieldnames
        except csv.Error as exc:
            raise self._csv_error(exc) from None

    @fieldnames.setter
    def fieldnames(self, value):
        csv.DictReader.fieldnames.fset(self, value)  # type: ignore[misc, union-attr]  # mypy reads a class's property as its value

    def __next__(self):
        try:
            return super().__next__()
        except csv.Error as exc:
            raise self._csv_error(exc) from None


def _encoding(head: bytes) -> str:
    """UTF-16 (with its BOM, as Excel writes "Unicode text"), else UTF-8 (BOM or not) when the first
    bytes decode as UTF-8, else Latin-1."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a character cut at the end is fine
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "latin-1"


def _open_csv(path: Path) -> tuple[_Reader, io.TextIOBase]:
    try:
        with open(path, "rb") as raw:
            encoding = _encoding(raw.read(8192))
        f = open(path, newline="", encoding=encoding)
    except OSError as exc:
        raise MoodtuneError(f"cannot read {path}: {exc.strerror}") from None
    try:
        header = next(_lines(f, path.name), "")
        f.seek(0)
        delimiter = max(",;\t", key=header.count) if header else ","
        reader = _Reader(f, path.name, delimiter=delimiter, skipinitialspace=True)
        if not any(reader.fieldnames or ()):
            raise MoodtuneError(f"{path} is empty (no header row)")
    except BaseException:
        f.close()
        raise
    reader.fieldnames = reader.header = [(n or "").strip() for n in reader.fieldnames]
    return reader, f


def detect_format(fieldnames: list[str]) -> str | None:
    """The first format whose required columns are all present (``generic`` excluded)."""
    cols = {c.strip() for c in fieldnames}
    for fmt in FORMATS:
        if fmt.name != "generic" and set(fmt.required) <= cols:
            return fmt.name
    return None


def _expected_text() -> str:
    return "; ".join(f"{f.name} ({', '.join(f.required)})" for f in FORMATS)


def read_tracks(
    path: str | Path, format: str = "auto", mapping: dict[str, str] | None = None
) -> tuple[str, Iterator[tuple[int, Track | BadRow]]]:
    """Parse a file: returns (format name, iterator of (line number, Track or BadRow)).

    Raises ``MoodtuneError`` when the file is missing or its columns do not fit the format.
    """
    path = Path(path)
    if format != "auto":
        get_format(format)
    if path.is_dir():
        anns = sorted(path.glob("static_annotations_averaged_songs_*.csv"))
        if not anns:
            raise MoodtuneError(f"{path} is a folder without DEAM annotation files (static_annotations_averaged_songs_*.csv)")
        return "deam", _deam_rows(anns, path)
    if not path.is_file():
        raise MoodtuneError(f"file not found: {path}")
    reader, f = _open_csv(path)
    fields = reader.header
    fmt = detect_format(fields) if format == "auto" else format
    if fmt is None:
        if mapping or all(any(g in {c.lower() for c in fields} for g in GENERIC_GUESSES[k]) for k in ("title", "artist")):
            fmt = "generic"
        else:
            f.close()
            raise MoodtuneError(
                f"{path.name}: unrecognised columns ({', '.join(fields[:12])}{', ...' if len(fields) > 12 else ''}); "
                f"expected one of: {_expected_text()}; or pass --format generic --map title=COLUMN --map artist=COLUMN"
            )
    if fmt == "deam":
        f.close()
        return "deam", _deam_rows([path], path.parent)
    if fmt == "generic":
        parser = _make_generic(_generic_columns(fields, mapping))
    else:
        missing = [c for c in get_format(fmt).required if c not in fields]
        if missing:
            f.close()
            raise MoodtuneError(
                f"{path.name} does not have the {fmt} columns: missing {', '.join(missing)}; "
                f"expected {', '.join(get_format(fmt).required)}"
            )
        parser = _PARSERS[fmt]
    source = f"{fmt}:{path.name}"

    def rows():
        with f:
            for row in reader:
                line = reader.line_num
                if None in row:  # more fields than the header
                    extra = row.pop(None)
                    if any((x or "").strip() for x in extra):
                        yield line, BadRow(f"{len(fields) + len(extra)} fields, the header has {len(fields)}")
                        continue
                if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue  # blank line
                try:
                    yield line, parser(row, source)
                except BadRow as exc:
                    yield line, exc

    return fmt, rows()


_DEAM_META_COLS = ("song_id", "artist", "title", "genre")


def _deam_rows(annotation_files: list[Path], folder: Path) -> Iterator[tuple[int, Track | BadRow]]:
    meta: dict[str, dict] = {}
    for mpath in sorted(folder.glob("metadata_*.csv")):
        reader, f = _open_csv(mpath)
        with f:
            names = {n.lower(): n for n in reader.header if n}
            if not all(c in names for c in _DEAM_META_COLS):
                raise MoodtuneError(f"{mpath.name}: expected DEAM metadata columns {', '.join(_DEAM_META_COLS)}")
            for row in reader:
                sid = _text(row, names["song_id"])
                if sid:
                    meta[sid] = {
                        "artist": _text(row, names["artist"]),
                        "title": _text(row, names["title"]),
                        "genre": _text(row, names["genre"]),
                    }
    if not meta:
        raise MoodtuneError(f"no DEAM metadata_*.csv beside {annotation_files[0].name} (needed for artist and title)")
    for apath in annotation_files:
        reader, f = _open_csv(apath)
        names = {n.replace(" ", "").lower(): n for n in reader.header if n}
        if not all(c in names for c in ("song_id", "valence_mean", "arousal_mean")):
            f.close()
            raise MoodtuneError(f"{apath.name}: expected DEAM columns song_id, valence_mean, arousal_mean")
        source = f"deam:{apath.name}"
        with f:
            for row in reader:
                line = reader.line_num
                sid = _text(row, names["song_id"])
                if not sid:
                    continue
                try:
                    m = meta.get(sid)
                    if m is None:
                        raise BadRow(f"song_id {sid} has no metadata row")
                    v = _float(row, names["valence_mean"], 1, 9)
                    a = _float(row, names["arousal_mean"], 1, 9)
                    if v is None or a is None:
                        raise BadRow("missing valence_mean or arousal_mean")
                    _require(m["title"], m["artist"])
                    genre = re.sub(r"hip-hop", "hip hop", m["genre"] or "", flags=re.I)
                    yield line, Track(
                        title=m["title"], artists=[m["artist"]], genres=split_genres(genre.replace("-", ",")),
                        valence=(v - 1) / 8, arousal=(a - 1) / 8, sources=[source],
                    )
                except BadRow as exc:
                    yield line, exc


def count_rows(path: Path) -> int | None:
    """Approximate data rows in a file (lines - 1), for the progress bar, counted in blocks; None
    when unknown, or as soon as one line is too long to be a row (the import will refuse it)."""
    try:
        if path.is_dir():
            return None
        lines = run = 0  # run: bytes since the last newline
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                n = block.count(b"\n")
                run = len(block) - 1 - block.rfind(b"\n") if n else run + len(block)
                if run > 4 * MAX_LINE:  # up to 4 bytes a character
                    return None
                lines += n
        return max(0, lines + (run > 0) - 1)  # a last line without a newline counts too
    except OSError:
        return None


def import_file(
    path: str | Path,
    store: CatalogStore,
    format: str = "auto",
    mapping: dict[str, str] | None = None,
    progress: bool = False,
    max_bad: int | None = None,
) -> ImportReport:
    """Import one file into ``store`` (one transaction). Bad rows are skipped and listed.

    ``max_bad``: abort (nothing imported) when more rows than this are bad.
    """
    path = Path(path)
    fmt, rows = read_tracks(path, format, mapping)
    report = ImportReport(str(path), fmt)

    ids: set[str] = set()
    pairs: set[tuple[str, str]] = set()

    def good_tracks():
        for line, item in rows:
            report.rows += 1
            if isinstance(item, BadRow):
                report.bad.append((line, str(item)))
                if max_bad is not None and len(report.bad) > max_bad:
                    raise MoodtuneError(f"{path.name}: more than {max_bad} bad rows (line {line}: {item}); nothing imported")
                continue
            report.good += 1
            if item.spotify_id:
                ids.add(item.spotify_id)
            pairs.add((item.title, item.artist))
            if item.valence is None and item.energy is None and item.arousal is None:
                report.without_features += 1
            yield item

    try:
        res = add_with_progress(store, good_tracks(), progress, count_rows(path) if progress else None,
                                f"importing {path.name}", " rows")
    except sqlite3.DatabaseError as exc:  # rolled back; a damaged page the store's opening did not touch
        raise MoodtuneError(f"cannot import into the catalogue {store.path}: {exc}") from None
    report.added, report.merged, report.total = res.added, res.merged, res.total
    report.distinct_ids, report.distinct_pairs = len(ids), len(pairs)
    return report


def add_with_progress(store: CatalogStore, tracks, progress: bool, total: int | None, desc: str, unit: str):
    """``store.add_tracks(tracks)`` (one transaction) with a tqdm bar counting the items consumed."""
    from tqdm import tqdm

    with tqdm(tracks, total=total, unit=unit, desc=desc, mininterval=0.2, disable=not progress) as bar:
        return store.add_tracks(bar)


def import_catalog(
    path: str | Path,
    store: CatalogStore,
    format: str = "auto",
    mapping: dict[str, str] | None = None,
    progress: bool = False,
    max_bad: int | None = None,
    replace: bool = False,
) -> ImportReport:
    """``catalog import``: add a file to the user catalogue, in one transaction.

    An empty catalogue is first seeded with the starter catalogue, so an import adds to what a
    new user hears (and ``catalog search "bohemian"`` still finds the starter's tracks).
    ``replace=True`` (``--replace``) empties the catalogue and keeps only this file's tracks; a
    file that cannot be read, or a killed import, loses nothing (the transaction rolls back).
    """
    with store.transaction():
        if replace:
            store.clear()
        elif store.count() == 0:
            from moodtune.music.starter import load_starter_tracks

            store.add_tracks(load_starter_tracks())
        return import_file(path, store, format, mapping, progress, max_bad)


def load_csv_catalog(path: str | Path, format: str = "auto") -> CatalogStore:
    """A CSV of a supported schema imported into a fresh in-memory catalogue."""
    store = CatalogStore.memory(description=f"{Path(path).name} (imported into a temporary catalogue)")
    import_file(path, store, format=format)
    return store
