"""The catalogue store: tracks, their features and provenance, in one SQLite file (WAL) or in
the shared PostgreSQL database of ``$MOODTUNE_DATABASE_URL`` (see ``moodtune.store``).

``CatalogStore.open(path_or_url)`` opens (and creates) a catalogue; ``CatalogStore.memory()`` an
in-memory one. ``add_tracks`` merges a batch of tracks in ONE transaction (all or nothing):
a duplicate (same Spotify id, or same folded title + first artist) is merged into the
existing row: missing facts are filled, measured audio features replace estimated ones,
genres/tags/sources are united, popularity keeps the maximum. ``index()`` returns the numpy
arrays the ranking works on, cached until the catalogue changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtune.config import user_dir
from moodtune.errors import MoodtuneError
from moodtune.music.features import AUDIO_FEATURES, clean_genres, track_affect
from moodtune.music.types import Track, artist_key, track_key
from moodtune.store import Database, database_url, is_url, open_database
from moodtune.store.migrations import Step, migrate

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tracks (
    rowid {id},
    key TEXT NOT NULL UNIQUE,
    spotify_id TEXT UNIQUE,
    title TEXT NOT NULL,
    artists TEXT NOT NULL,
    album TEXT,
    year INTEGER,
    genres TEXT NOT NULL DEFAULT '[]',
    popularity REAL,
    duration_ms INTEGER,
    valence REAL, energy REAL, tempo REAL, danceability REAL, acousticness REAL,
    loudness REAL, mode INTEGER, instrumentalness REAL,
    annotated_arousal REAL,
    arousal REAL,
    tags TEXT NOT NULL DEFAULT '[]',
    sources TEXT NOT NULL DEFAULT '[]',
    estimated TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    akey TEXT,
    added {real} NOT NULL
);
INSERT INTO meta VALUES ('schema', '1') ON CONFLICT DO NOTHING;
INSERT INTO meta VALUES ('version', '0') ON CONFLICT DO NOTHING
"""


def _add_akey(db: Database) -> None:
    """Catalogues written before the ``akey`` (first artist's key) column existed."""
    if "akey" not in db.columns("tracks"):
        db.execute("ALTER TABLE tracks ADD COLUMN akey TEXT")
        rows = db.execute("SELECT rowid, artists FROM tracks").fetchall()
        db.executemany("UPDATE tracks SET akey = ? WHERE rowid = ?", [(artist_key((json.loads(a) or [""])[0]), r) for r, a in rows])


def _lid(key: str) -> str:
    """The hex part of a track's local id (``types.local_id``): SHA-1 of its key, 12 digits."""
    return hashlib.sha1((key or "").encode("utf-8")).hexdigest()[:12]


def _add_lid(db: Database) -> None:
    """A stored local id (found by index on both backends) and a case-folded title index."""
    db.execute("ALTER TABLE tracks ADD COLUMN lid TEXT")
    rows = db.execute("SELECT rowid, key FROM tracks").fetchall()
    db.executemany("UPDATE tracks SET lid = ? WHERE rowid = ?", [(_lid(k), r) for r, k in rows])
    db.execute("CREATE INDEX IF NOT EXISTS tracks_lid ON tracks(lid)")
    db.execute("CREATE INDEX IF NOT EXISTS tracks_title_folded ON tracks(lower(title))")


#: schema steps (``moodtune.store.migrations``): the first is the schema of unversioned catalogues
#: step 4: the audio files ``catalog scan`` found, which the web app may stream (``moodtune.music.scan``)
_LOCAL_FILES = """
CREATE TABLE IF NOT EXISTS local_files (key TEXT PRIMARY KEY, track_id TEXT NOT NULL, path TEXT NOT NULL, added {real} NOT NULL);
CREATE INDEX IF NOT EXISTS local_files_id ON local_files(track_id);
"""

MIGRATIONS: list[Step] = [_V1, _add_akey, _add_lid, _LOCAL_FILES]
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "rowid, key, spotify_id, title, artists, album, year, genres, popularity, duration_ms, "
    "valence, energy, tempo, danceability, acousticness, loudness, mode, instrumentalness, "
    "annotated_arousal, arousal, tags, sources, estimated, language"
)


def default_catalog_path() -> Path:
    """``moodtune.config.user_dir() / "catalog.sqlite"`` (``$MOODTUNE_HOME`` overrides the folder)."""
    return user_dir() / "catalog.sqlite"


@dataclass
class ImportResult:
    """What one ``add_tracks`` call did."""

    rows: int = 0  #: rows offered (good ones)
    added: int = 0  #: new tracks
    merged: int = 0  #: rows merged into an existing track (duplicates)
    total: int = 0  #: tracks in the catalogue afterwards


@dataclass
class TrackIndex:
    """Numpy view of the rankable tracks (those with valence and arousal).

    All arrays have shape (N,). ``valence``/``arousal`` float32 in [0, 1];
    ``popularity`` float32 in [0, 1] (0.5 when unknown); ``instrumental`` float32 in [0, 1]
    (0.5 when unknown); ``genre``/``artist`` int32 codes into ``genres``/``artists``
    (primary genre, -1 for none; first artist); ``rowid`` int64 store row ids.
    """

    rowid: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    popularity: np.ndarray
    instrumental: np.ndarray
    genre: np.ndarray
    artist: np.ndarray
    genres: list[str]
    artists: list[str]
    keys: list[str]
    version: str = ""
    #: Spatial grid over (valence, arousal): G x G cells; positions sorted by cell
    #: (``cell_order``) with ``cell_start[c]:cell_start[c + 1]`` the slice of cell c = i * G + j.
    grid: int = 32
    cell_order: np.ndarray | None = None
    cell_start: np.ndarray | None = None
    #: release year (int32, 0 when unknown)
    year: np.ndarray | None = None
    _key_pos: dict = field(default_factory=dict, repr=False)
    #: genre code -> feature bucket (``bandit.features`` fills it on first use)
    _genre_bucket: np.ndarray | None = None

    def __post_init__(self) -> None:
        # built with the index (~0.3 us a track), not by the first listener's request
        self._key_pos = {k: i for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.rowid)

    def position(self, key: str) -> int | None:
        """The position of the track with ``track_key`` ``key`` (``None`` if it is not rankable here)."""
        return self._key_pos.get(key)

    def build_grid(self, grid: int = 32) -> None:
        """Bucket the tracks into a ``grid`` x ``grid`` (valence, arousal) grid for fast nearest-target search."""
        g = int(grid)
        vi = np.minimum((self.valence * g).astype(np.int64), g - 1)
        ai = np.minimum((self.arousal * g).astype(np.int64), g - 1)
        cell = np.clip(vi, 0, g - 1) * g + np.clip(ai, 0, g - 1)
        self.grid = g
        self.cell_order = np.argsort(cell, kind="stable")
        self.cell_start = np.searchsorted(cell[self.cell_order], np.arange(g * g + 1))

    def cell_members(self, cells: np.ndarray) -> np.ndarray:
        """Positions of the tracks in ``cells``."""
        assert self.cell_start is not None and self.cell_order is not None, "build_grid() first"
        starts, ends = self.cell_start[cells], self.cell_start[cells + 1]
        parts = [self.cell_order[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if b > a]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _j(x) -> str:
    return json.dumps(list(x or []), ensure_ascii=False)


def _row_to_track(row) -> Track:
    (rowid, _key, spotify_id, title, artists, album, year, genres, popularity, duration_ms,
     valence, energy, tempo, dance, acou, loud, mode, instr, _ann, arousal, tags, sources, estimated, language) = row
    return Track(
        title=title, artists=json.loads(artists), album=album, year=year, genres=json.loads(genres),
        popularity=popularity, duration_ms=duration_ms, valence=valence, energy=energy, tempo=tempo,
        danceability=dance, acousticness=acou, loudness=loud, mode=mode, instrumentalness=instr,
        arousal=arousal, spotify_id=spotify_id, tags=json.loads(tags), sources=json.loads(sources),
        estimated=json.loads(estimated), language=language, rowid=rowid,
    )


class CatalogStore:
    """A catalogue in a ``moodtune.store.Database``. Thread-safe (the connection is guarded by a lock)."""

    def __init__(self, db: Database):
        self.db = db
        self.path = db.location
        self.readonly = db.readonly
        self._lock = db.lock
        self._index: TrackIndex | None = None
        self.description = db.location

    @property
    def _conn(self):
        """The raw DB-API connection (tests inspect the file through it)."""
        return self.db.conn

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, create: bool = True) -> CatalogStore:
        """Open the catalogue at ``path`` (a file or a database URL; default ``$MOODTUNE_DATABASE_URL``,
        else ``default_catalog_path()``), creating it if asked.

        A file that exists but cannot be written is opened read-only. Raises ``MoodtuneError``
        when the file is not a moodtune catalogue or the database cannot be reached.
        """
        url = str(path) if is_url(str(path) if path else None) else (None if path else database_url())
        if url:
            store = cls(open_database(url))
            store._init()
            return store
        p = Path(path) if path else default_catalog_path()
        if not p.exists() and not create:
            raise MoodtuneError(f"catalogue not found: {p}")
        if p.is_dir():
            raise MoodtuneError(f"{p} is a folder, expected a catalogue database file")
        try:
            if not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
            # a folder nobody may write: the file cannot change, and SQLite could not create the
            # -shm file WAL mode needs to read it, so read it as an immutable file
            immutable = p.exists() and not os.access(p.parent, os.W_OK) and not Path(f"{p}-wal").exists()
            db = Database.sqlite(p, immutable=immutable)
        except (sqlite3.OperationalError, OSError):
            if not p.exists():
                raise MoodtuneError(f"cannot create a catalogue at {p} (is the folder writable?)") from None
            db = Database.sqlite(p, readonly=True)
        store = cls(db)
        store._init()
        return store

    @classmethod
    def memory(cls, description: str = "in-memory catalogue") -> CatalogStore:
        """A fresh in-memory catalogue."""
        store = cls(Database.sqlite(":memory:"))
        store._init()
        store.description = description
        return store

    def _init(self) -> None:
        db = self.db
        with self._lock:
            try:
                existing = db.tables()
            except sqlite3.DatabaseError as exc:
                raise MoodtuneError(f"{self.path} is not a catalogue database ({exc})") from None
            if existing and not existing & {"tracks", "schema_version"}:
                raise MoodtuneError(f"{self.path} is another program's database (no tracks table), not a moodtune catalogue")
            try:
                if db.dialect == "sqlite" and not self.readonly and self.path != ":memory:":
                    db.execute("PRAGMA journal_mode=WAL")
                if not self.readonly or "tracks" not in existing:
                    migrate(db, "catalog", MIGRATIONS)
            except sqlite3.OperationalError as exc:
                if "readonly" not in str(exc).replace("-", "").replace(" ", "").lower() or "tracks" not in existing:
                    raise MoodtuneError(f"cannot use the catalogue {self.path}: {exc}") from None
                self.readonly = True  # an existing catalogue we may read but not write
            except sqlite3.DatabaseError as exc:  # "database disk image is malformed": damaged pages
                raise MoodtuneError(f"the catalogue {self.path} is damaged ({exc}); move it away and import again") from None
            if "lid" not in db.columns("tracks"):
                raise MoodtuneError(f"the catalogue {self.path} was written by an older moodtune and is read-only: "
                                    "open it once with write access to upgrade it")
            if db.dialect == "sqlite":
                db.execute("PRAGMA busy_timeout=30000")
                if not self.readonly:
                    db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ writing
    def transaction(self):
        """``Database.transaction`` for writes to this catalogue; ``MoodtuneError`` when it is read-only.
        Writes inside it (``add_tracks``, ``clear``) commit or roll back together."""
        if self.readonly:
            raise MoodtuneError(f"catalogue {self.path} is read-only")
        return self.db.transaction()

    def add_tracks(self, tracks: Iterable[Track], progress=None) -> ImportResult:
        """Merge ``tracks`` into the catalogue in one transaction (all or nothing).

        ``progress``: optional callable called with each track after it is stored (a tqdm
        ``update``, say). Any exception rolls the whole batch back and propagates.
        """
        res = ImportResult()
        with self.transaction():
            for t in tracks:
                res.rows += 1
                if self._merge_one(t):
                    res.added += 1
                else:
                    res.merged += 1
                if progress is not None:
                    progress(t)
            self._bump_version()
        res.total = self.count()
        return res

    def _merge_one(self, t: Track) -> bool:
        """Insert or merge one track; True when it is new."""
        c = self.db
        key = t.key
        row = None
        if t.spotify_id:
            row = c.execute(f"SELECT {_COLUMNS} FROM tracks WHERE spotify_id = ?", (t.spotify_id,)).fetchone()
        if row is None:
            row = c.execute(f"SELECT {_COLUMNS} FROM tracks WHERE key = ?", (key,)).fetchone()
        # an arousal given without energy is a human annotation (DEAM), kept as such
        new_ann = t.arousal if (t.arousal is not None and t.energy is None and "arousal" not in t.estimated) else None
        if row is None:
            merged = t
            feats = {k: getattr(t, k) for k in AUDIO_FEATURES}
            est = {k for k in t.estimated if k in AUDIO_FEATURES and feats.get(k) is not None}
            ann = new_ann
        else:
            old = _row_to_track(row)
            merged, feats, est = _merge(old, t)
            ann = row[18] if row[18] is not None else new_ann
        valence, arousal, est_va = track_affect(dict(feats, arousal=ann), merged.genres)
        feats["valence"] = valence
        est |= set(est_va)
        if arousal is not None and ann is None and est & {"energy", "loudness", "tempo", "acousticness"}:
            est.add("arousal")
        akey = artist_key(merged.artists[0] if merged.artists else "")
        values = (
            merged.spotify_id, merged.title, _j(merged.artists), merged.album, merged.year, _j(merged.genres),
            merged.popularity, merged.duration_ms,
            *[feats.get(k) for k in AUDIO_FEATURES],
            ann, arousal, _j(merged.tags), _j(merged.sources), _j(sorted(est)), merged.language,
        )
        if row is None:
            c.execute(
                "INSERT INTO tracks (key, spotify_id, title, artists, album, year, genres, popularity, duration_ms, "
                "valence, energy, tempo, danceability, acousticness, loudness, mode, instrumentalness, "
                "annotated_arousal, arousal, tags, sources, estimated, language, akey, added, lid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, *values, akey, time.time(), _lid(key)),
            )
            return True
        c.execute(
            "UPDATE tracks SET spotify_id=?, title=?, artists=?, album=?, year=?, genres=?, popularity=?, duration_ms=?, "
            "valence=?, energy=?, tempo=?, danceability=?, acousticness=?, loudness=?, mode=?, instrumentalness=?, "
            "annotated_arousal=?, arousal=?, tags=?, sources=?, estimated=?, language=?, akey=? WHERE rowid=?",
            (*values, akey, row[0]),
        )
        return False

    def clear(self) -> int:
        """Delete every track (one transaction); returns how many were removed."""
        with self.transaction() as db:
            n = db.execute("DELETE FROM tracks").rowcount
            self._bump_version()
        return n

    def _bump_version(self) -> None:
        """Mark the catalogue changed (inside the writing transaction): ``index()`` caches rebuild."""
        self.db.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'version'")

    # ------------------------------------------------------------------ reading
    def version(self) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return row[0] if row else "0"

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0])

    def get(self, rowids: Iterable[int]) -> dict[int, Track]:
        """Tracks by store row id."""
        ids = [int(r) for r in rowids]
        out: dict[int, Track] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = f"SELECT {_COLUMNS} FROM tracks WHERE rowid IN ({','.join('?' * len(chunk))})"
                for row in self.db.execute(q, chunk).fetchall():
                    out[row[0]] = _row_to_track(row)
        return out

    def find(self, ref: str) -> list[Track]:
        """Tracks matching ``ref``: a Spotify id/URI/URL, a local ``mt-`` id, or 'title' / 'title - artist'."""
        ref = ref.strip()
        for prefix in ("spotify:track:", "https://open.spotify.com/track/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix):].split("?")[0]
        with self._lock:
            rows = self.db.execute(f"SELECT {_COLUMNS} FROM tracks WHERE spotify_id = ?", (ref,)).fetchall()
            if rows:
                return [_row_to_track(r) for r in rows]
            if ref.startswith("mt-"):
                # a local id is "mt-" + the first 12 hex digits of sha1(key) (types.local_id)
                rows = self.db.execute(
                    f"SELECT {_COLUMNS} FROM tracks WHERE spotify_id IS NULL AND lid = ?", (ref[3:],)
                ).fetchall()
                return [_row_to_track(r) for r in rows]
            if " - " in ref:
                title, artist = ref.rsplit(" - ", 1)
                rows = self.db.execute(f"SELECT {_COLUMNS} FROM tracks WHERE key = ?", (track_key(title, artist),)).fetchall()
                if rows:
                    return [_row_to_track(r) for r in rows]
            rows = self.db.execute(f"SELECT {_COLUMNS} FROM tracks WHERE lower(title) = lower(?)", (ref,)).fetchall()
            return [_row_to_track(r) for r in rows]

    def search(self, text: str = "", limit: int = 20, genre: str | None = None) -> list[Track]:
        """Tracks whose title, artist or album contains ``text`` (case-insensitive), most popular first."""
        pattern = f"%{text}%"
        like = self.db.like
        sql = f"SELECT {_COLUMNS} FROM tracks WHERE (title {like} ? OR artists {like} ? OR album {like} ?)"
        params: list = [pattern, pattern, pattern]
        if genre:
            sql += f" AND genres {like} ?"
            params.append(f'%"{genre.lower()}"%')
        sql += " ORDER BY popularity IS NULL, popularity DESC, title LIMIT ?"
        params.append(int(limit))
        return [_row_to_track(r) for r in self.db.execute(sql, params).fetchall()]

    def iter_tracks(self) -> Iterator[Track]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM tracks ORDER BY rowid").fetchall()
        for r in rows:
            yield _row_to_track(r)

    def stats(self) -> dict:
        """Counts for ``moodtune catalog stats``."""
        with self._lock:
            c = self.db
            total = self.count()
            rankable = c.execute("SELECT COUNT(*) FROM tracks WHERE valence IS NOT NULL AND arousal IS NOT NULL").fetchone()[0]
            measured = c.execute(
                "SELECT COUNT(*) FROM tracks WHERE valence IS NOT NULL AND estimated NOT LIKE '%valence%'"
            ).fetchone()[0]
            with_id = c.execute("SELECT COUNT(*) FROM tracks WHERE spotify_id IS NOT NULL").fetchone()[0]
            years = c.execute("SELECT MIN(year), MAX(year) FROM tracks WHERE year IS NOT NULL").fetchone()
            artists = c.execute(f"SELECT COUNT(DISTINCT {c.json_first('artists')}) FROM tracks").fetchone()[0]
            sources: dict[str, int] = {}
            genres: dict[str, int] = {}
            for s, g in c.execute("SELECT sources, genres FROM tracks").fetchall():
                for x in json.loads(s):
                    sources[x] = sources.get(x, 0) + 1
                for x in json.loads(g)[:1]:
                    genres[x] = genres.get(x, 0) + 1
        return {
            "path": self.path if self.path != ":memory:" else self.description,
            "tracks": total,
            "rankable": rankable,
            "measured_valence": measured,
            "estimated_valence_or_arousal": rankable - measured,
            "with_spotify_id": with_id,
            "artists": artists,
            "years": [years[0], years[1]],
            "sources": dict(sorted(sources.items(), key=lambda kv: -kv[1])),
            "genres": dict(sorted(genres.items(), key=lambda kv: -kv[1])),
        }

    # ------------------------------------------------------------------ ranking view
    def index(self) -> TrackIndex:
        """The ``TrackIndex`` of rankable tracks, rebuilt only when the catalogue changed."""
        version = self.version()
        idx = self._index
        if idx is not None and idx.version == version:
            return idx
        with self._lock:
            rows = self.db.execute(
                f"SELECT rowid, valence, arousal, popularity, instrumentalness, {self.db.json_first('genres')}, akey, key, year "
                "FROM tracks WHERE valence IS NOT NULL AND arousal IS NOT NULL ORDER BY rowid"
            ).fetchall()
        n = len(rows)
        if n:
            rowid, val, aro, pop, ins, genre_names, akeys, keys, years = zip(*rows, strict=True)
        else:
            rowid = val = aro = pop = ins = genre_names = akeys = keys = years = ()
        pop_arr = np.array([np.nan if p is None else p for p in pop], np.float32) / np.float32(100.0)
        ins_arr = np.array([np.nan if x is None else x for x in ins], np.float32)
        genre_codes: dict[str, int] = {}
        artist_codes: dict[str, int] = {}
        gen = np.fromiter((-1 if g is None else genre_codes.setdefault(g, len(genre_codes)) for g in genre_names), np.int32, n)
        art = np.fromiter((artist_codes.setdefault(a or "", len(artist_codes)) for a in akeys), np.int32, n)
        idx = TrackIndex(
            np.array(rowid, np.int64), np.array(val, np.float32), np.array(aro, np.float32),
            np.nan_to_num(pop_arr, nan=0.5), np.nan_to_num(ins_arr, nan=0.5), gen, art,
            genres=list(genre_codes), artists=list(artist_codes), keys=list(keys), version=version,
            year=np.array([y or 0 for y in years], np.int32),
        )
        idx.build_grid()
        self._index = idx
        return idx


def _merge(old: Track, new: Track) -> tuple[Track, dict, set]:
    """Merge ``new`` into ``old``: (merged facts, audio features, names of estimated features).

    Per feature: a measured value beats an estimated one; between equals the older stays.
    """
    feats: dict = {}
    est: set = set()
    old_est, new_est = set(old.estimated), set(new.estimated)
    for k in AUDIO_FEATURES:
        ov, nv = getattr(old, k), getattr(new, k)
        o_meas = ov is not None and k not in old_est
        n_meas = nv is not None and k not in new_est
        if o_meas or (ov is not None and not n_meas):
            feats[k] = ov
            if not o_meas:
                est.add(k)
        elif nv is not None:
            feats[k] = nv
            if not n_meas:
                est.add(k)
        else:
            feats[k] = None
    merged = Track(
        title=old.title,
        artists=old.artists,
        album=old.album or new.album,
        year=old.year or new.year,
        genres=clean_genres(list(dict.fromkeys(old.genres + new.genres))),
        popularity=max((p for p in (old.popularity, new.popularity) if p is not None), default=None),
        duration_ms=old.duration_ms or new.duration_ms,
        spotify_id=old.spotify_id or new.spotify_id,
        tags=list(dict.fromkeys(old.tags + new.tags)),
        sources=list(dict.fromkeys(old.sources + new.sources)),
        language=old.language or new.language,
    )
    return merged, feats, est
