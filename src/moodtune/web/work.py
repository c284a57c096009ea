"""The CPU work behind the routes, run in worker threads by ``ServerState.run``: each function takes
the request's ``Work`` first and calls ``work.checkpoint()`` between its stages, so a request past
its deadline stops at the next stage instead of computing on for nobody."""

from __future__ import annotations

from typing import Any

import numpy as np

from moodtune.errors import MoodtuneError
from moodtune.web.errors import ApiError
from moodtune.web.state import ServerState, Work


def decode(data: bytes) -> np.ndarray:
    """An uploaded image as a BGR array; 422 when it cannot be decoded."""
    from moodtune.vision.decode import load_image

    try:
        return load_image(data, name="upload")
    except MoodtuneError as exc:
        raise ApiError(422, str(exc)) from None


def faces(state: ServerState, work: Work, bgr: np.ndarray) -> list:
    """The faces of ``bgr`` with the server's detector and model: detection, then classification."""
    if state.analyzer is None:
        state.load()
    detections = state.analyzer.detector.detect(bgr)
    work.checkpoint()
    return state.analyzer.classify(bgr, detections)


def analyze_image(work: Work, state: ServerState, data: bytes) -> dict[str, Any]:
    bgr = decode(data)
    work.checkpoint()
    return {"faces": faces(state, work, bgr), "width": int(bgr.shape[1]), "height": int(bgr.shape[0])}
