"""Pure ASGI middleware: request-body limits (uvicorn has none) and the security headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def too_large(limit: int, what: str = "upload") -> str:
    """The 413 message: ``upload is larger than the 15 MB limit``."""
    size = f"{limit / 2**20:.3g} MB" if limit >= 2**20 else f"{limit / 1024:.3g} KB"
    return f"{what} is larger than the {size} limit"


class BodyLimit:
    """A request body over ``limit_for(path, content_type)`` bytes gets a JSON 413, whether its
    Content-Length says so up front or a chunked body grows past the limit while it is read.
    ``what_for(path, content_type)`` names the body in the message (``upload`` or ``request body``)."""

    def __init__(self, app: Any, limit_for: Callable[[str, str], int], what_for: Callable[[str, str], str]):
        self.app, self.limit_for, self.what_for = app, limit_for, what_for

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1").strip().lower()
        limit = self.limit_for(scope["path"], ctype)
        message = too_large(limit, self.what_for(scope["path"], ctype))
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await JSONResponse({"error": message}, status_code=413)(scope, receive, send)
        if declared and not declared.isdigit():
            return await JSONResponse({"error": "invalid Content-Length header"}, status_code=400)(scope, receive, send)
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            chunk = await receive()
            received += len(chunk.get("body", b""))
            if received > limit:  # answered by the app's HTTPException handler
                raise StarletteHTTPException(413, message)
            return chunk

        await self.app(scope, limited_receive, send)


#: Spotify's embed player: the only frame the page may show, and only when not offline.
SPOTIFY_EMBED = "https://open.spotify.com"


def content_security_policy(offline: bool = False) -> bytes:
    """The page's Content-Security-Policy: everything from this server; frames from Spotify's embed unless ``offline``."""
    frames = "'none'" if offline else SPOTIFY_EMBED
    return ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
            f"connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-src {frames}; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'").encode()


class SecurityHeaders:
    """A strict Content-Security-Policy and friends on every HTTP response (everything the page
    needs is served from here; the one outside frame allowed is Spotify's embed player, and not
    even that when ``offline``)."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    )

    def __init__(self, app: Any, offline: bool = False):
        self.app = app
        self.headers = ((b"content-security-policy", content_security_policy(offline)), *self.HEADERS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
