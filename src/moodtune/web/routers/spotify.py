"""``POST /api/spotify/save``: save a playlist into the listener's Spotify account."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from moodtune.errors import MoodtuneError
from moodtune.web.deps import find_track, get_state, run
from moodtune.web.errors import ApiError, responses
from moodtune.web.schemas import SpotifyLoginOut, SpotifySavedOut, SpotifySaveIn
from moodtune.web.state import ServerState, Work, spotify_configured

router = APIRouter(tags=["spotify"])
log = logging.getLogger("moodtune.server")


@router.post("/api/spotify/save", response_model=SpotifySavedOut, summary="Save tracks as a playlist in the listener's Spotify account",
             responses={401: {"model": SpotifyLoginOut, "description": "log in first: open `login_url`, then save again"},
                        **responses(400, 404, 409, 413, 422, 504)})
async def save(body: SpotifySaveIn, state: Annotated[ServerState, Depends(get_state)]) -> Any:
    if not spotify_configured():
        raise ApiError(503, "Spotify is not configured on this server: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET")
    return await run(state, _save, state, body)


def _save(w: Work, state: ServerState, body: SpotifySaveIn) -> Any:
    from moodtune.music.spotify import SpotifyAuth, SpotifyClient

    client = SpotifyClient.from_env()
    auth = SpotifyAuth(client)
    try:
        token = auth.token()
    except MoodtuneError:
        # no cached login: start one; the listener logs in on Spotify's page, then saves again
        if not state.spotify_logins:
            state.spotify_logins[auth.state] = auth
            threading.Thread(target=_finish_login, args=(state, auth), daemon=True).start()
        else:
            auth = next(iter(state.spotify_logins.values()))
        return JSONResponse({"error": "log in to Spotify in the page that opens, then press save again",
                             "login_url": auth.authorize_url()}, status_code=401)
    tracks = [find_track(state, t) for t in body.tracks]
    w.checkpoint()
    ref = client.save_playlist(token, body.name, tracks)
    return {"saved": True, "url": ref.url, "name": ref.name, "tracks": ref.tracks}


def _finish_login(state: ServerState, auth: Any) -> None:
    try:
        auth.exchange(auth.wait_for_code(timeout=300))
    except MoodtuneError as exc:
        log.warning("Spotify login did not complete: %s", exc)
    finally:
        state.spotify_logins.pop(auth.state, None)
