"""Persistence: one ``Database`` adapter over SQLite (the embedded default) and PostgreSQL.

``open_database(url)`` opens ``postgresql://...`` or ``sqlite:///path``; with no argument it
reads ``$MOODTUNE_DATABASE_URL``. When that is set, every store (catalogue, feedback and
history, Spotify tokens) lives in that one database, so any number of servers can share it;
unset, each keeps its own SQLite file in ``moodtune.config.user_dir()`` as before.
``migrations.migrate`` keeps each store's schema versioned.
"""

from moodtune.store.db import ENV, Database, database_url, is_url, open_database

__all__ = ["ENV", "Database", "database_url", "is_url", "open_database"]
