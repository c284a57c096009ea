"""The ``moodtune`` command line, in process (``moodtune.cli.main``), plus one real subprocess for the console entry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_video import moving_face_video  # noqa: F401  (fixture: a 2-second video of a moving face)

import moodtune as mt
from moodtune.cli import main
from moodtune.contract import to_json
from moodtune.emotion.labels import CLASSES


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def moodtune(capsys):
    """``moodtune ARGS`` in this process: (exit code, stdout, stderr)."""

    def run(*args) -> Run:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def test_console_entry_point():
    """``python -m moodtune`` (what the console script runs) exits with the command's code."""
    ok = subprocess.run([sys.executable, "-m", "moodtune", "--version"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("moodtune ")
    usage = subprocess.run([sys.executable, "-m", "moodtune", "analyze"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "moodtune: error:" in usage.stderr and "Traceback" not in usage.stderr


@pytest.fixture(scope="module")
def photos(tmp_path_factory, hopper_path, astronaut_bgr) -> Path:
    """A folder tree: two real photos, a no-face image, a broken file and a non-image file."""
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    shutil.copy(hopper_path, root / "hopper.jpg")
    cv2.imwrite(str(root / "sub" / "astronaut.png"), astronaut_bgr)
    cv2.imwrite(str(root / "sub" / "black.png"), np.zeros((120, 160, 3), np.uint8))
    (root / "broken.jpg").write_bytes(hopper_path.read_bytes()[:500])
    (root / "notes.txt").write_text("not an image, and not picked up")
    return root


def test_help_on_every_command(moodtune):
    out = moodtune("--help")
    commands = ("analyze", "recommend", "catalog", "feedback", "eval", "train", "benchmark-models", "serve", "live")
    assert out.returncode == 0 and all(c in out.stdout for c in commands)
    for cmd in commands:
        sub = moodtune(cmd, "--help")
        assert sub.returncode == 0 and "Usage: moodtune " + cmd in sub.stdout, sub.stderr
    assert "blazeface|haar" in moodtune("analyze", "--help").stdout  # choices from the detector registry


@pytest.mark.parametrize("argv, message", [
    (["analyze"], "Missing argument"),
    (["analyze", "x.jpg", "--detector", "nope"], "'nope' is not one of"),
    (["analyze", "x.jpg", "--every", "0"], "--every"),
    (["recommend"], "exactly one of IMAGE"),
    (["recommend", "--emotion", "bored"], "'bored' is not one of"),
    (["recommend", "--emotion", "sad", "--strategy", "louder"], "'louder' is not one of"),
    (["recommend", "--va", "3", "0"], r"\[-1, 1\]"),
    (["feedback"], "give a TRACK"),
    (["feedback", "Some Song"], "--like or --skip"),
    (["feedback", "Some Song", "--like", "--skip"], "only one of"),
    (["catalog", "nope"], "No such command"),
    (["serve", "--port", "0"], "--port"),
    (["nope"], "No such command"),
])
def test_usage_errors_exit_2_with_one_error_line(moodtune, argv, message):
    import re

    out = moodtune(*argv)
    errors = [line for line in out.stderr.splitlines() if line.startswith("moodtune: error:")]
    assert out.returncode == 2 and len(errors) == 1 and re.search(message, errors[0]), out.stderr
    assert "Traceback" not in out.stderr


def test_analyze_json_lines(moodtune, photos):
    out = moodtune("analyze", photos, "--json")
    assert out.returncode == 1  # the broken file fails, the rest is processed
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    by_name = {Path(d["path"]).name: d for d in lines}
    assert set(by_name) == {"hopper.jpg", "astronaut.png", "black.png", "broken.jpg"}
    assert "error" in by_name["broken.jpg"] and "Traceback" not in out.stderr
    assert by_name["black.png"]["faces"] == []
    face = by_name["hopper.jpg"]["faces"][0]
    assert set(face) == {"box", "emotion", "confidence", "probabilities", "valence", "arousal",
                         "detection_score", "keypoints", "uncertain"}  # the contract's face (types.FaceResult)
    assert face == to_json(mt.analyze(photos / "hopper.jpg")[0])  # the one face JSON (also HTTP's and the WebSocket's)
    assert list(face["probabilities"]) == list(CLASSES) and len(face["box"]) == 4
    assert face["emotion"] in CLASSES and 0 < face["confidence"] <= 1


def test_analyze_text_output_and_exit_codes(moodtune, photos):
    ok = moodtune("analyze", photos / "hopper.jpg")
    assert ok.returncode == 0 and "1 face" in ok.stdout and "valence" in ok.stdout
    missing = moodtune("analyze", photos / "nope.jpg")
    assert missing.returncode == 1 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    usage = moodtune("analyze", photos, "--detector", "nope")
    assert usage.returncode == 2 and "'nope' is not one of 'blazeface', 'haar'" in usage.stderr
    assert moodtune("analyze").returncode == 2


def test_empty_folder_is_an_error(moodtune, tmp_path):
    out = moodtune("analyze", tmp_path, "--json")
    assert out.returncode == 1 and "no images" in json.loads(out.stdout)["error"]


def test_face_crop_and_haar(moodtune, photos):
    out = moodtune("analyze", photos / "hopper.jpg", "--json", "--face-crop")
    face = json.loads(out.stdout)["faces"][0]
    img = cv2.imread(str(photos / "hopper.jpg"))
    assert face["box"] == [0, 0, img.shape[1], img.shape[0]]
    haar = moodtune("analyze", photos / "sub" / "astronaut.png", "--json", "--detector", "haar")
    assert haar.returncode == 0 and len(json.loads(haar.stdout)["faces"]) >= 1


def test_annotate_writes_copies(moodtune, photos, tmp_path):
    out = moodtune("analyze", photos / "hopper.jpg", "--annotate", tmp_path / "ann")
    assert out.returncode == 0
    written = cv2.imread(str(tmp_path / "ann" / "hopper.annotated.jpg"))
    original = cv2.imread(str(photos / "hopper.jpg"))
    assert written.shape == original.shape and np.abs(written.astype(int) - original).mean() > 0.5


@pytest.mark.shared
@pytest.mark.slow
def test_analyze_fer_crops_folder(moodtune, shared_data, tmp_path):
    """--face-crop over one class folder of real FER2013 crops gives the same answer as the model."""
    from moodtune.emotion.classifier import get_classifier

    folder = shared_data / "fer2013" / "images" / "PrivateTest" / "disgust"
    out = moodtune("analyze", folder, "--face-crop", "--json")
    assert out.returncode == 0
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == len(list(folder.glob("*.png")))
    crops = np.stack([cv2.imread(os.path.join(folder, Path(d["path"]).name), cv2.IMREAD_GRAYSCALE) for d in lines])
    expected = get_classifier().predict(crops).argmax(1)
    assert [d["faces"][0]["emotion"] for d in lines] == [CLASSES[i] for i in expected]


def test_annotate_keeps_the_layout_and_never_overwrites(moodtune, hopper_path, astronaut_bgr, tmp_path):
    """Two photos both named x.jpg in different subfolders: two copies in the same layout; a second run numbers."""
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "b" / "c").mkdir(parents=True)
    shutil.copy(hopper_path, src / "a" / "x.jpg")
    cv2.imwrite(str(src / "b" / "c" / "x.jpg"), astronaut_bgr)
    out = tmp_path / "out"
    assert moodtune("analyze", src, "--annotate", out).returncode == 0
    first = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert first == {"a/x.annotated.jpg", "b/c/x.annotated.jpg"}
    a, c = cv2.imread(str(out / "a" / "x.annotated.jpg")), cv2.imread(str(out / "b" / "c" / "x.annotated.jpg"))
    assert a.shape == cv2.imread(str(hopper_path)).shape and c.shape == astronaut_bgr.shape
    before = {p: p.read_bytes() for p in out.rglob("*.jpg")}
    assert moodtune("analyze", src, src / "a" / "x.jpg", "--annotate", out).returncode == 0
    after = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert after == first | {"a/x-2.annotated.jpg", "b/c/x-2.annotated.jpg", "x.annotated.jpg"}  # named directly: top level
    assert all(p.read_bytes() == b for p, b in before.items())  # nothing overwritten


def test_annotate_video_writes_webm(moodtune, moving_face_video, tmp_path):  # noqa: F811
    out = moodtune("analyze", moving_face_video, "--annotate", tmp_path / "ann", "--every", "2")
    assert out.returncode == 0, out.stderr
    written = tmp_path / "ann" / "hopper.annotated.webm"
    assert f"annotated video: {written}" in out.stdout and not list((tmp_path / "ann").glob("*.mp4"))
    cap = cv2.VideoCapture(str(written))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 10 and frames[0].shape == (480, 640, 3)
    again = moodtune("analyze", moving_face_video, "--annotate", tmp_path / "ann", "--every", "2")
    assert again.returncode == 0 and (tmp_path / "ann" / "hopper-2.annotated.webm").is_file()


def test_analyze_out_writes_the_json_lines(moodtune, photos, tmp_path):
    out = moodtune("analyze", photos, "--json", "--out", tmp_path / "all.jsonl")
    assert out.returncode == 1  # broken.jpg
    assert (tmp_path / "all.jsonl").read_text().splitlines() == out.stdout.splitlines() and len(out.stdout.splitlines()) == 4
    quiet = moodtune("analyze", photos / "hopper.jpg", "--out", tmp_path / "one.jsonl")
    assert quiet.returncode == 0 and "1 face" in quiet.stdout  # text on stdout, JSON in the file
    assert len(json.loads((tmp_path / "one.jsonl").read_text())["faces"]) == 1
    for argv, message in ((["--out", tmp_path / "x.parquet"], "needs --engine ray"), (["--address", "auto"], "--engine ray"),
                          (["--engine", "ray", "--annotate", tmp_path], "--engine local only"),
                          (["--engine", "spark"], "'spark' is not one of")):
        bad = moodtune("analyze", photos, *argv)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


def test_model_and_detector_choices_come_from_the_registries(moodtune):
    help_text = " ".join(moodtune("analyze", "--help").stdout.split())
    assert all(m.name in help_text for m in mt.list_models()) and all(d.name in help_text for d in mt.list_detectors())
    bad = moodtune("analyze", "x.jpg", "--model", "nonet")
    assert bad.returncode == 1 and "unknown model 'nonet'" in bad.stderr and "moodnet" in bad.stderr


def test_ray_engine_without_ray_is_one_clear_line(moodtune, photos, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the ray extra sees: ImportError
    out = moodtune("analyze", photos, "--engine", "ray")
    assert out.returncode == 1 and out.stderr.strip() == "moodtune: error: Ray is not installed: pip install 'moodtune[ray]'"


@pytest.mark.slow
def test_serve_offline_and_database(tmp_path):
    """``moodtune serve --offline --database URL``: the page frames nothing from Spotify, state lives in that database."""
    import httpx
    from helpers import serve

    db = tmp_path / "state.sqlite"
    with serve("--offline", "--database", f"sqlite:///{db}") as server:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            assert c.get("/api/playback").json()["offline"] is True
            assert "frame-src 'none'" in c.get("/").headers["content-security-policy"]
            r = c.post("/api/recommend", json={"emotion": "happy", "n": 3})
            assert r.status_code == 200 and len(r.json()["tracks"]) == 3
        home = server.home
    assert db.is_file() and db.stat().st_size > 0 and not (home / "feedback.sqlite").exists()


def test_text_output_says_not_sure_for_an_uncertain_face(tmp_path, capsys, hopper_path):
    """A face too blurred to judge is printed with "(not sure)" (the JSON says ``"uncertain": true``)."""
    bgr = cv2.imread(str(hopper_path))
    blurred = tmp_path / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(bgr, (0, 0), 6))
    assert main(["analyze", str(blurred)]) == 0
    out = capsys.readouterr().out
    face = mt.analyze(blurred)[0]
    assert face.uncertain and "(not sure)" in out


def test_error_lines_name_the_path_once_and_videos_point_at_analyze(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    assert main(["analyze", str(bad)]) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("moodtune: error:") and line.count(str(bad)) == 1, line
    video = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for _ in range(5):
        w.write(np.zeros((64, 64, 3), np.uint8))
    w.release()
    assert main(["recommend", str(video)]) == 1
    err = capsys.readouterr().err
    assert "is a video" in err and f"moodtune analyze {video}" in err
