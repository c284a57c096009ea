"""``POST /api/analyze``: the faces, emotions and valence/arousal in an uploaded image."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile

from moodtune.web import work
from moodtune.web.deps import RAW_IMAGE_BODY, get_state, image_bytes, run
from moodtune.web.errors import ApiError, responses
from moodtune.web.schemas import AnalyzeOut
from moodtune.web.state import ServerState

router = APIRouter(tags=["analyze"])


@router.post("/api/analyze", response_model=AnalyzeOut, summary="Faces and emotions in an image",
             responses=responses(400, 413, 415, 422, 504), openapi_extra=RAW_IMAGE_BODY)
async def analyze(request: Request, state: Annotated[ServerState, Depends(get_state)],
                  image: Annotated[UploadFile | str | None, File(include_in_schema=False)] = None) -> Any:
    """Each face in the shape of ``moodtune analyze --json``; the image (the multipart ``image`` file, or the
    raw body) is decoded in memory, never stored. The form is documented by ``AnalyzeForm``."""
    data = await image_bytes(request, image)
    if data is None:
        raise ApiError(422, "no image in the form: send the file in a field named 'image'")
    return await run(state, work.analyze_image, state, data)
