"""Per-user feedback events and recommendation history, in SQLite (WAL, synchronous=FULL).

The events (``ACTIONS``): ``like`` and ``skip`` (the listener's buttons), ``played`` (played to
the end), ``closer`` / ``farther`` (implicit, from the camera: while the track played, the
listener's affect moved toward the playlist's target or away from it).

Every ``add`` is its own committed transaction before it returns, so feedback that was
acknowledged survives a killed process. Preferences are learnt from the last
``PREFERENCE_WINDOW`` events: per genre and per artist, ``(likes - skips) / (likes + skips + 1)``
in (-1, 1). A skipped track is not recommended again to that user; tracks recommended in the
user's last ``HISTORY_WINDOW`` recommendations are avoided (both only while the catalogue has
other candidates).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from moodtune.config import user_dir
from moodtune.errors import MoodtuneError
from moodtune.music.ranking import Preferences
from moodtune.music.types import Track, artist_key

PREFERENCE_WINDOW = 500
HISTORY_WINDOW = 30
ACTIONS = ("like", "skip", "played", "closer", "farther")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    track_id TEXT NOT NULL,
    track_key TEXT NOT NULL,
    title TEXT NOT NULL,
    artist TEXT NOT NULL,
    genres TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('like', 'skip', 'played', 'closer', 'farther')),
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user, id);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    track_id TEXT NOT NULL,
    track_key TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_user ON history(user, id);
"""


def default_feedback_path() -> Path:
    """``moodtune.config.user_dir() / "feedback.sqlite"``."""
    return user_dir() / "feedback.sqlite"


@dataclass
class FeedbackEvent:
    """One stored like/skip."""

    id: int
    user: str
    track_id: str
    title: str
    artist: str
    genres: list[str]
    action: str
    ts: float


def _widen_actions(conn: sqlite3.Connection) -> None:
    """The one migration: a feedback table from before ``played``/``closer``/``farther`` is rebuilt
    with the wider CHECK (rows kept, one transaction)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'feedback'").fetchone()
    if not row or "'played'" in row[0]:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE feedback RENAME TO feedback_old")
        conn.execute("DROP INDEX IF EXISTS feedback_user")
        conn.execute(_SCHEMA.split(";")[0])
        conn.execute("INSERT INTO feedback SELECT * FROM feedback_old")
        conn.execute("DROP TABLE feedback_old")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_user(user: str) -> str:
    """``user`` stripped; ``MoodtuneError`` unless it is 1 to 64 printable characters (no NUL, tab, line break)."""
    u = (user or "").strip()
    if not u or len(u) > 64 or not u.isprintable():
        shown = repr(u[:40]) + ("..." if len(u) > 40 else "")
        raise MoodtuneError(f"invalid user name {shown}: 1 to 64 printable characters")
    return u


class FeedbackStore:
    """Feedback and history of all users. ``persistent`` is False for the in-memory fallback."""

    def __init__(self, conn: sqlite3.Connection, path: str, persistent: bool):
        self._conn = conn
        self.path = path
        self.persistent = persistent
        self._lock = threading.RLock()
        with self._lock:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            _widen_actions(conn)
            conn.executescript(_SCHEMA)

    @classmethod
    def open(cls, path: str | Path | None = None, fallback: bool = True) -> "FeedbackStore":
        """Open (create) the feedback database; with ``fallback`` an unwritable location gives an
        in-memory store (``persistent=False``) instead of an error."""
        p = Path(path) if path else default_feedback_path()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(p), timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            return cls(conn, str(p), True)
        except (OSError, sqlite3.OperationalError) as exc:
            if not fallback:
                raise MoodtuneError(f"cannot write feedback to {p}: {exc}") from None
            return cls.memory()
        except sqlite3.DatabaseError as exc:
            raise MoodtuneError(f"{p} is not a moodtune feedback database ({exc})") from None

    @classmethod
    def memory(cls) -> "FeedbackStore":
        return cls(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None), ":memory:", False)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ writing
    def add(self, user: str, track: Track, action: str) -> FeedbackEvent:
        """Store one like/skip; returns after the transaction is committed (durable)."""
        user = check_user(user)
        action = action.strip().lower()
        if action not in ACTIONS:
            raise MoodtuneError(f"unknown feedback {action!r}; expected one of: {', '.join(ACTIONS)}")
        ts = time.time()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO feedback (user, track_id, track_key, title, artist, genres, action, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (user, track.id, track.key, track.title, track.artist, json.dumps(track.genres), action, ts),
            )
            fid = int(cur.lastrowid)
        return FeedbackEvent(fid, user, track.id, track.title, track.artist, list(track.genres), action, ts)

    def record_history(self, user: str, tracks: list[Track]) -> None:
        """Remember that ``tracks`` were recommended to ``user`` (one transaction)."""
        user = check_user(user)
        ts = time.time()
        with self._lock:
            c = self._conn
            # History is a convenience, not acknowledged data: commit it without waiting for
            # fsync (WAL + synchronous=NORMAL still survives a killed process, and can only
            # lose the last playlists on power loss). Feedback keeps synchronous=FULL.
            c.execute("PRAGMA synchronous=NORMAL")
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    c.executemany(
                        "INSERT INTO history (user, track_id, track_key, ts) VALUES (?, ?, ?, ?)",
                        [(user, t.id, t.key, ts) for t in tracks],
                    )
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            finally:
                c.execute("PRAGMA synchronous=FULL")

    def clear(self, user: str) -> int:
        """Forget a user's feedback and history; returns the number of feedback events removed."""
        user = check_user(user)
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            n = c.execute("DELETE FROM feedback WHERE user = ?", (user,)).rowcount
            c.execute("DELETE FROM history WHERE user = ?", (user,))
            c.execute("COMMIT")
        return n

    # ------------------------------------------------------------------ reading
    def events(self, user: str, limit: int = PREFERENCE_WINDOW) -> list[FeedbackEvent]:
        """The user's most recent feedback events, newest first."""
        user = check_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, user, track_id, title, artist, genres, action, ts FROM feedback WHERE user = ? ORDER BY id DESC LIMIT ?",
                (user, int(limit)),
            ).fetchall()
        return [FeedbackEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def recent_keys(self, user: str, window: int = HISTORY_WINDOW) -> set[str]:
        user = check_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT track_key FROM history WHERE user = ? ORDER BY id DESC LIMIT ?", (user, int(window))
            ).fetchall()
        return {r[0] for r in rows}

    def preferences(self, user: str, history_window: int = HISTORY_WINDOW) -> Preferences:
        """The ``Preferences`` the ranking uses for ``user``."""
        user = check_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT track_key, artist, genres, action FROM feedback WHERE user = ? ORDER BY id DESC LIMIT ?",
                (user, PREFERENCE_WINDOW),
            ).fetchall()
        genre_counts: dict[str, list[int]] = {}
        artist_counts: dict[str, list[int]] = {}
        latest: dict[str, str] = {}
        for key, artist, genres, action in rows:
            if action in ("like", "skip"):
                latest.setdefault(key, action)
            if action not in ("like", "skip"):
                continue  # the counts learn from the buttons only (the bandit learns from every event)
            k = 0 if action == "like" else 1
            for g in json.loads(genres):
                genre_counts.setdefault(g, [0, 0])[k] += 1
            artist_counts.setdefault(key.split("|", 1)[-1], [0, 0])[k] += 1  # the key's first artist

        def score(c):
            return (c[0] - c[1]) / (c[0] + c[1] + 1)

        return Preferences(
            genres={g: score(c) for g, c in genre_counts.items() if c[0] != c[1]},
            artists={a: score(c) for a, c in artist_counts.items() if c[0] != c[1]},
            skipped={k for k, a in latest.items() if a == "skip"},
            recent=self.recent_keys(user, history_window) if history_window else set(),
        )

    # ------------------------------------------------------------------ events for the learner
    def actions(self, user: str, limit: int = PREFERENCE_WINDOW) -> list[tuple[str, str]]:
        """(track_key, action) of the user's most recent events, newest first."""
        user = check_user(user)
        with self._lock:
            rows = self._conn.execute(
                "SELECT track_key, action FROM feedback WHERE user = ? ORDER BY id DESC LIMIT ?", (user, int(limit))
            ).fetchall()
        return [(r[0], r[1]) for r in rows]
