"""``GET /api/catalog``: search the catalogue the server recommends from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from moodtune.web.deps import get_state, run
from moodtune.web.errors import responses
from moodtune.web.schemas import CatalogSearchOut
from moodtune.web.state import ServerState, Work

router = APIRouter(tags=["music"])


@router.get("/api/catalog", response_model=CatalogSearchOut, summary="Find tracks by title, artist or album",
            responses=responses(422, 504))
async def search(state: Annotated[ServerState, Depends(get_state)],
                 q: Annotated[str, Query(max_length=200, description="text to look for; empty: the most popular")] = "",
                 genre: Annotated[str | None, Query(max_length=100)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    return await run(state, _search, state, q, genre, limit)


def _search(w: Work, state: ServerState, q: str, genre: str | None, limit: int) -> dict[str, Any]:
    tracks = state.store.search(q, limit=limit, genre=genre)
    return {"catalog": state.catalog_description() or "", "tracks": tracks}
