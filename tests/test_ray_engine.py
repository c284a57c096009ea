"""Batch analysis on a local Ray instance with 2 CPUs (one Ray session for the module): the same
JSON lines as the local ``moodtune analyze --json`` on a folder of real photos (faces-wild-dev)
with a damaged JPEG and a text file among them; a video split into time ranges; Parquet output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_video import moving_face_video  # noqa: F401  (fixture: a 2-second video of a moving face)

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'moodtune[ray]'")
from moodtune.engines.ray_batch import TRACKS_PER_RANGE, analyze_with_ray  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared]


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MOODTUNE_THREADS": "1"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, shared_data) -> Path:
    """30 photos of faces-wild-dev (links, nothing copied), a truncated JPEG and a text file named .png."""
    src = sorted((shared_data / "faces-wild-dev" / "images").glob("*.jpg"))[::35][:30]
    folder = tmp_path_factory.mktemp("photos")
    for p in src:
        (folder / p.name).symlink_to(p)
    (folder / "sub").mkdir()
    (folder / "sub" / "damaged.jpg").write_bytes(src[0].read_bytes()[:2000])
    (folder / "notes.png").write_text("not an image")
    return folder


def local_lines(*paths) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "moodtune", "analyze", *map(str, paths), "--json"], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 1, out.stderr  # 1: some inputs failed (the damaged ones)
    return [json.loads(x) for x in out.stdout.splitlines()]


def test_same_lines_as_the_local_path(photo_folder, tmp_path):
    local = local_lines(photo_folder)
    out = tmp_path / "faces.jsonl"
    lines = list(analyze_with_ray([photo_folder], out=out, num_workers=2, batch_size=8, progress=False))
    assert lines == local
    assert [json.loads(x) for x in out.read_text().splitlines()] == local
    errors = [x for x in lines if "error" in x]
    assert [Path(x["path"]).name for x in errors] == ["notes.png", "damaged.jpg"]
    assert sum(len(x.get("faces", [])) for x in lines) >= 25  # real faces were found and classified


def test_parquet_output(photo_folder, tmp_path):
    import pyarrow.parquet as pq

    lines = list(analyze_with_ray([photo_folder], out=tmp_path / "faces.parquet", num_workers=2, progress=False))
    table = pq.read_table(tmp_path / "faces.parquet")
    assert table.num_rows == len(lines) == 32
    assert sorted(table.column("path").to_pylist()) == sorted(x["path"] for x in lines)


def test_video_split_into_time_ranges(moving_face_video):  # noqa: F811
    local = local_lines(moving_face_video, "/nonexistent.mp4")
    lines = list(analyze_with_ray([moving_face_video, "/nonexistent.mp4"], chunk_seconds=1.0, num_workers=2, progress=False))
    assert [(x.get("frame"), x.get("time")) for x in lines] == [(x.get("frame"), x.get("time")) for x in local]
    assert lines[-1] == local[-1] and "error" in lines[-1]
    frames, frames_local = lines[:-1], local[:-1]
    assert len(frames) == 20
    for a, b in zip(frames, frames_local, strict=True):
        assert [(f["box"], f["raw_emotion"]) for f in a["faces"]] == [(f["box"], f["raw_emotion"]) for f in b["faces"]]
    # each one-second range tracks on its own: ids unique per file, restarting per range
    assert {f["track"] for x in frames[:10] for f in x["faces"]} == {1}
    assert {f["track"] for x in frames[10:] for f in x["faces"]} == {TRACKS_PER_RANGE + 1}
