"""Property-based tests (hypothesis) on the two parsers of untrusted files: the image decoder and
the CSV catalogue importer. Whatever the bytes, the answer is a usable result or a
``MoodtuneError``, quickly, and a failed import leaves the catalogue as it was."""

from __future__ import annotations

import os
import sqlite3
import time
import warnings

import corpus
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moodtune.errors import MoodtuneError
from moodtune.music.importers import import_file
from moodtune.music.store import CatalogStore
from moodtune.vision.decode import load_image

#: Examples per test: bounded so that the file stays well under 30 s; raise it for a deep run
#: (``MOODTUNE_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py``). The example database is not written.
EXAMPLES = int(os.environ.get("MOODTUNE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, database=None,
                suppress_health_check=[HealthCheck.too_slow])
#: Slowest acceptable answer for one input, in seconds.
QUICK_S = 2.0

# ----------------------------------------------------------------------------- mutations


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed with 1-8 random edits: bit flips, bytes set to edge values, cuts, insertions,
    2-byte fields set to 0xFFFF (sizes, lengths), truncation."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "max16", "truncate"]))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, ord('"'), ord(","), ord(";"), ord("\n"), ord("\r")]))
        elif op == "cut":
            del data[i:i + draw(st.integers(1, 64))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "max16":
            data[i:i + 2] = b"\xff\xff"
        else:
            del data[i:]
    return bytes(data)


# ----------------------------------------------------------------------------- image decoder

SMALL = corpus.photo().resize((48, 64))
IMAGE_SEEDS = [corpus.encode(SMALL, fmt) for fmt in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")] + [
    corpus.encode(SMALL.convert("P"), "PNG"), corpus.encode(SMALL.convert("CMYK"), "JPEG"), corpus.sixteen_bit()[:4096]]


def check_decode(data: bytes) -> None:
    """``load_image(data)`` is a (H, W, 3) uint8 array or a one-line ``MoodtuneError``, fast, and
    nothing else (not even a warning on the user's terminal)."""
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = load_image(data)
    except MoodtuneError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8
        assert out.ndim == 3 and out.shape[2] == 3 and out.shape[0] > 0 and out.shape[1] > 0
    assert time.perf_counter() - t0 < QUICK_S


@FUZZ
@given(st.binary(max_size=2048))
def test_decoder_on_random_bytes(data):
    check_decode(data)


@FUZZ
@given(mutated(IMAGE_SEEDS))
def test_decoder_on_mutated_images(data):
    check_decode(data)


# ----------------------------------------------------------------------------- CSV importer

CSV_SEEDS = [corpus.csv_text().encode(), corpus.csv_text(sep=";").encode("utf-8-sig"), corpus.csv_text(sep="\t").encode("utf-16"),
             b"track_id,artists,track_name,track_genre,valence,energy\n4uLU6hMCjMI75M1A2tKUQC,A;B,Song,pop,0.5,0.7\n"]
CSV_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400)
#: Good rows past the 8 KB that the importer sniffs for the encoding.
LONG_VALID = corpus.csv_text(corpus.SONGS * 300).encode()
CSV_INPUTS = st.one_of(
    st.binary(max_size=400),
    CSV_TEXT.map(str.encode),
    CSV_TEXT.map(lambda body: (",".join(corpus.CSV_HEADER) + "\n" + body).encode()),  # past the header check
    mutated(CSV_SEEDS),
    st.builds(lambda tail: LONG_VALID + tail, st.binary(min_size=1, max_size=64)),  # bad bytes after 8 KB
    st.builds(lambda head, piece, n: head + piece * n,  # long lines and fields, up to 320 KB
              st.sampled_from([b"", CSV_SEEDS[0]]), st.binary(min_size=1, max_size=8), st.integers(1, 40_000)),
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A catalogue on disk already holding ``corpus.EXISTING``; examples import into it."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = corpus.seed_catalog(folder / "catalog.sqlite")
    with CatalogStore.open(path) as store:
        yield store, folder


@pytest.mark.slow
@FUZZ
@given(data=CSV_INPUTS)
def test_importer_never_leaves_a_half_import(catalog, data):
    store, folder = catalog
    path = folder / "input.csv"
    path.write_bytes(data)
    before = store.count()
    t0 = time.perf_counter()
    try:
        report = import_file(path, store)
    except MoodtuneError as exc:
        assert str(exc)
        assert store.count() == before  # all or nothing
    else:
        assert report.good + len(report.bad) == report.rows
        assert store.count() == before + report.added
    assert time.perf_counter() - t0 < QUICK_S
    con = sqlite3.connect(store.path)
    try:
        assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    finally:
        con.close()
