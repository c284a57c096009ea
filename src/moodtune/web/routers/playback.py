"""Playback for the web app: local audio streamed with HTTP Range, playlist export, the page's CSP.

``router`` (included by ``moodtune.web.app.create_app``) serves

* ``GET /api/audio/{track_id}`` the audio file ``catalog scan`` registered for that track, with
  its ``audio/*`` type; a ``Range`` request gets 206 and only those bytes (Starlette's
  ``FileResponse``). The URL carries a track id, never a path: only files in the catalogue's
  ``local_files`` table are served, anything else is 404;
* ``GET /api/playlist.{m3u8|xspf}?track=ID&track=ID...&name=...&paths=local|links`` the tracks
  as a playlist file: registered files by their local path (``paths=local``) or by their audio
  URL on this server (``links``), other tracks by their Spotify link;
* ``GET /api/playback`` what the page may play here: ``{"offline", "spotify_embed"}``.

``attach_audio(tracks, store)`` gives playlist tracks with a registered file their ``links.audio``.
The page's Content-Security-Policy (``moodtune.web.middleware.content_security_policy``) allows
Spotify's embed player as the one frame source, and none when the server is ``offline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from moodtune.contract import to_json
from moodtune.music.export import FORMATS, playlist_entries, render
from moodtune.music.types import Track, track_key
from moodtune.web.errors import responses

router = APIRouter(tags=["playback"])

#: The audio types served, by file suffix (what ``catalog scan`` reads).
AUDIO_TYPES = {
    ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
    ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".wav": "audio/wav", ".aiff": "audio/aiff",
    ".aif": "audio/aiff", ".wma": "audio/x-ms-wma",
}
TRACK_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _store(request: Request):
    state = getattr(request.app.state, "moodtune", None)
    return getattr(state, "store", None)


def _files(store, tracks: list[dict]) -> dict[str, Path]:
    from moodtune.music.scan import local_files

    ids = [str(t.get("id")) for t in tracks if t.get("id")]
    keys = [track_key(str(t.get("title") or ""), str(t.get("artist") or "")) for t in tracks]
    return local_files(store, ids, keys)


def _file_of(files: dict[str, Path], t: dict) -> Path | None:
    return files.get(str(t.get("id"))) or files.get(track_key(str(t.get("title") or ""), str(t.get("artist") or "")))


def audio_url(track_id: str) -> str:
    return f"/api/audio/{quote(track_id)}"


def attach_audio(tracks: Sequence[Track], store: Any) -> None:
    """Set ``audio`` (so ``links.audio``) on each of ``tracks`` whose file ``catalog scan`` registered."""
    rows = [{"id": t.id, "title": t.title, "artist": t.artist} for t in tracks]
    files = _files(store, rows)
    for t, row in zip(tracks, rows, strict=True):
        if _file_of(files, row) is not None:
            t.audio = audio_url(t.id)


class PlaybackOut(BaseModel):
    offline: bool = Field(description="the server runs with --offline: no Spotify embed")
    spotify_embed: bool = Field(description="tracks with a Spotify id may play in Spotify's embed player")


@router.get("/api/playback", response_model=PlaybackOut, summary="What the page may play on this server")
async def playback_info(request: Request) -> PlaybackOut:
    offline = bool(getattr(request.app.state, "offline", False))
    return PlaybackOut(offline=offline, spotify_embed=not offline)


@router.get("/api/audio/{track_id}", summary="Stream a scanned track's audio file (HTTP Range supported)",
            response_class=FileResponse,
            responses={200: {"content": {"audio/*": {}}}, 206: {"description": "the requested byte range"},
                       404: {"description": "no audio file registered for this track"}})
async def audio(request: Request, track_id: str = PathParam(pattern=TRACK_ID)):
    from moodtune.music.scan import local_file

    path = local_file(_store(request), track_id)
    if path is None:
        from starlette.concurrency import run_in_threadpool

        store = _store(request)
        found = await run_in_threadpool(store.find, track_id) if store is not None and hasattr(store, "find") else []
        if found:
            path = local_file(store, track_id, found[0].title, found[0].artist)
    media = AUDIO_TYPES.get(path.suffix.lower()) if path is not None else None
    if path is None or media is None:
        raise HTTPException(404, f"no audio file for track {track_id}")
    if not path.is_file():
        raise HTTPException(404, f"the audio file of track {track_id} is gone: scan the folder again")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/api/playlist.{fmt}", summary="The given tracks as an M3U8 or XSPF playlist file", response_class=Response,
            responses={200: {"content": {t: {} for t in FORMATS.values()}}, **responses(404, 422, 503)})
async def export_playlist(request: Request, fmt: Literal["m3u8", "xspf"],
                          track: list[str] = Query(..., min_length=1, max_length=100, description="track ids, in order"),
                          name: str = Query("moodtune", max_length=100),
                          paths: Literal["local", "links"] = Query("links", description="local files by path or by URL")):
    from starlette.concurrency import run_in_threadpool

    store = _store(request)
    if store is None or not hasattr(store, "find"):
        raise HTTPException(503, "no catalogue is loaded")

    def build() -> str:
        tracks = []
        for ref in track:
            found = store.find(ref)
            if not found:
                raise HTTPException(404, f"unknown track {ref}")
            t = to_json(found[0])
            t["duration_ms"] = found[0].duration_ms
            tracks.append(t)
        files = _files(store, tracks)
        base = str(request.base_url).rstrip("/")

        def locate(t: dict) -> str | None:
            f = _file_of(files, t)
            if f is None:
                return None
            return str(f) if paths == "local" else base + audio_url(str(t["id"]))

        return render(playlist_entries(tracks, locate), fmt, name)

    text = await run_in_threadpool(build)
    filename = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip() or "moodtune"
    return Response(text, media_type=FORMATS[fmt] + "; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})
