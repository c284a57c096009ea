"""What one server process holds: its settings, the models and catalogue it loads at start-up, and
the limiter that bounds the CPU work it runs at once.

``Settings`` travel to uvicorn's worker processes through environment variables (``to_env`` /
``from_env``), so each worker builds its own ``ServerState`` in its own lifespan; nothing here is
created at import time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from moodtune.errors import MoodtuneError

log = logging.getLogger("moodtune.server")
T = TypeVar("T")

#: Largest accepted upload or live frame, in bytes (``moodtune serve --max-upload-mb``).
DEFAULT_MAX_UPLOAD = 15 * 1024 * 1024
#: Seconds one analysis or recommendation may take before the client gets 504.
DEFAULT_TIMEOUT = 30.0
#: Largest JSON request body, in bytes; only the upload routes take bodies up to ``max_upload_bytes``.
MAX_JSON_BYTES = 64 * 1024
ENV_SETTINGS = "MOODTUNE_SERVE_SETTINGS"


@dataclass
class Settings:
    """How a server is configured (``moodtune serve`` options); see ``create_app``."""

    detector: str | None = None
    model: str | None = None
    catalog: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    timeout: float = DEFAULT_TIMEOUT
    feedback_db: str | None = None
    cpu_slots: int | None = None  #: analyses/recommendations computed at once (default: the cores)
    offline: bool = False  #: the page may not frame Spotify's embed player (``moodtune serve --offline``)

    def to_env(self) -> dict[str, str]:
        return {ENV_SETTINGS: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(ENV_SETTINGS)
        return cls(**json.loads(raw)) if raw else cls()


class Cancelled(Exception):
    """The request's deadline passed: the work stops at its next checkpoint."""


class Work:
    """A cancellation flag the CPU work checks between its stages (``checkpoint``)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def checkpoint(self) -> None:
        if self._cancelled.is_set():
            raise Cancelled


class TimedOut(Exception):
    """The work did not finish within the timeout (it was never started, or stopped at a checkpoint)."""


@dataclass
class ServerState:
    """What one process loads once: analysis settings, the music engine and its catalogue."""

    settings: Settings
    store: Any = None  #: the opened catalogue (CatalogStore)
    analyzer: Any = None  #: the Analyzer (no tracking) for uploads
    ready: bool = False
    started: float = field(default_factory=time.time)
    spotify_logins: dict = field(default_factory=dict)
    limiter: anyio.CapacityLimiter | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: counters for tests and logs: work started, finished, and stopped by its deadline
    started_work: int = 0
    finished_work: int = 0
    cancelled_work: int = 0

    @property
    def max_upload_bytes(self) -> int:
        return self.settings.max_upload_bytes

    @property
    def timeout(self) -> float:
        return self.settings.timeout

    def load(self) -> None:
        """Load the classifier, the detector and the catalogue, and run one frame through them."""
        import numpy as np

        from moodtune.music.recommend import open_catalog
        from moodtune.pipeline import default_analyzer

        with self.lock:
            if self.ready:
                return
            t0 = time.perf_counter()
            s = self.settings
            self.analyzer = default_analyzer(detector=s.detector, model=s.model)
            blank = np.zeros((480, 640, 3), np.uint8)
            self.analyzer.stream(fast=True).process(blank)  # what a live connection runs
            self.analyzer.analyze(blank)
            self.store = open_catalog(s.catalog)
            self.store.index()
            self.ready = True
            log.info("moodtune ready in %.1f s (pid %d): model %s, catalogue %s, %d CPU slots", time.perf_counter() - t0,
                     os.getpid(), s.model or "shipped", self.catalog_description(), self.slots)

    @property
    def slots(self) -> int:
        if self.settings.cpu_slots:
            return self.settings.cpu_slots
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def catalog_description(self) -> str | None:
        return getattr(self.store, "description", None) if self.store is not None else None

    def catalog_size(self) -> int | None:
        try:
            return int(self.store.count()) if self.store is not None else None
        except Exception:  # noqa: BLE001 - the health check must answer
            return None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(work, *args)`` in a worker thread, at most ``slots`` at once, within the timeout.

        A request still waiting for a slot when its time is up never starts; one that is running
        is told to stop (``work.checkpoint()`` raises ``Cancelled`` between its stages) and the
        slot is only given back once its thread has really stopped. Raises ``TimedOut`` either way.
        """
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.slots)
        work = Work()
        deadline = anyio.current_time() + self.timeout
        with anyio.move_on_after(self.timeout) as waiting:
            await self.limiter.acquire()
        if waiting.cancelled_caught:
            raise TimedOut
        result: Any = None
        error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                async def watchdog() -> None:
                    await anyio.sleep_until(deadline)
                    work.cancel()

                tg.start_soon(watchdog)
                self.started_work += 1
                try:
                    # not abandoned on cancellation: the slot stays taken until the thread is done
                    result = await anyio.to_thread.run_sync(_call, fn, work, args)
                except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
                    error = exc
                self.finished_work += 1
                tg.cancel_scope.cancel()
        finally:
            self.limiter.release()
        if isinstance(error, Cancelled):
            self.cancelled_work += 1
            raise TimedOut
        if error is not None:
            raise error
        return result


def _call(fn: Callable[..., T], work: Work, args: tuple) -> T:
    work.checkpoint()
    return fn(work, *args)


def spotify_configured() -> bool:
    """Whether saving to Spotify can work here: credentials are set."""
    return bool(os.environ.get("SPOTIFY_CLIENT_ID", "").strip() and os.environ.get("SPOTIFY_CLIENT_SECRET", "").strip())


def check_startup(settings: Settings) -> None:
    """Raise ``MoodtuneError`` now for a wrong detector, model or catalogue (before a server starts)."""
    from moodtune.emotion.classifier import get_classifier
    from moodtune.music.recommend import open_catalog
    from moodtune.vision.detect import get_detector

    get_detector(settings.detector)
    get_classifier(settings.model)
    if settings.catalog:
        open_catalog(settings.catalog)


__all__ = ["Cancelled", "MoodtuneError", "ServerState", "Settings", "TimedOut", "Work", "check_startup"]
