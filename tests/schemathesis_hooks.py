"""Schemathesis hooks for ``test_api_contract``: what an ``image/*`` body is.

A JSON Schema cannot say which bytes decode as an image, nor that ``/api/recommend`` needs a face in
it, so the generator is told: schema-valid image parts and bodies are real encoded photos of a face
(as JPEG, as PNG, and shrunk). Photos without a face, and bytes that are no image, have their own
tests (tests/test_server.py, tests/test_bad_input.py).
"""

from __future__ import annotations

import cv2
import numpy as np
import schemathesis
from helpers import hopper_jpeg
from hypothesis import strategies as st

_face = cv2.imdecode(np.frombuffer(hopper_jpeg(), np.uint8), cv2.IMREAD_COLOR)
_small = cv2.resize(_face, (_face.shape[1] // 2, _face.shape[0] // 2), interpolation=cv2.INTER_AREA)
_IMAGES = {
    "image/jpeg": [hopper_jpeg(), cv2.imencode(".jpg", _small)[1].tobytes()],
    "image/png": [cv2.imencode(".png", _small)[1].tobytes()],
}
for media_type, samples in _IMAGES.items():
    schemathesis.openapi.media_type(media_type, st.sampled_from(samples))
