"""``moodtune analyze --engine ray`` in process on a local Ray instance: the same JSON lines as the
local engine on real photos (faces-wild-dev) and a damaged JPEG. Ray's start costs ~10 s."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'moodtune[ray]'")
from moodtune.cli import main  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared]


@pytest.fixture(scope="module", autouse=True)
def stop_ray():
    yield
    if ray.is_initialized():  # the CLI started it in this process
        ray.shutdown()


def test_ray_engine_prints_the_local_lines(shared_data, tmp_path, capsys):
    photos = sorted((shared_data / "faces-wild-dev" / "images").glob("*.jpg"))[::200][:4]
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for p in photos:
        (folder / p.name).symlink_to(p)
    (folder / "sub" / "damaged.jpg").write_bytes(photos[0].read_bytes()[:1500])
    assert main(["analyze", str(folder), "--json"]) == 1
    local = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    out = tmp_path / "faces.jsonl"
    code = main(["analyze", str(folder), "--engine", "ray", "--workers", "2", "--out", str(out)])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 1 and lines == local and len(lines) == 5  # exit 1: the damaged file is an error line
    assert [json.loads(x) for x in out.read_text().splitlines()] == local
    assert [x["path"].endswith("damaged.jpg") for x in lines if "error" in x] == [True]
    assert sum(len(x.get("faces", [])) for x in lines) >= 4
    assert main(["analyze", str(folder / photos[1].name), "--engine", "ray"]) == 0
    assert len(json.loads(capsys.readouterr().out)["faces"]) >= 1


def test_ray_notices_go_to_stderr(monkeypatch, tmp_path, capsys):
    """What Ray's driver prints while the job runs (e.g. "(raylet) A worker died ...", printed from
    its own thread) lands on stderr; stdout keeps the JSON lines only."""
    import moodtune.engines.ray_batch as engine

    def job(paths, **kwargs):
        print("(raylet) A worker died or was killed while executing a task")
        yield {"path": str(paths[0]), "faces": []}
        print("(raylet) another notice")
        yield {"path": str(paths[0]), "error": "damaged"}

    monkeypatch.setattr(engine, "analyze_with_ray", job)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    assert main(["analyze", str(photo), "--engine", "ray"]) == 1
    captured = capsys.readouterr()
    assert [json.loads(x) for x in captured.out.splitlines()] == [{"path": str(photo), "faces": []},
                                                                    {"path": str(photo), "error": "damaged"}]
    assert "(raylet) A worker died" in captured.err and "another notice" in captured.err
