"""One database connection that runs the same SQL on SQLite and PostgreSQL.

Queries are written once, in SQLite's dialect with ``?`` placeholders. ``Database.execute``
translates the few differences for PostgreSQL (psycopg 3): ``?`` becomes ``%s`` (a literal
``%`` becomes ``%%``), the column name ``user`` (a reserved word there) is quoted, and the
schema placeholders ``{id}`` (an auto-increment primary key) and ``{real}`` (a double) of
``script`` become the local types. Ids of new rows come from ``INSERT ... RETURNING id``,
which both accept. ``transaction()`` is the one way to group writes.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from moodtune.errors import MoodtuneError

ENV = "MOODTUNE_DATABASE_URL"
_USER = re.compile(r'(?<![\w".])user(?![\w"])')
_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "real": "REAL"},
    "postgres": {"id": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION"},
}


def database_url() -> str | None:
    """``$MOODTUNE_DATABASE_URL`` (``postgresql://...`` or ``sqlite:///path``), or None when unset."""
    return os.environ.get(ENV) or None


def is_url(location: Any) -> bool:
    """Whether ``location`` is a database URL rather than a file path."""
    return isinstance(location, str) and location.split("://", 1)[0] in ("postgresql", "postgres", "sqlite")


def shown(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    return urlunsplit(parts)


class Database:
    """A connection (SQLite file/memory or PostgreSQL), guarded by a lock (thread-safe).

    ``dialect`` is ``"sqlite"`` or ``"postgres"``; ``location`` names it in messages.
    """

    def __init__(self, conn: Any, dialect: str, location: str, readonly: bool = False):
        self.conn = conn
        self.dialect = dialect
        self.location = location
        self.readonly = readonly
        self.lock = threading.RLock()
        self._url = location
        self._depth = 0  #: open transactions (no reconnecting inside one)
        self._errors: tuple[type[BaseException], ...] = ()
        if dialect == "postgres":
            import psycopg

            self._errors = (psycopg.OperationalError, psycopg.InterfaceError)

    # ------------------------------------------------------------------ opening
    @classmethod
    def sqlite(cls, path: str | os.PathLike, readonly: bool = False, immutable: bool = False) -> Database:
        """An SQLite file (``":memory:"`` for a private in-memory one) in autocommit mode."""
        p = str(path)
        if immutable:  # a file in a folder nobody may write: read it without WAL's -shm file
            target, uri = f"{Path(p).resolve().as_uri()}?mode=ro&immutable=1", True
        elif readonly:
            target, uri = f"file:{p}?mode=ro", True
        else:
            target, uri = p, False
        conn = sqlite3.connect(target, uri=uri, timeout=30, check_same_thread=False, isolation_level=None)
        return cls(conn, "sqlite", p, readonly or immutable)

    @classmethod
    def postgres(cls, url: str, connect_timeout: int = 10) -> Database:
        """A PostgreSQL server (psycopg 3, autocommit); ``MoodtuneError`` when it cannot be reached."""
        try:
            import psycopg
        except ImportError:
            raise MoodtuneError("PostgreSQL support is not installed: pip install 'moodtune[postgres]'") from None
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise MoodtuneError(f"cannot reach the database {shown(url)}: {_one_line(exc)}") from None
        db = cls(conn, "postgres", shown(url))
        db._url = url
        return db

    # ------------------------------------------------------------------ running SQL
    def sql(self, text: str) -> str:
        """``text`` (SQLite dialect, ``?`` placeholders) in this database's dialect."""
        if self.dialect == "sqlite":
            return text
        return _USER.sub('"user"', text.replace("%", "%%").replace("?", "%s"))

    def execute(self, text: str, params: Iterable[Any] = ()) -> Result:
        """Run one statement; its rows are read before the lock is released (threads never interleave)."""
        with self.lock:
            if self.dialect == "postgres" and self.conn.closed and not self._depth:
                self.conn = Database.postgres(self._url).conn  # the server restarted: connect again
            try:
                cur = self.conn.execute(self.sql(text), tuple(params))
                return Result(cur.fetchall() if cur.description else [], cur.rowcount)
            except self._errors as exc:
                raise MoodtuneError(f"lost the database {self.location}: {_one_line(exc)}") from None

    def executemany(self, text: str, rows: Iterable[Iterable[Any]]) -> None:
        with self.lock:
            if self.dialect == "sqlite":
                self.conn.executemany(text, rows)
            else:
                with self.conn.cursor() as cur:
                    cur.executemany(self.sql(text), [tuple(r) for r in rows])

    def script(self, text: str) -> None:
        """Run ``;``-separated schema statements (with ``{id}``/``{real}`` types) in the current transaction."""
        for stmt in text.format(**_TYPES[self.dialect]).split(";"):
            if stmt.strip():
                self.execute(stmt)

    @contextlib.contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Database]:
        """One all-or-nothing group of writes, serialised with every other writer of the database.

        ``durable=False``: the commit does not wait for the disk (survives a killed process, may
        lose the last commits on power loss) for data nobody was promised. A transaction opened
        inside another one of this database is part of it: the outer one commits or rolls back.
        """
        with self.lock, self._nested():
            if self._depth > 1:
                yield self
            elif self.dialect == "sqlite":
                if not durable:
                    self.execute("PRAGMA synchronous=NORMAL")
                try:
                    self.execute("BEGIN IMMEDIATE")
                    try:
                        yield self
                        self.execute("COMMIT")
                    except BaseException:
                        if self.conn.in_transaction:
                            self.execute("ROLLBACK")
                        raise
                finally:
                    if not durable:
                        self.execute("PRAGMA synchronous=FULL")
            else:
                self.execute("BEGIN")
                try:
                    # one writer at a time, like SQLite's BEGIN IMMEDIATE (readers never wait)
                    self.execute("SELECT pg_advisory_xact_lock(7365)")
                    if not durable:
                        self.execute("SET LOCAL synchronous_commit = off")
                    yield self
                    self.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):
                        self.execute("ROLLBACK")
                    raise

    @contextlib.contextmanager
    def _nested(self):
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    # ------------------------------------------------------------------ schema facts
    def tables(self) -> set[str]:
        if self.dialect == "sqlite":
            rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {r[0] for r in rows}

    def columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {r[1] for r in self.execute(f"PRAGMA table_info({table})")}
        rows = self.execute("SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = ?", (table,))
        return {r[0] for r in rows}

    def json_first(self, column: str) -> str:
        """SQL for the first element of the JSON array text in ``column``."""
        return f"json_extract({column}, '$[0]')" if self.dialect == "sqlite" else f"({column}::json ->> 0)"

    @property
    def like(self) -> str:
        """The case-insensitive (ASCII) LIKE operator."""
        return "LIKE" if self.dialect == "sqlite" else "ILIKE"

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(x.strip() for x in str(exc).splitlines() if x.strip()) or type(exc).__name__


class Result:
    """The rows of one statement (read in full) and its ``rowcount``."""

    def __init__(self, rows: list, rowcount: int):
        self.rows, self.rowcount = rows, rowcount

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list:
        return self.rows

    def __iter__(self):
        return iter(self.rows)


def open_database(url: str | None = None) -> Database:
    """The database at ``url`` (default ``$MOODTUNE_DATABASE_URL``): ``postgresql://user@host/db``
    or ``sqlite:///path/to/file.sqlite``. ``MoodtuneError`` when neither is given or it cannot be opened."""
    url = url or database_url()
    if not url:
        raise MoodtuneError(f"no database URL: set {ENV} (postgresql://... or sqlite:///path)")
    scheme, _, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return Database.postgres(url)
    if scheme == "sqlite":
        path = Path(rest or ":memory:")  # sqlite:///abs/file.sqlite
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            db = Database.sqlite(path)
            if str(path) != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise MoodtuneError(f"cannot open the database {url}: {exc}") from None
        return db
    raise MoodtuneError(f"unknown database URL {shown(url)!r}: expected postgresql://... or sqlite:///path")
