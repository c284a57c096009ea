"""Faults: writers killed with SIGKILL at random (seeded) points, many times, over one database.

After every kill the database opens, passes ``PRAGMA integrity_check``, holds every write the
killed process acknowledged (printed after the commit returned), and holds no half-written
transaction: a catalogue import is all of a file's rows or none, a history batch all of its
tracks or none. Each round also resumes the work of the killed one, so a kill can land anywhere:
start-up, schema creation on the first round, mid-transaction, in the commit, between writes.
"""

from __future__ import annotations

import csv
import os
import queue
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from moodtune.music.feedback import FeedbackStore
from moodtune.music.starter import load_starter_tracks
from moodtune.music.store import CatalogStore
from moodtune.music.types import track_key

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")]

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def run_until(args: list[str], kill_when: Callable[[str, str], bool]) -> tuple[list[str], str, bool]:
    """Run ``python *args`` and SIGKILL it as soon as ``kill_when(stream, piece)`` says so, where each
    ``piece`` is a complete stdout line (``stream`` "out") or a stderr segment up to a line break or
    carriage return ("err", e.g. one progress-bar refresh). The kill is driven by the child's own
    progress, never by the clock, so a busy machine only makes it slower.

    Returns (complete stdout lines, stderr, killed); a child that ends by itself must exit 0.
    """
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, bufsize=0)
    events: queue.Queue = queue.Queue()

    def pump(stream, name: str, seps: bytes) -> None:
        buf = b""
        while chunk := stream.read(4096):  # drains the pipe: the writer never blocks on it
            buf += chunk
            *pieces, buf = re.split(b"[" + seps + b"]", buf)
            for piece in pieces:
                events.put((name, piece.decode("utf-8", "replace")))
        events.put((name, None))

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out", b"\n"), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "err", b"\r\n"), daemon=True)]
    for t in threads:
        t.start()
    lines, err, open_streams, killed = [], [], 2, False
    while open_streams:
        name, piece = events.get(timeout=300)
        if piece is None:
            open_streams -= 1
            continue
        (lines if name == "out" else err).append(piece)
        if not killed and kill_when(name, piece):
            proc.send_signal(signal.SIGKILL)
            killed = True
    proc.wait(timeout=60)
    if killed:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 0, "\n".join(err)[-2000:]
    return lines, "\n".join(err), killed


def after(n: int, stream: str, pattern: str) -> Callable[[str, str], bool]:
    """A ``kill_when`` that fires on the ``n``-th piece of ``stream`` matching ``pattern``."""
    seen = 0

    def check(name: str, piece: str) -> bool:
        nonlocal seen
        if name == stream and re.search(pattern, piece):
            seen += 1
        return seen >= n

    return check


def integrity_ok(db: Path) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


# ----------------------------------------------------------------------------- feedback

FEEDBACK_WRITER = r"""
import sys
from moodtune.music.feedback import FeedbackStore
from moodtune.music.types import Track
fb = FeedbackStore.open(sys.argv[1], fallback=False)
i = int(sys.argv[2])
while True:
    if i % 4 == 3:  # a history batch: one transaction of 5 rows
        fb.record_history("ana", [Track(title=f"H{i} T{j}", artists=["Band"]) for j in range(5)])
        print(f"history {i}", flush=True)
    else:
        e = fb.add("ana", Track(title=f"Song {i}", artists=["Band"], genres=["rock"]), "like" if i % 3 else "skip")
        print(f"feedback {i} {e.id}", flush=True)  # acknowledged only after the commit returned
    i += 1
"""


def test_feedback_writer_killed_many_times_keeps_every_acknowledged_write(tmp_path):
    rng = random.Random(6)
    db = tmp_path / "feedback.sqlite"
    acked_fb: dict[int, int] = {}  # event id -> i
    acked_hist: set[int] = set()
    for rnd in range(12):
        # killed after a random number of acknowledged writes, i.e. somewhere in the next one
        lines, err, _ = run_until(["-c", FEEDBACK_WRITER, str(db), str(rnd * 10**5)],
                                  after(rng.randint(5, 60), "out", r"^(feedback|history) "))
        for ln in lines:
            kind, i, *rest = ln.split()
            if kind == "feedback":
                acked_fb[int(rest[0])] = int(i)
            else:
                acked_hist.add(int(i))
        integrity_ok(db)
        fb = FeedbackStore.open(db, fallback=False)
        try:
            stored = {e.id: e.title for e in fb.events("ana", limit=10**9)}
            missing = [fid for fid in acked_fb if stored.get(fid) != f"Song {acked_fb[fid]}"]
            assert not missing, f"round {rnd}: acknowledged feedback lost: {missing[:5]}"
            batches = Counter(_batch(k) for (k,) in fb._conn.execute("SELECT track_key FROM history"))
            assert set(batches.values()) <= {5}, f"round {rnd}: half-written history batch"
            assert acked_hist <= set(batches), f"round {rnd}: acknowledged history lost"
        finally:
            fb.close()
    assert len(acked_fb) > 100 and len(acked_hist) > 20, err[-2000:]
    prefs = FeedbackStore.open(db, fallback=False).preferences("ana")
    assert prefs.genres["rock"] > 0 and prefs.skipped  # the learnt preferences read back fine


def _batch(key: str) -> int:
    """The batch number i of a history row (track "H{i} T{j}" by Band)."""
    i = int(re.match(r"h(\d+) t", key).group(1))
    assert key in {track_key(f"H{i} T{j}", "Band") for j in range(5)}
    return i


# ----------------------------------------------------------------------------- catalogue import

ROWS = 3000


def part_csv(folder: Path, k: int) -> Path:
    """Part k: 2500 tracks of its own and 500 of part k-1's (merged into them when both are imported)."""
    path = folder / f"part{k}.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["title", "artist", "genre", "valence", "energy", "tempo", "loudness"])
        for i in range(ROWS):
            p, n = (k - 1, 2500 + i) if (i < 500 and k > 0) else (k, i)
            w.writerow([f"P{p} Track {n}", f"Artist {n % 211}", "pop", (n % 100) / 100, (n * 7 % 100) / 100, 90 + n % 60, -9])
    return path


def test_catalog_import_killed_many_times_is_all_or_nothing(tmp_path):
    rng = random.Random(66)
    db = tmp_path / "catalog.sqlite"
    parts = [part_csv(tmp_path, k) for k in range(40)]
    acked: set[str] = set()
    mid_import = 0  # kills that landed inside an import (its progress bar had started; it left no row)
    present: dict[str, int] = {}
    with CatalogStore.open(db) as s:  # an import into an empty catalogue seeds the starter tracks first: do it here
        s.add_tracks(load_starter_tracks())
        base_version, base_count = int(s.version()), s.count()
    for rnd in range(14):
        todo = [str(p) for p in parts if p.name not in present]
        # let 0-2 imports finish, then kill at the 1st-3rd progress report of the next one: on its first
        # report (start-up of the import), during its rows, or on its last (the commit just returned)
        lines, err, _ = run_until(["-m", "moodtune", "catalog", "import", *todo, "--catalog", str(db)],
                                  _import_progress(rng.randint(0, 2), rng.randint(1, 3)))
        acked |= {m.group(1) for ln in lines if (m := re.match(r".*/(part\d+\.csv): format generic: 3000 rows", ln))}
        started = re.findall(r"importing (part\d+\.csv):", err)
        integrity_ok(db)
        with CatalogStore.open(db) as s:
            present = _present(s, parts)
            assert acked <= set(present), f"round {rnd}: acknowledged imports lost: {acked - set(present)}"
            # one committed transaction per present file, none half done
            assert int(s.version()) == base_version + len(present)
            assert s.count() == base_count + sum(2500 if f"part{k - 1}.csv" in present else 3000 for k in
                                                 (int(name[4:-4]) for name in present))
        mid_import += bool(started) and started[-1] not in present
    assert mid_import >= 3, "too few kills landed inside an import: the test lost its point"
    assert len(acked) >= 5


def _import_progress(files_done: int, reports: int) -> Callable[[str, str], bool]:
    """Kill after ``files_done`` acknowledged imports, at the ``reports``-th progress report of a later file."""
    acked, seen = 0, 0

    def check(name: str, piece: str) -> bool:
        nonlocal acked, seen
        if name == "out" and re.search(r"format generic: 3000 rows", piece):
            acked += 1
        elif name == "err" and acked >= files_done and re.search(r"importing part\d+\.csv:", piece):
            seen += 1
        return seen >= reports

    return check


def _present(store: CatalogStore, parts: list[Path]) -> dict[str, int]:
    """Parts whose rows are in the catalogue; asserts each is there completely (3000 rows) or not at all."""
    out = {}
    for p in parts:
        n = store._conn.execute("SELECT COUNT(*) FROM tracks WHERE sources LIKE ?", (f'%"generic:{p.name}"%',)).fetchone()[0]
        assert n in (0, ROWS), f"half an import: {n} of {ROWS} rows of {p.name}"
        if n:
            out[p.name] = n
    return out
