"""Versioned schema migrations: per component, an ordered list of steps and a ``schema_version`` row.

A step is schema SQL for ``Database.script`` or a callable taking the ``Database``. Step ``i``
(1-based) brings a component to version ``i``; ``migrate`` runs the missing ones in one
transaction (all or nothing; concurrent servers wait for each other). Files written before
versioning (no ``schema_version`` table) are version 0, so their first step must be idempotent
(``CREATE ... IF NOT EXISTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from moodtune.errors import MoodtuneError
from moodtune.store.db import Database

Step = str | Callable[[Database], None]

_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"


def schema_version(db: Database, component: str) -> int:
    """The component's version in ``db`` (0 when never versioned), without writing anything."""
    if "schema_version" not in db.tables():
        return 0
    row = db.execute("SELECT version FROM schema_version WHERE component = ?", (component,)).fetchone()
    return int(row[0]) if row else 0


def check_not_newer(db: Database, component: str, version: int, steps: Sequence[Step]) -> None:
    if version > len(steps):
        raise MoodtuneError(f"the database {db.location} has {component} schema version {version}, newer than this "
                            f"moodtune understands ({len(steps)}); upgrade moodtune")


def migrate(db: Database, component: str, steps: Sequence[Step]) -> int:
    """Bring ``component`` up to ``len(steps)``; returns the version it was at.

    ``MoodtuneError`` when the database is newer than the code. Nothing is written when it
    is up to date (so a read-only database that needs nothing opens fine).
    """
    before = schema_version(db, component)
    check_not_newer(db, component, before, steps)
    if before == len(steps):
        return before
    with db.transaction():
        db.execute(_TABLE)
        current = schema_version(db, component)  # another server may have migrated meanwhile
        check_not_newer(db, component, current, steps)
        for step in steps[current:]:
            step(db) if callable(step) else db.script(step)
        db.execute("INSERT INTO schema_version (component, version) VALUES (?, ?) "
                   "ON CONFLICT (component) DO UPDATE SET version = excluded.version", (component, len(steps)))
    return before
