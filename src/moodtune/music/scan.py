"""``moodtune catalog scan FOLDER``: add a local music library to the catalogue.

Tags (title, artist, album, date, genre) come from mutagen; an untagged file named
"Artist - Title.ext" gives its artist and title. Every scanned file is registered in the
catalogue's ``local_files`` table (``register_files``/``local_file``): the web app streams
only files found there. Audio features come from librosa
when it is installed: tempo (beat tracker), loudness (RMS in dBFS), an energy estimate
from loudness and onset density, and the mode (major/minor, from a Krumhansl key-profile
correlation of the chroma). Valence is then the genre's mean shifted by +/-0.1 for
major/minor. Everything computed here is an *estimate* and marked so.
Install with ``pip install 'moodtune[scan]'`` (mutagen; librosa optional).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moodtune.errors import MoodtuneError
from moodtune.music.features import genre_profile, overall_profile, split_genres
from moodtune.music.importers import add_with_progress
from moodtune.music.store import CatalogStore
from moodtune.music.types import Track, track_key

AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".aiff", ".aif", ".wma"}

_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class ScanReport:
    folder: str
    files: int = 0
    added: int = 0
    merged: int = 0
    analysed: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)
    total: int = 0

    def summary(self) -> str:
        return (f"{self.folder}: {self.files} audio files, {self.added} new tracks, {self.merged} merged, "
                f"{self.analysed} analysed with librosa, {len(self.bad)} skipped; catalogue now holds {self.total} tracks")


#: Raw tag names (ID3 frames, MP4 atoms) for formats without mutagen's "easy" interface (WAV, AIFF).
_RAW = {
    "title": ("TIT2", "\xa9nam"), "artist": ("TPE1", "\xa9ART"), "albumartist": ("TPE2", "aART"),
    "album": ("TALB", "\xa9alb"), "date": ("TDRC", "TYER", "\xa9day"), "genre": ("TCON", "\xa9gen"),
}


def _first(tags, key) -> str | None:
    if not tags:
        return None
    v = tags.get(key)
    if v is None:
        for raw in _RAW.get(key, ()):
            if raw in tags:
                v = tags[raw]
                v = getattr(v, "text", v)
                break
    if isinstance(v, list):
        v = v[0] if v else None
    v = str(v).strip() if v is not None else None
    return v or None


def read_tags(path: Path) -> dict:
    """title/artist/album/year/genre of one file (mutagen 'easy' tags); title falls back to the file name."""
    try:
        import mutagen
    except ImportError:
        raise MoodtuneError("catalog scan needs mutagen: pip install 'moodtune[scan]'") from None
    try:
        f = mutagen.File(str(path), easy=True)
    except Exception as exc:  # mutagen raises many types for broken files
        raise ValueError(f"unreadable tags ({exc.__class__.__name__})") from None
    if f is None:
        raise ValueError("not an audio file mutagen can read")
    tags = dict(f.tags or {}) if getattr(f, "tags", None) is not None else {}
    year = None
    date = _first(tags, "date")
    if date and date[:4].isdigit():
        year = int(date[:4])
    name_artist, name_title = name_parts(path)
    return {
        "title": _first(tags, "title") or name_title,
        "artist": _first(tags, "artist") or _first(tags, "albumartist") or name_artist or "Unknown artist",
        "album": _first(tags, "album"),
        "year": year,
        "genres": split_genres(_first(tags, "genre")),
        "duration_ms": int(f.info.length * 1000) if f is not None and getattr(f, "info", None) and getattr(f.info, "length", None) else None,
    }


def name_parts(path: Path) -> tuple[str | None, str]:
    """(artist, title) from a file name "Artist - Title.ext" (a leading track number dropped); (None, stem) otherwise."""
    stem = path.stem.strip()
    if " - " in stem:
        artist, title = (x.strip() for x in stem.split(" - ", 1))
        if artist.isdigit() and " - " in title:  # "01 - Artist - Title"
            artist, title = (x.strip() for x in title.split(" - ", 1))
        if artist and title and not artist.isdigit():
            return artist, title
    return None, stem


def analyse_audio(path: Path, seconds: float = 60.0) -> dict | None:
    """tempo, loudness, energy, mode from the first ``seconds`` (librosa), or None without librosa."""
    try:
        import librosa
    except ImportError:
        return None
    y, sr = librosa.load(str(path), sr=22050, mono=True, duration=seconds)
    if y.size < sr:
        raise ValueError("shorter than one second")
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    rms = float(np.sqrt(np.mean(y**2)) + 1e-9)
    loudness = 20 * np.log10(rms)
    # onsets: peaks of the log-mel spectral flux at least 0.5 dB above the local mean. Not normalised,
    # so that a sustained chord has none (normalising turns its tiny fluctuations into ~9 "onsets" a second)
    env = librosa.onset.onset_strength(y=y, sr=sr)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=sr, normalize=False, delta=0.5)
    density = len(onsets) / (len(y) / sr)  # onsets per second
    energy = float(np.clip(0.6 * np.clip((loudness + 30) / 25, 0, 1) + 0.4 * np.clip(density / 6, 0, 1), 0, 1))
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1)
    maj = max(np.corrcoef(np.roll(_MAJOR, k), chroma)[0, 1] for k in range(12))
    mnr = max(np.corrcoef(np.roll(_MINOR, k), chroma)[0, 1] for k in range(12))
    return {"tempo": float(np.atleast_1d(tempo)[0]), "loudness": float(loudness), "energy": energy, "mode": int(maj >= mnr)}


def scan_folder(folder: str | Path, store: CatalogStore, audio: bool = True, progress: bool = False) -> ScanReport:
    """Add every audio file under ``folder`` to ``store`` (one transaction)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MoodtuneError(f"not a folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    rep = ScanReport(str(folder), files=len(files))
    found: list[tuple[Track, Path]] = []

    def tracks():
        for p in files:
            try:
                tags = read_tags(p)
                feats = analyse_audio(p) if audio else None
            except MoodtuneError:
                raise
            except Exception as exc:
                rep.bad.append((str(p), str(exc)))
                continue
            prof = genre_profile(tags["genres"]) or overall_profile()
            t = Track(title=tags["title"], artists=[tags["artist"]], album=tags["album"], year=tags["year"],
                      genres=tags["genres"], duration_ms=tags["duration_ms"], sources=[f"scan:{folder.name}"])
            found.append((t, p))
            if feats:
                rep.analysed += 1
                t.tempo, t.loudness, t.energy, t.mode = feats["tempo"], feats["loudness"], feats["energy"], feats["mode"]
                t.valence = float(np.clip(prof["valence"] + (0.1 if feats["mode"] else -0.1), 0, 1))
                t.acousticness = prof["acousticness"]
                t.estimated = ["valence", "energy", "acousticness"]
            yield t

    res = add_with_progress(store, tracks(), progress, len(files), f"scanning {folder.name}", " files")
    rep.added, rep.merged, rep.total = res.added, res.merged, res.total
    register_files(store, [(_stored_id(store, t), t.key, p) for t, p in found])
    return rep


# ----------------------------------------------------------------------------- the local files registry

def _stored_id(store: CatalogStore, t: Track) -> str:
    """The id the catalogue gives ``t`` after merging (a Spotify id when a duplicate had one)."""
    found = store.find(f"{t.title} - {t.artist}")
    return found[0].id if found else t.id


def register_files(store: CatalogStore, files: list[tuple[str, str, Path]]) -> None:
    """Record (track id, track key, file) triples: the files the web app may stream (latest scan wins)."""
    if not files:
        return
    rows = [(key, tid, str(Path(p).resolve()), time.time()) for tid, key, p in files]
    with store.db.transaction() as db:
        db.executemany("INSERT INTO local_files (key, track_id, path, added) VALUES (?, ?, ?, ?) ON CONFLICT (key) "
                       "DO UPDATE SET track_id = excluded.track_id, path = excluded.path, added = excluded.added", rows)


def local_files(store: Any, ids: Sequence[str] = (), keys: Sequence[str] = ()) -> dict[str, Path]:
    """Registered files by track id or key: ``{id_or_key: path}`` for those found (an empty dict
    for a store that is not a catalogue, or when nothing was scanned)."""
    id_list, key_list = list(ids), list(keys)
    if not isinstance(store, CatalogStore) or not (id_list or key_list):
        return {}
    rows = store.db.execute(
        f"SELECT track_id, key, path FROM local_files WHERE track_id IN ({','.join('?' * len(id_list)) or 'NULL'}) "
        f"OR key IN ({','.join('?' * len(key_list)) or 'NULL'})", id_list + key_list).fetchall()
    out: dict[str, Path] = {}
    for tid, key, path in rows:
        out[tid] = out[key] = Path(path)
    return out


def local_file(store, track_id: str, title: str | None = None, artist: str | None = None) -> Path | None:
    """The registered file of one track (by id, else by title and artist), or None."""
    key = track_key(title, artist or "") if title else None
    found = local_files(store, [track_id], [key] if key else [])
    return found.get(track_id) or (found.get(key) if key else None)
