"""The web app: a FastAPI application serving the page and a JSON API over ``moodtune``.

``create_app()`` builds the application; ``run()`` serves it with uvicorn (``moodtune serve``).

Endpoints (the OpenAPI schema is at ``/openapi.json``; FastAPI's ``/docs`` page is turned off
because it loads its scripts from a CDN, and this app works offline):

* ``GET  /api/health``    readiness, versions, catalogue size, what is available;
* ``POST /api/analyze``   an image (multipart field ``image``, or a raw ``image/*`` body) →
  ``{"faces": [...], "width", "height"}``, each face in the shape of ``moodtune analyze --json``;
* ``POST /api/recommend`` JSON ``{"emotion"}`` or ``{"valence", "arousal"}`` (plus ``strategy``,
  ``n``, ``user``), or a multipart image with the same fields → the playlist JSON of
  ``moodtune recommend --json`` (plus ``faces`` for an image);
* ``POST /api/feedback``  JSON ``{"track", "action": "like"|"skip", "user"}``; ``GET`` lists a user's;
* ``GET  /api/audio/{id}``, ``/api/playlist.{m3u8|xspf}``, ``/api/playback``: local playback and
  playlist export (``moodtune.app.playback``);
* ``WS   /api/live``      binary messages are JPEG/PNG/WebP frames, each answered by one JSON text
  message with tracked, smoothed faces; a text message ``{"half_life": s}`` or ``{"reset": true}``
  changes that connection's smoothing.

Privacy and limits: uploads and frames are decoded in memory and never written to disk or
to logs (the request body is parsed here, not spooled to temporary files); uploads over
``max_upload_bytes`` and other request bodies over ``MAX_JSON_BYTES`` get 413 (``BodyLimit``,
also for chunked bodies); a wrong content type 415; an image that cannot be decoded 422;
every error is a JSON ``{"error": "..."}`` without a stack trace. The models and the
catalogue are loaded once, at start-up.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import moodtune
from moodtune.app import playback
from moodtune.emotion.labels import CLASS_VA, CLASSES
from moodtune.errors import MoodtuneError

log = logging.getLogger("moodtune.server")

STATIC = Path(__file__).resolve().parent / "static"
#: Largest accepted upload or live frame, in bytes (``moodtune serve --max-upload-mb``).
DEFAULT_MAX_UPLOAD = 15 * 1024 * 1024
#: Seconds one analysis or recommendation may take before the client gets 504.
DEFAULT_TIMEOUT = 30.0
STRATEGIES = ("auto", "match", "calm", "energize", "lift")
#: Content types accepted for an image (a browser sends octet-stream for unknown suffixes).
ACCEPTED_PREFIXES = ("image/",)
ACCEPTED_TYPES = {"application/octet-stream"}
#: Largest JSON request body, in bytes; only ``UPLOAD_PATHS`` take bodies up to ``max_upload_bytes``.
MAX_JSON_BYTES = 64 * 1024
UPLOAD_PATHS = ("/api/analyze", "/api/recommend")


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


# ----------------------------------------------------------------------------- schemas


class FaceOut(BaseModel):
    box: list[int] = Field(description="x, y, width, height in pixels of the (EXIF-rotated) image")
    emotion: Literal[CLASSES]  # type: ignore[valid-type]
    confidence: float
    probabilities: dict[str, float] = Field(description="all 7 classes, summing to 1")
    valence: float = Field(ge=-1, le=1)
    arousal: float = Field(ge=-1, le=1)


class AnalyzeOut(BaseModel):
    faces: list[FaceOut]
    width: int
    height: int


class TrackedFaceOut(FaceOut):
    track: int = Field(description="stable id of this face across the connection's frames")
    raw_emotion: str = Field(description="this frame's top class before smoothing")


class LiveFrameOut(BaseModel):
    frame: int
    width: int
    height: int
    faces: list[TrackedFaceOut]
    group: FaceOut | None = Field(None, description="mean smoothed affect of all faces (group mode)")
    ms: float = Field(description="server processing time of this frame")


class RecommendIn(BaseModel):
    """Give ``emotion``, or ``valence`` and ``arousal`` (both in [-1, 1]); ``probabilities`` optionally."""

    emotion: str | None = Field(None, description=f"one of {', '.join(CLASSES)}")
    valence: float | None = Field(None, ge=-1, le=1)
    arousal: float | None = Field(None, ge=-1, le=1)
    probabilities: dict[str, float] | None = Field(None, description="the face's class probabilities, if known")
    source: Literal["face", "group", "manual"] | None = Field(None, description="where the point came from")
    strategy: Literal[STRATEGIES] = "auto"  # type: ignore[valid-type]
    n: int = Field(10, ge=1, le=50)
    user: str | None = Field(None, max_length=64, description="listener name for feedback and history")


class FeedbackIn(BaseModel):
    track: str = Field(min_length=1, max_length=500, description="track id (from a playlist) or 'Title - Artist'")
    action: Literal["like", "skip"]
    user: str = Field("default", min_length=1, max_length=64)


class SpotifySaveIn(BaseModel):
    tracks: list[str] = Field(min_length=1, max_length=100, description="track ids from a playlist")
    name: str = Field("moodtune", min_length=1, max_length=100)


class ErrorOut(BaseModel):
    error: str


ERRORS = {
    413: {"model": ErrorOut, "description": "upload over the size limit"},
    415: {"model": ErrorOut, "description": "not an image content type"},
    422: {"model": ErrorOut, "description": "undecodable image or invalid request"},
    504: {"model": ErrorOut, "description": "took longer than the request timeout"},
}

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["image"],
                           "properties": {"image": {"type": "string", "format": "binary"}}}
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _recommend_body() -> dict:
    props = {k: v for k, v in RecommendIn.model_json_schema()["properties"].items()}
    form = {"type": "object", "properties": {"image": {"type": "string", "format": "binary"}, **props}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": RecommendIn.model_json_schema()},
                "multipart/form-data": {"schema": form},
            },
        }
    }


# ----------------------------------------------------------------------------- state


@dataclass
class ServerState:
    """What the app loads once: analysis settings, the music engine and its catalogue."""

    detector: str | None = None
    model: str | None = None
    catalog: Any = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    timeout: float = DEFAULT_TIMEOUT
    feedback_db: str | None = None
    store: Any = None  # the opened catalogue (CatalogStore) once loaded
    analyzer: Any = None  # a FrameAnalyzer used without tracking for uploads
    ready: bool = False
    started: float = field(default_factory=time.time)
    spotify_logins: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the music engine, found at run time (it is optional for the analysis side)
    @staticmethod
    def music() -> Any:
        """The module exposing ``recommend``/``feedback``: ``moodtune`` itself, else ``moodtune.music.recommend``."""
        if callable(getattr(moodtune, "recommend", None)):
            return moodtune
        try:
            from moodtune.music import recommend as mod
        except ImportError:
            return None
        return mod if callable(getattr(mod, "recommend", None)) else None

    def load(self) -> None:
        """Load the classifier, the detector and the catalogue, and run one frame through them."""
        import numpy as np

        from moodtune.pipeline import FrameAnalyzer

        with self.lock:
            if self.ready:
                return
            t0 = time.perf_counter()
            warm = FrameAnalyzer(self.detector, self.model, fast=True)
            blank = np.zeros((480, 640, 3), np.uint8)
            warm.process(blank)
            self.analyzer = FrameAnalyzer(self.detector, self.model)  # stateless use: .analyze(bgr)
            self.analyzer.analyze(blank)
            music = self.music()
            if music is not None:
                try:
                    from moodtune.music.recommend import open_catalog

                    self.store = open_catalog(self.catalog)
                    self.store.index()
                except ImportError:
                    self.store = self.catalog
            self.ready = True
            log.info("moodtune ready in %.1f s: model %s, catalogue %s", time.perf_counter() - t0,
                     self.model or "shipped", self.catalog_description())

    def catalog_description(self) -> str | None:
        s = self.store
        return getattr(s, "description", None) if s is not None else None

    def catalog_size(self) -> int | None:
        try:
            return int(self.store.count()) if self.store is not None else None
        except Exception:  # noqa: BLE001 - the health check must answer
            return None


def spotify_configured() -> bool:
    """Whether saving to Spotify can work here: the client module exists and credentials are set."""
    try:
        from moodtune.music import spotify  # noqa: F401
    except ImportError:
        return False
    return bool(os.environ.get("SPOTIFY_CLIENT_ID", "").strip() and os.environ.get("SPOTIFY_CLIENT_SECRET", "").strip())


# ----------------------------------------------------------------------------- request bodies


async def read_body(request: Request, limit: int, what: str = "upload") -> bytes:
    """The whole request body, refusing (413) as soon as it is over ``limit`` bytes (``what``: its name in the error)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, _too_large(limit, what))
        except ValueError:
            raise ApiError(400, "invalid Content-Length header") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, _too_large(limit, what))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, what: str = "upload") -> str:
    size = f"{limit / 2**20:.3g} MB" if limit >= 2**20 else f"{limit / 1024:.3g} KB"
    return f"{what} is larger than the {size} limit"


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def parse_multipart(body: bytes, content_type: str, max_parts: int = 32) -> dict[str, Part]:
    """Parse a multipart/form-data body in memory (no temporary files): field name → first ``Part``."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(422, "multipart body without a boundary")
    parts: list[Part] = []
    cur: dict = {}

    def on_part_begin():
        if len(parts) >= max_parts:
            raise ApiError(422, f"more than {max_parts} parts in the form")
        cur.clear()
        cur.update(headers={}, field=b"", value=b"", data=[])

    def on_header_field(data, start, end):
        cur["field"] += data[start:end]

    def on_header_value(data, start, end):
        cur["value"] += data[start:end]

    def on_header_end():
        cur["headers"][cur["field"].decode("latin-1").lower()] = cur["value"].decode("latin-1")
        cur["field"], cur["value"] = b"", b""

    def on_part_data(data, start, end):
        cur["data"].append(data[start:end])

    def on_part_end():
        disp, opts = parse_options_header(cur["headers"].get("content-disposition", ""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        ctype = cur["headers"].get("content-type", "text/plain" if filename is None else "application/octet-stream")
        parts.append(Part(name, filename.decode("utf-8", "replace") if filename is not None else None,
                          ctype.split(";")[0].strip().lower(), b"".join(cur["data"])))

    callbacks = {"on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
                 "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end}
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except ApiError:
        raise
    except Exception:  # noqa: BLE001 - the parser raises assorted errors on bad input
        raise ApiError(422, "malformed multipart/form-data body") from None
    out: dict[str, Part] = {}
    for p in parts:
        out.setdefault(p.name, p)
    return out


def _is_image_type(ctype: str) -> bool:
    ctype = ctype.split(";")[0].strip().lower()
    return ctype.startswith(ACCEPTED_PREFIXES) or ctype in ACCEPTED_TYPES


async def read_image_upload(request: Request, limit: int) -> tuple[bytes | None, dict[str, str]]:
    """The image bytes of a request (multipart field ``image``, any file part, or a raw image body)
    and the form's other text fields. Raises ``ApiError`` 413/415/422."""
    ctype = request.headers.get("content-type", "")
    base = ctype.split(";")[0].strip().lower()
    if base == "multipart/form-data":
        form = parse_multipart(await read_body(request, limit), ctype)
        part = form.get("image") or next((p for p in form.values() if p.filename is not None), None)
        fields = {k: p.data.decode("utf-8", "replace") for k, p in form.items() if p is not part and p.filename is None}
        if part is None:
            return None, fields
        if not _is_image_type(part.content_type):
            raise ApiError(415, f"the uploaded file is {part.content_type}, not an image (send a JPEG, PNG, WebP, BMP, GIF or TIFF)")
        if not part.data:
            raise ApiError(422, "the uploaded file is empty")
        return part.data, fields
    if _is_image_type(base):
        data = await read_body(request, limit)
        if not data:
            raise ApiError(422, "the request body is empty")
        return data, {}
    raise ApiError(415, f"expected an image: multipart/form-data with a field 'image', or an image/* body; got {base or 'no content type'}")


# ----------------------------------------------------------------------------- the app


def create_app(
    detector: str | None = None,
    model: str | None = None,
    catalog: Any = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    timeout: float = DEFAULT_TIMEOUT,
    feedback_db: str | os.PathLike | None = None,
    offline: bool = False,
) -> FastAPI:
    """The moodtune web application.

    ``detector``/``model``: as for ``moodtune.analyze``; ``catalog``: as for ``moodtune.recommend``
    (default: the user catalogue, else the starter one); ``max_upload_bytes``: the largest
    upload or live frame; ``timeout``: seconds per analysis/recommendation before a 504;
    ``feedback_db``: the feedback database (default: the user's); ``offline``: the page may not
    frame Spotify's embed player (``moodtune serve --offline``). Models and catalogue are
    loaded when the app starts (its lifespan), once.
    """
    state = ServerState(detector, model, catalog, int(max_upload_bytes), float(timeout),
                        str(feedback_db) if feedback_db else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(state.load)
        yield

    app = FastAPI(
        title="moodtune",
        version=moodtune.__version__,
        description="Recognise facial expressions and recommend music for the mood.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.moodtune = state
    app.state.offline = bool(offline)
    app.add_middleware(BodyLimit, limit_for=lambda path: state.max_upload_bytes if path in UPLOAD_PATHS else MAX_JSON_BYTES)
    app.add_middleware(SecurityHeaders, offline=bool(offline))  # outermost: its headers go on every response, the 413s included
    base_openapi = app.openapi

    def openapi() -> dict:
        # WebSockets are not part of OpenAPI: describe /api/live's messages as a schema of their own
        if app.openapi_schema is None:
            schema = base_openapi()
            live = LiveFrameOut.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(live.pop("$defs", {}))
            schemas["LiveFrameOut"] = live
            schema["info"]["description"] += (
                " WebSocket /api/live: send binary JPEG/PNG/WebP frames, receive one LiveFrameOut JSON text "
                'message per frame; a text message {"half_life": seconds} or {"reset": true} changes the smoothing.')
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi

    async def in_thread(fn, *args, **kwargs):
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args, **kwargs), state.timeout)
        except asyncio.TimeoutError:
            raise ApiError(504, f"the request took longer than {state.timeout:g} s") from None

    # ------------------------------------------------------------------ errors
    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return JSONResponse({"error": exc.message, **exc.extra}, status_code=exc.status)

    @app.exception_handler(MoodtuneError)
    async def _moodtune_error(request, exc: MoodtuneError):
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        return JSONResponse({"error": "invalid request: " + _describe(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):
        log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        return JSONResponse({"error": "internal server error"}, status_code=500)

    # ------------------------------------------------------------------ page
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(playback.router)  # /api/audio/{id}, /api/playlist.{m3u8|xspf}, /api/playback

    # ------------------------------------------------------------------ API
    @app.get("/api/health", summary="Readiness and what this server offers")
    async def health():
        music = state.music()
        return {
            "status": "ok" if state.ready else "starting",
            "version": moodtune.__version__,
            "classes": list(CLASSES),
            "class_va": {c: [round(float(v), 4), round(float(a), 4)] for c, (v, a) in zip(CLASSES, CLASS_VA)},
            "strategies": list(STRATEGIES),
            "recommend": music is not None,
            "catalog": state.catalog_description(),
            "catalog_tracks": state.catalog_size(),
            "spotify": spotify_configured(),
            "max_upload_bytes": state.max_upload_bytes,
        }

    @app.post("/api/analyze", summary="Faces and emotions in an image", responses={200: {"model": AnalyzeOut}, **ERRORS},
              openapi_extra=_IMAGE_BODY)
    async def analyze(request: Request):
        data, _ = await read_image_upload(request, state.max_upload_bytes)
        if data is None:
            raise ApiError(422, "no image in the form: send the file in a field named 'image'")
        return JSONResponse(await in_thread(_analyze_bytes, state, data))

    @app.post("/api/recommend", summary="A playlist for an image, an emotion or a valence/arousal point",
              responses={200: {"description": "the playlist JSON of `moodtune recommend --json`"}, 503: {"model": ErrorOut}, **ERRORS},
              openapi_extra=_recommend_body())
    async def recommend(request: Request):
        music = state.music()
        if music is None:
            raise ApiError(503, "recommendations are not available: the music engine is not installed")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        image = None
        if ctype == "application/json":
            raw = await read_body(request, MAX_JSON_BYTES, "request body")
            try:
                req = RecommendIn.model_validate_json(raw or b"{}")
            except ValidationError as exc:
                raise ApiError(422, "invalid request: " + _describe(exc.errors())) from None
        else:
            image, fields = await read_image_upload(request, state.max_upload_bytes)
            try:
                req = RecommendIn.model_validate({k: v for k, v in fields.items() if v != ""})
            except ValidationError as exc:
                raise ApiError(422, "invalid request: " + _describe(exc.errors())) from None
        return JSONResponse(await in_thread(_recommend, state, music, req, image))

    @app.post("/api/feedback", summary="Store a like or skip for a track", responses={422: {"model": ErrorOut}, 503: {"model": ErrorOut}})
    async def feedback(body: FeedbackIn):
        music = state.music()
        if music is None or not callable(getattr(music, "feedback", None)):
            raise ApiError(503, "feedback is not available: the music engine is not installed")
        ev = await in_thread(music.feedback, body.track, body.action, user=body.user, catalog=state.store,
                             **({"feedback_db": state.feedback_db} if state.feedback_db else {}))
        return {"stored": True, "id": ev.id, "user": ev.user, "track": ev.track_id, "title": ev.title,
                "artist": ev.artist, "action": ev.action}

    @app.get("/api/feedback", summary="A listener's most recent likes and skips")
    async def feedback_list(user: str = "default", limit: int = 20):
        try:
            from moodtune.music.recommend import feedback_store
        except ImportError:
            raise ApiError(503, "feedback is not available: the music engine is not installed") from None
        limit = max(1, min(int(limit), 500))
        events = await in_thread(lambda: feedback_store(state.feedback_db).events(user, limit))
        return {"user": user, "events": [{"id": e.id, "track": e.track_id, "title": e.title, "artist": e.artist,
                                          "action": e.action, "ts": e.ts} for e in events]}

    @app.post("/api/spotify/save", summary="Save tracks as a playlist in the listener's Spotify account",
              responses={401: {"description": "log in first: the body has `login_url`"}, 503: {"model": ErrorOut}})
    async def spotify_save(body: SpotifySaveIn):
        if not spotify_configured():
            raise ApiError(503, "Spotify is not configured on this server: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET")
        return await in_thread(_spotify_save, state, body)

    @app.websocket("/api/live")
    async def live(ws: WebSocket):
        await ws.accept()
        from moodtune.pipeline import FrameAnalyzer

        analyzer = FrameAnalyzer(state.detector, state.model, fast=True)
        frames = 0
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                data = msg.get("bytes")
                if data is None:
                    await ws.send_text(json.dumps(_live_control(analyzer, msg.get("text") or "")))
                    continue
                if len(data) > state.max_upload_bytes:
                    await ws.send_text(json.dumps({"error": _too_large(state.max_upload_bytes)}))
                    continue
                try:
                    out = await asyncio.wait_for(run_in_threadpool(_live_frame, analyzer, data, frames), state.timeout)
                    frames += 1
                except asyncio.TimeoutError:
                    out = {"error": f"the frame took longer than {state.timeout:g} s"}
                except MoodtuneError as exc:
                    out = {"error": str(exc)}
                await ws.send_text(json.dumps(out))
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            log.error("live connection failed: %s", type(exc).__name__, exc_info=exc)
            try:
                await ws.close(code=1011)
            except Exception:  # noqa: BLE001
                pass

    return app


# ----------------------------------------------------------------------------- work (in threads)


def _analyze_bytes(state: ServerState, data: bytes) -> dict:
    from moodtune.contract import to_json

    bgr = _decode(data)
    faces = _faces(state, bgr)
    return {"faces": to_json(faces), "width": int(bgr.shape[1]), "height": int(bgr.shape[0])}


def _faces(state: ServerState, bgr):
    """``moodtune.analyze_frame`` with the server's detector and model, loaded once at start-up."""
    if state.analyzer is None:
        state.load()
    return state.analyzer.analyze(bgr)


def _decode(data: bytes):
    from moodtune.vision.decode import load_image

    try:
        return load_image(data, name="upload")
    except MoodtuneError as exc:
        raise ApiError(422, str(exc)) from None


def _live_frame(analyzer, data: bytes, index: int) -> dict:
    from moodtune.contract import to_json

    t0 = time.perf_counter()
    bgr = _decode_live(data)
    frame = analyzer.live_frame(bgr, index)
    frame.ms = round((time.perf_counter() - t0) * 1000, 1)
    return to_json(frame)


def _decode_live(data: bytes):
    """Decode a live frame: OpenCV's JPEG decoder first (fast), the full decoder otherwise."""
    import cv2
    import numpy as np

    from moodtune.vision.decode import load_image

    if data[:3] == b"\xff\xd8\xff":
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if arr is not None and arr.shape[0] * arr.shape[1] <= 4096 * 4096:
            return arr
    return load_image(data, name="frame")


def _live_control(analyzer, text: str) -> dict:
    try:
        msg = json.loads(text)
        if not isinstance(msg, dict):
            raise ValueError
    except ValueError:
        return {"error": 'control messages are JSON objects: {"half_life": seconds} or {"reset": true}'}
    if msg.get("reset"):
        analyzer.reset()
    if "half_life" in msg:
        try:
            hl = float(msg["half_life"])
            if not 0 <= hl <= 60:
                raise ValueError
        except (TypeError, ValueError):
            return {"error": "half_life must be a number of seconds between 0 and 60"}
        analyzer.smoother.half_life = hl
    return {"ok": True, "half_life": analyzer.smoother.half_life}


def _recommend(state: ServerState, music, req: RecommendIn, image: bytes | None) -> dict:
    faces = None
    if image is not None:
        bgr = _decode(image)
        faces = _faces(state, bgr)
        if not faces:
            raise ApiError(422, "no face found in the image: try another photo or pick a mood by hand")
        affect: Any = faces
    elif req.valence is not None or req.arousal is not None:
        if req.valence is None or req.arousal is None:
            raise ApiError(422, "give both valence and arousal")
        affect = _affect_from_point(req)
    elif req.emotion:
        affect = req.emotion
    else:
        raise ApiError(422, "nothing to recommend for: send an image, an emotion, or valence and arousal")
    kwargs = {"strategy": req.strategy, "n": req.n, "catalog": state.store, "user": req.user}
    if state.feedback_db and req.user:
        kwargs["feedback_db"] = state.feedback_db
    playlist = music.recommend(affect, **kwargs)
    out = playlist.to_dict()
    playback.audio_links(out["tracks"], state.store)  # links.audio for tracks with a scanned local file
    if faces is not None:
        from moodtune.contract import to_json

        out["faces"] = to_json(list(faces))
    return out


def _affect_from_point(req: RecommendIn):
    """A valence/arousal point as the engine's ``Affect``, keeping the face's emotion when the page sends it."""
    try:
        from moodtune.music.types import Affect
    except ImportError:
        return (req.valence, req.arousal)
    aff = Affect.from_va(req.valence, req.arousal)
    if req.emotion:
        from moodtune.emotion.labels import class_index

        aff.emotion = CLASSES[class_index(req.emotion)]
    if req.probabilities:
        aff.probabilities = {c: float(req.probabilities.get(c, 0.0)) for c in CLASSES}
    if req.source:
        aff.source = {"face": "face", "group": "group of faces", "manual": "valence/arousal"}[req.source]
    return aff


def _spotify_save(state: ServerState, body: SpotifySaveIn) -> Any:
    from moodtune.music.recommend import resolve_track
    from moodtune.music.spotify import SpotifyAuth, SpotifyClient

    client = SpotifyClient.from_env()
    auth = SpotifyAuth(client)
    try:
        token = auth.token()
    except MoodtuneError:
        # no cached login: start one; the listener logs in on Spotify's page, then saves again
        if not state.spotify_logins:
            state.spotify_logins[auth.state] = auth
            threading.Thread(target=_finish_login, args=(state, auth), daemon=True).start()
        else:
            auth = next(iter(state.spotify_logins.values()))
        return JSONResponse({"error": "log in to Spotify in the page that opens, then press save again",
                             "login_url": auth.authorize_url()}, status_code=401)
    tracks = [resolve_track(t, state.store) for t in body.tracks]
    ref = client.save_playlist(token, body.name, tracks)
    return {"saved": True, "url": ref.url, "name": ref.name, "tracks": ref.tracks}


def _finish_login(state: ServerState, auth) -> None:
    try:
        auth.exchange(auth.wait_for_code(timeout=300))
    except MoodtuneError as exc:
        log.warning("Spotify login did not complete: %s", exc)
    finally:
        state.spotify_logins.pop(auth.state, None)


def _describe(errors) -> str:
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


class BodyLimit:
    """Pure ASGI middleware: a request body over ``limit_for(path)`` bytes gets a JSON 413, whether
    its Content-Length says so up front or a chunked body grows past the limit while it is read."""

    def __init__(self, app, limit_for):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        message = _too_large(limit, "upload" if scope["path"] in UPLOAD_PATHS else "request body")
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await JSONResponse({"error": message}, status_code=413)(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            chunk = await receive()
            received += len(chunk.get("body", b""))
            if received > limit:  # answered by the app's HTTPException handler
                raise StarletteHTTPException(413, message)
            return chunk

        await self.app(scope, limited_receive, send)


class SecurityHeaders:
    """Pure ASGI middleware adding a strict Content-Security-Policy and friends to HTTP responses
    (everything the page needs is served from here; the one outside frame allowed is Spotify's
    embed player, and not even that when ``offline``: ``playback.content_security_policy``)."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    ]

    def __init__(self, app, offline: bool = False):
        self.app = app
        self.headers = [(b"content-security-policy", playback.content_security_policy(offline)), *self.HEADERS]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ----------------------------------------------------------------------------- running


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", **app_kwargs) -> None:
    """Serve ``create_app(**app_kwargs)`` with uvicorn until interrupted."""
    import uvicorn

    app = create_app(**app_kwargs)
    ws = "auto"
    for mod, name in (("websockets", "websockets"), ("wsproto", "wsproto")):
        try:
            __import__(mod)
            ws = name
            break
        except ImportError:
            continue
    else:
        log.warning("neither 'websockets' nor 'wsproto' is installed: the live webcam will not work "
                    "(pip install 'moodtune[web]')")
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, ws=ws,
        ws_max_size=int(app.state.moodtune.max_upload_bytes) + 1024,
        timeout_keep_alive=5, limit_concurrency=256, server_header=False,
    )
    uvicorn.Server(config).run()
