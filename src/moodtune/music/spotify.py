"""Spotify: what still works for new apps after the November 2024 API changes.

Audio features, recommendations and previews are closed to new apps, so moodtune uses
only:

* **search** (tracks, playlists) with the *client credentials* flow
  (``SPOTIFY_CLIENT_ID`` and ``SPOTIFY_CLIENT_SECRET`` from the environment);
* **saving a playlist** to the listener's account with the *authorization code + PKCE*
  flow (``SPOTIFY_CLIENT_ID`` only; the redirect URI ``http://127.0.0.1:8888/callback``
  must be registered in the Spotify app, or set ``SPOTIFY_REDIRECT_URI``).

Search results get valence/arousal from our catalogue when the track is known there (by
Spotify id, else by title + artist), otherwise from genre-level estimates (the genre
being the one we searched for), marked as estimated.

Transport is stdlib ``urllib``. Every request is retried: 429 waits ``Retry-After``
seconds (refusing waits longer than ``max_wait``), 5xx and connection errors back off
exponentially (``backoff * 2**attempt``, at most ``max_backoff``), a 401 on the app token
fetches a new token once. The base URLs can be changed (tests run a local server).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from moodtune.config import user_dir
from moodtune.errors import MoodtuneError
from moodtune.music.features import genre_stats
from moodtune.music.types import Track
from moodtune.store import database_url, is_url, open_database
from moodtune.store.migrations import migrate

API_BASE = "https://api.spotify.com/v1"
ACCOUNTS_BASE = "https://accounts.spotify.com"
DEFAULT_REDIRECT = "http://127.0.0.1:8888/callback"
SCOPES = "playlist-modify-private playlist-modify-public"


class SpotifyError(MoodtuneError):
    """A Spotify request failed (after retries); ``status`` is the HTTP status or None."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class PlaylistRef:
    """A Spotify playlist found by search or created by ``save_playlist``."""

    id: str
    name: str
    url: str
    owner: str | None = None
    tracks: int | None = None


def _year(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def track_from_item(item: dict, genre: str | None = None) -> Track:
    """A ``Track`` from a Spotify track object (search result)."""
    album = item.get("album") or {}
    return Track(
        title=item.get("name") or "",
        artists=[a.get("name", "") for a in item.get("artists") or [] if a.get("name")],
        album=album.get("name"),
        year=_year(album.get("release_date")),
        genres=[genre] if genre else [],
        popularity=item.get("popularity"),
        duration_ms=item.get("duration_ms"),
        spotify_id=item.get("id"),
        sources=["spotify"],
    )


class SpotifyClient:
    """A small Spotify Web API client (search + playlist saving) with real retries.

    ``sleep`` is the function used to wait (``time.sleep``); ``max_wait`` caps one
    Retry-After wait; ``max_retries`` caps attempts per request.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        api_base: str | None = None,
        accounts_base: str | None = None,
        max_retries: int = 4,
        max_wait: float = 30.0,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_base = (api_base or os.environ.get("MOODTUNE_SPOTIFY_API") or API_BASE).rstrip("/")
        self.accounts_base = (accounts_base or os.environ.get("MOODTUNE_SPOTIFY_ACCOUNTS") or ACCOUNTS_BASE).rstrip("/")
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.sleep = sleep
        self._token: str | None = None
        self._token_expiry = 0.0
        self._lock = threading.Lock()
        self.requests_made = 0  #: HTTP requests sent (including retries), for diagnostics

    def __repr__(self) -> str:  # the secret and the tokens never appear
        return f"SpotifyClient(client_id={self.client_id!r}, client_secret={'***' if self.client_secret else None}, api_base={self.api_base!r})"

    @classmethod
    def from_env(cls, **kwargs) -> SpotifyClient:
        """Credentials from ``SPOTIFY_CLIENT_ID`` / ``SPOTIFY_CLIENT_SECRET``; a clear error when missing."""
        cid = os.environ.get("SPOTIFY_CLIENT_ID", "").strip()
        secret = os.environ.get("SPOTIFY_CLIENT_SECRET", "").strip()
        if not cid or not secret:
            missing = [n for n, v in (("SPOTIFY_CLIENT_ID", cid), ("SPOTIFY_CLIENT_SECRET", secret)) if not v]
            raise MoodtuneError(
                f"Spotify credentials missing: set {' and '.join(missing)} in the environment "
                "(create an app at https://developer.spotify.com/dashboard)"
            )
        return cls(cid, secret, **kwargs)

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, url: str, headers: dict, body: bytes | None) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        self.requests_made += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers or {}), exc.read() or b""

    def _retrying(self, method: str, url: str, headers_fn: Callable[[], dict], body: bytes | None,
                  on_401: Callable[[], bool] | None = None) -> Any:
        refreshed = False
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                status, headers, data = self._send(method, url, headers_fn(), body)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = f"cannot reach Spotify ({getattr(exc, 'reason', exc)})"
                if attempt < self.max_retries:
                    self.sleep(min(self.max_backoff, self.backoff * 2**attempt))
                    continue
                raise SpotifyError(f"{last} after {attempt + 1} attempts", None) from None
            if 200 <= status < 300:
                if not data:
                    return {}
                try:
                    obj = json.loads(data)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    raise SpotifyError(f"Spotify answered {status} with a body that is not a JSON object", status)
                return obj
            message = _error_message(data) or f"HTTP {status}"
            if status == 401:
                if on_401 is not None and not refreshed and on_401():
                    refreshed = True
                    continue
                raise SpotifyError(f"Spotify rejected the credentials (401: {message}); check SPOTIFY_CLIENT_ID/SECRET", 401)
            if status == 429:
                wait = _retry_after(headers)
                if wait > self.max_wait:
                    raise SpotifyError(f"Spotify rate limit: asked to wait {wait:g} s (more than {self.max_wait:g} s); try later", 429)
                last = f"rate limited (429, Retry-After {wait:g} s)"
                if attempt < self.max_retries:
                    self.sleep(wait)
                    continue
                raise SpotifyError(f"Spotify kept rate-limiting after {attempt + 1} attempts", 429)
            if status >= 500:
                last = f"Spotify server error {status}: {message}"
                if attempt < self.max_retries:
                    self.sleep(min(self.max_backoff, self.backoff * 2**attempt))
                    continue
                raise SpotifyError(f"{last} (after {attempt + 1} attempts)", status)
            raise SpotifyError(f"Spotify request failed ({status}: {message})", status)
        raise SpotifyError(last or "Spotify request failed", None)  # pragma: no cover

    # ------------------------------------------------------------------ app token
    def _fetch_app_token(self) -> None:
        if not self.client_id or not self.client_secret:
            raise MoodtuneError("Spotify credentials missing: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET")
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        body = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
        data = self._retrying(
            "POST", f"{self.accounts_base}/api/token",
            lambda: {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}, body,
        )
        token = data.get("access_token")
        if not token:
            raise SpotifyError("Spotify token response without access_token")
        self._token = token
        self._token_expiry = time.time() + float(data.get("expires_in", 3600)) - 30

    def app_token(self) -> str:
        """A client-credentials access token (fetched and cached until it expires)."""
        with self._lock:
            if not self._token or time.time() >= self._token_expiry:
                self._fetch_app_token()
            return self._token  # type: ignore[return-value]

    def _renew(self) -> bool:
        with self._lock:
            self._token = None
        self.app_token()
        return True

    def get(self, path: str, params: dict | None = None) -> Any:
        """GET an API path with the app token (retries, token renewal)."""
        url = f"{self.api_base}/{path.lstrip('/')}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return self._retrying("GET", url, lambda: {"Authorization": f"Bearer {self.app_token()}"}, None, on_401=self._renew)

    # ------------------------------------------------------------------ search
    def search_tracks(self, query: str, limit: int = 20, market: str | None = None, genre: str | None = None) -> list[Track]:
        """Tracks matching ``query`` (Spotify search syntax: ``genre:"jazz"``, ``artist:...``)."""
        params = {"q": query, "type": "track", "limit": max(1, min(50, int(limit)))}
        if market:
            params["market"] = market
        data = self.get("search", params)
        items = ((data or {}).get("tracks") or {}).get("items") or []
        return [track_from_item(it, genre) for it in items if it and it.get("id") and it.get("name")]

    def search_playlists(self, query: str, limit: int = 10) -> list[PlaylistRef]:
        """Playlists matching ``query`` (null entries, which Spotify sometimes returns, are dropped)."""
        data = self.get("search", {"q": query, "type": "playlist", "limit": max(1, min(50, int(limit)))})
        items = ((data or {}).get("playlists") or {}).get("items") or []
        out = []
        for it in items:
            if not it or not it.get("id"):
                continue
            out.append(PlaylistRef(
                id=it["id"], name=it.get("name", ""),
                url=(it.get("external_urls") or {}).get("spotify", f"https://open.spotify.com/playlist/{it['id']}"),
                owner=(it.get("owner") or {}).get("display_name"),
                tracks=(it.get("tracks") or {}).get("total"),
            ))
        return out

    # ------------------------------------------------------------------ user calls (PKCE token)
    def user_call(self, method: str, path: str, token: str, payload: dict | None = None) -> Any:
        url = f"{self.api_base}/{path.lstrip('/')}"
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self._retrying(method, url, lambda: headers, body)

    def save_playlist(self, token: str, name: str, tracks: list[Track], public: bool = False,
                      description: str = "Made by moodtune") -> PlaylistRef:
        """Create a playlist in the listener's account and add ``tracks`` (unknown ids are searched first).

        ``token``: a user access token with the playlist-modify scopes (see ``SpotifyAuth``).
        """
        uris = []
        for t in tracks:
            sid = t.spotify_id
            if not sid:
                found = self.search_tracks(f'track:"{t.title}" artist:"{t.artists[0] if t.artists else ""}"', limit=1)
                sid = found[0].spotify_id if found else None
            if sid:
                uris.append(f"spotify:track:{sid}")
        if not uris:
            raise MoodtuneError("none of the playlist's tracks could be found on Spotify")
        me = self.user_call("GET", "me", token)
        _require_id(me, "the listener's profile")
        payload = {"name": name, "public": bool(public), "description": description}
        try:
            pl = self.user_call("POST", f"users/{urllib.parse.quote(me['id'])}/playlists", token, payload)
        except SpotifyError as exc:
            if exc.status not in (403, 404, 410):
                raise
            pl = self.user_call("POST", "me/playlists", token, payload)
        _require_id(pl, "the new playlist")
        for i in range(0, len(uris), 100):
            chunk = {"uris": uris[i : i + 100]}
            try:
                self.user_call("POST", f"playlists/{pl['id']}/tracks", token, chunk)
            except SpotifyError as exc:
                if exc.status not in (403, 404, 410):
                    raise
                self.user_call("POST", f"playlists/{pl['id']}/items", token, chunk)
        return PlaylistRef(pl["id"], pl.get("name", name), (pl.get("external_urls") or {}).get("spotify", ""), me.get("id"), len(uris))


def _require_id(obj: Any, what: str) -> None:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise SpotifyError(f"Spotify answered without an id for {what}")


def _error_message(data: bytes) -> str:
    try:
        err = json.loads(data).get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(err, dict):
        return str(err.get("message", ""))
    return str(err or "")


def _retry_after(headers: dict) -> float:
    for k, v in headers.items():
        if k.lower() == "retry-after":
            try:
                return max(0.0, float(v))
            except ValueError:
                return 1.0
    return 1.0


# ----------------------------------------------------------------------------- candidates


def genres_for_targets(targets: list[tuple[float, float]], k: int = 4) -> list[str]:
    """The ``k`` genres whose mean (valence, arousal) lies nearest to the targets (music scale)."""
    table = genre_stats()["genres"]
    scored = []
    for g, s in table.items():
        if s["n"] < 20:
            continue
        d = min((s["valence"] - tv) ** 2 + (s["arousal"] - ta) ** 2 for tv, ta in targets)
        scored.append((d, g))
    scored.sort()
    picked = [g for _, g in scored[:k]]
    return picked


def spotify_candidates(client: SpotifyClient, targets: list[tuple[float, float]], catalog=None,
                       per_genre: int = 50, k: int = 4, market: str | None = None) -> list[Track]:
    """Search Spotify for candidate tracks near ``targets`` and give each a valence/arousal.

    Known tracks (by Spotify id, else title + artist) take the catalogue's values; the
    others get the searched genre's statistics (marked estimated).
    """
    from moodtune.music.features import track_affect

    out: list[Track] = []
    seen: set[str] = set()
    for genre in genres_for_targets(targets, k):
        for t in client.search_tracks(f'genre:"{genre}"', limit=per_genre, market=market, genre=genre):
            if t.spotify_id in seen:
                continue
            seen.add(t.spotify_id or t.key)
            known = None
            if catalog is not None:
                found = catalog.find(t.spotify_id or "") or catalog.find(f"{t.title} - {t.artist}")
                known = found[0] if found else None
            if known is not None and known.valence is not None:
                for f in ("valence", "energy", "tempo", "danceability", "acousticness", "loudness", "mode", "instrumentalness"):
                    setattr(t, f, getattr(known, f))
                t.arousal = known.arousal
                t.estimated = list(known.estimated)
                t.sources = ["spotify", "catalogue"]
            else:
                v, a, _ = track_affect({}, [genre])
                t.valence, t.arousal = v, a
                t.estimated = ["valence", "arousal"]
            out.append(t)
    return out


# ----------------------------------------------------------------------------- PKCE user auth


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge) per RFC 7636 (S256)."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()[:128]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


#: schema steps of the token table in a shared database (``moodtune.store.migrations``)
TOKEN_MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS spotify_tokens (client_id TEXT NOT NULL, user TEXT NOT NULL, data TEXT NOT NULL, "
    "updated {real} NOT NULL, PRIMARY KEY (client_id, user))",
]


class TokenFile:
    """A listener's Spotify tokens in a JSON file readable by its owner only (one machine)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict | None:
        try:
            return json.loads(self.path.read_text()) if self.path.is_file() else None
        except (OSError, ValueError):
            return None

    def save(self, data: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: the token just is not remembered


class TokenTable:
    """A listener's Spotify tokens in the shared database (any server can use them)."""

    def __init__(self, url: str, client_id: str, user: str = "default"):
        self.db = open_database(url)
        self.path = self.db.location
        self.key = (client_id, user)
        migrate(self.db, "spotify", TOKEN_MIGRATIONS)

    def load(self) -> dict | None:
        row = self.db.execute("SELECT data FROM spotify_tokens WHERE client_id = ? AND user = ?", self.key).fetchone()
        return json.loads(row[0]) if row else None

    def save(self, data: dict) -> None:
        self.db.execute("INSERT INTO spotify_tokens (client_id, user, data, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (client_id, user) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                        (*self.key, json.dumps(data), time.time()))


class SpotifyAuth:
    """Authorization code with PKCE for one listener. Tokens are kept in ``cache``: a JSON file
    (default ``user_dir()/spotify_token.json``) or a database URL (default ``$MOODTUNE_DATABASE_URL``
    when set), see ``TokenFile``/``TokenTable``.

    ``authorize_url()`` gives the page to open; ``wait_for_code()`` receives the redirect on
    the local redirect URI; ``exchange(code)`` trades it for tokens; ``token()`` returns a
    valid access token, refreshing it when needed.
    """

    def __init__(self, client: SpotifyClient, client_id: str | None = None, redirect_uri: str | None = None,
                 cache: Path | str | None = None, user: str = "default"):
        self.client = client
        self.client_id = client_id or client.client_id or os.environ.get("SPOTIFY_CLIENT_ID", "")
        if not self.client_id:
            raise MoodtuneError("Spotify credentials missing: set SPOTIFY_CLIENT_ID in the environment")
        self.redirect_uri = redirect_uri or os.environ.get("SPOTIFY_REDIRECT_URI") or DEFAULT_REDIRECT
        where = cache or database_url() or (user_dir() / "spotify_token.json")
        self.tokens = TokenTable(str(where), self.client_id, user) if is_url(where) else TokenFile(Path(where))
        self.cache = self.tokens.path
        self.verifier, self.challenge = pkce_pair()
        self.state = secrets.token_urlsafe(16)

    def __repr__(self) -> str:  # the PKCE verifier and the tokens never appear
        return f"SpotifyAuth(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r}, cache={str(self.cache)!r})"

    def authorize_url(self) -> str:
        q = urllib.parse.urlencode({
            "client_id": self.client_id, "response_type": "code", "redirect_uri": self.redirect_uri,
            "code_challenge_method": "S256", "code_challenge": self.challenge, "scope": SCOPES, "state": self.state,
        })
        return f"{self.client.accounts_base}/authorize?{q}"

    def wait_for_code(self, timeout: float = 300.0) -> str:
        """Serve the redirect URI once and return the authorization code."""
        parsed = urllib.parse.urlparse(self.redirect_uri)
        result: dict = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                result.update({k: v[0] for k, v in q.items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"moodtune: you can close this tab now.")

            def log_message(self, *args):
                pass

        try:
            server = HTTPServer((parsed.hostname or "127.0.0.1", parsed.port or 80), Handler)
        except OSError as exc:
            raise MoodtuneError(f"cannot listen on {self.redirect_uri} for the Spotify redirect: {exc.strerror}") from None
        server.timeout = timeout
        with server:
            deadline = time.time() + timeout
            while not result and time.time() < deadline:
                server.handle_request()
        if not result:
            raise MoodtuneError("no answer from the Spotify login page in time")
        if result.get("state") != self.state:
            raise MoodtuneError("Spotify redirect with a wrong state parameter (possible CSRF); try again")
        if "error" in result:
            raise MoodtuneError(f"Spotify authorization refused: {result['error']}")
        if "code" not in result:
            raise MoodtuneError("Spotify redirect without an authorization code")
        return result["code"]

    def _token_request(self, fields: dict) -> dict:
        body = urllib.parse.urlencode(fields).encode()
        data = self.client._retrying(
            "POST", f"{self.client.accounts_base}/api/token",
            lambda: {"Content-Type": "application/x-www-form-urlencoded"}, body,
        )
        if "access_token" not in data:
            raise SpotifyError("Spotify token response without access_token")
        data["expires_at"] = time.time() + float(data.get("expires_in", 3600)) - 30
        return data

    def exchange(self, code: str) -> dict:
        """Trade the authorization code for tokens (and cache them)."""
        data = self._token_request({
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "client_id": self.client_id, "code_verifier": self.verifier,
        })
        self._save(data)
        return data

    def _save(self, data: dict) -> None:
        self.tokens.save(data)

    def token(self, interactive: Callable[[str], None] | None = None) -> str:
        """A valid user access token: cached, refreshed, or (with ``interactive``) a new login.

        ``interactive(url)`` is called with the authorization URL to show/open.
        """
        data = self.tokens.load()
        if data and data.get("access_token") and time.time() < float(data.get("expires_at", 0)):
            return data["access_token"]
        if data and data.get("refresh_token"):
            try:
                new = self._token_request({"grant_type": "refresh_token", "refresh_token": data["refresh_token"],
                                           "client_id": self.client_id})
                new.setdefault("refresh_token", data["refresh_token"])
                self._save(new)
                return new["access_token"]
            except SpotifyError:
                pass
        if interactive is None:
            raise MoodtuneError("no Spotify login yet: run with --save-to-spotify in a terminal to log in")
        interactive(self.authorize_url())
        return self.exchange(self.wait_for_code())["access_token"]
