"""``GET /`` (the page) and ``GET /api/health`` (readiness and what this server offers)."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

import moodtune
from moodtune import choices
from moodtune.emotion.labels import CLASS_VA, CLASSES
from moodtune.web.deps import get_state
from moodtune.web.schemas import HealthOut
from moodtune.web.state import ServerState, spotify_configured
from moodtune.web.static_files import STATIC

router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/api/health", response_model=HealthOut, summary="Readiness and what this server offers", tags=["health"])
async def health(state: Annotated[ServerState, Depends(get_state)]) -> Any:
    return {
        "status": "ok" if state.ready else "starting",
        "version": moodtune.__version__,
        "classes": list(CLASSES),
        "class_va": {c: [round(float(v), 4), round(float(a), 4)] for c, (v, a) in zip(CLASSES, CLASS_VA, strict=True)},
        "strategies": choices.strategy_names(),
        "recommend": True,
        "catalog": state.catalog_description(),
        "catalog_tracks": state.catalog_size(),
        "spotify": spotify_configured(),
        "max_upload_bytes": state.max_upload_bytes,
        "pid": os.getpid(),
    }
