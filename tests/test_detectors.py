"""Face detectors on real photos: scikit-image's astronaut, matplotlib's Grace Hopper, faces-wild-dev."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest

from moodtune.config import data_dir
from moodtune.vision.decode import load_image
from moodtune.vision.detect import DEFAULT_DETECTOR, Detection, detector_names, get_detector

DETECTORS = ["blazeface", "haar"]

#: where the faces are (x0, y0, x1, y1), checked by eye; used as ground truth below
ASTRONAUT_FACE = (175, 70, 275, 175)
HOPPER_FACE = (160, 125, 370, 345)


@cache
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


@cache
def hopper() -> np.ndarray:
    from matplotlib import cbook

    return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def xyxy(det: Detection) -> tuple[int, int, int, int]:
    x, y, w, h = det.box
    return x, y, x + w, y + h


def check_valid(dets: list[Detection], img: np.ndarray) -> None:
    """Boxes are int pixels inside the image, scores in [0, 1], best first."""
    h, w = img.shape[:2]
    for d in dets:
        assert all(isinstance(v, int) for v in d.box)
        x, y, bw, bh = d.box
        assert 0 <= x and 0 <= y and bw > 0 and bh > 0 and x + bw <= w and y + bh <= h, (d.box, (w, h))
        assert 0.0 <= d.score <= 1.0
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)


def test_registry_default_is_blazeface():
    assert DEFAULT_DETECTOR == "blazeface"
    assert set(DETECTORS) <= set(detector_names())
    assert get_detector().name == "blazeface"


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("photo, face", [(astronaut, ASTRONAUT_FACE), (hopper, HOPPER_FACE)], ids=["astronaut", "grace_hopper"])
def test_finds_the_face_in_a_portrait(name, photo, face):
    img = photo()
    dets = get_detector(name).detect(img)
    check_valid(dets, img)
    assert len(dets) == 1, dets
    assert iou(xyxy(dets[0]), face) > 0.5, (dets, face)


@pytest.mark.parametrize("name", DETECTORS)
def test_grayscale_input(name):
    """decode.py turns gray images into 3-channel BGR; the detector must cope with no colour."""
    gray = cv2.cvtColor(hopper(), cv2.COLOR_BGR2GRAY)
    img = load_image(gray)
    assert img.shape == hopper().shape
    dets = get_detector(name).detect(img)
    check_valid(dets, img)
    assert len(dets) == 1 and iou(xyxy(dets[0]), HOPPER_FACE) > 0.5, dets


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("shape", [(480, 640, 3), (1, 1, 3), (2, 300, 3), (48, 48, 3)])
def test_blank_frames_give_no_face(name, shape):
    black = np.zeros(shape, np.uint8)
    assert get_detector(name).detect(black) == []
    gray = np.full(shape, 128, np.uint8)
    assert get_detector(name).detect(gray) == []


def paste(canvas: np.ndarray, photo: np.ndarray, face, scale: float, x: int, y: int):
    """Paste ``photo`` resized by ``scale`` at (x, y); returns where its face lands (x0, y0, x1, y1)."""
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    canvas[y : y + h, x : x + w] = small[: canvas.shape[0] - y, : canvas.shape[1] - x]
    return tuple(v * scale + o for v, o in zip(face, (x, y, x, y), strict=True))


@pytest.mark.parametrize("where", [(40, 30), (400, 250)])
def test_small_face_in_a_large_frame(where):
    """A face ~30 px wide in a 640x480 frame: below what the whole-frame passes can see, found by
    the tiled search (``small_faces="always"``; "auto" tiles only images over ~700 px)."""
    from moodtune.vision.blazeface import BlazeFaceDetector

    canvas = np.full((480, 640, 3), 90, np.uint8)
    scale = 30 / (ASTRONAUT_FACE[2] - ASTRONAUT_FACE[0])
    truth = paste(canvas, astronaut(), ASTRONAUT_FACE, scale, *where)
    dets = BlazeFaceDetector(small_faces="always").detect(canvas)
    check_valid(dets, canvas)
    assert len(dets) == 1, dets
    assert iou(xyxy(dets[0]), truth) > 0.4, (dets, truth)


def test_several_faces_in_one_photo():
    """A collage of six face photos (plain, mirrored, gray, different sizes, down to ~30 px) on one
    640x480 canvas, with the tiled search for tiny faces (``small_faces="always"``)."""
    from moodtune.vision.blazeface import BlazeFaceDetector

    canvas = np.full((480, 640, 3), 200, np.uint8)
    a, g = astronaut(), hopper()
    a_flip, g_flip = a[:, ::-1].copy(), g[:, ::-1].copy()
    ax0, ay0, ax1, ay1 = ASTRONAUT_FACE
    gx0, gy0, gx1, gy1 = HOPPER_FACE
    a_face_flip = (a.shape[1] - ax1, ay0, a.shape[1] - ax0, ay1)
    g_face_flip = (g.shape[1] - gx1, gy0, g.shape[1] - gx0, gy1)
    g_gray = load_image(cv2.cvtColor(g, cv2.COLOR_BGR2GRAY))
    truths = [
        paste(canvas, a, ASTRONAUT_FACE, 0.4, 0, 0),  # 205x205, face ~40 px
        paste(canvas, g, HOPPER_FACE, 0.38, 215, 0),  # 195x228, face ~80 px
        paste(canvas, a_flip, a_face_flip, 0.4, 430, 0),
        paste(canvas, g_flip, g_face_flip, 0.38, 0, 240),
        paste(canvas, a, ASTRONAUT_FACE, 0.3, 215, 260),  # face ~30 px
        paste(canvas, g_gray, HOPPER_FACE, 0.38, 430, 240),
    ]
    dets = BlazeFaceDetector(small_faces="always").detect(canvas)
    check_valid(dets, canvas)
    assert len(dets) == len(truths), dets
    for t in truths:
        assert max(iou(xyxy(d), t) for d in dets) > 0.4, (t, dets)


def test_group_of_large_faces_in_one_pass():
    """Four portraits filling a 2x2 grid: found by the default detector, and by the fast
    whole-image passes alone."""
    canvas = np.zeros((512, 512, 3), np.uint8)
    a, g = astronaut(), hopper()
    truths = [
        paste(canvas, a[40:296, 96:352], (ASTRONAUT_FACE[0] - 96, ASTRONAUT_FACE[1] - 40, ASTRONAUT_FACE[2] - 96, ASTRONAUT_FACE[3] - 40), 1.0, 0, 0),
        paste(canvas, g[100:400, 115:415], (HOPPER_FACE[0] - 115, HOPPER_FACE[1] - 100, HOPPER_FACE[2] - 115, HOPPER_FACE[3] - 100), 256 / 300, 256, 0),
    ]
    truths += [(x0, y0 + 256, x1, y1 + 256) for x0, y0, x1, y1 in truths]
    canvas[256:] = canvas[:256]
    from moodtune.vision.blazeface import BlazeFaceDetector

    for det in (get_detector("blazeface"), BlazeFaceDetector(small_faces="never")):
        dets = det.detect(canvas)
        check_valid(dets, canvas)
        assert len(dets) == 4, dets
        for t in truths:
            assert max(iou(xyxy(d), t) for d in dets) > 0.5, (t, dets)


def test_face_cut_by_the_edge_and_tight_crop():
    """A face half outside the image gets a clipped box; a tight face crop (like FER2013) is found."""
    det = get_detector("blazeface")
    img = np.ascontiguousarray(hopper()[:, 265:])  # right half of the face only
    dets = det.detect(img)
    check_valid(dets, img)
    assert dets and dets[0].box[0] == 0
    x0, y0, x1, y1 = HOPPER_FACE
    tight = np.ascontiguousarray(hopper()[y0 + 10 : y1 - 10, x0 + 10 : x1 - 10])
    dets = det.detect(tight)
    check_valid(dets, tight)
    assert len(dets) == 1


def test_boxes_map_back_through_the_letterbox():
    """The same face found in a wide and a tall frame lands at the same place in each."""
    det = get_detector("blazeface")
    ref = xyxy(det.detect(astronaut())[0])
    for shape, at in [((512, 900, 3), (300, 0)), ((900, 512, 3), (0, 250))]:
        canvas = np.zeros(shape, np.uint8)
        truth = paste(canvas, astronaut(), ref, 1.0, *at)
        dets = det.detect(canvas)
        check_valid(dets, canvas)
        assert len(dets) == 1 and iou(xyxy(dets[0]), truth) > 0.8, (dets, truth)


def test_onnx_models_and_anchors_agree():
    """The full-range model's input is 192x192; the short-range one's is size-free (for
    ``BlazeNet.scan``): at 128x128 and at a 4:3 size its outputs match the anchors."""
    from moodtune.vision.blazeface import FULL_RANGE, SHORT_RANGE, BlazeNet, pixel_anchors, ssd_anchors

    for spec, n, shape in [(SHORT_RANGE, 896, [1, 3, "height", "width"]), (FULL_RANGE, 2304, [1, 3, 192, 192])]:
        anchors = ssd_anchors(spec)
        assert anchors.shape == (n, 2) and anchors.min() > 0 and anchors.max() < 1
        net = BlazeNet(spec)
        (inp,) = net.session.get_inputs()
        assert inp.shape == shape
        sizes = [(spec.size, spec.size)] + ([(160, 224)] if spec is SHORT_RANGE else [])
        for h, w in sizes:
            outs = net.session.run(None, {"input": np.zeros((1, 3, h, w), np.float32)})
            m = len(pixel_anchors(spec, h, w))
            assert [o.shape for o in outs] == [(1, m, 16), (1, m, 1)]
        assert len(pixel_anchors(spec, spec.size, spec.size)) == n


def test_scan_finds_the_face_at_any_input_size():
    """``BlazeNet.scan`` (the short-range model on a whole frame, no letterbox) maps boxes back
    to the image: the portrait in a 640x480 frame at three scales."""
    from moodtune.vision.blazeface import SHORT_RANGE, BlazeNet, weighted_nms

    canvas = np.zeros((480, 640, 3), np.uint8)
    truth = paste(canvas, hopper(), HOPPER_FACE, 0.5, 300, 100)
    net = BlazeNet(SHORT_RANGE)
    for scale in (0.25, 1 / 3, 0.5):
        rows, scores = weighted_nms(*net.scan(canvas, scale))
        assert len(scores) >= 1 and iou(rows[0, :4], truth) > 0.6, (scale, rows[:, :4], truth)


FACES_WILD = data_dir() / "faces-wild-dev" / "images"


@pytest.mark.shared
@pytest.mark.skipif(not FACES_WILD.is_dir(), reason=f"{FACES_WILD} not present")
def test_default_detector_recall_on_faces_wild_dev():
    files = sorted(FACES_WILD.glob("*.jpg"))[:100]
    det = get_detector()
    found = 0
    for f in files:
        img = load_image(f)
        dets = det.detect(img)
        check_valid(dets, img)
        found += bool(dets)
    assert found >= 0.98 * len(files), f"found faces in {found}/{len(files)}"


def test_small_faces_option():
    """``small_faces="never"`` (bounded time for live video) keeps the portrait, skips tiny faces."""
    from moodtune.errors import MoodtuneError
    from moodtune.vision.blazeface import BlazeFaceDetector

    fast = BlazeFaceDetector(small_faces="never")
    assert len(fast.detect(hopper())) == 1
    canvas = np.full((480, 640, 3), 90, np.uint8)
    paste(canvas, astronaut(), ASTRONAUT_FACE, 0.3, 200, 150)
    assert fast.detect(canvas) == []
    assert len(BlazeFaceDetector(small_faces="always").detect(canvas)) == 1
    with pytest.raises(MoodtuneError):
        BlazeFaceDetector(small_faces="sometimes")


class _CountingSession:
    """An ONNX session that records the input shape of every run."""

    def __init__(self, session):
        self.session, self.shapes = session, []

    def run(self, names, feeds):
        self.shapes.append(feeds["input"].shape[2:])
        return self.session.run(names, feeds)


def textured_frame() -> np.ndarray:
    from skimage import data

    return cv2.resize(np.ascontiguousarray(data.coffee()[:, :, ::-1]), (640, 480), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("width, runs", [(64, 2), (96, 1), (200, 1)])
def test_default_finds_webcam_faces_with_runs_by_need(width, runs):
    """On a textured 640x480 frame the default detector finds a 64-200 px face; a face of 96 px
    or more costs one short-range run (the coarse scan), a 64 px one the finer scan too, and the
    full-range model is not needed (verification runs at 80x80 are not counted)."""
    from moodtune.vision.blazeface import BlazeFaceDetector

    det = BlazeFaceDetector()
    counter = det.short.session = _CountingSession(det.short.session)
    canvas = textured_frame()
    x0, y0, x1, y1 = HOPPER_FACE
    scale = width / (x1 - x0)
    crop = hopper()[max(0, y0 - 60) : y1 + 60, max(0, x0 - 60) : x1 + 60]
    face = (60, 60, 60 + x1 - x0, 60 + y1 - y0)
    truth = paste(canvas, crop, face, scale, 400, 60)
    dets = det.detect(canvas)
    check_valid(dets, canvas)
    assert len(dets) == 1 and iou(xyxy(dets[0]), truth) > 0.4, (dets, truth)
    scans = [s for s in counter.shapes if s != (80, 80)]
    assert len(scans) == runs, counter.shapes
    assert det._full is None


def test_detect_small_is_the_finer_half_of_the_search():
    """``detect_small`` runs only the finer scan (one 320x240 run on a 640x480 frame, plus
    verification at 80x80): it finds a 64 px face with the full detector's box, and nothing on
    an empty frame or an image too small for a finer scan."""
    from moodtune.vision.blazeface import BlazeFaceDetector

    det = BlazeFaceDetector()
    canvas = textured_frame()
    x0, y0, x1, y1 = HOPPER_FACE
    crop = hopper()[max(0, y0 - 60) : y1 + 60, max(0, x0 - 60) : x1 + 60]
    truth = paste(canvas, crop, (60, 60, 60 + x1 - x0, 60 + y1 - y0), 64 / (x1 - x0), 400, 60)
    counter = det.short.session = _CountingSession(det.short.session)
    small = det.detect_small(canvas)
    assert [s for s in counter.shapes if s != (80, 80)] == [(240, 320)], counter.shapes
    check_valid(small, canvas)
    assert len(small) == 1 and iou(xyxy(small[0]), truth) > 0.4, (small, truth)
    assert iou(xyxy(small[0]), xyxy(det.detect(canvas)[0])) > 0.9
    assert det.detect_small(textured_frame()) == []
    assert det.detect_small(np.zeros((100, 100, 3), np.uint8)) == []  # 0.5 x 100 px: no finer scan than the first


def test_empty_textured_frame_has_no_face():
    from moodtune.vision.blazeface import BlazeFaceDetector

    assert BlazeFaceDetector().detect(textured_frame()) == []


def _blazeblock_graph(seed: int = 0):
    """A small BlazeFace-like ONNX graph with random weights: a 5x5 stride-2 stem, residual
    blocks whose skip connections pad channels (24 → 28 → 36) or max-pool, a 2x resize, and a
    head through Transpose/Reshape, like the converted MediaPipe models."""
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def conv(x, cin, cout, k, stride=1, group=1, name=""):
        w = rng.normal(0, 0.3, (cout, cin // group, k, k)).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}/w"), numpy_helper.from_array(rng.normal(0, 0.1, cout).astype(np.float32), f"{name}/b")])
        total = k - stride  # TensorFlow's "same" padding, as the converted models have it
        pads = [total // 2] * 2 + [total - total // 2] * 2
        nodes.append(helper.make_node("Conv", [x, f"{name}/w", f"{name}/b"], [name], kernel_shape=[k, k], strides=[stride] * 2,
                                      pads=pads, group=group))
        return name

    def block(x, cin, cout, stride, name):
        main = conv(conv(x, cin, cin, 3, stride, cin, f"{name}/dw"), cin, cout, 1, name=f"{name}/pw")
        skip = x
        if stride == 2:
            nodes.append(helper.make_node("MaxPool", [x], [f"{name}/pool"], kernel_shape=[2, 2], strides=[2, 2]))
            skip = f"{name}/pool"
        if cout > cin:
            inits.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, cout - cin, 0, 0], np.int64), f"{name}/pads"))
            nodes.append(helper.make_node("Pad", [skip, f"{name}/pads"], [f"{name}/padded"], mode="constant"))
            skip = f"{name}/padded"
        nodes.append(helper.make_node("Add", [skip, main], [f"{name}/add"]))
        nodes.append(helper.make_node("Relu", [f"{name}/add"], [f"{name}/out"]))
        return f"{name}/out"

    nodes.append(helper.make_node("Relu", [conv("input", 3, 24, 5, 2, name="stem")], ["stem/out"]))
    x = block(block(block("stem/out", 24, 24, 1, "b1"), 24, 28, 1, "b2"), 28, 36, 2, "b3")
    inits.extend([numpy_helper.from_array(np.zeros(0, np.float32), "up/empty"), numpy_helper.from_array(np.array([1, 36, 16, 16], np.int64), "up/sizes")])
    nodes.append(helper.make_node("Resize", [x, "up/empty", "up/empty", "up/sizes"], ["up"], mode="nearest"))
    head = conv("up", 36, 16, 1, name="head")
    nodes.append(helper.make_node("Transpose", [head], ["head/t"], perm=[0, 2, 3, 1]))
    inits.append(numpy_helper.from_array(np.array([1, -1, 16], np.int64), "head/shape"))
    nodes.append(helper.make_node("Reshape", ["head/t", "head/shape"], ["regressors"]))
    graph = helper.make_graph(nodes, "blazeblocks", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("regressors", onnx.TensorProto.FLOAT, [1, 256, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7)


def test_pad_channels_keeps_the_outputs_and_pads_to_blocks():
    """``tools/convert_blazeface.py``'s ``pad_channels`` (which the shipped detector models went
    through): the same outputs, every inner convolution's channels a multiple of 16, the
    channel ``Pad`` that padding makes unnecessary gone, and the head's outputs kept."""
    import onnx
    import onnxruntime as ort
    from helpers import script_module
    from onnx import numpy_helper

    tool = script_module("tools", "convert_blazeface")

    model = _blazeblock_graph()
    onnx.checker.check_model(model, full_check=True)
    padded = _blazeblock_graph()
    tool.pad_channels(padded)
    onnx.checker.check_model(padded, full_check=True)
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 32, 32)).astype(np.float32)
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]  # noqa: E731
    want, got = run(model), run(padded)
    assert want.shape == got.shape == (1, 256, 16) and np.abs(want).max() > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    weights = {t.name: numpy_helper.to_array(t) for t in padded.graph.initializer}
    for node in padded.graph.node:
        if node.op_type == "Conv" and node.output[0] != "head":
            assert weights[node.input[1]].shape[0] % 16 == 0, node.output[0]
    assert weights["head/w"].shape[:2] == (16, 48)
    # 24 → 28 fits the first block of 32 (the Pad goes); 28 → 36 crosses into a second one
    assert [n.output[0] for n in padded.graph.node if n.op_type == "Pad"] == ["b3/padded"]
    assert "b2/pads" not in weights
