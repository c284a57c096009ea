"""Errors as JSON: every error the API answers is ``{"error": "..."}`` (plus fields of its own), never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from moodtune.errors import MoodtuneError
from moodtune.web.schemas import ErrorOut

log = logging.getLogger("moodtune.server")


class ApiError(Exception):
    """An error answered as ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error ``codes`` a route can answer."""
    return {c: {"model": ErrorOut, "description": DESCRIPTIONS[c]} for c in codes}


DESCRIPTIONS = {
    400: "malformed request (e.g. an invalid Content-Length)",
    404: "no such track",
    409: "the track reference matches several tracks",
    405: "method not allowed",
    413: "body over the size limit",
    415: "not an image content type",
    422: "undecodable image or invalid request",
    503: "not available on this server (e.g. Spotify not configured)",
    504: "took longer than the request timeout",
}


def describe(errors: Any) -> str:
    """pydantic's validation errors in one line."""
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers on ``path``."""
    from starlette.routing import Match

    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    methods: set[str] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # an included router
            if inner is not None:
                walk(inner.routes)
            elif route.matches({**scope})[0] != Match.NONE:
                methods.update(getattr(route, "methods", None) or ())

    walk(app.router.routes)
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message, **exc.extra}, status_code=exc.status)

    @app.exception_handler(MoodtuneError)
    async def _moodtune_error(request: Request, exc: MoodtuneError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names the methods of one route; a path can have several
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request: " + describe(exc.errors())}, status_code=422)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:  # nobody is left to read the answer
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return JSONResponse({"error": "client disconnected"}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        return JSONResponse({"error": "internal server error"}, status_code=500)
