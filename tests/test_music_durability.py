"""Durability: a writer process killed with SIGKILL loses no acknowledged feedback, and a
killed import leaves the catalogue exactly as it was (one transaction), ready to re-run."""

from __future__ import annotations

import csv
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodtune.music.feedback import FeedbackStore
from moodtune.music.importers import import_file
from moodtune.music.store import CatalogStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

WRITER = r"""
import sys
from moodtune.music.feedback import FeedbackStore
from moodtune.music.types import Track
fb = FeedbackStore.open(sys.argv[1], fallback=False)
i = 0
while True:
    e = fb.add("ana", Track(title=f"Song {i}", artists=["Band"], genres=["rock"]), "like" if i % 3 else "skip")
    print(f"ack {e.id} Song {i}", flush=True)   # acknowledged only after the commit returned
    i += 1
"""


def _env():
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_killed_feedback_writer_loses_no_acknowledged_feedback(tmp_path):
    db = tmp_path / "feedback.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(), text=True, bufsize=1)
    acked = []
    deadline = time.time() + 30
    try:
        while len(acked) < 200 and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(line.split()[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=10)
    acked += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("ack ")]
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 200, err[-2000:]
    fb = FeedbackStore.open(db, fallback=False)
    stored = {str(e.id) for e in fb.events("ana", limit=10**9)}
    assert set(acked) <= stored
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    prefs = fb.preferences("ana")
    assert prefs.genres["rock"] > 0 and prefs.skipped  # the learnt preferences read back fine


def _big_csv(path: Path, n: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["title", "artist", "genre", "valence", "energy", "tempo", "loudness", "acousticness"])
        for i in range(n):
            w.writerow([f"Track {i}", f"Artist {i % 997}", "pop", (i % 100) / 100, ((i * 7) % 100) / 100, 120, -8, 0.2])
    return path


def test_killed_import_is_all_or_nothing_and_can_be_rerun(tmp_path):
    db = tmp_path / "catalog.sqlite"
    small = tmp_path / "small.csv"
    small.write_text("title,artist,valence,energy\nKeep Me,Here,0.5,0.5\nAnd Me,There,0.4,0.6\n", encoding="utf-8")
    with CatalogStore.open(db) as s:
        import_file(small, s)
    big = _big_csv(tmp_path / "big.csv", 25000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodtune", "catalog", "import", str(big), "--catalog", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )
    seen = 0
    buf = b""
    deadline = time.time() + 40
    try:
        while time.time() < deadline and proc.poll() is None:
            r, _, _ = select.select([proc.stderr], [], [], 0.5)
            if r:
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                counts = [int(m) for m in re.findall(rb"\|\s*(\d+)/25000", buf)]
                seen = max(counts, default=0)
                if seen >= 2000:  # the progress bar shows rows already merged in the open transaction
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, buf[-1000:]
    assert 2000 <= seen < 25000, buf[-1000:]
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 2
    con.close()
    with CatalogStore.open(db) as s:
        rep = import_file(big, s)
        assert (rep.added, s.count()) == (25000, 25002)
