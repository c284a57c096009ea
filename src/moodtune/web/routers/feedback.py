"""``/api/feedback``: store a listener's feedback event (``moodtune.music.feedback.ACTIONS``); list their recent ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from moodtune.web.deps import find_track, get_state, run
from moodtune.web.errors import responses
from moodtune.web.schemas import USER_PATTERN, FeedbackIn, FeedbackListOut, FeedbackOut
from moodtune.web.state import ServerState, Work

router = APIRouter(tags=["music"])

User = Annotated[str, Query(min_length=1, max_length=64, pattern=USER_PATTERN, description="listener name")]


@router.post("/api/feedback", response_model=FeedbackOut, summary="Store a feedback event (like, skip, played, closer, farther) for a track",
             responses=responses(400, 404, 409, 413, 422, 504))
async def feedback(body: FeedbackIn, state: Annotated[ServerState, Depends(get_state)]) -> Any:
    return await run(state, _store, state, body)


def _store(w: Work, state: ServerState, body: FeedbackIn) -> dict[str, Any]:
    from moodtune.music.recommend import feedback as store_feedback

    extra = {"feedback_db": state.settings.feedback_db} if state.settings.feedback_db else {}
    ev = store_feedback(find_track(state, body.track), body.action.value, user=body.user, catalog=state.store, **extra)
    return {"stored": True, "id": ev.id, "user": ev.user, "track": ev.track_id, "title": ev.title,
            "artist": ev.artist, "action": ev.action}


@router.get("/api/feedback", response_model=FeedbackListOut, summary="A listener's most recent feedback events",
            responses=responses(422, 504))
async def feedback_list(state: Annotated[ServerState, Depends(get_state)], user: User = "default",
                        limit: Annotated[int, Query(ge=1, le=500)] = 20) -> Any:
    return await run(state, _events, state, user, limit)


def _events(w: Work, state: ServerState, user: str, limit: int) -> dict[str, Any]:
    from moodtune.music.recommend import feedback_store

    events = feedback_store(state.settings.feedback_db).events(user, limit)
    return {"user": user, "events": [{"id": e.id, "track": e.track_id, "title": e.title, "artist": e.artist,
                                      "action": e.action, "ts": e.ts} for e in events]}
