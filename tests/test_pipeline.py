"""``moodtune.Analyzer`` on real photos: names and instances, one ONNX session per model file,
RGB input, batches, keypoints, the ``uncertain`` rule, the JSON contract, registries, alignment,
and fast mode's own logic on a real moving sequence."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import moodtune
from moodtune.contract import to_json
from moodtune.emotion.classifier import DEFAULT_MODEL, get_classifier
from moodtune.emotion.labels import CLASSES
from moodtune.pipeline import BLUR_BELOW, Analyzer, FrameAnalyzer, blur_score
from moodtune.types import MIN_FACE_PX, FaceResult
from moodtune.vision.blazeface import BlazeFaceDetector
from moodtune.vision.crop import crop_matrix, eye_roll, face_crop
from moodtune.vision.detect import detector_names, get_detector

#: the README's ``analyze --json`` face fields, which users rely on
README_FIELDS = {"box", "emotion", "confidence", "probabilities", "valence", "arousal"}


def _iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# ----------------------------------------------------------------------------- configuration


def test_names_and_instances_give_the_same_parts(hopper_bgr):
    by_name = Analyzer(detector="blazeface", model="moodnet")
    assert by_name.detector is get_detector() is get_detector("blazeface")
    assert by_name.classifier is get_classifier() is get_classifier("moodnet")
    det, clf = BlazeFaceDetector(), get_classifier(DEFAULT_MODEL)
    by_instance = Analyzer(detector=det, model=clf)
    assert by_instance.detector is det and by_instance.classifier is clf
    a, b = by_name.analyze(hopper_bgr), by_instance.analyze(hopper_bgr)
    assert [f.box for f in a] == [f.box for f in b] and len(a) == 1
    assert a[0].probabilities == pytest.approx(b[0].probabilities, abs=1e-6)


def test_bad_options_are_clear_errors():
    with pytest.raises(moodtune.MoodtuneError, match="unknown detector 'nope'; choose one of: blazeface, haar"):
        Analyzer(detector="nope")
    with pytest.raises(moodtune.MoodtuneError, match="unknown model 'nope'"):
        Analyzer(model="nope")
    with pytest.raises(moodtune.MoodtuneError, match="emotion model not found"):
        Analyzer(model="/no/such/model.onnx")
    with pytest.raises(moodtune.MoodtuneError, match="channels"):
        Analyzer(channels="bgra")
    with pytest.raises(moodtune.MoodtuneError, match="threads"):
        Analyzer(threads=0)


def test_one_session_per_model_file_however_spelled(tmp_path, monkeypatch):
    link = tmp_path / "linked.onnx"
    link.symlink_to(DEFAULT_MODEL)
    monkeypatch.chdir(DEFAULT_MODEL.parent)
    spellings = [None, "moodnet", DEFAULT_MODEL, str(DEFAULT_MODEL), "emotion.onnx", f"../assets/{DEFAULT_MODEL.name}",
                 str(link), link]
    models = [get_classifier(s) for s in spellings]
    assert all(m is models[0] for m in models)
    assert len({id(m.session) for m in models}) == 1
    two = get_classifier(None, threads=2)
    assert two is not models[0] and two.session.get_session_options().intra_op_num_threads == 2
    assert Analyzer(threads=2).classifier is two
    assert models[0].session.get_session_options().intra_op_num_threads == 1


def test_detector_threads_are_per_analyzer():
    one, two = Analyzer(threads=1).detector, Analyzer(threads=2).detector
    assert one is not two
    assert one.short.session.get_session_options().intra_op_num_threads == 1
    assert two.short.session.get_session_options().intra_op_num_threads == 2


def test_rgb_channels_really_convert(hopper_bgr):
    rgb = np.ascontiguousarray(hopper_bgr[:, :, ::-1])
    want = Analyzer().analyze(hopper_bgr)
    got = Analyzer(channels="rgb").analyze(rgb)
    assert [f.box for f in got] == [f.box for f in want] and len(want) == 1
    assert got[0].probabilities == pytest.approx(want[0].probabilities, abs=1e-6)
    # the same RGB array read as BGR gives another gray crop, so other numbers
    misread = Analyzer().analyze(rgb)
    assert misread and misread[0].probabilities != pytest.approx(want[0].probabilities, abs=1e-6)
    # BGRA / RGBA too; files decode the same whichever way arrays are read
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert Analyzer(channels="rgb").analyze(rgba)[0].probabilities == pytest.approx(want[0].probabilities, abs=1e-6)
    assert moodtune.analyze(rgb, channels="rgb")[0].box == want[0].box


def test_analyze_batch_is_analyze_per_image_with_one_model_call(hopper_bgr, astronaut_bgr):
    clf = dataclasses.replace(get_classifier())  # the real model, in an object of this test's own
    calls = []
    real_predict = clf.predict
    clf.predict = lambda crops, **kw: calls.append(len(crops)) or real_predict(crops, **kw)  # type: ignore[method-assign]
    an = Analyzer(model=clf)
    images = [hopper_bgr, astronaut_bgr, np.zeros((240, 320, 3), np.uint8), hopper_bgr[:, ::-1]]
    batch = an.analyze_batch(images)
    assert calls == [3]  # one call for the three faces of the four images
    singles = [Analyzer().analyze(im) for im in images]
    assert [len(b) for b in batch] == [1, 1, 0, 1]
    for got, want in zip(batch, singles, strict=True):
        assert [f.box for f in got] == [f.box for f in want]
        for g, w in zip(got, want, strict=True):
            assert g.probability_vector() == pytest.approx(w.probability_vector(), abs=1e-5)
    assert an.analyze_batch([]) == []


# ----------------------------------------------------------------------------- what a face carries


def test_keypoints_for_blazeface_none_for_haar(hopper_bgr, astronaut_bgr):
    for image in (hopper_bgr, astronaut_bgr):
        face = Analyzer().analyze(image)[0]
        assert face.keypoints is not None and len(face.keypoints) == 6
        (rx, ry), (lx, ly), (nx, ny), (_mx, my) = face.keypoints[:4]
        x, y, w, h = face.box
        for px, py in face.keypoints[:4]:  # eyes, nose and mouth lie inside the box
            assert x <= px <= x + w and y <= py <= y + h
        assert rx < nx < lx  # the person's right eye is on the image's left
        assert max(ry, ly) < ny < my  # eyes above the nose above the mouth
    assert all(f.keypoints is None for f in Analyzer(detector="haar").analyze(astronaut_bgr))
    assert Analyzer(face_crop_input=True).analyze(hopper_bgr)[0].keypoints is None


def test_uncertain_rule(hopper_bgr, astronaut_bgr):
    sure = Analyzer().analyze(astronaut_bgr)[0]  # a broad smile
    assert sure.confidence >= 0.5 and not sure.uncertain
    # the card's threshold is read: with uncertain_below above the face's confidence it is unsure
    strict = dataclasses.replace(get_classifier(), card={**get_classifier().card, "uncertain_below": 0.999})
    assert Analyzer(model=strict).analyze(astronaut_bgr)[0].uncertain
    # a low top probability
    flat = FaceResult.from_probabilities((0, 0, 100, 100), np.full(7, 1 / 7))
    assert flat.uncertain and not FaceResult.from_probabilities((0, 0, 100, 100), np.eye(7)[3]).uncertain
    # too small: the portrait shrunk until the face box is under MIN_FACE_PX, in a frame
    frame = np.full((480, 640, 3), 100, np.uint8)
    small = cv2.resize(hopper_bgr, None, fx=0.14, fy=0.14, interpolation=cv2.INTER_AREA)
    frame[200 : 200 + small.shape[0], 300 : 300 + small.shape[1]] = small
    tiny = Analyzer(detector=BlazeFaceDetector(small_faces="always")).analyze(frame)
    assert len(tiny) == 1 and tiny[0].box[2] < MIN_FACE_PX and tiny[0].uncertain
    # too blurred to judge (still found): a ~58 px face blurred, so that the blur shows at 48x48
    soft = cv2.GaussianBlur(cv2.resize(hopper_bgr, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA), (0, 0), 3.5)
    blurred = Analyzer().analyze(soft)
    assert len(blurred) == 1 and blurred[0].uncertain
    assert blur_score(face_crop(cv2.cvtColor(soft, cv2.COLOR_BGR2GRAY), blurred[0].box, 48, 1.2, -0.09)) < BLUR_BELOW
    sharp = Analyzer().analyze(hopper_bgr)[0]
    assert blur_score(face_crop(cv2.cvtColor(hopper_bgr, cv2.COLOR_BGR2GRAY), sharp.box, 48, 1.2, -0.09)) > BLUR_BELOW


def test_json_contract(hopper_bgr):
    face = Analyzer().analyze(hopper_bgr)[0]
    d = to_json(face)
    assert README_FIELDS | {"detection_score", "keypoints", "uncertain"} == set(d)
    assert d["box"] == list(face.box) and isinstance(d["uncertain"], bool)
    assert len(d["keypoints"]) == 6 and all(len(p) == 2 for p in d["keypoints"])
    assert d["confidence"] == round(face.confidence, 4) and list(d["probabilities"]) == list(CLASSES)
    tracked = FrameAnalyzer().process(hopper_bgr)
    t = to_json(tracked)[0]
    assert set(t) == set(d) | {"track", "raw_emotion"} and t["track"] == 1
    live = to_json(FrameAnalyzer().live_frame(np.hstack([hopper_bgr, hopper_bgr]), 7))
    assert live["frame"] == 7 and live["width"] == 2 * hopper_bgr.shape[1] and len(live["faces"]) == 2
    assert set(live["group"]) == set(d)


def test_group_mood_over_tracked_faces(hopper_bgr):
    faces = FrameAnalyzer().process(np.hstack([hopper_bgr, cv2.GaussianBlur(hopper_bgr, (0, 0), 2)]))
    g = moodtune.group_mood(faces)
    assert len(faces) == 2
    assert g.probability_vector() == pytest.approx(np.mean([f.probability_vector() for f in faces], axis=0))
    assert g.valence == pytest.approx(np.mean([f.valence for f in faces]))


# ----------------------------------------------------------------------------- registries and imports


def test_registries_are_data():
    assert [e.name for e in moodtune.list_detectors()] == detector_names() == ["blazeface", "haar"]
    assert [e.name for e in moodtune.list_models()] == ["moodnet"]
    assert all(e.summary for e in moodtune.list_detectors() + moodtune.list_models())
    assert moodtune.list_models()[0].path == DEFAULT_MODEL


def test_importing_moodtune_registers_nothing():
    """The detector table names its classes as strings: importing moodtune loads no detector."""
    code = ("import sys, moodtune; bad = [m for m in ('moodtune.vision.blazeface', 'moodtune.vision.haar') "
            "if m in sys.modules]; print(bad); raise SystemExit(1 if bad else 0)")
    env = {**os.environ, "PYTHONPATH": str(Path(moodtune.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def _module_imports() -> dict[str, set[str]]:
    """moodtune module → the moodtune modules it imports (at any level of the file)."""
    import ast

    root = Path(moodtune.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        name = ".".join(("moodtune", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("moodtune"):
                # ``from moodtune.pkg import mod`` depends on the submodule, not on the package itself
                subs = {f"{node.module}.{a.name}" for a in node.names
                        if (root / Path(*node.module.split(".")[1:]) / f"{a.name}.py").exists()}
                deps |= subs or {node.module}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("moodtune")}
        graph[name] = deps - {"moodtune"}
    return graph


def test_core_layers_import_nothing_above_them():
    graph = _module_imports()
    above = {"moodtune.pipeline", "moodtune.video", "moodtune.app", "moodtune.music", "moodtune.web", "moodtune.cli",
             "moodtune.engines", "moodtune.store"}
    for name, deps in graph.items():
        if name.startswith(("moodtune.vision", "moodtune.emotion", "moodtune.types", "moodtune.registry", "moodtune.contract")):
            bad = {d for d in deps if d.startswith(tuple(above))}
            assert not bad, f"{name} imports {bad}"
    assert not {d for d in graph["moodtune.types"] if d.startswith(("moodtune.vision", "moodtune.emotion.classifier"))}


def test_no_import_cycles_in_the_core():
    graph = _module_imports()
    core = {n for n in graph if not n.startswith(("moodtune.training", "moodtune.app", "moodtune.music"))}
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for d in sorted(graph.get(n, ())):
            if d not in core:
                continue
            assert state.get(d) != 1, "import cycle: " + " -> ".join([*path, n, d])
            if d not in state:
                visit(d, [*path, n])
        state[n] = 2

    for n in sorted(core):
        if n not in state:
            visit(n, [])


# ----------------------------------------------------------------------------- alignment


def test_alignment_levels_the_eyes_of_a_rolled_face(hopper_bgr):
    """The portrait rolled by 20 degrees: the crop aligned on BlazeFace's eye keypoints is much
    closer to the upright face's (aligned) crop than the crop of the same box without alignment."""
    gray = cv2.cvtColor(hopper_bgr, cv2.COLOR_BGR2GRAY)
    upright = Analyzer(align=False).analyze(hopper_bgr)[0]
    h, w = gray.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), -20, 1.0)  # clockwise on screen
    rolled = cv2.warpAffine(hopper_bgr, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
    face = Analyzer().analyze(rolled)[0]
    assert eye_roll(face.keypoints[:2]) == pytest.approx(20 + eye_roll(upright.keypoints[:2]), abs=5)
    ref = face_crop(gray, upright.box, 48, 1.2, -0.09, upright.keypoints[:2]).astype(float)
    rgray = cv2.cvtColor(rolled, cv2.COLOR_BGR2GRAY)
    aligned = face_crop(rgray, face.box, 48, 1.2, -0.09, face.keypoints[:2]).astype(float)
    plain = face_crop(rgray, face.box, 48, 1.2, -0.09).astype(float)
    inner = (slice(8, 40), slice(8, 40))  # the face itself, not the corners the turn brings in
    assert np.abs(aligned - ref)[inner].mean() < 0.7 * np.abs(plain - ref)[inner].mean()
    # the geometry: no roll is the plain crop; the box centre lands on the crop centre
    m = crop_matrix((10, 20, 30, 40), 48, 1.2, 0.0, 33.0)
    assert m @ np.array([25.0, 40.0, 1.0]) == pytest.approx([24.0, 24.0])


# ----------------------------------------------------------------------------- fast mode


def _scene(t: int, bg: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Frame ``t`` of a sequence: the portrait moving right and down and growing, on a real
    photo background. Returns the frame and where the portrait is (x, y, w, h)."""
    s = 0.4 + 0.003 * t
    p = cv2.resize(face, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    x, y = 60 + 4 * t, 30 + 2 * t
    frame = bg.copy()
    frame[y : y + p.shape[0], x : x + p.shape[1]] = p
    return frame, (x, y, p.shape[1], p.shape[0])


def test_fast_mode_tracks_between_full_searches(hopper_bgr):
    """40 frames, full search every 10, split over two frames: the finer scans on frames 1, 11,
    21, 31, the coarse scan on the others; the face keeps its track id, its boxes stay on the
    moving face and agree with a full search of the same frame, and a second face that walks in
    between two full searches gets its own id."""
    from skimage import data

    bg = cv2.resize(np.ascontiguousarray(data.coffee()[:, :, ::-1]), (640, 480), interpolation=cv2.INTER_AREA)
    live = FrameAnalyzer(fast=True, full_search_every=10, unit="frames")
    full = Analyzer()
    searches, ids = [], set()
    newcomer = cv2.resize(hopper_bgr, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    for t in range(40):
        frame, where = _scene(t, bg, hopper_bgr)
        if t >= 25:  # somebody else in the top right corner from frame 25 on
            frame[10 : 10 + newcomer.shape[0], 470 : 470 + newcomer.shape[1]] = newcomer
        faces = live.process(frame)
        searches.append(live.last_search)
        want = full.analyze(frame)
        main = max(faces, key=lambda f: f.box[2])
        ids.add(main.track)
        # the face lies inside the moving portrait, and a full search finds the same box
        x, y, w, h = where
        assert x <= main.box[0] and main.box[0] + main.box[2] <= x + w and y <= main.box[1] <= y + h, (t, main.box, where)
        assert _iou(main.box, max(want, key=lambda f: f.box[2]).box) > 0.6, (t, main.box, want)
        if t >= 25:  # the newcomer (154 px) is found by the coarse scan of the frame it walks in, then followed
            assert len(faces) == 2, (t, [f.box for f in faces])
    assert searches == ["coarse"] + (["fine"] + ["coarse"] * 9) * 3 + ["fine"] + ["coarse"] * 8
    assert ids == {1}
    assert len(live.tracker.active_ids) == 2


def test_iter_video_over_frames_uses_fast_mode(hopper_bgr):
    frames = [np.roll(hopper_bgr, 3 * i, axis=1) for i in range(5)]
    out = list(Analyzer().iter_video(frames, progress=False))
    assert [f.frame for f in out] == list(range(5)) and all(len(f.faces) == 1 for f in out)
    assert {f.faces[0].track for f in out} == {1}
    rgb = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]
    again = list(Analyzer(channels="rgb").iter_video(rgb, every=2, progress=False))
    assert [f.frame for f in again] == [0, 2, 4] and again[0].faces[0].box == out[0].faces[0].box
