"""Playlists as files other players open: M3U8 (extended M3U, UTF-8) and XSPF (XML Shareable Playlist Format).

``playlist_entries(tracks, locate)`` turns track JSON dicts into ``Entry`` rows, each located by a
local file path or a link; ``to_m3u8``/``to_xspf`` render them; ``write_playlist(path, entries)``
writes the format its suffix names (``.m3u8``/``.m3u`` or ``.xspf``); ``save_playlist(playlist,
path, store)`` does it all for a ``Playlist`` (``moodtune recommend ... --m3u FILE``): scanned
tracks by their local file, the others by their Spotify link.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from moodtune.contract import to_json
from moodtune.errors import MoodtuneError

FORMATS = {"m3u8": "audio/x-mpegurl", "xspf": "application/xspf+xml"}


@dataclass
class Entry:
    """One playlist line: where the track is (a file path or a URL) and what to show for it."""

    location: str
    title: str
    artist: str
    album: str | None = None
    duration_ms: int | None = None


def playlist_entries(tracks: Iterable[dict], locate: Callable[[dict], str | None]) -> list[Entry]:
    """``Entry`` rows for track dicts (the playlist JSON's ``tracks``); ``locate(track)`` gives the
    location (a path or URL) or None to fall back to the track's Spotify link or search link."""
    out = []
    for t in tracks:
        links = t.get("links") or {}
        loc = locate(t) or links.get("spotify") or links.get("spotify_search") or links.get("youtube_search")
        if not loc:
            continue
        out.append(Entry(str(loc), str(t.get("title") or ""), str(t.get("artist") or ""), t.get("album"),
                         t.get("duration_ms")))
    return out


def _is_url(location: str) -> bool:
    return "://" in location


def to_m3u8(entries: Iterable[Entry], name: str = "moodtune") -> str:
    """Extended M3U: ``#EXTINF:seconds,Artist - Title`` before each path or URL (-1 seconds when unknown)."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(name)}"]
    for e in entries:
        secs = round(e.duration_ms / 1000) if e.duration_ms else -1
        lines.append(f"#EXTINF:{secs},{_one_line(e.artist)} - {_one_line(e.title)}")
        lines.append(_one_line(e.location))
    return "\n".join(lines) + "\n"


def to_xspf(entries: Iterable[Entry], name: str = "moodtune") -> str:
    """XSPF version 1: a ``<track>`` per entry, local paths as ``file://`` URIs."""
    rows = []
    for e in entries:
        loc = e.location if _is_url(e.location) else Path(e.location).resolve().as_uri()
        parts = [f"<location>{escape(loc)}</location>", f"<title>{escape(e.title)}</title>",
                 f"<creator>{escape(e.artist)}</creator>"]
        if e.album:
            parts.append(f"<album>{escape(e.album)}</album>")
        if e.duration_ms:
            parts.append(f"<duration>{int(e.duration_ms)}</duration>")
        rows.append("    <track>" + "".join(parts) + "</track>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<playlist version="1" xmlns="http://xspf.org/ns/0/">\n'
            f"  <title>{escape(name)}</title>\n  <trackList>\n" + "\n".join(rows) + "\n  </trackList>\n</playlist>\n")


def render(entries: Iterable[Entry], fmt: str, name: str = "moodtune") -> str:
    """The playlist in ``fmt`` (``m3u8`` or ``xspf``)."""
    if fmt not in FORMATS:
        raise MoodtuneError(f"unknown playlist format {fmt!r}: use one of {', '.join(FORMATS)}")
    return (to_m3u8 if fmt == "m3u8" else to_xspf)(list(entries), name)


def format_for(path: str | os.PathLike) -> str:
    """The format a file name asks for: ``.m3u8``/``.m3u`` → m3u8, ``.xspf`` → xspf."""
    suffix = Path(path).suffix.lower()
    if suffix in (".m3u8", ".m3u"):
        return "m3u8"
    if suffix == ".xspf":
        return "xspf"
    raise MoodtuneError(f"{path}: a playlist file ends in .m3u8, .m3u or .xspf")


def write_playlist(path: str | os.PathLike, entries: Iterable[Entry], name: str = "moodtune") -> Path:
    """Write ``entries`` to ``path`` in the format its suffix names; returns the path."""
    p = Path(path)
    text = render(entries, format_for(p), name)
    try:
        p.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MoodtuneError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


def save_playlist(playlist, path: str | os.PathLike, store=None, name: str | None = None) -> Path:
    """Write ``playlist`` (a ``Playlist`` or its ``contract.to_json``) to ``path`` (.m3u8/.m3u/.xspf): tracks that
    ``catalog scan`` registered in ``store`` by their file path, the others by their Spotify link."""
    from moodtune.music.scan import local_files
    from moodtune.music.types import track_key

    d = playlist if isinstance(playlist, dict) else to_json(playlist)
    tracks = [dict(t) for t in d.get("tracks", [])]
    if not isinstance(playlist, dict):  # durations are known on the Track objects
        for t, item in zip(tracks, playlist.items, strict=True):
            t["duration_ms"], t["album"] = item.track.duration_ms, item.track.album
    key = lambda t: track_key(str(t.get("title") or ""), str(t.get("artist") or ""))  # noqa: E731
    files = local_files(store, [str(t.get("id")) for t in tracks], [key(t) for t in tracks]) if store is not None else {}
    entries = playlist_entries(tracks, lambda t: str(files.get(str(t.get("id"))) or files.get(key(t)) or "") or None)
    affect = d.get("affect") or {}
    return write_playlist(path, entries, name or f"moodtune: {affect.get('emotion', 'playlist')}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
