"""The moodtune web application: ``create_app`` builds it; ``from_env`` is the factory uvicorn's
worker processes call (``moodtune serve --workers N``); ``run`` serves it.

Endpoints (the OpenAPI schema is at ``/openapi.json``; FastAPI's ``/docs`` page is off because it
loads its scripts from a CDN, and this app works offline): ``GET /api/health``, ``POST /api/analyze``,
``POST /api/recommend``, ``POST|GET /api/feedback``, ``GET /api/catalog``, ``POST /api/spotify/save``,
``WS /api/live`` (its messages are the ``LiveFrame`` schema) and the page at ``/``.

Privacy and limits: uploads and frames are decoded in memory and never written to disk or logs
(the multipart parser keeps files up to the upload limit in memory); bodies over the limits get 413
(``BodyLimit``, also for chunked bodies); a wrong content type 415; an undecodable image 422; every
error is a JSON ``{"error": "..."}``. The models and the catalogue are loaded in each process's
lifespan, once; the CPU work runs in threads, at most one per core at a time (``ServerState.run``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartParser

import moodtune
from moodtune.types import LiveFrame
from moodtune.web import errors
from moodtune.web.deps import FORM_LIMITS
from moodtune.web.middleware import BodyLimit, SecurityHeaders
from moodtune.web.routers import analyze, catalog, feedback, health, live, playback, recommend, spotify
from moodtune.web.schemas import AnalyzeForm, LiveControlOut, RecommendForm, RecommendIn
from moodtune.web.state import MAX_JSON_BYTES, ServerState, Settings, spotify_configured
from moodtune.web.static_files import STATIC

log = logging.getLogger("moodtune.server")
#: Routes taking bodies up to the upload limit (all others: ``MAX_JSON_BYTES``).
UPLOAD_PATHS = ("/api/analyze", "/api/recommend")


def create_app(settings: Settings | None = None, **options: Any) -> FastAPI:
    """The moodtune web application.

    ``settings`` or its fields as keywords: ``detector``/``model`` as for ``moodtune.analyze``;
    ``catalog`` as for ``moodtune.recommend`` (default: the user catalogue, else the starter one);
    ``max_upload_bytes``: the largest upload or live frame; ``timeout``: seconds per request
    before a 504; ``feedback_db``: the feedback database (default: the user's); ``cpu_slots``:
    requests computed at once (default: the cores); ``offline``: the page may not frame Spotify's
    embed player. Models and catalogue load in the lifespan.
    """
    if settings is None:
        options = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in options.items()}
        settings = Settings(**options)
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(state.load)
        yield

    # uploads stay in memory up to the upload limit (Starlette rolls them to a temporary file past this)
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_upload_bytes + 1)
    app = FastAPI(title="moodtune", version=moodtune.__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Recognise facial expressions and recommend music for the mood. WebSocket /api/live: send "
                  "binary JPEG/PNG/WebP frames, receive one LiveFrame JSON text message per frame; a text message "
                  '{"half_life": seconds} or {"reset": true} changes the smoothing (answer: LiveControlOut).',
                  form_limits=FORM_LIMITS)
    app.state.moodtune = state
    app.state.offline = settings.offline
    errors.install(app)
    for r in (health, analyze, recommend, feedback, catalog, live, playback):
        app.include_router(r.router)
    if spotify_configured():  # read once, at start-up: without credentials the route does not exist
        app.include_router(spotify.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    def takes_upload(path: str, ctype: str) -> bool:
        return path in UPLOAD_PATHS and not ctype.startswith("application/json")

    app.add_middleware(BodyLimit, limit_for=lambda p, c: settings.max_upload_bytes if takes_upload(p, c) else MAX_JSON_BYTES,
                       what_for=lambda p, c: "upload" if takes_upload(p, c) else "request body")
    app.add_middleware(SecurityHeaders, offline=settings.offline)  # outermost: its headers go on every response, the 413s included
    _document_extra_models(app)
    return app


def _document_extra_models(app: FastAPI) -> None:
    """Add the models FastAPI cannot see in a signature to ``/openapi.json``: the JSON request body of
    ``/api/recommend`` and the WebSocket's messages."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            requests = (AnalyzeForm, RecommendIn, RecommendForm)
            ref = "#/components/schemas/{model}"
            _, defs = models_json_schema([(m, "validation" if m in requests else "serialization")
                                          for m in (*requests, LiveControlOut)], ref_template=ref)
            live = TypeAdapter(LiveFrame).json_schema(mode="serialization", ref_template=ref)
            extra = {**defs.get("$defs", {}), **live.pop("$defs", {}), "LiveFrame": live}
            schema.setdefault("components", {}).setdefault("schemas", {}).update(extra)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def from_env() -> FastAPI:
    """The app for one uvicorn worker process, configured by ``Settings.to_env()`` (see ``run``)."""
    return create_app(Settings.from_env())


def __getattr__(name: str) -> Any:
    """``moodtune.web.app:app`` for ``uvicorn`` and other ASGI servers: built when first looked up
    (in each worker process, after any fork), configured by ``Settings.to_env()``."""
    if name == "app":
        return from_env()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def websocket_impl() -> str:
    for mod in ("websockets", "wsproto"):
        try:
            __import__(mod)
            return mod
        except ImportError:
            continue
    log.warning("neither 'websockets' nor 'wsproto' is installed: the live webcam will not work (pip install 'moodtune[web]')")
    return "auto"


def run(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", workers: int = 1,
        settings: Settings | None = None) -> None:
    """Serve the app with uvicorn until interrupted; ``workers`` > 1 starts that many processes, each
    building its own models and catalogue in its lifespan (settings reach them through the environment).
    The server's processes use one malloc arena per core (``moodtune.web.malloc``)."""
    import uvicorn

    from moodtune.web.malloc import limit_arenas

    limit_arenas()
    settings = settings or Settings()
    os.environ.update(settings.to_env())
    config: dict[str, Any] = dict(host=host, port=port, log_level=log_level, ws=websocket_impl(),
                                  ws_max_size=int(settings.max_upload_bytes) + 1024, timeout_keep_alive=5,
                                  limit_concurrency=256, server_header=False)
    if workers > 1:
        uvicorn.run("moodtune.web.app:from_env", factory=True, workers=workers, **config)
    else:
        uvicorn.run(create_app(settings), **config)
