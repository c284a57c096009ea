"""Route dependencies: the process's ``ServerState``, an uploaded image's bytes, running the CPU work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, UploadFile
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException

from moodtune.web.errors import ApiError
from moodtune.web.state import ServerState, TimedOut

T = TypeVar("T")

#: Multipart limits, for the forms FastAPI parses and those the routes read themselves.
FORM_LIMITS: Any = {"max_files": 4, "max_fields": 32}  # FastAPI types it as its own TypedDict

#: Content types accepted for an image (a browser sends octet-stream for unknown suffixes).
ACCEPTED_TYPES = {"application/octet-stream"}

#: OpenAPI: the form's ``image`` part is an image; besides the form, the upload routes take the image as the raw body.
IMAGE_ENCODING = {"encoding": {"image": {"contentType": "image/*"}}}
RAW_IMAGE_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/AnalyzeForm"}, **IMAGE_ENCODING},
    "image/*": {"schema": {"type": "string", "format": "binary", "minLength": 1}}}}}


def get_state(request: Request) -> ServerState:
    return request.app.state.moodtune


def find_track(state: ServerState, ref: str) -> Any:
    """The catalogue track ``ref`` names (id, Spotify URL/URI, 'Title - Artist'): 404 when none, 409 when several."""
    found = state.store.find(ref)
    if not found:
        raise ApiError(404, f"no track {ref!r} in {state.catalog_description()}; use its id (from a playlist) or 'Title - Artist'")
    if len(found) > 1:
        options = "; ".join(f"{t.title} - {t.artist} ({t.id})" for t in found[:5])
        raise ApiError(409, f"{ref!r} matches {len(found)} tracks: {options}; give the id or 'Title - Artist'")
    return found[0]


def is_image_type(ctype: str | None) -> bool:
    """An image content type, octet-stream, or none given (the decoder then decides)."""
    if not ctype:
        return True
    base = (ctype or "").split(";")[0].strip().lower()
    return base.startswith("image/") or base in ACCEPTED_TYPES


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def image_bytes(request: Request, image: UploadFile | str | None) -> bytes | None:
    """The image of a request: the form's ``image`` file (else its first file), or a raw ``image/*`` body.

    None when a form holds no file. Raises ``ApiError`` 415 for a non-image, 422 for an empty one.
    """
    ctype = content_type(request)
    if ctype == "multipart/form-data":
        if isinstance(image, str):  # a part without a file name: Starlette decoded it (UTF-8, else Latin-1)
            return _text_part_bytes(image)
        if image is None:
            form = await request.form()  # parsed once already, by FastAPI: this is the cached form
            image = next((v for v in form.values() if isinstance(v, StarletteUploadFile)), None)  # type: ignore[assignment]
        if image is None:
            return None
        if not is_image_type(image.content_type):
            raise ApiError(415, f"the uploaded file is {image.content_type}, not an image "
                                "(send a JPEG, PNG, WebP, BMP, GIF or TIFF)")
        data = await image.read()
        if not data:
            raise ApiError(422, "the uploaded file is empty")
        return data
    if is_image_type(ctype):
        data = await request.body()
        if not data:
            raise ApiError(422, "the request body is empty")
        return data
    raise ApiError(415, "expected an image: multipart/form-data with a field 'image', or an image/* body; "
                        f"got {ctype or 'no content type'}")


async def form_of(request: Request) -> Any:
    """The multipart form, parsed in memory by Starlette (uploads up to the limit are not spooled to disk)."""
    try:
        return await request.form(**FORM_LIMITS)
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - the parser raises assorted errors on a malformed body
        raise ApiError(400, "malformed multipart/form-data body") from None


def _text_part_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")  # undecodable as UTF-8, so Starlette read it as Latin-1: the exact bytes
    except UnicodeEncodeError:
        return text.encode("utf-8")


async def run(state: ServerState, fn: Callable[..., T], *args: Any) -> T:
    """``state.run`` with its timeout answered as 504."""
    try:
        return await state.run(fn, *args)
    except TimedOut:
        raise ApiError(504, f"the request took longer than {state.timeout:g} s") from None
