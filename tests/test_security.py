"""Security basics: loopback by default, upload and request-body limits (413), no path traversal
through any path-like parameter of the HTTP API, Spotify secrets never in logs, error messages or
``repr``, dependencies pinned.

The HTTP checks run against the real server (``moodtune serve``, uvicorn) with raw sockets where
it matters, so nothing normalises a path or a header on the way.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")
httpx = pytest.importorskip("httpx")
psutil = pytest.importorskip("psutil")
from helpers import hopper_jpeg, serve  # noqa: E402
from test_music_spotify import FakeSpotify  # noqa: E402

from moodtune import MoodtuneError  # noqa: E402
from moodtune.music.spotify import SpotifyAuth, SpotifyClient  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LIMIT_MB = 1
SECRET, APP_TOKEN, USER_TOKEN, REFRESH = "cs-7f1d9a3c55e0", "app-tok-51c0e8b2", "user-tok-a93b27d4", "refresh-0d6e44f1"
SECRETS = (SECRET, APP_TOKEN, USER_TOKEN, REFRESH, base64.b64encode(f"cid:{SECRET}".encode()).decode())


class SecretSpotify(FakeSpotify):
    """The fake Spotify of test_music_spotify, handing out our marked app token."""

    def respond(self, method, path, query, body):
        if path == "/api/token" and not self.script.get(path):
            return 200, {}, {"access_token": APP_TOKEN, "token_type": "Bearer", "expires_in": 3600}
        return super().respond(method, path, query, body)


def leaked(*texts: str) -> list[str]:
    joined = "\n".join(texts)
    return [s for s in SECRETS if s in joined]


def spotify_env(fake) -> dict:
    return {"SPOTIFY_CLIENT_ID": "cid", "SPOTIFY_CLIENT_SECRET": SECRET,
            "MOODTUNE_SPOTIFY_API": fake.base + "/v1", "MOODTUNE_SPOTIFY_ACCOUNTS": fake.base}


def cache_user_token(folder: Path) -> None:
    data = {"access_token": USER_TOKEN, "refresh_token": REFRESH, "expires_at": time.time() + 3600}
    (folder / "spotify_token.json").write_text(json.dumps(data))


@pytest.fixture(scope="module")
def spotify():
    with SecretSpotify() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(spotify):
    """The real server with Spotify configured (against the fake) and debug logging."""
    with serve("--max-upload-mb", str(LIMIT_MB), "--log-level", "debug", env=spotify_env(spotify)) as s:
        yield s


def raw(server, head: bytes, body: bytes = b"") -> tuple[int, dict, bytes]:
    """Send bytes as they are; (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=30) as s:
        s.sendall(head + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_head, _, payload = data.partition(b"\r\n\r\n")
    lines = status_head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, payload


# ----------------------------------------------------------------------------- localhost by default


def test_serve_binds_loopback_by_default(server):
    from moodtune.cli.serve import serve as serve_command
    from moodtune.web.app import run

    assert inspect.signature(serve_command).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(run).parameters["host"].default == "127.0.0.1"
    # the real process, started without --host, listens on loopback only
    listening = {c.laddr.ip for c in psutil.Process(server.proc.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}


# ----------------------------------------------------------------------------- body limits


def _chunks(total: int, size: int = 65536):
    for i in range(0, total, size):
        yield b"a" * min(size, total - i)


@pytest.mark.parametrize("path, ctype", [("/api/analyze", "image/jpeg"), ("/api/recommend", "image/png"),
                                         ("/api/recommend", "application/json"), ("/api/feedback", "application/json"),
                                         ("/api/spotify/save", "application/json")])
def test_oversized_bodies_get_a_clear_413(server, path, ctype):
    upload = ctype.startswith("image/")
    limit = LIMIT_MB * 2**20 if upload else 64 * 1024
    what = f"upload is larger than the {LIMIT_MB} MB limit" if upload else "request body is larger than the 64 KB limit"
    # a Content-Length over the limit is refused before the body is read (here: not even sent)
    status, headers, body = raw(server, f"POST {path} HTTP/1.1\r\nContent-Type: {ctype}\r\nContent-Length: {10 * limit}".encode())
    assert (status, json.loads(body)) == (413, {"error": what})
    assert "content-security-policy" in headers  # the early answer carries the security headers too
    # a chunked body (no Content-Length) is cut off once it passes the limit
    r = httpx.post(server.url + path, content=_chunks(limit + 1), headers={"content-type": ctype}, timeout=60)
    assert r.status_code == 413 and what in r.json()["error"]


def test_bodies_within_the_limits_are_served(server):
    ok = httpx.post(server.url + "/api/analyze", files={"image": ("h.jpg", hopper_jpeg(), "image/jpeg")}, timeout=60)
    assert ok.status_code == 200 and len(ok.json()["faces"]) == 1
    big_ok = httpx.post(server.url + "/api/feedback", json={"track": "x" * 400, "action": "like", "note": "n" * 60000})
    assert big_ok.status_code == 404 and "no track" in big_ok.json()["error"]  # 61 KB: parsed, not refused
    almost = b"\xff\xd8\xff" + bytes(LIMIT_MB * 2**20 - 50)  # fits alone, not with the multipart framing
    assert httpx.post(server.url + "/api/analyze", content=almost, headers={"content-type": "image/jpeg"}).status_code == 422
    assert httpx.post(server.url + "/api/analyze", files={"image": ("big.jpg", almost, "image/jpeg")}).status_code == 413
    assert httpx.get(server.url + "/api/health").json()["status"] == "ok"


# ----------------------------------------------------------------------------- path traversal

TRAVERSALS = [
    b"/static/../server.py", b"/static/../../app/server.py", b"/static/%2e%2e/server.py", b"/static/%2e%2e%2fserver.py",
    b"/static/..%2fserver.py", b"/static/..%252fserver.py", b"/static/..\\server.py", b"/static/..%5cserver.py",
    b"/static/....//server.py", b"/static/..;/server.py", b"/static/%c0%ae%c0%ae/server.py", b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd", b"/static/" + b"../" * 12 + b"etc/passwd", b"/static/" + b"%2e%2e/" * 12 + b"etc/passwd",
    b"/static/app.js%00.png", b"/static/%00", b"/static/app.js\x00", b"/../../../../etc/passwd", b"//etc/passwd",
    b"/api/../static/../server.py", b"http://127.0.0.1/static/../server.py", b"/static/%ff%fe",
    b"/static/../app.py", b"/static/%2e%2e/app.py", b"/static/..%2fapp.py", b"/static/../web/app.py",
]


def test_no_path_traversal_through_urls(server):
    status, _, body = raw(server, b"GET /static/app.js HTTP/1.1")
    assert status == 200 and b"moodtune" in body  # the static mount does serve files
    for target in TRAVERSALS:
        status, _, body = raw(server, b"GET " + target + b" HTTP/1.1")
        assert 400 <= status < 500, (target, status, body[:200])
        assert b"def create_app" not in body and b"root:" not in body, target
    assert "Traceback" not in server.log_text()


EVIL_NAMES = ["../../../../../../tmp/{tag}.jpg", "/tmp/{tag}.jpg", "..%2f..%2f{tag}.jpg", "..\\..\\{tag}.jpg",
              "{tag}\x00.jpg", "C:\\{tag}.jpg", "~/{tag}.jpg"]


def test_no_path_traversal_through_request_fields(server):
    tag = f"mt-evil-{os.getpid()}"
    url = server.url
    plain = httpx.post(url + "/api/recommend", json={"emotion": "sad", "n": 3}).json()
    track = plain["tracks"][0]["id"]
    for name in (n.format(tag=tag) for n in EVIL_NAMES):
        # an upload's file name is never used as a path
        r = httpx.post(url + "/api/analyze", files={"image": (name, hopper_jpeg(), "image/jpeg")}, timeout=60)
        assert r.status_code == 200 and len(r.json()["faces"]) == 1, name
        # user names are data in the database, not paths; control characters are refused
        got = httpx.get(url + "/api/feedback", params={"user": name})
        stored = httpx.post(url + "/api/feedback", json={"track": track, "action": "like", "user": name})
        if "\x00" in name:
            assert got.status_code == stored.status_code == 422, name
        else:
            assert got.status_code == 200 and stored.status_code == 200, (name, got.text, stored.text)
            assert httpx.get(url + "/api/feedback", params={"user": name}).json()["events"][0]["track"] == track
        # a track reference is looked up in the catalogue, never opened
        bad = httpx.post(url + "/api/feedback", json={"track": name.replace(tag, "etc/passwd"), "action": "skip"})
        assert bad.status_code == 404 and "no track" in bad.json()["error"], name
    # fields that name files elsewhere (catalogue, feedback database) are not accepted from a request
    evil = {"catalog": "/etc/passwd", "feedback_db": f"/tmp/{tag}.sqlite", "home": f"/tmp/{tag}"}
    r = httpx.post(url + "/api/recommend", json={"emotion": "sad", "n": 3, "user": "ana", **evil})
    assert r.status_code == 200 and r.json()["catalog"] == plain["catalog"]
    r = httpx.post(url + "/api/recommend", files={"image": ("h.jpg", hopper_jpeg(), "image/jpeg")}, data=evil, timeout=60)
    assert r.status_code == 200 and r.json()["catalog"] == plain["catalog"]
    # nothing was written anywhere under those names, and the server's home holds only its databases
    written = [p for p in [*Path("/tmp").iterdir(), *server.home.rglob("*"), *server.home.parent.iterdir()] if tag in p.name]
    assert not written
    assert all(re.fullmatch(r"(feedback\.sqlite(-wal|-shm)?|spotify_token\.json)", p.name) for p in server.home.iterdir())
    assert "Traceback" not in server.log_text()


# ----------------------------------------------------------------------------- secrets


def test_spotify_secrets_not_in_errors_repr_or_logs(caplog, capsys, tmp_path):
    caplog.set_level("DEBUG")
    shown: list[str] = []

    def fails(call, *args):
        with pytest.raises(MoodtuneError) as e:
            call(*args)
        shown.extend([str(e.value), repr(e.value)])

    with SecretSpotify() as fake:
        client = SpotifyClient("cid", SECRET, api_base=fake.base + "/v1", accounts_base=fake.base, backoff=0.01, max_retries=1)
        shown += [repr(client), str(client)]
        assert client.search_tracks("jazz") and client.app_token() == APP_TOKEN  # the secrets are really in use
        fake.script["/v1/search"] = [(401, {}, {"error": {"status": 401, "message": "Invalid access token"}})] * 2
        fails(client.search_tracks, "a")
        fake.script["/v1/search"] = [(500, {}, {"error": {"status": 500, "message": "Server error"}})] * 2
        fails(client.search_tracks, "a")
        fake.script["/v1/search"] = [(429, {"Retry-After": "999"}, None)]
        fails(client.search_tracks, "a")
        fake.script["/v1/search"] = [(200, {}, ["not", "an", "object"])]
        fails(client.search_tracks, "a")
        fake.script["/api/token"] = [(400, {}, {"error": "invalid_client", "error_description": "Invalid client secret"})]
        fails(SpotifyClient("cid", SECRET, api_base=fake.base + "/v1", accounts_base=fake.base).search_tracks, "a")
        fails(SpotifyClient("cid", SECRET, api_base="http://127.0.0.1:9/v1", accounts_base="http://127.0.0.1:9",
                            max_retries=0, timeout=2).search_tracks, "a")
        auth = SpotifyAuth(client, redirect_uri="http://127.0.0.1:9/callback", cache=tmp_path / "tok.json")
        shown += [repr(auth), str(auth), auth.authorize_url()]
        fake.script["/api/token"] = [(200, {}, {"access_token": USER_TOKEN, "refresh_token": REFRESH, "expires_in": 3600})]
        auth.exchange("code")
        assert auth.token() == USER_TOKEN
        fake.script["/v1/me"] = [(500, {}, {"error": {"status": 500, "message": "Server error"}})] * 2
        fails(client.save_playlist, USER_TOKEN, "mine", [client.search_tracks("x")[0]])
        fake.script["/v1/me"] = [(200, {}, {"display_name": "no id"})]  # was a KeyError (an HTTP 500 in the server)
        fails(client.save_playlist, USER_TOKEN, "mine", [client.search_tracks("x")[0]])
        expired = {"access_token": USER_TOKEN, "refresh_token": REFRESH, "expires_at": 0}
        (tmp_path / "tok.json").write_text(json.dumps(expired))
        fake.script["/api/token"] = [(400, {}, {"error": "invalid_grant", "error_description": "Invalid refresh token"})]
        fails(auth.token)
    out = capsys.readouterr()
    assert not leaked(*shown, caplog.text, out.out, out.err)
    assert len(shown) > 20


def test_spotify_secrets_not_in_cli_output(tmp_path):
    with SecretSpotify() as fake:
        cache_user_token(tmp_path)
        fake.script["/v1/me"] = [(403, {}, {"error": {"status": 403, "message": "Forbidden"}})]
        env = {**os.environ, **spotify_env(fake), "MOODTUNE_HOME": str(tmp_path)}
        out = subprocess.run([sys.executable, "-m", "moodtune", "recommend", "--emotion", "happy", "--spotify", "--save-to-spotify", "mine"],
                             capture_output=True, text=True, env=env, timeout=120)
        used = [r["headers"].get("Authorization", "") for r in fake.requests]
    assert out.returncode == 1 and "Spotify request failed (403: Forbidden)" in out.stderr and "Traceback" not in out.stderr
    assert f"Bearer {APP_TOKEN}" in used and f"Bearer {USER_TOKEN}" in used  # both tokens were used...
    assert not leaked(out.stdout, out.stderr)  # ...and never shown


def test_spotify_secrets_not_in_server_logs_or_answers(server, spotify):
    cache_user_token(server.home)
    ids = [t["id"] for t in httpx.post(server.url + "/api/recommend", json={"emotion": "happy", "n": 3}).json()["tracks"]]
    answers = []
    for me, expected in [([(403, {}, {"error": {"status": 403, "message": "Forbidden"}})], 422),
                         ([(200, {}, {"display_name": "no id"})], 422),
                         ([], 200)]:
        spotify.script["/v1/me"] = me
        r = httpx.post(server.url + "/api/spotify/save", json={"tracks": ids, "name": "mine"}, timeout=60)
        assert r.status_code == expected, r.text
        answers.append(r.text)
    assert json.loads(answers[-1])["saved"] is True
    used = [r["headers"].get("Authorization", "") for r in spotify.requests]
    assert f"Bearer {USER_TOKEN}" in used and any(u.startswith("Basic ") for u in used)
    log = server.log_text()
    assert "POST /api/spotify/save" in log  # debug logging was on and captured
    assert not leaked(log, *answers)
    assert "Traceback" not in log


# ----------------------------------------------------------------------------- pinned dependencies


def test_dependencies_are_pinned_to_what_the_tests_run_with():
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.!]*)", line.strip())
            assert m, f"not an exact pin installable from an index: {line!r}"
            assert canonicalize_name(m.group(1)) not in pins, f"pinned twice: {line}"
            pins[canonicalize_name(m.group(1))] = m.group(2)
    assert "moodtune" not in pins
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    makefile = (REPO / "Makefile").read_text()
    installed_extras = set(re.search(r'-e "\.\[([a-z,]+)\]"', makefile).group(1).split(","))
    for spec in project["dependencies"] + [r for e in installed_extras for r in extras[e]]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (pyproject) is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} breaks {spec}"
        assert metadata.version(req.name).split("+")[0] == pins[name], f"the tests run with another {req.name}"
    assert pins["torch"] == re.search(r"TORCH\s*\?=\s*torch==(\S+)", makefile).group(1)
    # every install in the Makefile goes through the constraints
    assert re.search(r"^INSTALL\s*:=.*pip.* install -c constraints\.txt$", makefile, re.M)
    installs = [ln for ln in makefile.splitlines() if ln.startswith("\t") and re.search(r"\$\(INSTALL\)|pip.*\binstall\b", ln)]
    assert len(installs) >= 3 and all(ln.startswith("\t$(INSTALL) ") for ln in installs), installs
