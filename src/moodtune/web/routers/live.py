"""``WS /api/live``: binary JPEG/PNG/WebP frames in, one ``LiveFrame`` JSON text message out per frame.

Each connection has its own tracker and smoother (``moodtune.pipeline.FrameAnalyzer`` in fast mode); a
text message ``{"half_life": seconds}`` or ``{"reset": true}`` changes that connection's smoothing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from moodtune.errors import MoodtuneError
from moodtune.web.middleware import too_large
from moodtune.web.schemas import LiveControlOut
from moodtune.web.state import ServerState, TimedOut, Work

router = APIRouter()
log = logging.getLogger("moodtune.server")


@router.websocket("/api/live")
async def live(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.moodtune
    await ws.accept()
    if state.analyzer is None:
        state.load()
    analyzer = state.analyzer.stream(fast=True)  # this connection's own tracks and smoothing
    frames = 0
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            data = msg.get("bytes")
            out: Any
            if data is None:
                out = control(analyzer, msg.get("text") or "")
            elif len(data) > state.max_upload_bytes:
                out = {"error": too_large(state.max_upload_bytes)}
            else:
                try:
                    out = await state.run(frame, analyzer, data, frames)
                    frames += 1
                except TimedOut:
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


def frame(w: Work, analyzer: Any, data: bytes, index: int) -> dict[str, Any]:
    """One frame through the connection's analyzer, as ``LiveFrame`` JSON."""
    from moodtune.contract import to_json

    t0 = time.perf_counter()
    bgr = decode_frame(data)
    w.checkpoint()
    out = analyzer.live_frame(bgr, index)
    out.ms = round((time.perf_counter() - t0) * 1000, 1)
    return to_json(out)


def decode_frame(data: bytes) -> np.ndarray:
    """Decode a live frame: OpenCV's JPEG decoder first (fast), the full decoder otherwise."""
    import cv2

    from moodtune.vision.decode import load_image

    if data[:3] == b"\xff\xd8\xff":
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if arr is not None and arr.shape[0] * arr.shape[1] <= 4096 * 4096:
            return arr
    return load_image(data, name="frame")


def control(analyzer: Any, text: str) -> dict[str, Any]:
    """Apply a text control message: ``{"half_life": seconds}`` and/or ``{"reset": true}``."""
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
    return LiveControlOut(ok=True, half_life=analyzer.smoother.half_life).model_dump(mode="json")
