"""The Spotify client against a local HTTP server on 127.0.0.1 answering with the shapes of
Spotify's documented responses: token, search (tracks/playlists), 401, 429 + Retry-After, 5xx,
the PKCE code exchange and playlist creation. Waits and retries are real (and short)."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import moodtune
from moodtune import MoodtuneError
from moodtune.music.recommend import recommend_from_spotify
from moodtune.music.spotify import SpotifyAuth, SpotifyClient, SpotifyError, spotify_candidates
from moodtune.music.store import CatalogStore
from moodtune.music.types import Track


def track_obj(i, name=None, artist="Artist", genre_hint=""):
    tid = f"{'T' * (20 - len(str(i)))}{i}zz"
    return {
        "album": {"album_type": "album", "name": f"Album {i}", "release_date": "2011-05-02", "release_date_precision": "day",
                  "id": f"alb{i}", "images": [], "external_urls": {"spotify": f"https://open.spotify.com/album/alb{i}"}},
        "artists": [{"id": f"art{i}", "name": artist, "type": "artist", "uri": f"spotify:artist:art{i}"}],
        "duration_ms": 200000 + i, "explicit": False, "external_urls": {"spotify": f"https://open.spotify.com/track/{tid}"},
        "href": f"https://api.spotify.com/v1/tracks/{tid}", "id": tid, "is_local": False,
        "name": name or f"Song {i}{genre_hint}", "popularity": 50 + i % 50, "type": "track", "uri": f"spotify:track:{tid}",
    }


class FakeSpotify:
    """Scripted responses per path; unscripted search requests get a 200 page of tracks."""

    def __init__(self):
        self.script: dict[str, list[tuple[int, dict, object]]] = {}
        self.requests: list[dict] = []
        self.token_count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlparse(self.path)
                outer.requests.append({"method": method, "path": parsed.path, "query": urllib.parse.parse_qs(parsed.query),
                                       "headers": dict(self.headers), "body": body, "t": time.monotonic()})
                status, headers, payload = outer.respond(method, parsed.path, urllib.parse.parse_qs(parsed.query), body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, method, path, query, body):
        queue = self.script.get(path)
        if queue:
            return queue.pop(0)
        if path == "/api/token":
            self.token_count += 1
            return 200, {}, {"access_token": f"tok{self.token_count}", "token_type": "Bearer", "expires_in": 3600}
        if path == "/v1/search":
            q = query.get("q", [""])[0]
            limit = int(query.get("limit", ["20"])[0])
            if query.get("type") == ["playlist"]:
                items = [None, {"id": "pl1", "name": f"{q} mix", "owner": {"display_name": "someone"},
                                "external_urls": {"spotify": "https://open.spotify.com/playlist/pl1"}, "tracks": {"total": 30}}]
                return 200, {}, {"playlists": {"items": items, "total": 2, "limit": limit, "offset": 0}}
            items = [track_obj(i, genre_hint=f" ({q})") for i in range(min(limit, 3))]
            return 200, {}, {"tracks": {"href": "x", "items": items, "limit": limit, "next": None, "offset": 0,
                                        "previous": None, "total": len(items)}}
        if path == "/v1/me":
            return 200, {}, {"id": "listener", "display_name": "Listener"}
        if path == "/v1/users/listener/playlists":
            return 201, {}, {"id": "newpl", "name": json.loads(body)["name"],
                             "external_urls": {"spotify": "https://open.spotify.com/playlist/newpl"}}
        if path.startswith("/v1/playlists/") and path.endswith("/tracks"):
            return 201, {}, {"snapshot_id": "snap"}
        return 404, {}, {"error": {"status": 404, "message": "Not found."}}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake():
    with FakeSpotify() as f:
        yield f


def client(fake, **kw):
    kw.setdefault("backoff", 0.02)
    return SpotifyClient("cid", "secret", api_base=fake.base + "/v1", accounts_base=fake.base, **kw)


def test_missing_credentials_are_a_clear_error(monkeypatch):
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    with pytest.raises(MoodtuneError, match="SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"):
        SpotifyClient.from_env()
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "x")
    with pytest.raises(MoodtuneError, match="set SPOTIFY_CLIENT_SECRET in"):
        SpotifyClient.from_env()


def test_search_uses_client_credentials(fake):
    c = client(fake)
    tracks = c.search_tracks('genre:"jazz"', limit=3, genre="jazz")
    assert [t.title for t in tracks] == ['Song 0 (genre:"jazz")', 'Song 1 (genre:"jazz")', 'Song 2 (genre:"jazz")']
    assert tracks[0].year == 2011 and tracks[0].genres == ["jazz"] and tracks[0].spotify_id.endswith("0zz")
    tok = fake.requests[0]
    assert tok["path"] == "/api/token" and tok["body"] == b"grant_type=client_credentials"
    assert tok["headers"]["Authorization"] == "Basic " + base64.b64encode(b"cid:secret").decode()
    assert fake.requests[1]["headers"]["Authorization"] == "Bearer tok1"
    c.search_tracks("x")
    assert fake.token_count == 1  # token cached
    pls = c.search_playlists("calm")
    assert [p.name for p in pls] == ["calm mix"]  # the null item is dropped


def test_401_renews_the_token_once_then_fails_clearly(fake):
    c = client(fake)
    fake.script["/v1/search"] = [(401, {}, {"error": {"status": 401, "message": "The access token expired"}})]
    assert len(c.search_tracks("a")) == 3
    assert fake.token_count == 2
    fake.script["/v1/search"] = [(401, {}, {"error": {"status": 401, "message": "Invalid access token"}})] * 2
    with pytest.raises(SpotifyError, match="401") as e:
        c.search_tracks("a")
    assert e.value.status == 401
    fake.script["/api/token"] = [(400, {}, {"error": "invalid_client", "error_description": "Invalid client"})]
    c2 = client(fake)
    with pytest.raises(SpotifyError, match="invalid_client"):
        c2.search_tracks("a")


def test_429_waits_retry_after_for_real(fake):
    c = client(fake)
    c.app_token()
    fake.script["/v1/search"] = [(429, {"Retry-After": "1"}, {"error": {"status": 429, "message": "API rate limit exceeded"}})]
    t0 = time.monotonic()
    assert len(c.search_tracks("a")) == 3
    searches = [r for r in fake.requests if r["path"] == "/v1/search"]
    assert len(searches) == 2 and searches[1]["t"] - searches[0]["t"] >= 0.95
    assert time.monotonic() - t0 >= 0.95
    fake.script["/v1/search"] = [(429, {"Retry-After": "120"}, None)]
    t0 = time.monotonic()
    with pytest.raises(SpotifyError, match="wait 120 s"):
        c.search_tracks("a")
    assert time.monotonic() - t0 < 1.0  # refuses to sleep beyond max_wait


def test_5xx_retries_with_backoff_then_gives_up(fake):
    c = client(fake, max_retries=3, backoff=0.05)
    c.app_token()
    fake.script["/v1/search"] = [(502, {}, {"error": {"status": 502, "message": "Bad gateway."}}),
                                 (503, {}, {"error": {"status": 503, "message": "Service unavailable"}})]
    assert len(c.search_tracks("a")) == 3
    s = [r["t"] for r in fake.requests if r["path"] == "/v1/search"]
    assert len(s) == 3 and s[1] - s[0] >= 0.045 and s[2] - s[1] >= 0.095  # 0.05, then 0.1
    fake.script["/v1/search"] = [(500, {}, {"error": {"status": 500, "message": "Server error"}})] * 4
    with pytest.raises(SpotifyError, match="after 4 attempts") as e:
        c.search_tracks("a")
    assert e.value.status == 500


def test_unreachable_server_is_a_clear_error():
    c = SpotifyClient("cid", "secret", api_base="http://127.0.0.1:9/v1", accounts_base="http://127.0.0.1:9",
                      max_retries=1, backoff=0.01, timeout=2)
    with pytest.raises(SpotifyError, match="cannot reach Spotify"):
        c.search_tracks("a")


def test_candidates_take_catalogue_values_when_known_else_genre_estimates(fake):
    c = client(fake)
    cat = CatalogStore.memory()
    known_id = track_obj(0)["id"]
    cat.add_tracks([Track(title="Anything", artists=["Else"], spotify_id=known_id, valence=0.11, energy=0.2,
                          loudness=-20, tempo=80, acousticness=0.9)])
    cands = spotify_candidates(c, [(0.8, 0.7)], catalog=cat, per_genre=3, k=2)
    assert len(cands) == 3  # the same 3 ids come back for each genre: deduplicated
    known = next(t for t in cands if t.spotify_id == known_id)
    assert known.valence == pytest.approx(0.11) and known.estimated == []
    other = next(t for t in cands if t.spotify_id != known_id)
    assert set(other.estimated) == {"valence", "arousal"} and other.valence is not None
    queries = [r["query"]["q"][0] for r in fake.requests if r["path"] == "/v1/search"]
    assert all(q.startswith('genre:"') for q in queries) and len(queries) == 2


def test_recommend_from_spotify(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("MOODTUNE_HOME", str(tmp_path))
    pl = recommend_from_spotify("happy", n=3, client=client(fake), catalog=CatalogStore.memory())
    assert len(pl) == 3 and all(t.links.get("spotify") for t in pl.tracks)
    assert "Spotify search" in pl.catalog


def test_pkce_login_and_save_playlist(fake, tmp_path):
    c = client(fake)
    auth = SpotifyAuth(c, redirect_uri="http://127.0.0.1:0/callback", cache=tmp_path / "tok.json")
    url = urllib.parse.urlparse(auth.authorize_url())
    q = urllib.parse.parse_qs(url.query)
    assert url.path == "/authorize" and q["code_challenge_method"] == ["S256"] and q["response_type"] == ["code"]
    # the browser's redirect, simulated: a real request to the local callback server
    auth.redirect_uri = "http://127.0.0.1:38765/callback"
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("code", auth.wait_for_code(timeout=10)))
    th.start()
    for _ in range(50):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:38765/callback?code=abc&state={auth.state}", timeout=2).read()
            break
        except OSError:
            time.sleep(0.05)
    th.join(10)
    assert result["code"] == "abc"
    fake.script["/api/token"] = [(200, {}, {"access_token": "user-tok", "token_type": "Bearer", "expires_in": 3600,
                                            "refresh_token": "ref", "scope": "playlist-modify-private"})]
    assert auth.exchange("abc")["access_token"] == "user-tok"
    body = urllib.parse.parse_qs(fake.requests[-1]["body"].decode())
    assert body["grant_type"] == ["authorization_code"] and body["code_verifier"] == [auth.verifier]
    assert (tmp_path / "tok.json").stat().st_mode & 0o077 == 0
    assert auth.token() == "user-tok"  # cached
    tracks = [Track(title="Known", artists=["A"], spotify_id=track_obj(7)["id"]), Track(title="Unknown", artists=["B"])]
    ref = c.save_playlist("user-tok", "moodtune calm", tracks)
    assert (ref.id, ref.tracks, ref.url) == ("newpl", 2, "https://open.spotify.com/playlist/newpl")
    add = next(r for r in fake.requests if r["path"] == "/v1/playlists/newpl/tracks")
    assert add["headers"]["Authorization"] == "Bearer user-tok"
    assert json.loads(add["body"])["uris"][0] == f"spotify:track:{track_obj(7)['id']}"


def test_wrong_state_is_rejected(fake, tmp_path):
    auth = SpotifyAuth(client(fake), redirect_uri="http://127.0.0.1:38766/callback", cache=tmp_path / "t.json")
    err = {}

    def wait():
        try:
            auth.wait_for_code(timeout=10)
        except MoodtuneError as exc:
            err["e"] = str(exc)

    th = threading.Thread(target=wait)
    th.start()
    for _ in range(50):
        try:
            urllib.request.urlopen("http://127.0.0.1:38766/callback?code=abc&state=forged", timeout=2).read()
            break
        except OSError:
            time.sleep(0.05)
    th.join(10)
    assert "state" in err["e"]


def test_public_api_exports():
    assert callable(moodtune.recommend) and moodtune.Playlist and moodtune.Affect
