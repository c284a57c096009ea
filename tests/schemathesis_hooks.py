"""Schemathesis hooks for ``test_api_contract``: what an ``image/*`` body is.

A JSON Schema cannot say which bytes decode as an image, so the generator is told: schema-valid
image parts and bodies are real encoded pictures (a photo with a face, a plain one without).
"""

from __future__ import annotations

import cv2
import numpy as np
import schemathesis
from helpers import hopper_jpeg
from hypothesis import strategies as st

_plain = np.full((120, 160, 3), 200, np.uint8)
_IMAGES = {
    "image/jpeg": [hopper_jpeg(), cv2.imencode(".jpg", _plain)[1].tobytes()],
    "image/png": [cv2.imencode(".png", _plain)[1].tobytes()],
}
for media_type, samples in _IMAGES.items():
    schemathesis.openapi.media_type(media_type, st.sampled_from(samples))
