"""Generators for the bad-input corpus of ``test_bad_input.py`` and the seeds of ``test_fuzz.py``.

Everything is made here, at test time, from Grace Hopper's portrait (shipped inside matplotlib)
with Pillow, numpy and plain bytes: nothing is downloaded or copied from the shared data.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import sqlite3
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# ----------------------------------------------------------------------------- images


@functools.cache
def photo() -> Image.Image:
    """The upright base photo: Hopper's portrait cropped so that the face is off-centre both ways
    (a mirrored or flipped decode then moves the face box far enough to be caught)."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return Image.open(path).convert("RGB").crop((100, 60, 512, 600))  # 412 x 540


def bgr(img: Image.Image) -> np.ndarray:
    """A Pillow RGB image as a BGR uint8 array."""
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def jpeg(img: Image.Image | None = None, **kw) -> bytes:
    return encode(img or photo(), "JPEG", quality=95, **kw)


def png(img: Image.Image | None = None, **kw) -> bytes:
    return encode(img or photo(), "PNG", **kw)


#: What Pillow's ``exif_transpose`` does for each EXIF orientation, and its inverse (used to store
#: the pixels so that the *displayed* picture is the upright photo).
_INVERSE_OF_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed after ROTATE_270
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # displayed after ROTATE_90
}


def exif_rotated(orientation: int) -> bytes:
    """A JPEG whose stored pixels are turned/mirrored and whose EXIF orientation tag turns them back upright."""
    op = _INVERSE_OF_ORIENTATION[orientation]
    stored = photo() if op is None else photo().transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return jpeg(stored, exif=exif.tobytes())


def animated_gif() -> bytes:
    """Three frames: the photo first, then a black and an inverted frame."""
    first = photo()
    frames = [first, Image.new("RGB", first.size), Image.eval(first, lambda v: 255 - v)]
    return encode(first, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def with_alpha() -> bytes:
    """RGBA PNG: the photo, opaque, inside a fully transparent frame of 40 px."""
    rgba = photo().convert("RGBA")
    alpha = np.zeros((rgba.height, rgba.width), np.uint8)
    alpha[40:-40, 40:-40] = 255
    rgba.putalpha(Image.fromarray(alpha))
    return png(rgba)


def sixteen_bit() -> bytes:
    """16-bit grayscale PNG (values spread over 0..65535)."""
    gray = np.asarray(photo().convert("L"), dtype=np.uint16) * 257
    return png(Image.fromarray(gray))


def crowd(face_box: tuple[int, int, int, int], n: int = 20, cols: int = 5, tile: int = 160) -> Image.Image:
    """The face (``face_box`` in the photo, with a margin) tiled ``n`` times on a grid."""
    x, y, w, h = face_box
    m = w // 2
    face = photo().crop((max(0, x - m), max(0, y - m), x + w + m, y + h + m)).resize((tile, tile))
    rows = -(-n // cols)
    out = Image.new("RGB", (cols * tile, rows * tile), (128, 128, 128))
    for i in range(n):
        out.paste(face, ((i % cols) * tile, (i // cols) * tile))
    return out


def half_face_at_border(face_box: tuple[int, int, int, int]) -> Image.Image:
    """The photo cut through the middle of the face: its left half lies outside the picture."""
    x, _, w, _ = face_box
    return photo().crop((x + w // 2, 0, photo().width, photo().height))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels, with almost no data (~100 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_bomb(side: int = 65_000) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to declare ``side`` x ``side`` pixels."""
    data = bytearray(jpeg(Image.new("RGB", (16, 16), (90, 90, 90))))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def pdf() -> bytes:
    """A real one-page PDF holding the photo (Pillow writes PDFs but cannot read them)."""
    return encode(photo(), "PDF")


HTML = b"<!doctype html>\n<html><head><title>photo</title></head><body><img src='face.jpg'></body></html>\n"
TEXT = b"this is a shopping list, not a photo\neggs\nmilk\n"


# ----------------------------------------------------------------------------- CSV and catalogues

CSV_HEADER = ["title", "artist", "genre", "valence", "energy", "tempo"]
#: Three songs with measured features, used wherever a CSV should import.
SONGS = [
    ("Morning Light", "The Larks", "folk", 0.81, 0.42, 96.0),
    ("Heavy Rain", "Grey Coast", "ambient", 0.12, 0.18, 70.0),
    ("Run Run Run", "Neon Foxes", "rock", 0.66, 0.93, 160.0),
]
#: Songs already in a user's catalogue before any bad input arrives (must never be lost).
EXISTING = [
    ("Old Favourite", "Somebody", "jazz", 0.55, 0.35, 110.0),
    ("Second Song", "Anybody", "pop", 0.72, 0.70, 120.0),
]


def csv_text(rows=SONGS, header=CSV_HEADER, sep: str = ",") -> str:
    lines = [sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def giant_line_csv(path: Path, size: int = 1 << 30, header_too: bool = False) -> Path:
    """A sparse file of ``size`` bytes: good rows, then one line of ``size`` bytes (NULs, never written
    to disk). With ``header_too`` the whole file is that one line, header included."""
    with open(path, "wb") as f:
        if not header_too:
            f.write(csv_text().encode())
        f.write(b"Endless,")
        f.seek(size - 1)
        f.write(b"\n")
    return path


def seed_catalog(path: Path, rows=EXISTING) -> Path:
    """A real catalogue database holding ``rows`` (imported through the normal importer)."""
    from moodtune.music.importers import import_file
    from moodtune.music.store import CatalogStore

    src = path.with_suffix(".seed.csv")
    src.write_text(csv_text(rows))
    with CatalogStore.open(path) as store:
        import_file(src, store)
    src.unlink()
    return path


def catalog_titles(path: Path) -> set[str]:
    """Titles in a catalogue database, read with plain sqlite3 (independent of the code under test)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in con.execute("SELECT title FROM tracks")}
    finally:
        con.close()


def corrupt_pages(path: Path, seed: int = 0) -> None:
    """Overwrite everything after the first page of a SQLite file with random bytes (header and schema kept)."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(page)
        f.write(np.random.default_rng(seed).integers(0, 256, size - page, dtype=np.uint8).tobytes())


@contextlib.contextmanager
def read_only(folder: Path):
    """Make ``folder`` and the files in it unwritable, even for root (``chattr +i``), then restore them.

    Yields False (and changes nothing) where that cannot be done, so the caller can skip.
    """
    paths = [*sorted(p for p in folder.iterdir() if p.is_file()), folder]
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        ok = chattr is not None and subprocess.run([chattr, "+i", *map(str, paths)], capture_output=True, check=False).returncode == 0
        try:
            yield ok
        finally:
            if ok:
                subprocess.run([chattr, "-i", *map(str, paths)], check=True)
        return
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield True
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def file_state(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to prove nothing was lost or rewritten)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
