"""Video: IoU tracking, temporal smoothing, group mood, video files, fast mode and the CLI on a real video."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from moodtune.contract import to_json
from moodtune.emotion.group import group_mood
from moodtune.emotion.labels import CLASSES
from moodtune.emotion.smoothing import EmaSmoother, label_flips
from moodtune.errors import MoodtuneError
from moodtune.pipeline import Analyzer, FrameAnalyzer
from moodtune.vision.tracking import IoUTracker, iou

# ----------------------------------------------------------------------------- tracking


def test_iou_values():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_tracker_keeps_ids_when_faces_move_and_swap_order():
    t = IoUTracker()
    a, b = [100, 100, 80, 80], [400, 120, 80, 80]
    assert t.update([a, b]) == [1, 2]
    for step in range(1, 20):  # both drift, and the detector lists them in changing order
        a2 = [100 + 4 * step, 100 + step, 80, 80]
        b2 = [400 - 4 * step, 120, 80, 80]
        boxes = [a2, b2] if step % 2 else [b2, a2]
        ids = t.update(boxes)
        assert ids == ([1, 2] if step % 2 else [2, 1])


def test_tracker_survives_short_gaps_and_drops_lost_faces():
    t = IoUTracker(max_missed=3)
    box = [50, 50, 60, 60]
    assert t.update([box]) == [1]
    for _ in range(3):  # missed detections within the budget
        assert t.update([]) == []
    assert t.update([box]) == [1]
    for _ in range(4):
        t.update([])
    assert t.dropped == [1] and t.active_ids == set()
    assert t.update([box]) == [2]  # a new id, never a reused one


def test_tracker_bounds_its_memory():
    t = IoUTracker(max_missed=1000, max_tracks=8)
    for i in range(100):
        t.update([[i * 50, 0, 20, 20]])
    assert len(t.tracks) <= 8


# ----------------------------------------------------------------------------- smoothing


def _onehot(i):
    p = np.full(len(CLASSES), 0.02)
    p[i] = 1 - 0.02 * (len(CLASSES) - 1)
    return p


def test_smoothing_reduces_flicker_on_an_alternating_sequence():
    happy, neutral = CLASSES.index("happy"), CLASSES.index("neutral")
    rng = np.random.default_rng(0)
    # a face that is mostly happy, with every third frame misread as neutral, plus noise
    raw = []
    for i in range(90):
        p = 0.6 * _onehot(neutral if i % 3 == 2 else happy) + 0.4 * rng.dirichlet(np.ones(len(CLASSES)))
        raw.append(p / p.sum())
    s = EmaSmoother(half_life=3, unit="frames")
    smooth = [s.update("face", p) for p in raw]
    assert label_flips(raw) >= 50
    assert label_flips(smooth) <= 2
    assert np.asarray(smooth)[10:].argmax(axis=1).tolist().count(happy) >= 78
    for p in smooth:
        assert p.sum() == pytest.approx(1.0) and (p >= 0).all()


def test_smoothing_half_life_in_frames_and_seconds():
    a, b = _onehot(0), _onehot(3)
    s = EmaSmoother(half_life=2, unit="frames")
    s.update(1, a, at=0)
    out = s.update(1, b, at=2)  # one half-life later: halfway
    assert out == pytest.approx(0.5 * a + 0.5 * b)
    t = EmaSmoother(half_life=0.5, unit="seconds")
    t.update("x", a, at=10.0)
    assert t.update("x", b, at=10.5) == pytest.approx(0.5 * a + 0.5 * b)
    assert t.update("x", a, at=20.0) == pytest.approx(a, abs=1e-4)  # long gap: the old state is gone
    off = EmaSmoother(half_life=0)
    off.update(0, a)
    assert off.update(0, b) == pytest.approx(b)
    with pytest.raises(ValueError):
        t.update("x", a)  # seconds need a time
    with pytest.raises(ValueError):
        EmaSmoother(unit="minutes")


def test_smoother_forgets_and_bounds_keys():
    s = EmaSmoother(max_keys=4)
    for k in range(10):
        s.update(k, _onehot(k % 7), at=k)
    assert len(s) == 4 and 9 in s and 0 not in s
    s.forget([9])
    s.keep_only([8])
    assert len(s) == 1 and 8 in s


def test_group_mood_is_the_mean(hopper_bgr):
    import moodtune

    face = moodtune.analyze(hopper_bgr)[0]
    other = moodtune.FaceResult.from_probabilities((0, 0, 10, 10), _onehot(CLASSES.index("sad")))
    g = group_mood([face, other])
    for c in CLASSES:
        assert g.probabilities[c] == pytest.approx((face.probabilities[c] + other.probabilities[c]) / 2)
    assert g.valence == pytest.approx((face.valence + other.valence) / 2, abs=1e-6)
    assert g.arousal == pytest.approx((face.arousal + other.arousal) / 2, abs=1e-6)
    assert g.box[0] == 0 and g.box[0] + g.box[2] >= face.box[0] + face.box[2]
    with pytest.raises(MoodtuneError):
        group_mood([])


# ----------------------------------------------------------------------------- a real video


def iter_video(source, **kw):
    return Analyzer().iter_video(source, **kw)


@pytest.fixture(scope="module")
def moving_face_video(tmp_path_factory, hopper_bgr):
    """A 2-second 640x480 MJPG video at 10 fps: Grace Hopper's portrait sliding to the right."""
    path = tmp_path_factory.mktemp("video") / "hopper.avi"
    face = cv2.resize(hopper_bgr, (256, 300), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    assert writer.isOpened()
    for i in range(20):
        frame = np.full((480, 640, 3), 96, np.uint8)
        x = 40 + 10 * i
        frame[90:390, x : x + 256] = face
        writer.write(frame)
    writer.release()
    return path


def test_iter_video_tracks_one_face_with_one_id(moving_face_video):
    frames = list(iter_video(moving_face_video, progress=False))
    assert [f.index for f in frames] == list(range(20))
    assert frames[1].time == pytest.approx(0.1)
    assert all(len(f.faces) == 1 for f in frames)
    assert {f.faces[0].track for f in frames} == {1}
    xs = [f.faces[0].box[0] for f in frames]
    assert xs[-1] - xs[0] > 150  # the box follows the face
    for f in frames:
        d = to_json(f)
        assert set(d) == {"frame", "time", "faces"}
        face = d["faces"][0]
        assert face["track"] == 1 and face["emotion"] in CLASSES
        assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_iter_video_sampling_and_errors(moving_face_video, tmp_path):
    frames = list(iter_video(moving_face_video, every=4, progress=False))
    assert [f.index for f in frames] == [0, 4, 8, 12, 16]
    assert {f.faces[0].track for f in frames} == {1}
    with pytest.raises(MoodtuneError, match="--every"):
        list(iter_video(moving_face_video, every=0))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MoodtuneError):
        list(iter_video(bad))
    with pytest.raises(MoodtuneError, match="no such file"):
        list(iter_video(tmp_path / "missing.mp4"))


def test_frame_analyzer_smooths_per_track(hopper_bgr):
    an = FrameAnalyzer(half_life=2, unit="frames")
    first = an.process(hopper_bgr)
    assert len(first) == 1 and first[0].track == 1
    blurred = cv2.GaussianBlur(hopper_bgr, (0, 0), 4)  # the same face, other raw probabilities
    second = an.process(blurred)
    assert len(second) == 1 and second[0].track == 1  # the box barely moves
    raw0 = np.array([first[0].raw.probabilities[c] for c in CLASSES])
    raw1 = np.array([second[0].raw.probabilities[c] for c in CLASSES])
    assert np.abs(raw0 - raw1).max() > 0.05
    smoothed = np.array([second[0].probabilities[c] for c in CLASSES])
    a = an.smoother.alpha(1)
    assert 0 < a < 1
    assert smoothed == pytest.approx((1 - a) * raw0 + a * raw1, abs=1e-3)


@pytest.mark.slow
def test_cli_analyze_video_json_lines(moving_face_video, hopper_path):
    out = subprocess.run([sys.executable, "-m", "moodtune", "analyze", str(moving_face_video), "--every", "5", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["frame"] for d in lines] == [0, 5, 10, 15]
    assert all(d["path"] == str(moving_face_video) for d in lines)
    assert [d["time"] for d in lines] == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert all(len(d["faces"]) == 1 and d["faces"][0]["track"] == 1 for d in lines)
    # text mode: one summary line per track; images keep their old output in the same run
    out = subprocess.run([sys.executable, "-m", "moodtune", "analyze", str(moving_face_video), str(hopper_path), "--every", "10"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "2 frames analysed, 1 face track" in out.stdout
    assert "track 1: 2 frames" in out.stdout
    assert "grace_hopper.jpg: 1 face" in out.stdout


def test_tracker_follows_a_jump_larger_than_the_box_by_distance():
    t = IoUTracker(max_distance=1.5)
    assert t.update([[100, 100, 80, 80]]) == [1]
    assert t.update([[190, 100, 80, 80]]) == [1]  # no overlap, but about one face away
    assert t.update([[600, 400, 80, 80]]) == [2]  # far away: somebody else
    strict = IoUTracker(max_distance=0)
    strict.update([[100, 100, 80, 80]])
    assert strict.update([[190, 100, 80, 80]]) == [2]


def test_frame_analyzer_computes_what_analyze_frame_does(hopper_bgr, astronaut_bgr):
    import moodtune

    for image in (hopper_bgr, astronaut_bgr):
        want = moodtune.analyze_frame(image)
        for fast in (False, True):
            got = FrameAnalyzer(fast=fast).analyze(image)
            assert [f.box for f in got] == [f.box for f in want]
            for g, w in zip(got, want, strict=True):
                assert [g.probabilities[c] for c in CLASSES] == pytest.approx([w.probabilities[c] for c in CLASSES], abs=1e-4)


def test_live_mode_follows_a_small_face_next_to_a_large_one(hopper_bgr):
    """Fast mode: the small face (~30 px, a person further away) is found by the full search on the
    second frame (the first gets the coarse scan only; the second the tiled search for tiny
    faces), then followed in a zoomed region every frame; both keep their ids."""
    from moodtune.vision.blazeface import BlazeFaceDetector

    big = cv2.resize(hopper_bgr, (256, 300), interpolation=cv2.INTER_AREA)
    small = cv2.resize(hopper_bgr, (77, 90), interpolation=cv2.INTER_AREA)
    an = FrameAnalyzer(BlazeFaceDetector(small_faces="always"), fast=True, unit="frames")
    for i in range(12):
        frame = np.full((480, 640, 3), 100, np.uint8)
        frame[90:390, 40 + 3 * i : 296 + 3 * i] = big
        frame[200:290, 480 - 2 * i : 557 - 2 * i] = small
        faces = an.process(frame)
        if i == 0:
            assert [f.track for f in faces] == [1] and an.last_search == "coarse"
            continue
        assert sorted(f.track for f in faces) == [1, 2], f"frame {i}: {[(f.track, f.box) for f in faces]}"
        small_face = next(f for f in faces if f.box[2] < 60)
        assert 470 - 2 * i < small_face.box[0] < 560 - 2 * i


def test_fine_search_frames_classify_only_new_faces(hopper_bgr, monkeypatch):
    """Fast mode's fine-search frame (the second of a stream) classifies only the face it finds
    new; the face tracked since the first frame keeps that frame's reading in its new box. The
    frame after classifies both again."""
    big = cv2.resize(hopper_bgr, (256, 300), interpolation=cv2.INTER_AREA)
    small = cv2.resize(hopper_bgr, (77, 90), interpolation=cv2.INTER_AREA)
    an = FrameAnalyzer(fast=True, unit="frames")
    crops_per_call: list[int] = []
    predict = an.analyzer.classifier.predict

    def counting(crops, *args, **kwargs):
        crops_per_call.append(len(crops))
        return predict(crops, *args, **kwargs)

    monkeypatch.setattr(an.analyzer.classifier, "predict", counting)
    seen, searches = [], []
    for i in range(3):
        frame = np.full((480, 640, 3), 100, np.uint8)
        frame[90:390, 40 + 3 * i : 296 + 3 * i] = big
        frame[200:290, 480 - 2 * i : 557 - 2 * i] = small
        seen.append({f.track: f for f in an.process(frame)})
        searches.append(an.last_search)
    assert searches == ["coarse", "fine", "coarse"] and crops_per_call == [1, 1, 2]
    assert sorted(seen[1]) == [1, 2] and sorted(seen[2]) == [1, 2]
    carried = seen[1][1].raw
    assert carried.box != seen[0][1].raw.box  # the new box ...
    assert carried.probability_vector() == pytest.approx(seen[0][1].raw.probability_vector())  # ... the last reading


def test_iter_video_time_range(moving_face_video):
    """``start``/``end``: the range's sampled frames, numbered as in the file (what Ray's video parts use)."""
    an = Analyzer()
    whole = [f.frame for f in an.iter_video(moving_face_video, every=3, progress=False)]
    part = list(an.iter_video(moving_face_video, every=3, progress=False, start=0.5, end=1.5))
    assert whole == list(range(0, 20, 3)) and [f.frame for f in part] == [6, 9, 12]
    assert all(len(f.faces) == 1 for f in part) and part[0].time == pytest.approx(0.6)
    assert list(an.iter_video(moving_face_video, progress=False, start=5.0)) == []  # past the end: nothing, no error
