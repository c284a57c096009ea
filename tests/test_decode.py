"""Image decoding: every format a user may hand us, and every way a file can be bad."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from moodtune.errors import MoodtuneError
from moodtune.vision.decode import load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo(hopper_path) -> Image.Image:
    return Image.open(hopper_path).convert("RGB")


def test_path_bytes_and_array_agree(hopper_path, hopper_bgr):
    from_path = load_image(hopper_path)
    from_bytes = load_image(hopper_path.read_bytes())
    assert from_path.shape == hopper_bgr.shape and from_path.dtype == np.uint8
    assert np.array_equal(from_path, from_bytes)
    assert np.abs(from_path.astype(int) - hopper_bgr.astype(int)).mean() < 2  # same JPEG, maybe another IDCT
    assert np.array_equal(load_image(hopper_bgr), hopper_bgr)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_unusual_modes_decode_to_bgr(photo, mode):
    img = photo.convert("L").convert("I;16") if mode == "I;16" else photo.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = load_image(_encode(img, fmt))
    assert out.shape == (photo.height, photo.width, 3) and out.dtype == np.uint8
    gray_ref = np.asarray(photo.convert("L"), dtype=float)
    assert np.abs(out.mean(axis=2) - gray_ref).mean() < 12  # same picture, not garbage


def test_sixteen_bit_png_is_scaled_not_clipped():
    ramp = (np.arange(256, dtype=np.uint16) * 257)[None, :].repeat(4, 0)
    out = load_image(_encode(Image.fromarray(ramp), "PNG"))
    assert out[0, 0, 0] == 0 and out[0, 255, 0] == 255 and 120 < out[0, 128, 0] < 135


@pytest.mark.parametrize("orientation,check", [(3, "rot180"), (6, "rot270"), (8, "rot90"), (2, "mirror")])
def test_exif_orientation_is_applied(photo, orientation, check):
    small = photo.resize((64, 48))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(_encode(small, "PNG", exif=exif))
    ref = np.asarray(small)[:, :, ::-1].astype(int)
    expect = {"rot180": np.rot90(ref, 2), "rot270": np.rot90(ref, 3), "rot90": np.rot90(ref, 1), "mirror": ref[:, ::-1]}[check]
    assert out.shape == expect.shape
    assert np.abs(out.astype(int) - expect).mean() < 1


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"hello, this is text\n", "not an image"),
        (b"<html><body>no</body></html>", "not an image"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "not an image"),
    ],
)
def test_bad_bytes_raise_clear_errors(data, message):
    with pytest.raises(MoodtuneError, match=message):
        load_image(data, name="upload.jpg")


def test_truncated_files_raise(photo):
    for fmt in ("JPEG", "PNG"):
        data = _encode(photo, fmt)
        with pytest.raises(MoodtuneError, match=r"damaged or truncated|not an image"):
            load_image(data[: len(data) // 3])


def test_decompression_bomb_is_refused_before_decoding():
    # a valid PNG header declaring 100000 x 100000 pixels, with almost no data
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa: E731
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    with pytest.raises(MoodtuneError, match="limit"):
        load_image(png)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MoodtuneError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(MoodtuneError, match="folder"):
        load_image(tmp_path)


@pytest.mark.parametrize(
    "arr,message",
    [
        (np.full((8, 8), np.nan, np.float32), "NaN"),
        (np.full((8, 8, 3), np.inf), "NaN or infinite"),
        (np.zeros((0, 5), np.uint8), "not an image"),
        (np.zeros((4, 4, 5), np.uint8), "not an image"),
        (np.array([["a"]]), "dtype"),
        (np.zeros((4, 4), bool), "dtype"),
    ],
)
def test_bad_arrays(arr, message):
    with pytest.raises(MoodtuneError, match=message):
        load_image(arr)


def test_array_dtypes_are_rescaled():
    assert load_image(np.ones((4, 4), np.float32)).max() == 255  # floats in 0..1
    assert load_image(np.full((4, 4), 65535, np.uint16)).max() == 255
    bgra = np.zeros((2, 2, 4), np.uint8)  # fully transparent → white
    assert load_image(bgra).min() == 255
