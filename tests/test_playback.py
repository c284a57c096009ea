"""Playback in-process (FastAPI TestClient): a folder of real audio files scanned into a temporary
catalogue is streamed with HTTP Range, only registered files are served, playlists export as
M3U8 and XSPF, and the page's CSP frames Spotify's embed unless offline."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'moodtune[web]'")
pytest.importorskip("mutagen", reason="catalog scan needs mutagen")
from audio import music_folder  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.music.export import Entry, format_for, to_m3u8  # noqa: E402
from moodtune.music.scan import local_file, name_parts, scan_folder  # noqa: E402
from moodtune.music.store import CatalogStore  # noqa: E402
from moodtune.web.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    files = music_folder(root / "music")
    db = root / "catalog.sqlite"
    with CatalogStore.open(db) as s:
        rep = scan_folder(root / "music", s, audio=False)
        assert rep.added == len(files) and not rep.bad
        ids = {t.title: t.id for t in s.iter_tracks()}
    return root, db, files, ids


@pytest.fixture(scope="module")
def client(library):
    root, db, _, _ = library
    app = create_app(catalog=str(db), feedback_db=root / "feedback.sqlite")
    with TestClient(app) as c:
        yield c


def test_scan_names_and_registry(library):
    root, db, _files, ids = library
    assert {"Morning Sine", "Evening Sine", "Slow Hum"} <= set(ids)  # "Artist - Title" file names
    assert name_parts(root / "01 - Band - Song.mp3") == ("Band", "Song")
    assert name_parts(root / "plain.mp3") == (None, "plain")
    with CatalogStore.open(db) as s:
        t = s.find("Evening Sine - Test Band")[0]
        assert local_file(s, t.id) == (root / "music" / "sub" / "Test Band - Evening Sine.wav").resolve()
        assert local_file(s, "mt-000000000000") is None


@pytest.mark.slow
def test_scan_features_with_librosa(tmp_path):
    """With librosa: a sustained chord has no beat and less energy than the same chord over a 120 BPM click."""
    pytest.importorskip("librosa", reason="audio features need librosa (pip install 'moodtune[scan]')")
    import numpy as np
    from audio import RATE, chord, write_wav

    from moodtune.music.scan import analyse_audio

    y = chord(8.0)
    clicks = np.zeros_like(y)
    for i in range(16):
        start = int(i * 0.5 * RATE)
        clicks[start:start + 300] += np.random.default_rng(i).normal(0, 0.5, 300).astype(np.float32)
    still = analyse_audio(write_wav(tmp_path / "still.wav", y))
    beat = analyse_audio(write_wav(tmp_path / "beat.wav", np.clip(y + clicks, -1, 1)))
    assert still["tempo"] == 0 and abs(beat["tempo"] - 120) < 8
    assert beat["energy"] > still["energy"] + 0.1 and still["mode"] == 1  # A major


def test_recommend_carries_audio_links(client, library):
    pl = client.post("/api/recommend", json={"emotion": "sad", "n": 10}).json()
    assert len(pl["tracks"]) == len(library[2])
    for t in pl["tracks"]:
        assert t["links"]["audio"] == f"/api/audio/{t['id']}"


def test_audio_streams_with_range(client, library):
    _, _, files, ids = library
    path = next(f for f in files if f.name == "Test Band - Morning Sine.wav")
    data = path.read_bytes()
    url = f"/api/audio/{ids['Morning Sine']}"
    full = client.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert full.content == data and full.headers["accept-ranges"] == "bytes"
    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert client.get(url, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416
    types = {f.suffix: client.get(f"/api/audio/{ids[name_parts(f)[1]]}", headers={"Range": "bytes=0-3"}) for f in files}
    want = {".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac", ".mp3": "audio/mpeg"}
    for suffix, r in types.items():
        assert r.status_code == 206 and r.headers["content-type"] == want[suffix]


def test_only_registered_files_are_served(client, library, tmp_path):
    _, _, _, ids = library
    for bad in ("mt-000000000000", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "a" * 65, "x y"):
        r = client.get(f"/api/audio/{bad}")
        assert 400 <= r.status_code < 500 and "root:" not in r.text, bad
    assert client.get("/api/audio/../../etc/passwd").status_code == 404
    assert client.get("/api/audio/").status_code == 404
    # a starter-style track without a file, found by the catalogue but not registered
    with CatalogStore.open(tmp_path / "other.sqlite") as s:
        assert local_file(s, ids["Slow Hum"]) is None  # registries are per catalogue


def test_a_deleted_file_is_404(library, tmp_path):
    (tmp_path / "m").mkdir()
    f = music_folder(tmp_path / "m")[0]
    db = tmp_path / "c.sqlite"
    with CatalogStore.open(db) as s:
        scan_folder(tmp_path / "m", s, audio=False)
        tid = s.find(f"{name_parts(f)[1]} - {name_parts(f)[0]}")[0].id
    f.unlink()
    with TestClient(create_app(catalog=str(db), feedback_db=tmp_path / "fb.sqlite")) as c:
        r = c.get(f"/api/audio/{tid}")
        assert r.status_code == 404 and "scan the folder again" in r.json()["error"]


def test_export_m3u8_and_xspf(client, library):
    _, _, files, ids = library
    order = [ids["Slow Hum"], ids["Morning Sine"]]
    m3u = client.get("/api/playlist.m3u8", params={"track": order, "name": "calm down", "paths": "local"})
    assert m3u.status_code == 200 and m3u.headers["content-type"].startswith("audio/x-mpegurl")
    assert 'filename="calm down.m3u8"' in m3u.headers["content-disposition"]
    lines = m3u.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[2] == "#EXTINF:3,Quiet Trio - Slow Hum"
    assert lines[3] == str(next(f for f in files if "Slow Hum" in f.name).resolve())
    links = client.get("/api/playlist.m3u8", params={"track": order}).text.splitlines()
    assert links[3] == f"http://testserver/api/audio/{ids['Slow Hum']}"
    xspf = client.get("/api/playlist.xspf", params={"track": order, "paths": "local"})
    assert xspf.status_code == 200 and xspf.headers["content-type"].startswith("application/xspf+xml")
    ns = {"x": "http://xspf.org/ns/0/"}
    tracks = ET.fromstring(xspf.content).findall("x:trackList/x:track", ns)
    assert [t.find("x:title", ns).text for t in tracks] == ["Slow Hum", "Morning Sine"]
    assert tracks[0].find("x:location", ns).text.startswith("file:///") and tracks[0].find("x:duration", ns).text == "3000"
    assert client.get("/api/playlist.m3u8", params={"track": ["nope-not-a-track"]}).status_code == 404
    assert client.get("/api/playlist.pls", params={"track": order}).status_code in (404, 422)
    assert client.get("/api/playlist.m3u8").status_code == 422


def test_save_playlist_for_the_cli(library, tmp_path):
    """What `moodtune recommend ... --m3u FILE` writes: scanned tracks by path, others by link."""
    import moodtune
    from moodtune.music.export import save_playlist

    _root, db, files, _ = library
    with CatalogStore.open(db) as s:
        pl = moodtune.recommend("happy", n=3, catalog=s)
        out = save_playlist(pl, tmp_path / "happy.m3u8", s)
        lines = out.read_text(encoding="utf-8").splitlines()
        assert lines[:2] == ["#EXTM3U", "#PLAYLIST:moodtune: happy"] and len(lines) == 2 + 2 * 3
        assert all(Path(p).is_file() and Path(p).resolve() in {f.resolve() for f in files} for p in lines[3::2])
        assert lines[2].startswith("#EXTINF:3,")
        x = save_playlist(pl, tmp_path / "happy.xspf", s).read_text(encoding="utf-8")
        assert x.count("<track>") == 3 and "file:///" in x
    starter = moodtune.recommend("sad", n=2)
    lines = save_playlist(starter, tmp_path / "sad.m3u").read_text().splitlines()
    assert lines[3].startswith("https://open.spotify.com/")  # no local file: the Spotify link


def test_export_writer_helpers(tmp_path):
    text = to_m3u8([Entry("https://open.spotify.com/track/abc", "A\nB", "C")])
    assert text.splitlines()[2] == "#EXTINF:-1,C - A B"  # one line per entry, whatever the title holds
    assert format_for("x.M3U") == "m3u8" and format_for("y.xspf") == "xspf"
    with pytest.raises(MoodtuneError, match="m3u8"):
        format_for(tmp_path / "list.txt")


def test_csp_frames_spotify_unless_offline(client, library):
    root, db, _, _ = library
    csp = client.get("/").headers["content-security-policy"]
    assert "frame-src https://open.spotify.com;" in csp and "default-src 'self'" in csp
    assert client.get("/api/playback").json() == {"offline": False, "spotify_embed": True}
    with TestClient(create_app(catalog=str(db), feedback_db=root / "fb2.sqlite", offline=True)) as c:
        csp = c.get("/").headers["content-security-policy"]
        assert "frame-src 'none'" in csp and "spotify" not in csp
        assert c.get("/api/playback").json()["offline"] is True
