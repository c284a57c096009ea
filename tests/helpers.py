"""Helpers shared by tests and benches: the real server (``moodtune serve``) on a free loopback port."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    home: Path  #: the server's MOODTUNE_HOME
    log: Path  #: its stdout + stderr

    def rss_mib(self) -> float:
        """Resident memory of the server and its worker processes, MiB."""
        import psutil

        p = psutil.Process(self.proc.pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(*args: str, env: dict | None = None, start_timeout: float = 120) -> Iterator[Server]:
    """Run ``moodtune serve --port <free> *args`` until the block ends; yields a ``Server``.

    The URL uses 127.0.0.1 (the default bind address). Raises ``RuntimeError`` with the
    server's output if it does not answer ``/api/health`` in ``start_timeout`` seconds.
    """
    import httpx

    with tempfile.TemporaryDirectory(prefix="moodtune-serve-") as tmp:
        port, home, log = free_port(), Path(tmp) / "home", Path(tmp) / "server.log"
        home.mkdir()
        full_env = {**os.environ, "MOODTUNE_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "moodtune", "serve", "--port", str(port), *args],
                                    env=full_env, stdout=out, stderr=subprocess.STDOUT)
        server = Server(proc, f"http://127.0.0.1:{port}", home, log)
        try:
            deadline = time.time() + start_timeout
            while True:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"moodtune serve did not start: {server.log_text()[-3000:]}")
                try:
                    if httpx.get(server.url + "/api/health", timeout=2).json()["status"] == "ok":
                        break
                except (httpx.HTTPError, ValueError):
                    time.sleep(0.3)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def hopper_jpeg() -> bytes:
    """Grace Hopper's portrait (one face, 512x600 JPEG), shipped with matplotlib."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).read_bytes()


def script_module(folder: str, name: str) -> ModuleType:
    """A script of ``bench/`` or ``tools/`` as a module (the tests run bounded forms of the benches
    and the tools' functions)."""
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", REPO / folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
