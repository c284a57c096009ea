"""Turn whatever a user hands us (path, bytes, array) into a BGR uint8 image.

Decoding goes through Pillow so that EXIF orientation, 16-bit, palette, CMYK and
alpha images all come out as ordinary 8-bit BGR. The pixel count is checked on the
header, before any pixel is decoded, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from moodtune.errors import MoodtuneError

#: Largest image accepted, in pixels (width x height). 64 MP covers any camera photo.
MAX_PIXELS = int(os.environ.get("MOODTUNE_MAX_PIXELS", 64_000_000))
#: Largest file accepted, in bytes.
MAX_BYTES = 100 * 1024 * 1024

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray


def load_image(image: ImageInput, name: str | None = None) -> np.ndarray:
    """Return ``image`` as an (H, W, 3) BGR uint8 array.

    ``image`` may be a path, encoded bytes, or a numpy array (H, W) gray or
    (H, W, 3) BGR or (H, W, 4) BGRA, of any real dtype. ``name`` only labels errors.
    Raises ``MoodtuneError`` with a clear message for anything unusable.
    """
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _decode(bytes(image), name or "image bytes")
    if not os.fspath(image):
        raise MoodtuneError("no image file named (empty path)")
    path = Path(image)
    label = name or str(path)
    try:
        if path.is_dir():
            raise MoodtuneError(f"{label}: is a folder, not an image")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise MoodtuneError(f"{label}: file is {size / 2**20:.0f} MB, over the {MAX_BYTES // 2**20} MB limit")
        data = path.read_bytes()
    except FileNotFoundError:
        raise MoodtuneError(f"{label}: no such file") from None
    except (OSError, ValueError) as exc:  # a name too long, a symlink loop, no permission; ValueError: a NUL in the name
        raise MoodtuneError(f"{label}: cannot read file ({getattr(exc, 'strerror', None) or exc})") from None
    return _decode(data, label)


def _decode(data: bytes, label: str) -> np.ndarray:
    if not data:
        raise MoodtuneError(f"{label}: file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged metadata ("Corrupt EXIF data") are not errors
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise MoodtuneError(
                    f"{label}: image is {w}x{h} = {w * h / 1e6:.0f} MP, over the {MAX_PIXELS / 1e6:.0f} MP limit"
                )
            img.load()
            img = ImageOps.exif_transpose(img)
    except MoodtuneError:
        raise
    except UnidentifiedImageError:
        raise MoodtuneError(f"{label}: not an image moodtune can read (JPEG, PNG, WebP, BMP, GIF, TIFF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MoodtuneError(f"{label}: image declares a size over the pixel limit") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MoodtuneError(f"{label}: image is damaged or truncated ({exc})") from None
    return _to_bgr(img)


def _to_bgr(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        return _from_array(arr)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.size == 0 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise MoodtuneError(f"array of shape {arr.shape} is not an image: expected (H, W), (H, W, 3) or (H, W, 4)")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise MoodtuneError(f"array of {arr.shape[1]}x{arr.shape[0]} is over the {MAX_PIXELS / 1e6:.0f} MP limit")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise MoodtuneError(f"array of dtype {arr.dtype} is not an image: expected integers or floats")
    if arr.dtype != np.uint8:
        a = arr.astype(np.float64)
        if not np.isfinite(a).all():
            raise MoodtuneError("array contains NaN or infinite values")
        hi = float(a.max()) if a.size else 0.0
        lo = float(a.min()) if a.size else 0.0
        if np.issubdtype(arr.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
            a = a * 255.0
        elif hi > 255.0:  # 16-bit or wider integers: scale the dtype's range down
            top = float(np.iinfo(arr.dtype).max) if np.issubdtype(arr.dtype, np.integer) else hi
            a = a * (255.0 / top)
        arr = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))
    if arr.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(arr, 3, axis=2))
    if arr.shape[2] == 4:
        bgr = arr[:, :, :3].astype(np.float32)
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        return np.ascontiguousarray((bgr * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8))
    return np.ascontiguousarray(arr)
