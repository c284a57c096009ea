"""``POST /api/recommend``: a playlist for an uploaded image, an emotion or a valence/arousal point."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from moodtune.emotion.labels import CLASSES
from moodtune.web import work
from moodtune.web.deps import IMAGE_ENCODING, content_type, form_of, get_state, image_bytes, run
from moodtune.web.errors import ApiError, describe, responses
from moodtune.web.schemas import PlaylistOut, RecommendFields, RecommendForm, RecommendIn
from moodtune.web.state import ServerState, Work

router = APIRouter(tags=["music"])

#: OpenAPI: the two forms of the request body, from the models (the route reads the body itself).
BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/RecommendIn"}},
    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/RecommendForm"}, **IMAGE_ENCODING},
}}}


@router.post("/api/recommend", response_model=PlaylistOut, summary="A playlist for an image, an emotion or a valence/arousal point",
             responses=responses(400, 413, 415, 422, 504), openapi_extra=BODY)
async def recommend(request: Request, state: Annotated[ServerState, Depends(get_state)]) -> Any:
    """JSON ``{"emotion"}``, ``{"valence", "arousal"}`` or ``{"text"}`` (plus ``strategy``, ``n``, ``user``,
    ``page``), or a multipart form with the ``image`` and the same fields: the playlist JSON of
    ``moodtune recommend --json``."""
    req: RecommendFields
    data = None
    try:
        if content_type(request) == "application/json":
            req = RecommendIn.model_validate_json(await request.body() or b"{}")  # BodyLimit: at most MAX_JSON_BYTES
        elif content_type(request) == "multipart/form-data":
            form = await form_of(request)
            req = RecommendForm.model_validate({k: v for k, v in form.items() if k != "image" and isinstance(v, str)})
            image = form.get("image")
            data = await image_bytes(request, image) if image is not None else None
            if data is None and req.emotion is None and req.valence is None and req.text is None:
                raise ApiError(422, "nothing to recommend for: send an image, an emotion, valence and arousal, or text")
        else:
            data = await image_bytes(request, None)
            req = RecommendForm()
    except ValidationError as exc:
        raise ApiError(422, "invalid request: " + describe(exc.errors())) from None
    return await run(state, recommend_for, state, req, data)


def recommend_for(w: Work, state: ServerState, req: RecommendFields, image: bytes | None) -> PlaylistOut:
    from moodtune.music.recommend import recommend as make_playlist
    from moodtune.music.types import Playlist
    from moodtune.web.routers.playback import attach_audio

    faces = None
    affect: Any
    if image is not None:
        bgr = work.decode(image)
        w.checkpoint()
        faces = work.faces(state, w, bgr)
        if not faces:
            raise ApiError(422, "no face found in the image: try another photo or pick a mood by hand")
        affect = faces
    elif req.valence is not None and req.arousal is not None:
        affect = affect_of_point(req)
    else:
        affect = req.emotion.value if req.emotion is not None else None  # None: the text alone
    w.checkpoint()
    kwargs: dict[str, Any] = {"strategy": req.strategy.value, "n": req.n, "catalog": state.store, "user": req.user,
                              "text": req.text, "page": req.page}
    if state.settings.feedback_db and req.user:
        kwargs["feedback_db"] = state.settings.feedback_db
    playlist = make_playlist(affect, **kwargs)
    attach_audio(playlist.tracks, state.store)
    return PlaylistOut(**{f.name: getattr(playlist, f.name) for f in fields(Playlist)}, faces=faces)


def affect_of_point(req: RecommendFields) -> Any:
    """A valence/arousal point as the engine's ``Affect``, keeping the face's emotion when the page sends it."""
    from moodtune.music.types import Affect

    aff = Affect.from_va(req.valence, req.arousal)
    if req.emotion is not None:
        aff.emotion = req.emotion.value
    probs = getattr(req, "probabilities", None)
    if probs:
        aff.probabilities = {c: float(probs.get(c, 0.0)) for c in CLASSES}
    if req.source:
        aff.source = {"face": "face", "group": "group of faces", "manual": "valence/arousal"}[req.source]
    return aff
