"""The stores (catalogue, feedback and history, Spotify tokens) on both backends: SQLite and a real
PostgreSQL server started by ``tests/pg.py``. Also: schema migration of files written by the
code before versioning (``tests/data/*-eb89be6.sqlite``, made by main at eb89be6), the one-line
errors (unreachable server, schema newer than the code), acknowledged feedback surviving a killed
writer on each backend, and two ``moodtune serve`` processes sharing one PostgreSQL listener.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from moodtune.errors import MoodtuneError
from moodtune.music.feedback import MIGRATIONS as FEEDBACK_MIGRATIONS
from moodtune.music.feedback import FeedbackStore
from moodtune.music.spotify import TokenTable
from moodtune.music.store import SCHEMA_VERSION, CatalogStore
from moodtune.music.types import Track, local_id
from moodtune.store import open_database
from moodtune.store.migrations import schema_version

pytest_plugins = ["pg"]  # the fixtures db_url and pg_server (tests/pg.py)

DATA = Path(__file__).parent / "data"
TRACKS = [
    Track(title="Blue Monday", artists=["New Order"], genres=["synthpop"], valence=0.6, energy=0.8, tempo=130.0,
          popularity=70, spotify_id="0000000000000000000001"),
    Track(title="Hurt", artists=["Johnny Cash"], genres=["country"], valence=0.1, energy=0.2, popularity=65),
    Track(title="Clair de lune", artists=["Claude Debussy"], genres=["classical"], popularity=50),
    Track(title="100% Pure Love", artists=["Crystal Waters"], genres=["house"], valence=0.9, energy=0.9),
]


def test_catalogue_on_each_backend(db_url):
    store = CatalogStore.open(db_url)
    res = store.add_tracks(TRACKS)
    assert (res.added, res.merged, res.total) == (4, 0, 4)
    v1 = store.version()
    # a duplicate (same title + first artist, other case) merges: genres united, measured tempo filled
    res = store.add_tracks([Track(title="HURT", artists=["johnny cash"], genres=["folk"], tempo=94.0)])
    assert (res.added, res.merged, res.total) == (0, 1, 4) and store.version() != v1
    hurt = store.find("Hurt - Johnny Cash")[0]
    assert hurt.genres == ["country", "folk"] and hurt.tempo == 94.0 and hurt.valence == pytest.approx(0.1)
    assert [t.title for t in store.find("spotify:track:0000000000000000000001")] == ["Blue Monday"]
    assert [t.title for t in store.find(local_id("Clair de lune", "Claude Debussy"))] == ["Clair de lune"]
    assert [t.title for t in store.find("clair DE LUNE")] == ["Clair de lune"]
    assert [t.title for t in store.search("new order")] == ["Blue Monday"]  # case-insensitive, on artists
    assert [t.title for t in store.search("100%")] == ["100% Pure Love"]  # a literal % in a pattern
    assert [t.title for t in store.search("", genre="house")] == ["100% Pure Love"]
    stats = store.stats()
    assert (stats["tracks"], stats["artists"], stats["with_spotify_id"]) == (4, 4, 1)
    idx = store.index()
    assert len(idx) == stats["rankable"] > 0 and set(idx.genres) <= {"synthpop", "country", "classical", "house"}
    assert store.index() is idx  # cached until the catalogue changes
    got = store.get(idx.rowid.tolist())
    assert {t.title for t in got.values()} <= {t.title for t in TRACKS}
    with pytest.raises(AttributeError):  # a failing batch leaves nothing behind
        store.add_tracks([Track(title="New", artists=["B"]), object()])
    assert store.count() == 4
    assert store.clear() == 4 and store.count() == 0 and store.index() is not idx
    store.close()


def test_feedback_and_history_on_each_backend(db_url):
    fb = FeedbackStore.open(db_url)
    assert fb.persistent
    a = fb.add("ana", TRACKS[1], "like")
    b = fb.add("ana", TRACKS[0], "skip")
    fb.add("bo", TRACKS[0], "like")
    assert b.id > a.id
    assert [(e.title, e.action) for e in fb.events("ana")] == [("Blue Monday", "skip"), ("Hurt", "like")]
    fb.record_history("ana", TRACKS[2:])
    assert fb.recent_keys("ana") == {t.key for t in TRACKS[2:]}
    prefs = fb.preferences("ana")
    assert prefs.genres == {"country": 0.5, "synthpop": -0.5} and prefs.skipped == {TRACKS[0].key}
    with pytest.raises(MoodtuneError, match="unknown feedback"):
        fb.add("ana", TRACKS[0], "love")
    assert fb.clear("ana") == 2 and fb.events("ana") == [] and fb.recent_keys("ana") == set()
    assert len(fb.events("bo")) == 1
    fb.close()


def test_one_database_holds_every_store(db_url):
    """Catalogue, feedback and tokens share one database; each component has its schema version."""
    CatalogStore.open(db_url).add_tracks(TRACKS[:2])
    fb = FeedbackStore.open(db_url)
    fb.add("ana", TRACKS[0], "like")
    fb.add("ana", TRACKS[1], "farther")  # an action of schema step 2, on both backends
    assert [e.action for e in fb.events("ana")] == ["farther", "like"]
    tokens = TokenTable(db_url, "client-1", "ana")
    assert tokens.load() is None
    tokens.save({"access_token": "a", "refresh_token": "r"})
    tokens.save({"access_token": "b", "refresh_token": "r"})  # an upsert, not a second row
    assert TokenTable(db_url, "client-1", "ana").load()["access_token"] == "b"
    assert TokenTable(db_url, "client-1", "bo").load() is None
    db = open_database(db_url)
    assert [schema_version(db, c) for c in ("catalog", "feedback", "spotify")] == [SCHEMA_VERSION, len(FEEDBACK_MIGRATIONS), 1]
    assert db.execute("SELECT COUNT(*) FROM spotify_tokens").fetchone()[0] == 1


def test_concurrent_writers_on_each_backend(db_url):
    """Four connections (as four servers would) adding feedback at once: every event stored, ids unique."""
    stores = [FeedbackStore.open(db_url) for _ in range(4)]
    ids: list[int] = []

    def write(fb, k):
        for i in range(25):
            ids.append(fb.add(f"user{k}", TRACKS[i % 4], "like" if i % 3 else "skip").id)

    threads = [threading.Thread(target=write, args=(fb, k)) for k, fb in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(set(ids)) == 100
    assert sum(len(stores[0].events(f"user{k}")) for k in range(4)) == 100


def test_newer_schema_is_refused_in_one_line(db_url):
    CatalogStore.open(db_url).close()
    db = open_database(db_url)
    db.execute("UPDATE schema_version SET version = 99 WHERE component = 'catalog'")
    with pytest.raises(MoodtuneError, match=rf"catalog schema version 99, newer than this moodtune understands \({SCHEMA_VERSION}\)") as exc:
        CatalogStore.open(db_url)
    assert "\n" not in str(exc.value)


def test_unreachable_server_is_one_line_error():
    with socket_closed_port() as port:
        url = f"postgresql://moodtune:secret@127.0.0.1:{port}/moodtune"
        with pytest.raises(MoodtuneError, match=r"cannot reach the database postgresql://moodtune:\*\*\*@127\.0\.0\.1") as exc:
            FeedbackStore.open(url)
    assert "\n" not in str(exc.value) and "secret" not in str(exc.value)
    with pytest.raises(MoodtuneError, match="unknown database URL"):
        open_database("mysql://x")


class socket_closed_port:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc):
        return False


def test_files_of_the_previous_version_migrate_in_place(tmp_path):
    """Files written by main at eb89be6 (no schema_version) open, migrate once, and keep every row."""
    cat, fbp = tmp_path / "catalog.sqlite", tmp_path / "feedback.sqlite"
    shutil.copy(DATA / "catalog-eb89be6.sqlite", cat)
    shutil.copy(DATA / "feedback-eb89be6.sqlite", fbp)
    store = CatalogStore.open(cat, create=False)
    assert store.count() == 3 and not store.readonly
    assert [t.title for t in store.find(local_id("Hurt", "Johnny Cash"))] == ["Hurt"]  # the new lid column, filled
    assert schema_version(store.db, "catalog") == SCHEMA_VERSION
    store.close()
    fb = FeedbackStore.open(fbp, fallback=False)
    assert [e.action for e in fb.events("ana")] == ["skip", "like"] and len(fb.recent_keys("ana")) == 2
    assert fb.add("ana", TRACKS[2], "like").id == 3
    assert fb.add("ana", TRACKS[2], "closer").id == 4  # the widened actions, on the old file's rows
    assert [e.action for e in fb.events("ana")] == ["closer", "like", "skip", "like"]
    fb.close()
    con = sqlite3.connect(cat)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    CatalogStore.open(cat).close()  # a second opening has nothing to do


WRITER = """
import sys
from moodtune.music.feedback import MIGRATIONS as FEEDBACK_MIGRATIONS
from moodtune.music.feedback import FeedbackStore
from moodtune.music.types import Track
fb = FeedbackStore.open(sys.argv[1], fallback=False)
for i in range(100000):
    e = fb.add("ana", Track(title=f"t{i}", artists=["a"], genres=["pop"]), "like")
    print(e.id, flush=True)  # acknowledged only after the commit returned
"""


@pytest.mark.slow
def test_killed_writer_loses_no_acknowledged_feedback(db_url):
    FeedbackStore.open(db_url).close()  # schema in place before the first kill
    rng = random.Random(14)
    acked: list[int] = []
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, db_url], stdout=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(1.0, 2.5))
        proc.kill()
        out, _ = proc.communicate()
        acked += [int(x) for x in out.split("\n")[:-1]]  # the last piece may be cut by the kill
    assert len(acked) > 10
    stored = {e.id for e in FeedbackStore.open(db_url).events("ana", limit=10**6)}
    assert set(acked) <= stored


@pytest.mark.slow
def test_two_servers_share_one_listener(pg_server):
    """Two ``moodtune serve`` processes on one PostgreSQL: what a listener does on one, the other knows."""
    import httpx
    from helpers import serve

    env = {"MOODTUNE_DATABASE_URL": pg_server.new_database()}
    with serve("--log-level", "warning", env=env) as a, serve("--log-level", "warning", env=env) as b:
        assert a.url != b.url and a.home != b.home  # nothing shared but the database
        first = httpx.post(a.url + "/api/recommend", json={"emotion": "sad", "n": 5, "user": "ana"}, timeout=60).json()
        skipped = first["tracks"][0]
        r = httpx.post(a.url + "/api/feedback", json={"track": skipped["id"], "action": "skip", "user": "ana"}, timeout=60)
        assert r.status_code == 200, r.text
        seen = httpx.get(b.url + "/api/feedback", params={"user": "ana"}, timeout=60).json()
        assert [(e["track"], e["action"]) for e in seen["events"]] == [(skipped["id"], "skip")]
        again = httpx.post(b.url + "/api/recommend", json={"emotion": "sad", "n": 5, "user": "ana"}, timeout=60).json()
        assert skipped["id"] not in {t["id"] for t in again["tracks"]}  # B avoids what ana skipped on A
        assert httpx.get(b.url + "/api/feedback", params={"user": "bo"}, timeout=60).json()["events"] == []


def test_a_dropped_postgres_connection_is_one_error_then_reconnects(pg_server):
    """The server ends our session (a restart, a failover): that request fails in one line, the next one reconnects."""
    url = pg_server.new_database()
    fb = FeedbackStore.open(url)
    fb.add("ana", TRACKS[0], "like")
    pid = fb.db.execute("SELECT pg_backend_pid()").fetchone()[0]
    open_database(url).execute("SELECT pg_terminate_backend(?)", (pid,))
    with pytest.raises(MoodtuneError, match=r"lost the database postgresql://moodtune@127.0.0.1") as exc:
        fb.events("ana")
    assert "\n" not in str(exc.value)
    assert [e.action for e in fb.events("ana")] == ["like"]


def test_writes_inside_one_catalogue_transaction_roll_back_together(db_url):
    """``CatalogStore.transaction``: a clear and an add inside it are one all-or-nothing write (``--replace``)."""
    store = CatalogStore.open(db_url)
    store.add_tracks(TRACKS[:2])
    with pytest.raises(RuntimeError), store.transaction():
        store.clear()
        store.add_tracks(TRACKS[2:3])
        raise RuntimeError("killed mid-replace")
    assert sorted(t.title for t in store.iter_tracks()) == sorted(t.title for t in TRACKS[:2])
    with store.transaction():
        store.clear()
        store.add_tracks(TRACKS[2:3])
    assert [t.title for t in store.iter_tracks()] == [TRACKS[2].title]
