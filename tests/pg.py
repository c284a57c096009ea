"""A real PostgreSQL server for the tests, started in a temporary folder (initdb + pg_ctl).

``pg_server`` (session): one server on a free loopback port, trust authentication, stopped and
deleted at the end. Binaries come from ``$PATH`` or Debian's ``/usr/lib/postgresql/<v>/bin``;
the tests skip with that reason only when there are none. PostgreSQL refuses to run as root,
so as root it runs as ``nobody`` (``runuser``). ``db_url`` (parametrised ``sqlite``/``postgres``):
a fresh empty database URL per test, so the same store test runs on both backends.

Test modules load the fixtures with ``pytest_plugins = ["pg"]``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


def pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest Debian version first), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return Path(versions[0]).parent if versions else None


@dataclass
class PgServer:
    base: str  #: URL without a database name: postgresql://moodtune@127.0.0.1:PORT
    folder: Path
    bin: Path

    def url(self, database: str = "postgres") -> str:
        return f"{self.base}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_postgres_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


def start_server() -> PgServer:
    """Initialise and start a server in a new temporary folder (``stop_server`` ends it)."""
    binary = pg_bin()
    if binary is None:
        pytest.skip("no PostgreSQL binaries (initdb/pg_ctl) on this machine: `make test` installs Debian's postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'moodtune[postgres]'")
    folder = Path(tempfile.mkdtemp(prefix="moodtune-pg-"))  # in /tmp, so `nobody` can reach it
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"
    run = lambda *cmd: subprocess.run(_as_postgres_user(list(cmd)), check=True, capture_output=True, text=True, timeout=180)  # noqa: E731
    run(str(binary / "initdb"), "-D", str(data), "-U", "moodtune", "--auth=trust", "-E", "UTF8", "--no-sync")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200 -c shared_buffers=32MB"
    run(str(binary / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "server.log"), "-w", "-t", "120", "start")
    return PgServer(f"postgresql://moodtune@127.0.0.1:{port}", folder, binary)


def stop_server(server: PgServer) -> None:
    subprocess.run(_as_postgres_user([str(server.bin / "pg_ctl"), "-D", str(server.folder / "data"), "-m", "fast", "-w", "stop"]),
                   capture_output=True, timeout=120)
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """An empty database on each backend: ``sqlite:///<tmp>/moodtune.sqlite`` or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'moodtune.sqlite'}"
    return request.getfixturevalue("pg_server").new_database()
