"""Per-user feedback events and recommendation history: an SQLite file (WAL, synchronous=FULL)
by default, or the shared database of ``$MOODTUNE_DATABASE_URL`` (PostgreSQL).

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
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moodtune.config import user_dir
from moodtune.errors import MoodtuneError
from moodtune.music.ranking import Preferences
from moodtune.music.types import Track
from moodtune.store import Database, database_url, is_url, open_database
from moodtune.store.migrations import Step, migrate

PREFERENCE_WINDOW = 500
HISTORY_WINDOW = 30
ACTIONS = ("like", "skip", "played", "closer", "farther")

#: schema steps (see ``moodtune.store.migrations``); ``{id}``/``{real}`` are the dialect's types
_V1 = """
CREATE TABLE IF NOT EXISTS feedback (
    id {id},
    user TEXT NOT NULL,
    track_id TEXT NOT NULL,
    track_key TEXT NOT NULL,
    title TEXT NOT NULL,
    artist TEXT NOT NULL,
    genres TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('like', 'skip')),
    ts {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user, id);
CREATE TABLE IF NOT EXISTS history (
    id {id},
    user TEXT NOT NULL,
    track_id TEXT NOT NULL,
    track_key TEXT NOT NULL,
    ts {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS history_user ON history(user, id);
"""
MIGRATIONS: list[Step] = [_V1, lambda db: _widen_actions(db)]


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


def _widen_actions(db: Database) -> None:
    """Schema step 2: ``feedback.action`` also takes ``played``/``closer``/``farther`` (rows kept)."""
    allowed = f"action IN ({', '.join(repr(a) for a in ACTIONS)})"
    if db.dialect == "postgres":
        db.execute("ALTER TABLE feedback DROP CONSTRAINT IF EXISTS feedback_action_check")
        db.execute(f"ALTER TABLE feedback ADD CONSTRAINT feedback_action_check CHECK ({allowed})")
        return
    db.execute("ALTER TABLE feedback RENAME TO feedback_old")
    db.execute("DROP INDEX IF EXISTS feedback_user")
    db.script(_V1.replace("action IN ('like', 'skip')", allowed))
    db.execute("INSERT INTO feedback SELECT * FROM feedback_old")
    db.execute("DROP TABLE feedback_old")


def check_user(user: str) -> str:
    """``user`` stripped; ``MoodtuneError`` unless it is 1 to 64 printable characters (no NUL, tab, line break)."""
    u = (user or "").strip()
    if not u or len(u) > 64 or not u.isprintable():
        shown = repr(u[:40]) + ("..." if len(u) > 40 else "")
        raise MoodtuneError(f"invalid user name {shown}: 1 to 64 printable characters")
    return u


class FeedbackStore:
    """Feedback and history of all users. ``persistent`` is False for the in-memory fallback."""

    def __init__(self, db: Database, persistent: bool):
        self.db = db
        self.path = db.location
        self.persistent = persistent
        if db.dialect == "sqlite":
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
        migrate(db, "feedback", MIGRATIONS)

    @property
    def _conn(self):
        """The raw DB-API connection (tests inspect the file through it)."""
        return self.db.conn

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, fallback: bool = True) -> FeedbackStore:
        """Open (create) the feedback database: a file path, a database URL, or (default)
        ``$MOODTUNE_DATABASE_URL`` else ``default_feedback_path()``. With ``fallback`` an
        unwritable file location gives an in-memory store (``persistent=False``) instead of an error."""
        url = str(path) if is_url(str(path) if path else None) else (None if path else database_url())
        if url:
            return cls(open_database(url), True)
        p = Path(path) if path else default_feedback_path()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            db = Database.sqlite(p)
            db.execute("PRAGMA journal_mode=WAL")
            return cls(db, True)
        except (OSError, sqlite3.OperationalError) as exc:
            if not fallback:
                raise MoodtuneError(f"cannot write feedback to {p}: {exc}") from None
            return cls.memory()
        except sqlite3.DatabaseError as exc:
            raise MoodtuneError(f"{p} is not a moodtune feedback database ({exc})") from None

    @classmethod
    def memory(cls) -> FeedbackStore:
        return cls(Database.sqlite(":memory:"), False)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ writing
    def add(self, user: str, track: Track, action: str) -> FeedbackEvent:
        """Store one like/skip; returns after the transaction is committed (durable)."""
        user = check_user(user)
        action = action.strip().lower()
        if action not in ACTIONS:
            raise MoodtuneError(f"unknown feedback {action!r}; expected one of: {', '.join(ACTIONS)}")
        ts = time.time()
        fid = int(self.db.execute(
            "INSERT INTO feedback (user, track_id, track_key, title, artist, genres, action, ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (user, track.id, track.key, track.title, track.artist, json.dumps(track.genres), action, ts),
        ).fetchone()[0])
        return FeedbackEvent(fid, user, track.id, track.title, track.artist, list(track.genres), action, ts)

    def record_history(self, user: str, tracks: Sequence[Track]) -> None:
        """Remember that ``tracks`` were recommended to ``user`` (one transaction)."""
        user = check_user(user)
        ts = time.time()
        # History is a convenience, not acknowledged data: its commit does not wait for the disk
        # (still survives a killed process; only the last playlists can be lost on power loss).
        with self.db.transaction(durable=False) as db:
            db.executemany("INSERT INTO history (user, track_id, track_key, ts) VALUES (?, ?, ?, ?)",
                           [(user, t.id, t.key, ts) for t in tracks])

    def clear(self, user: str) -> int:
        """Forget a user's feedback and history; returns the number of feedback events removed."""
        user = check_user(user)
        with self.db.transaction() as db:
            n = db.execute("DELETE FROM feedback WHERE user = ?", (user,)).rowcount
            db.execute("DELETE FROM history WHERE user = ?", (user,))
        return n

    # ------------------------------------------------------------------ reading
    def events(self, user: str, limit: int = PREFERENCE_WINDOW) -> list[FeedbackEvent]:
        """The user's most recent feedback events, newest first."""
        user = check_user(user)
        rows = self.db.execute(
            "SELECT id, user, track_id, title, artist, genres, action, ts FROM feedback WHERE user = ? ORDER BY id DESC LIMIT ?",
            (user, int(limit)),
        ).fetchall()
        return [FeedbackEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def recent_keys(self, user: str, window: int = HISTORY_WINDOW) -> set[str]:
        user = check_user(user)
        rows = self.db.execute(
            "SELECT track_key FROM history WHERE user = ? ORDER BY id DESC LIMIT ?", (user, int(window))
        ).fetchall()
        return {r[0] for r in rows}

    def preferences(self, user: str, history_window: int = HISTORY_WINDOW) -> Preferences:
        """The ``Preferences`` the ranking uses for ``user``."""
        user = check_user(user)
        rows = self.db.execute(
            "SELECT track_key, artist, genres, action FROM feedback WHERE user = ? ORDER BY id DESC LIMIT ?",
            (user, PREFERENCE_WINDOW),
        ).fetchall()
        genre_counts: dict[str, list[int]] = {}
        artist_counts: dict[str, list[int]] = {}
        latest: dict[str, str] = {}
        for key, _artist, genres, action in rows:
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
        rows = self.db.execute(
            "SELECT track_key, action FROM feedback WHERE user = ? ORDER BY id DESC LIMIT ?", (user, int(limit))
        ).fetchall()
        return [(r[0], r[1]) for r in rows]
