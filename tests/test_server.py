"""The web server's API in-process (FastAPI TestClient) on real photos: analysis, limits and errors,
recommendations and feedback, and the live WebSocket's tracking and smoothing."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'moodtune[web]'")
from fastapi.testclient import TestClient  # noqa: E402

import moodtune  # noqa: E402
from moodtune.contract import to_json  # noqa: E402
from moodtune.emotion.labels import CLASSES  # noqa: E402
from moodtune.web import create_app  # noqa: E402

FACE_KEYS = {"box", "emotion", "confidence", "probabilities", "valence", "arousal", "detection_score", "keypoints", "uncertain"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(max_upload_bytes=2 * 1024 * 1024, feedback_db=tmp_path_factory.mktemp("home") / "feedback.sqlite")
    with TestClient(app) as c:  # runs the start-up (model and catalogue loading)
        yield c


@pytest.fixture(scope="module")
def hopper_jpeg(hopper_path) -> bytes:
    return hopper_path.read_bytes()


def _probs(face) -> np.ndarray:
    return np.array([face["probabilities"][c] for c in CLASSES])


def test_health_and_openapi(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["version"] == moodtune.__version__
    assert h["classes"] == list(CLASSES) and set(h["strategies"]) == {"auto", "match", "balanced", "calm", "energize", "lift"}
    assert isinstance(h["spotify"], bool)
    schema = client.get("/openapi.json").json()
    for path in ("/api/analyze", "/api/recommend", "/api/feedback", "/api/health"):
        assert path in schema["paths"]
    assert "multipart/form-data" in schema["paths"]["/api/analyze"]["post"]["requestBody"]["content"]
    live = schema["components"]["schemas"]["LiveFrame"]  # the WebSocket's messages, documented too
    assert live["properties"]["faces"]["items"]["$ref"] == "#/components/schemas/TrackedFace"
    assert {"track", "raw_emotion"} | FACE_KEYS <= set(schema["components"]["schemas"]["TrackedFace"]["properties"])
    # every route declares its answer: the schema of a 200 is never empty
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            content = op["responses"]["200"]["content"]
            if set(content) == {"application/json"}:
                assert content["application/json"]["schema"], (method, path)
            else:  # a file: audio, a playlist file
                assert content and "application/json" not in content, (method, path)
    assert "application/json" in schema["paths"]["/api/recommend"]["post"]["requestBody"]["content"]


def test_page_and_assets_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000
        assert "cdn" not in r.text.lower()


def test_analyze_upload_matches_the_cli_shape(client, hopper_path, hopper_jpeg):
    r = client.post("/api/analyze", files={"image": ("hopper.jpg", hopper_jpeg, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["width"], body["height"]) == (512, 600)
    assert len(body["faces"]) == 1 and FACE_KEYS <= set(body["faces"][0])
    direct = moodtune.analyze(hopper_path)[0]
    face = body["faces"][0]
    assert face == to_json(direct)  # the one JSON of a face: the same as the CLI's and the WebSocket's
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    # a raw image body works too, and a PNG (from scikit-image) through the same route
    raw = client.post("/api/analyze", content=hopper_jpeg, headers={"content-type": "image/jpeg"})
    assert raw.status_code == 200 and raw.json()["faces"][0]["box"] == face["box"]


def test_analyze_photo_without_a_face(client):
    _, png = cv2.imencode(".png", np.full((120, 160, 3), 200, np.uint8))
    r = client.post("/api/analyze", files={"image": ("plain.png", png.tobytes(), "image/png")})
    assert r.status_code == 200 and r.json()["faces"] == []


def test_upload_over_the_limit_is_413(client, hopper_jpeg):
    big = hopper_jpeg + b"\0" * (2 * 1024 * 1024)
    r = client.post("/api/analyze", files={"image": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413 and "limit" in r.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(40):
            yield b"\xff" * 65536

    r = client.post("/api/analyze", content=chunks(), headers={"content-type": "image/jpeg"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


@pytest.mark.parametrize("kwargs", [
    {"files": {"image": ("notes.txt", b"hello", "text/plain")}},
    {"json": {"image": "hopper.jpg"}},
    {"content": b"hello", "headers": {"content-type": "text/plain"}},
])
def test_wrong_content_type_is_415(client, kwargs):
    r = client.post("/api/analyze", **kwargs)
    assert r.status_code == 415
    assert set(r.json()) == {"error"} and "image" in r.json()["error"]


@pytest.mark.parametrize("data", [b"definitely not a jpeg", "truncated", b""])
def test_undecodable_image_is_422_without_a_traceback(client, hopper_jpeg, data):
    payload = hopper_jpeg[:400] if data == "truncated" else data
    r = client.post("/api/analyze", files={"image": ("x.jpg", payload, "image/jpeg")})
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and r.json()["error"]
    assert "Traceback" not in r.text and "File \"" not in r.text


def test_missing_image_field_is_422(client):
    r = client.post("/api/analyze", data={"note": "no file here"}, files={"other": (None, b"x")})
    assert r.status_code == 422 and "image" in r.json()["error"]


def test_unexpected_errors_are_a_plain_500(hopper_jpeg, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret detail")

    from moodtune.pipeline import Analyzer

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        monkeypatch.setattr(Analyzer, "classify", boom)
        r = c.post("/api/analyze", files={"image": ("h.jpg", hopper_jpeg, "image/jpeg")})
    assert r.status_code == 500 and r.json() == {"error": "internal server error"}
    assert "secret detail" not in r.text


def test_unknown_route_is_json_404(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and "error" in r.json()


# ----------------------------------------------------------------------------- live WebSocket


def _jpeg(bgr) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def test_live_websocket_tracks_and_smooths_per_connection(client, hopper_bgr):
    # a blurred copy gives other raw probabilities (a mirror image would not: the model averages
    # each face with its mirror image)
    a, b = _jpeg(hopper_bgr), _jpeg(cv2.GaussianBlur(hopper_bgr, (0, 0), 4))
    raw_a = np.array([moodtune.analyze_frame(cv2.imdecode(np.frombuffer(a, np.uint8), 1))[0].probabilities[c] for c in CLASSES])
    raw_b = np.array([moodtune.analyze_frame(cv2.imdecode(np.frombuffer(b, np.uint8), 1))[0].probabilities[c] for c in CLASSES])
    assert np.abs(raw_a - raw_b).max() > 0.05
    with client.websocket_connect("/api/live") as ws:
        ws.send_text(json.dumps({"half_life": 60}))  # a long memory: the second frame barely moves the average
        assert ws.receive_json()["half_life"] == 60
        ws.send_bytes(a)
        first = ws.receive_json()
        ws.send_bytes(b)
        second = ws.receive_json()
        assert first["frame"] == 0 and second["frame"] == 1
        assert len(first["faces"]) == 1 and len(second["faces"]) == 1
        assert first["faces"][0]["track"] == second["faces"][0]["track"] == 1
        assert set(FACE_KEYS) <= set(second["faces"][0])
        assert {k: v for k, v in first["faces"][0].items() if k not in ("track", "raw_emotion")}.keys() == \
            to_json(moodtune.analyze(a)[0]).keys()  # a live face is the face JSON plus its track
        assert _probs(first["faces"][0]) == pytest.approx(raw_a, abs=2e-3)
        assert _probs(second["faces"][0]) == pytest.approx(raw_a, abs=0.01)  # smoothed: still the first frame's
        ws.send_text(json.dumps({"half_life": 0}))  # smoothing off: the raw probabilities
        ws.receive_json()
        ws.send_bytes(b)
        assert _probs(ws.receive_json()["faces"][0]) == pytest.approx(raw_b, abs=2e-3)
        ws.send_bytes(b"not a frame")
        assert "error" in ws.receive_json()  # a bad frame is reported, the connection lives on
        ws.send_text("not json")
        assert "error" in ws.receive_json()
        ws.send_bytes(a)
        assert ws.receive_json()["faces"][0]["track"] == 1
    with client.websocket_connect("/api/live") as ws:  # a new connection has its own tracks
        ws.send_bytes(b)
        fresh = ws.receive_json()
        assert fresh["faces"][0]["track"] == 1
        assert _probs(fresh["faces"][0]) == pytest.approx(raw_b, abs=2e-3)


def test_live_websocket_rejects_oversized_frames(client):
    with client.websocket_connect("/api/live") as ws:
        ws.send_bytes(b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024 + 10))
        assert "limit" in ws.receive_json()["error"]


# ----------------------------------------------------------------------------- music


def test_recommend_by_emotion_point_and_image(client, hopper_jpeg):
    r = client.post("/api/recommend", json={"emotion": "sad", "strategy": "match", "n": 5})
    assert r.status_code == 200, r.text
    pl = r.json()
    assert pl["affect"]["emotion"] == "sad" and pl["strategy"] == "match" and len(pl["tracks"]) == 5
    for t in pl["tracks"]:
        assert t["title"] and t["id"] and "youtube_search" in t["links"]
    happy = client.post("/api/recommend", json={"emotion": "happy", "strategy": "match", "n": 5}).json()
    assert {t["id"] for t in happy["tracks"]} != {t["id"] for t in pl["tracks"]}
    point = client.post("/api/recommend", json={"valence": 0.8, "arousal": 0.6, "emotion": "happy", "source": "face"})
    assert point.status_code == 200 and point.json()["affect"]["source"] == "face"
    img = client.post("/api/recommend", files={"image": ("h.jpg", hopper_jpeg, "image/jpeg")}, data={"strategy": "calm", "n": "3"})
    assert img.status_code == 200, img.text
    assert len(img.json()["faces"]) == 1 and len(img.json()["tracks"]) == 3 and img.json()["strategy"] == "calm"


@pytest.mark.parametrize("body", [{}, {"emotion": "bored"}, {"emotion": "sad", "strategy": "louder"},
                                  {"valence": 2, "arousal": 0}, {"valence": 0.5}, {"emotion": "sad", "n": 0}])
def test_recommend_bad_requests_are_422(client, body):
    r = client.post("/api/recommend", json=body)
    assert r.status_code == 422 and set(r.json()) == {"error"}


def test_feedback_is_stored(client):
    pl = client.post("/api/recommend", json={"emotion": "happy", "n": 3, "user": "tester"}).json()
    track = pl["tracks"][0]
    r = client.post("/api/feedback", json={"track": track["id"], "action": "like", "user": "tester"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] is True and r.json()["track"] == track["id"]
    events = client.get("/api/feedback", params={"user": "tester"}).json()["events"]
    assert events[0]["track"] == track["id"] and events[0]["action"] == "like"
    assert client.post("/api/feedback", json={"track": track["id"], "action": "love"}).status_code == 422
    missing = client.post("/api/feedback", json={"track": "mt-000000000000", "action": "skip"})
    assert missing.status_code == 404 and "no track" in missing.json()["error"]


# ----------------------------------------------------------------------------- uploads, limits, concurrency


def test_uploads_are_never_spooled_to_disk(hopper_jpeg, monkeypatch):
    """A 1.5 MB upload (over Starlette's default 1 MB spool size) stays in memory."""
    import tempfile

    rolled = []
    real = tempfile.SpooledTemporaryFile.rollover
    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", lambda self: rolled.append(1) or real(self))
    big = hopper_jpeg + b"\0" * (1536 * 1024)  # trailing bytes after the JPEG's end are ignored by the decoder
    with TestClient(create_app(max_upload_bytes=2 * 1024 * 1024)) as c:
        r = c.post("/api/analyze", files={"image": ("big.jpg", big, "image/jpeg")})
        rec = c.post("/api/recommend", files={"image": ("big.jpg", big, "image/jpeg")}, data={"n": "2"})
    assert r.status_code == 200 and len(r.json()["faces"]) == 1, r.text
    assert rec.status_code == 200 and len(rec.json()["tracks"]) == 2, rec.text
    assert rolled == []


def test_a_timed_out_request_stops_costing_cpu(hopper_jpeg, monkeypatch):
    """One CPU slot, a 1 s timeout, detection made to take 1.5 s: the first request times out and
    stops before classification; the requests queued behind it never start. All get 504."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from moodtune.pipeline import Analyzer
    from moodtune.vision.blazeface import BlazeFaceDetector

    real_detect, real_classify = BlazeFaceDetector.detect, Analyzer.classify
    calls = {"detect": 0, "classify": 0}
    lock = threading.Lock()

    def slow_detect(self, bgr):
        with lock:
            calls["detect"] += 1
        time.sleep(1.5)
        return real_detect(self, bgr)

    def counted_classify(*args, **kwargs):
        with lock:
            calls["classify"] += 1
        return real_classify(*args, **kwargs)

    app = create_app(timeout=1.0, cpu_slots=1)
    with TestClient(app) as c:
        monkeypatch.setattr(BlazeFaceDetector, "detect", slow_detect)
        monkeypatch.setattr(Analyzer, "classify", counted_classify)
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: c.post("/api/analyze", files={"image": ("h.jpg", hopper_jpeg, "image/jpeg")}),
                                    range(3)))
        time.sleep(1.0)  # any work still running would have called classify by now
    state = app.state.moodtune
    assert [r.status_code for r in answers] == [504, 504, 504], [r.text for r in answers]
    assert "longer than 1 s" in answers[0].json()["error"]
    assert calls == {"detect": 1, "classify": 0}  # one started, stopped at its checkpoint; two never started
    assert (state.started_work, state.cancelled_work) == (1, 1)


def test_method_not_allowed_names_every_method_of_the_path(client):
    r = client.request("OPTIONS", "/api/feedback")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    r = client.put("/api/analyze", content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


@pytest.mark.slow
def test_serve_with_several_workers(hopper_jpeg):
    """``moodtune serve --workers 2``: two worker processes, each with its own models, both answering."""
    import httpx
    import psutil
    from helpers import serve

    with serve("--workers", "2", "--log-level", "info") as server:
        answered: set[int] = set()
        for _ in range(50):  # a new connection each time: the kernel spreads them over the workers
            with httpx.Client(base_url=server.url, timeout=60) as c:
                r = c.post("/api/analyze", files={"image": ("h.jpg", hopper_jpeg, "image/jpeg")})
                assert r.status_code == 200 and len(r.json()["faces"]) == 1
                answered.add(c.get("/api/health").json()["pid"])
            if len(answered) == 2:
                break
        children = {p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)}
        log = server.log_text()
    started = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", log)}
    assert len(started) == 2 and started <= children, log[-2000:]
    assert log.count("Application startup complete") == 2  # each worker ran its own start-up (models, catalogue)
    assert answered == started, (answered, started)  # and both answer
    assert "Traceback" not in log


# ----------------------------------------------------------------------------- the commands (in process)


def test_serve_refuses_a_busy_port(capsys):
    import socket

    from moodtune.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code = main(["serve", "--port", str(s.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 1
    assert "moodtune: error:" in err and "already in use" in err and "Traceback" not in err


def test_live_without_a_camera_says_so(capsys):
    import glob

    from moodtune.cli import main

    if glob.glob("/dev/video*"):
        pytest.skip("this machine has a camera")
    code = main(["live", "--no-window"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no camera" in err and "moodtune serve" in err and "Traceback" not in err


def test_live_reads_a_video_file_as_text(tmp_path, hopper_bgr, capsys):
    from moodtune.cli import main

    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for i in range(6):
        frame = np.full((480, 640, 3), 90, np.uint8)
        frame[60:420, 100 + 5 * i : 100 + 5 * i + 307] = cv2.resize(hopper_bgr, (307, 360))
        w.write(frame)
    w.release()
    code = main(["live", "--source", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "face 1:" in out and "6 frames" in err


def test_recommend_from_words_and_the_next_page(client):
    """``text`` alone is a mood (source "text"); with an emotion both count; ``page`` 1 repeats no track of page 0."""
    body = {"text": "exhausted after the exam, I just want to rest", "user": "words"}
    first = client.post("/api/recommend", json=body).json()
    assert first["affect"]["source"] == "text" and first["affect"]["valence"] < 0
    assert [t["id"] for t in client.post("/api/recommend", json=body).json()["tracks"]] == [t["id"] for t in first["tracks"]]
    more = client.post("/api/recommend", json={**body, "page": 1}).json()
    assert more["page"] == 1 and len(more["tracks"]) == 10
    assert not {t["id"] for t in first["tracks"]} & {t["id"] for t in more["tracks"]}
    both = client.post("/api/recommend", json={"emotion": "sad", "text": "what a wonderful, happy day!"}).json()
    assert both["affect"]["source"] == "emotion+text" and both["affect"]["valence"] > -0.55  # the words lift the sad face
    assert client.post("/api/recommend", json={"text": ""}).status_code == 422
