"""MediaPipe BlazeFace on ONNX Runtime: the default face detector.

Two converted MediaPipe models ship in ``moodtune/assets`` (see ``assets/DETECTOR.md`` and
``tools/convert_blazeface.py``):

* ``blazeface_short_range.onnx``: trained at 128x128 (896 anchors), for faces that fill a fair
  part of its input (selfies, webcams, portraits); its input size is left free, so it also runs
  on a whole frame at any scale in one run (``BlazeNet.scan``);
* ``blazeface_full_range.onnx``: 192x192 input, 2304 anchors, trained for faces up to ~5 m
  from the camera, so smaller faces in a larger picture.

``BlazeFaceDetector`` ("blazeface" in ``moodtune.vision.detect.DETECTORS``, the default detector)
runs its passes so that the cost follows the need: the short-range model on the whole frame at
a coarse scale, then at a finer one only when the faces found (if any) are small, and the
full-range model only for faces cut by the picture's edge; see its docstring.

Decoding follows MediaPipe's graphs (``face_detection_short_range_common.pbtxt`` /
``face_detection_full_range_common.pbtxt``): SSD anchors with fixed size 1, box centre and size
regressed in input pixels, sigmoid scores (raw scores clipped to ±80), weighted non-maximum
suppression (IoU > 0.3 → score-weighted average of the boxes). Images are letterboxed to the
square input (aspect kept, black padding) so boxes map back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import cv2
import numpy as np

from moodtune.config import ASSETS
from moodtune.errors import MoodtuneError
from moodtune.types import Detection

#: raw logits are clipped to this before the sigmoid (MediaPipe uses 100, which overflows float32 exp)
RAW_SCORE_LIMIT = 80.0
#: MediaPipe's NMS overlap threshold (IoU)
NMS_IOU = 0.3
#: after NMS, a box covered by a better one over more than this share of its area is dropped
NESTED_OVERLAP = 0.6


@dataclass(frozen=True)
class ModelSpec:
    """One BlazeFace variant: file in ``assets/``, square input size, SSD anchor layout, score threshold."""

    file: str
    size: int
    strides: tuple[int, ...]
    #: anchors per feature-map cell for each run of equal strides (MediaPipe: 2 per layer when
    #: ``interpolated_scale_aspect_ratio == 1``, else 1)
    anchors_per_layer: int
    min_score: float
    #: boxes are scaled by this around their centre and moved down by ``box_dy`` of their width,
    #: so that both models draw the same box around a face
    box_scale: float = 1.0
    box_dy: float = 0.0


SHORT_RANGE = ModelSpec("blazeface_short_range.onnx", 128, (8, 16, 16, 16), 2, 0.5)
#: on 617 faces-wild-dev faces found by both models the full-range box is 3.4% larger and its
#: centre 6.3% of the short-range width higher (medians; ``python bench/detectors.py
#: --detectors blazeface --box-calibration``): 0.063 / 1.034 = 0.061 of the full-range width
FULL_RANGE = ModelSpec("blazeface_full_range.onnx", 192, (4,), 1, 0.6, box_scale=1 / 1.034, box_dy=0.061)


def ssd_anchors(spec: ModelSpec) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) in [0, 1] of the square input, in the order of the model's
    outputs (``pixel_anchors`` at the model's own input size).

    Port of MediaPipe's ``SsdAnchorsCalculator`` for ``fixed_anchor_size: true`` (every anchor
    has width = height = 1, so only the centres matter).
    """
    return pixel_anchors(spec, spec.size, spec.size) / np.float32(spec.size)


@cache
def _session(path: str, threads: int):
    """One ONNX Runtime session per (model file, threads) per process."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


class BlazeNet:
    """One BlazeFace model: ``(bgr, rect) → (rows (N, 16), scores (N,))`` in image pixels, where a
    row is the box x0, y0, x1, y1 followed by the six keypoints' x, y (``KEYPOINT_NAMES``).

    Returns every anchor above the model's score threshold, before non-maximum suppression.
    """

    def __init__(self, spec: ModelSpec, threads: int = 1):
        path = ASSETS / spec.file
        if not path.is_file():
            raise MoodtuneError(f"BlazeFace model missing at {path}; reinstall moodtune")
        self.spec = spec
        self.session = _session(str(path), threads)
        self.anchors = ssd_anchors(spec)
        n_out = self.session.get_outputs()[0].shape[1]
        if isinstance(n_out, int) and n_out != len(self.anchors):  # pragma: no cover - guards a wrong asset
            raise MoodtuneError(f"{spec.file}: {n_out} outputs but {len(self.anchors)} anchors")

    def __call__(
        self,
        bgr: np.ndarray,
        roi: tuple[float, float, float, float] | None = None,
        fill: float = 1.0,
        min_score: float | None = None,
        size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on ``roi`` (x, y, w, h in image pixels, default the whole image; it may
        reach past the image's edges, which then count as black).

        The ROI is letterboxed: its longer side is scaled to ``fill`` times the input size,
        centred, the rest padded with black. Returns rows (N, 16) (box x0, y0, x1, y1, then six
        keypoints x, y, in image pixels) and their scores (N,), for every anchor scoring above
        ``min_score`` (default: the model's threshold), before non-maximum suppression.
        ``size``: another square input size (a multiple of 16), for a model with a free input
        size (``SHORT_RANGE``).
        """
        s = size or self.spec.size
        img_h, img_w = bgr.shape[:2]
        x0, y0, rw, rh = (0.0, 0.0, float(img_w), float(img_h)) if roi is None else map(float, roi)
        scale = s * fill / max(rw, rh)
        # the image area visible in the ROI, and where it lands in the input
        vx0, vy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        vx1, vy1 = min(img_w, int(np.ceil(x0 + rw))), min(img_h, int(np.ceil(y0 + rh)))
        empty = np.zeros((0, 16), np.float32), np.zeros(0, np.float32)
        if vx1 <= vx0 or vy1 <= vy0:
            return empty
        off_x, off_y = (s - rw * scale) / 2.0, (s - rh * scale) / 2.0
        u0 = min(max(int(round((vx0 - x0) * scale + off_x)), 0), s - 1)
        v0 = min(max(int(round((vy0 - y0) * scale + off_y)), 0), s - 1)
        u1 = min(max(int(round((vx1 - x0) * scale + off_x)), u0 + 1), s)
        v1 = min(max(int(round((vy1 - y0) * scale + off_y)), v0 + 1), s)
        region = bgr[vy0:vy1, vx0:vx1]
        # area averaging where it matters (shrinking 2x or more), bilinear (cheaper) otherwise
        interp = cv2.INTER_AREA if 2 * (u1 - u0) <= (vx1 - vx0) else cv2.INTER_LINEAR
        small = cv2.resize(region, (u1 - u0, v1 - v0), interpolation=interp)
        if (u0, v0, u1, v1) != (0, 0, s, s):
            small = cv2.copyMakeBorder(small, v0, s - v1, u0, s - u1, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        rows, scores = self._decode(small, pixel_anchors(self.spec, s, s), min_score)
        # input px → image px (exact per-axis factors of the resize, then the offset)
        sx, sy = (u1 - u0) / (vx1 - vx0), (v1 - v0) / (vy1 - vy0)
        rows[:, 0::2] = (rows[:, 0::2] - u0) / np.float32(sx) + vx0
        rows[:, 1::2] = (rows[:, 1::2] - v0) / np.float32(sy) + vy0
        return rows, scores


    def scan(self, bgr: np.ndarray, scale: float, min_score: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Run the model once on the whole of ``bgr`` resized by ``scale`` (no letterbox; only for
        a model with a free input size, ``SHORT_RANGE``). Each side of the input is a multiple of
        16: the resized side rounded to one where that changes it by 5% or less, else padded
        with black at the right or bottom. Same returns as ``__call__``."""
        img_h, img_w = bgr.shape[:2]

        def side(n: int) -> int:
            exact = n * scale
            near = round(exact / SCAN_STEP) * SCAN_STEP
            return near if near and abs(near - exact) <= 0.05 * exact else max(1, int(round(exact)))

        w, h = side(img_w), side(img_h)
        small = _shrink(bgr, w, h)
        pw, ph = -(-w // SCAN_STEP) * SCAN_STEP, -(-h // SCAN_STEP) * SCAN_STEP
        if (pw, ph) != (w, h):
            small = cv2.copyMakeBorder(small, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        anchors = pixel_anchors(self.spec, ph, pw)
        rows, scores = self._decode(small, anchors, min_score)
        rows[:, 0::2] *= np.float32(img_w / w)
        rows[:, 1::2] *= np.float32(img_h / h)
        return rows, scores

    def _decode(self, small: np.ndarray, anchors: np.ndarray, min_score: float | None) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on ``small`` (BGR uint8, the model's input as it is) and decode every
        anchor above ``min_score`` (default: the model's threshold) into rows (N, 16) and scores
        (N,) in ``small``'s pixels; ``anchors`` (N, 2) are the anchor centres in those pixels."""
        regressors, logits = self.session.run(None, {"input": _blob(small)})
        logits = logits.reshape(-1)
        keep = np.flatnonzero(logits > _logit(self.spec.min_score if min_score is None else min_score))
        if keep.size == 0:
            return np.zeros((0, 16), np.float32), np.zeros(0, np.float32)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[keep], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        reg = regressors.reshape(len(logits), -1)[keep, :16]
        # centre = anchor + offset; size as regressed (anchors have fixed size 1); in input px
        ax, ay = anchors[keep, 0:1], anchors[keep, 1:2]
        cx = reg[:, 0:1] + ax
        cy = reg[:, 1:2] + ay + self.spec.box_dy * reg[:, 2:3]
        half_w, half_h = reg[:, 2:3] * (self.spec.box_scale / 2.0), reg[:, 3:4] * (self.spec.box_scale / 2.0)
        valid = (half_w[:, 0] > 0) & (half_h[:, 0] > 0)
        rows = np.concatenate([cx - half_w, cy - half_h, cx + half_w, cy + half_h,
                               np.stack([reg[:, 4::2] + ax, reg[:, 5::2] + ay], axis=2).reshape(len(keep), 12)], axis=1)
        return rows[valid].astype(np.float32), scores[valid].astype(np.float32)


#: ``BlazeNet.scan`` pads its input to multiples of this (the models' largest stride)
SCAN_STEP = 16


@lru_cache(maxsize=32)
def pixel_anchors(spec: ModelSpec, height: int, width: int) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) in input pixels for an input of ``height`` x ``width``
    (multiples of the largest stride), in the order of the model's outputs: the layout of
    ``ssd_anchors``, cell by cell, for a free input size."""
    out = []
    i, n = 0, len(spec.strides)
    while i < n:
        j, repeats = i, 0
        while j < n and spec.strides[j] == spec.strides[i]:
            repeats += spec.anchors_per_layer
            j += 1
        stride = spec.strides[i]
        yy, xx = np.meshgrid((np.arange(height // stride) + 0.5) * stride, (np.arange(width // stride) + 0.5) * stride, indexing="ij")
        out.append(np.repeat(np.stack([xx.ravel(), yy.ravel()], axis=1), repeats, axis=0))
        i = j
    anchors = np.concatenate(out).astype(np.float32)
    anchors.flags.writeable = False
    return anchors


def _blob(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) → the models' input: RGB float32 (1, 3, H, W) in [-1, 1] (one plane at
    a time: ~6x faster than ``cv2.dnn.blobFromImage``)."""
    out = np.empty((1, 3, *bgr.shape[:2]), np.float32)
    for c, plane in enumerate(reversed(cv2.split(bgr))):
        cv2.multiply(plane, 1.0 / 127.5, dst=out[0, c], dtype=cv2.CV_32F)  # type: ignore[call-overload]  # a scalar factor
    out -= 1.0
    return out


def _shrink(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """``bgr`` resized to ``width`` x ``height``: area halvings (OpenCV's fast path) while it is at
    least twice as large, then bilinear (a general area resize costs ~10x more)."""
    small = bgr
    while small.shape[1] >= 2 * width and small.shape[0] >= 2 * height:
        sh, sw = small.shape[:2]
        small = cv2.resize(small[: sh // 2 * 2, : sw // 2 * 2], (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
    if small.shape[:2] != (height, width):
        small = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return small


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each kept row is the score-weighted mean of the rows whose boxes
    (the first 4 columns) overlap the best remaining one by IoU > ``iou`` (keypoints, in the
    further columns, are averaged the same way); its score is the best one's. Returns (rows,
    scores) sorted by score, descending."""
    order = np.argsort(-scores, kind="stable")
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    out_boxes, out_scores = [], []
    while order.size:
        top = order[0]
        b = boxes[order]
        iw = np.minimum(b[:, 2], boxes[top, 2]) - np.maximum(b[:, 0], boxes[top, 0])
        ih = np.minimum(b[:, 3], boxes[top, 3]) - np.maximum(b[:, 1], boxes[top, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        union = areas[order] + areas[top] - inter
        sim = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        group = sim > iou
        group[0] = True
        w = scores[order[group]]
        out_boxes.append((b[group] * w[:, None]).sum(axis=0) / w.sum())
        out_scores.append(scores[top])
        order = order[~group]
    return np.array(out_boxes, np.float32).reshape(-1, boxes.shape[1]), np.array(out_scores, np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with each of ``boxes`` (N, 4), all x0, y0, x1, y1."""
    iw = np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0])
    ih = np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(boxes) + area(box) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _drop_overlapping(
    boxes: np.ndarray, scores: np.ndarray, rank: np.ndarray | None = None, iou: float = NMS_IOU, nested: float = NESTED_OVERLAP
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS over already merged detections (of different passes or models), highest
    ``rank`` (default: score) first: a box is dropped when it overlaps a kept one by IoU > ``iou``,
    or when more than ``nested`` of the smaller box's area lies in the other (a face does not sit
    inside a face: this drops a part of a face seen as a face, or a loose box around a small
    face). Returns the kept (boxes, scores), by rank."""
    order = np.argsort(-(scores if rank is None else rank), kind="stable")
    boxes, scores = boxes[order], scores[order]
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    for i in range(len(scores)):
        if keep:
            k = np.array(keep)
            iw = np.minimum(boxes[k, 2], boxes[i, 2]) - np.maximum(boxes[k, 0], boxes[i, 0])
            ih = np.minimum(boxes[k, 3], boxes[i, 3]) - np.maximum(boxes[k, 1], boxes[i, 1])
            inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
            union = area[k] + area[i] - inter
            if np.any(inter > iou * union) or np.any(inter > nested * np.minimum(area[k], area[i])):
                continue
        keep.append(i)
    return boxes[keep], scores[keep]


def _to_detections(rows: np.ndarray, scores: np.ndarray, width: int, height: int) -> list[Detection]:
    out = []
    for row, sc in zip(rows.tolist(), scores.tolist(), strict=True):
        x0, y0 = max(0, int(round(row[0]))), max(0, int(round(row[1])))
        x1, y1 = min(width, int(round(row[2]))), min(height, int(round(row[3])))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            points = tuple((float(row[i]), float(row[i + 1])) for i in range(4, 16, 2))
            out.append(Detection((x0, y0, x1 - x0, y1 - y0), float(min(max(sc, 0.0), 1.0)), points))
    return sorted(out, key=lambda d: -d.score)


def _thumbnail(bgr: np.ndarray, side: int, pick=max) -> tuple[np.ndarray, float, float]:
    """``bgr`` with its longer (``pick=max``) or shorter (``pick=min``) side brought to ``side``
    pixels (never enlarged), and the factors (x, y) mapping its pixels back: area halvings
    (OpenCV's fast path) to less than twice ``side``, then bilinear."""
    h, w = bgr.shape[:2]
    small = bgr
    while pick(small.shape[:2]) >= 2 * side:  # halving has OpenCV's fastest area path
        sh, sw = small.shape[:2]
        small = cv2.resize(small[: sh // 2 * 2, : sw // 2 * 2], (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    if pick(sh, sw) > side:
        f = side / pick(sh, sw)
        small = cv2.resize(small, (max(1, round(sw * f)), max(1, round(sh * f))), interpolation=cv2.INTER_LINEAR)
    return small, w / small.shape[1], h / small.shape[0]


def tile_grid(width: int, height: int, tile: int, overlap: float = 0.5) -> list[tuple[int, int, int, int]]:
    """Square tiles (x, y, w, h) of side ``tile`` covering the image, evenly spaced so that
    neighbours overlap by at least ``overlap`` of a tile; the outer ones are flush with the edges."""

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        count = int(np.ceil((n - tile) / (tile * (1.0 - overlap)) - 1e-9)) + 1
        return [int(round(v)) for v in np.linspace(0, n - tile, count)]

    return [(x, y, min(tile, width), min(tile, height)) for y in starts(height) for x in starts(width)]




class BlazeFaceDetector:
    """MediaPipe BlazeFace, in passes whose cost follows the need (``small_faces="auto"``).

    1. Scans: the short-range model on the whole image, no letterbox, at each scale of ``scans``
       in turn (``BlazeNet.scan``; by default 0.3 for faces of 96 px and up, ~1.5 ms for a
       640x480 frame on one core, then 0.5 for faces down to 64 px, ~4 ms), stopping at the
       first scan that finds a face of at least ``scan_stop`` times the width it is made for
       (faces in one picture are of similar sizes). A scan's input is at most
       ``max_scan_side`` long, so a large photo's smaller faces (under ~1/16 of its longer
       side) are not looked for. Where the first scan would see the image smaller than the
       short-range input (images under ~430 px) or cost much more than it (over
       ``first_pass_area`` times), the letterboxed 128x128 look comes first and the scans run
       only unless it found a face of at least ``small_face_ratio`` of the longer side.
    2. If nothing was found and an unsure scan candidate (``edge_score`` up) reaches past the
       image's edge: the full-range model (which knows faces cut by the edge) on the whole
       image, letterboxed to 192x192 (~3 ms).
    3. If all that found nothing: the short-range model again with the image shrunk to
       ``zoom_out_fill`` of a ``zoom_out_size`` input and black around it, for faces larger than
       the picture such as tight face crops (FER2013-like); only boxes of at least
       ``zoom_out_min_size`` of the shorter side count.

    Detections scoring below ``verify_below`` count only if the short-range model finds them
    again in a square of ``verify_zoom`` times their box, seen at ``verify_size`` pixels (this
    removes the loose boxes BlazeFace sometimes draws around a too-small face, and face-like
    textures). Each model's detections are merged by MediaPipe's weighted NMS; across passes,
    where both find a face, a confident short-range box is kept (else the better score), and a
    box lying mostly inside a kept one is dropped. Full-range boxes are calibrated to the
    short-range ones (``FULL_RANGE.box_scale``, ``box_dy``), so a face gets the same box from
    either model. Every detection carries the six keypoints of the model that found it, in
    image pixels.

    ``threads``: ONNX Runtime intra-op threads (default 1).
    ``small_faces``: "auto" (as above), "always" (the letterboxed look, then the full-range model
    on squares of the shorter side and on 50%-overlapping tiles of half the longer side, and a
    closer look at its best unsure candidate (``candidate_score`` up, ``max_candidates``) when
    nothing sure was found: faces down to ~25 px in a 640x480 frame, ~20 ms) or "never" (the
    first look only, the 0.3 scan where "auto" scans first, else the letterboxed look, and
    pass 3: ~1-2 ms per 640x480 frame, for following known faces in live video; faces below
    ~1/7 of the frame are missed).
    """

    name = "blazeface"
    #: FER2013's crop is 1.16x BlazeFace's box (median) with the box centre 8% of the crop low
    #: (``bench/detectors.py --framing``): widen by 1.2 and move the centre up 0.09 box heights.
    frame_scale, frame_dy = 1.2, -0.09

    def __init__(
        self,
        threads: int = 1,
        small_faces: str = "auto",
        zoom_out_fill: float = 0.7,
        zoom_out_min_size: float = 0.6,
        zoom_out_size: int = 96,
        verify_below: float = 0.75,
        verify_zoom: float = 1.6,
        verify_size: int = 80,
        small_face_ratio: float = 0.15,
        candidate_score: float = 0.1,
        max_candidates: int = 1,
        min_tile: int = 96,
        scans: tuple[tuple[int, float], ...] = ((96, 0.3), (64, 0.5)),
        scan_stop: float = 0.8,
        max_scan_side: int = 512,
        first_pass_area: float = 2.5,
        scan_score: float = 0.4,
        scan_confirm: float = 0.7,
        edge_score: float = 0.35,
        edge_reach: float = 0.1,
    ):
        if small_faces not in ("auto", "always", "never"):
            raise MoodtuneError(f"small_faces must be 'auto', 'always' or 'never', not {small_faces!r}")
        self.threads = max(1, int(threads))
        self.small_faces, self.zoom_out_fill, self.zoom_out_min_size = small_faces, zoom_out_fill, zoom_out_min_size
        self.zoom_out_size = zoom_out_size
        self.small_face_ratio, self.min_tile = small_face_ratio, min_tile
        self.verify_below, self.verify_zoom, self.verify_size = verify_below, verify_zoom, verify_size
        self.candidate_score, self.max_candidates = candidate_score, max_candidates
        self.scans, self.scan_stop = tuple(scans), scan_stop
        self.max_scan_side, self.first_pass_area, self.scan_score = max_scan_side, first_pass_area, scan_score
        self.edge_score, self.edge_reach, self.scan_confirm = edge_score, edge_reach, scan_confirm
        self.short = BlazeNet(SHORT_RANGE, self.threads)
        self._full: BlazeNet | None = None

    @property
    def full(self) -> BlazeNet:
        """The full-range model, loaded on first use."""
        if self._full is None:
            self._full = BlazeNet(FULL_RANGE, self.threads)
        return self._full

    def _look_again(self, bgr: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The short-range model on a square of ``verify_zoom`` times ``row``'s box around it
        (the face then fills about 60% of its input, its best scale): its best detection
        overlapping the box (IoU > 0.4), or None."""
        x0, y0, x1, y1 = row[:4]
        side = self.verify_zoom * max(x1 - x0, y1 - y0)
        again, scores = self.short(bgr, ((x0 + x1 - side) / 2, (y0 + y1 - side) / 2, side, side), size=self.verify_size)
        if not len(scores):
            return None
        ious = _iou(row, again)
        best = int(np.argmax(np.where(ious > 0.4, scores, -1.0)))
        return (again[best], float(scores[best])) if ious[best] > 0.4 else None

    def _confirmed(self, bgr: np.ndarray, rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keep the detections scoring at least ``verify_below``, and those below it that the
        short-range model finds again (``_look_again``)."""
        keep = scores >= self.verify_below
        for i in np.flatnonzero(~keep):
            keep[i] = self._look_again(bgr, rows[i]) is not None
        return rows[keep], scores[keep]

    def follow(self, bgr: np.ndarray, box: tuple[int, int, int, int], zoom: float = 2.5) -> Detection | None:
        """The best short-range detection in a square of ``zoom`` times ``box`` (x, y, w, h) around
        it (a face tracked in a stream, looked for where it was), or None (~1 ms)."""
        x, y, bw, bh = box
        side = zoom * max(bw, bh)
        rows, scores = weighted_nms(*self.short(bgr, (x + bw / 2 - side / 2, y + bh / 2 - side / 2, side, side)))
        if not len(scores):
            return None
        found = _to_detections(rows[:1], scores[:1], bgr.shape[1], bgr.shape[0])
        return found[0] if found else None

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Faces in ``bgr`` ((H, W, 3) uint8; (H, W) gray is accepted too) as ``Detection`` boxes
        (x, y, w, h) in its pixels, clipped to the image, with keypoints, best score first; []
        when none."""
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        h, w = bgr.shape[:2]
        if h < 2 or w < 2:
            return []
        long_side = max(h, w)
        # no pass but the verification needs more than ~2 full-range inputs per side: shrink a
        # large image once, by a whole factor (OpenCV's fast path for INTER_AREA; the few
        # pixels that do not fill a last block at the right and bottom are left out)
        k = long_side // (2 * FULL_RANGE.size)
        if k >= 2:
            hk, wk = h // k, w // k
            work = cv2.resize(bgr[: hk * k, : wk * k], (wk, hk), interpolation=cv2.INTER_AREA)
        else:
            k, work = 1, bgr

        def run(net: BlazeNet, roi=None, fill: float = 1.0, min_score: float | None = None) -> tuple[np.ndarray, np.ndarray]:
            rows, scores = net(work, roi, fill, min_score)
            return rows * np.float32(k), scores

        # the passes over the whole image share one thumbnail at the full-range input's size
        # (made in cheap steps: whole-factor area shrink, then bilinear), instead of each
        # resizing the full image again
        thumbs: list[tuple[np.ndarray, float, float]] = []  # made on first use

        def whole(net: BlazeNet, fill: float = 1.0, min_score: float | None = None, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
            if not thumbs:
                thumbs.append(_thumbnail(bgr, FULL_RANGE.size))
            thumb, fx, fy = thumbs[0]
            rows, scores = net(thumb, None, fill, min_score, size)
            rows[:, 0::2] *= np.float32(fx)
            rows[:, 1::2] *= np.float32(fy)
            return rows, scores

        scales = self._scan_scales(long_side)
        first = scales[0] * long_side, (scales[0] * w) * (scales[0] * h)
        if self.small_faces != "always" and first[0] >= SHORT_RANGE.size and first[1] <= self.first_pass_area * SHORT_RANGE.size ** 2:
            # the first scan sees the image at least as large as the letterboxed look and costs
            # little more: it comes first ("never": only it, so a live stream's frames between its
            # full searches get the same boxes as those searches)
            rows, scores, cut = self._scan(bgr, work, k, scales if self.small_faces == "auto" else scales[:1])
        else:
            cut = False
            rows, scores = self._confirmed(bgr, *weighted_nms(*whole(self.short)))
            sizes = np.maximum(rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1])
            explained = bool(len(scores)) and float(sizes.min()) >= self.small_face_ratio * long_side
            if self.small_faces == "auto" and not explained:
                scanned = self._scan(bgr, work, k, scales)
                rows, scores, cut = np.concatenate([rows, scanned[0]]), np.concatenate([scores, scanned[1]]), scanned[2]
        if not len(scores) and cut:
            # a face cut by the image's edge: the full-range model sees those (one letterboxed run)
            rows, scores = weighted_nms(*whole(self.full))
        rank = self._rank(scores)
        if self.small_faces == "always":
            # the whole image in squares of its shorter side (no letterbox: 2 for 4:3 or 16:9)
            mid, mx, my = _thumbnail(work, FULL_RANGE.size, pick=min)
            mid_h, mid_w = mid.shape[:2]
            more = []
            windows = tile_grid(mid_w, mid_h, min(mid_h, mid_w), overlap=0.0)
            if len(windows) > 2:  # a long, narrow picture: one letterboxed look is cheaper and keeps the context
                more.append(whole(self.full, min_score=self.candidate_score))
                windows = []
            for rect in windows:
                r, sc = self.full(mid, rect, 1.0, self.candidate_score)
                r[:, 0::2] *= np.float32(mx * k)
                r[:, 1::2] *= np.float32(my * k)
                more.append((r, sc))
            work_h, work_w = work.shape[:2]
            if max(work_h, work_w) // 2 >= self.min_tile:
                for rect in tile_grid(work_w, work_h, (max(work_h, work_w) + 1) // 2):
                    more.append(run(self.full, rect, min_score=self.candidate_score))
            # full-range rows are merged among themselves here, with the short-range ones below
            fr, fs = weighted_nms(np.concatenate([r for r, _ in more]), np.concatenate([sc for _, sc in more]))
            sure = fs >= FULL_RANGE.min_score
            known = np.concatenate([rows, fr[sure]])
            # a closer look at unsure candidates only where nothing sure was found at all
            cand_rows, cand_scores = (self._unexplained(bgr, fr[~sure], fs[~sure], known) if not len(known)
                                      else (np.zeros((0, 16), np.float32), np.zeros(0, np.float32)))
            rows = np.concatenate([rows, fr[sure], cand_rows])
            scores = np.concatenate([scores, fs[sure], cand_scores])
            rank = np.concatenate([rank, fs[sure], cand_scores])
        if not len(scores):
            # zoomed out, this pass is only trusted for what it is there for: faces about as
            # large as the image (on scenes it can mistake a large area for a face)
            zr, zs = weighted_nms(*whole(self.short, fill=self.zoom_out_fill, size=self.zoom_out_size))
            big = np.minimum(zr[:, 2] - zr[:, 0], zr[:, 3] - zr[:, 1]) >= self.zoom_out_min_size * min(h, w)
            rows, scores = self._confirmed(bgr, zr[big], zs[big])
            rank = scores
        if not len(scores):
            return []
        rows, scores = _drop_overlapping(rows, scores, rank)
        return _to_detections(rows, scores, w, h)

    def detect_small(self, bgr: np.ndarray) -> list[Detection]:
        """Faces that only the finer scans of ``scans`` find (those after the first), confirmed
        as ``detect`` confirms them; [] when the image has no finer scan. The other half of a
        search split over two frames: a stream whose every frame gets the first scan anyway
        (``small_faces="never"``) gets this on some frames instead (``FrameAnalyzer``, fast mode).
        ``small_faces="always"``: all of ``detect`` (its tiled search is the costly part);
        "never": []."""
        if self.small_faces != "auto":
            return self.detect(bgr) if self.small_faces == "always" else []
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        h, w = bgr.shape[:2]
        scales = self._scan_scales(max(h, w))[1:] if min(h, w) >= 2 else []
        if not scales:
            return []
        rows, scores, _ = self._scan(bgr, bgr, 1, scales)
        if not len(scores):
            return []
        rows, scores = _drop_overlapping(rows, scores, self._rank(scores))
        return _to_detections(rows, scores, w, h)

    def _rank(self, scores: np.ndarray) -> np.ndarray:
        """Order for merging detections: where both models see a face, a confident short-range box
        (the box ``frame_scale`` was measured on) is kept; otherwise the better score wins."""
        return scores + (scores >= self.verify_below)

    def _scan_scales(self, long_side: int) -> list[float]:
        """The scales of ``scans`` for an image of ``long_side`` pixels, the scan input's longer
        side capped at ``max_scan_side`` (a large photo's smaller faces are not looked for); a
        scale that the cap makes (nearly) equal to the one before is dropped."""
        out: list[float] = []
        for _, scale in self.scans:
            scale = min(scale, self.max_scan_side / long_side)
            if not out or scale > out[-1] * 1.05:
                out.append(scale)
        return out

    def _scan(self, bgr: np.ndarray, work: np.ndarray, k: int, scales: list[float]) -> tuple[np.ndarray, np.ndarray, bool]:
        """The short-range model on the whole image at each of ``scales`` (``work`` is ``bgr``
        shrunk by ``k``) in turn, the confirmed detections of each (``_confirmed``) kept, until one
        finds faces of at least ``scan_stop`` times the face width it is made for: a finer
        scan then only costs time (faces in one picture are of similar sizes). Unsure
        detections (under ``verify_below``) count if ``_look_again`` finds them scoring
        ``scan_confirm`` or more; one it rejected is not looked at again. Returns (rows,
        scores, cut): ``cut`` tells whether an unsure candidate (from ``edge_score`` up) reaches
        past the image's edge by ``edge_reach`` of its width (the short-range model is weak on
        faces cut by the edge)."""
        found_rows, found_scores, cut = [], [], False
        rejected: list[np.ndarray] = []
        h, w = bgr.shape[:2]
        for scale, (face, _) in zip(scales, self.scans, strict=False):
            # the shrunk image where it still has the pixels the scan needs
            src, f = (work, k) if scale * k <= 1 else (bgr, 1)
            r, sc = self.short.scan(src, scale * f, min(self.edge_score, self.scan_score))
            r *= np.float32(f)
            unsure = sc < self.scan_score
            if unsure.any():
                u = r[unsure]
                m = self.edge_reach * (u[:, 2] - u[:, 0])
                cut = cut or bool(np.any((u[:, 0] < -m) | (u[:, 1] < -m) | (u[:, 2] > w + m) | (u[:, 3] > h + m)))
                r, sc = r[~unsure], sc[~unsure]
            r, sc = weighted_nms(r, sc) if len(sc) else (r, sc)
            keep = sc >= self.verify_below
            for i in np.flatnonzero(~keep):
                # looked at already in a coarser scan: rejected again without a second look
                if rejected and float(_iou(r[i], np.array(rejected)).max()) > 0.5:
                    continue
                # a scan sees a texture at many more anchors than the letterboxed look: its
                # unsure detections need a surer second look
                again = self._look_again(bgr, r[i])
                keep[i] = again is not None and again[1] >= self.scan_confirm
                if not keep[i]:
                    rejected.append(r[i])
            r, sc = r[keep], sc[keep]
            found_rows.append(r)
            found_scores.append(sc)
            if len(sc) and float(np.minimum(r[:, 2] - r[:, 0], r[:, 3] - r[:, 1]).min()) >= self.scan_stop * face:
                break
        return np.concatenate(found_rows), np.concatenate(found_scores), cut

    def _unexplained(self, bgr: np.ndarray, rows: np.ndarray, scores: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of the full-range model's unsure candidates (best first), those that no ``known`` box
        overlaps, at most ``max_candidates``, looked at again by the short-range model
        (``_look_again``); returns the confirmed ones with the short-range rows and scores."""
        out_rows, out_scores = [], []
        looked = 0
        for i in np.argsort(-scores, kind="stable"):
            if looked >= self.max_candidates:
                break
            if len(known) and float(_iou(rows[i], known).max()) > 0.1:
                continue
            looked += 1
            again = self._look_again(bgr, rows[i])
            if again is not None:
                out_rows.append(again[0])
                out_scores.append(again[1])
        if not out_rows:
            return np.zeros((0, 16), np.float32), np.zeros(0, np.float32)
        return np.array(out_rows, np.float32), np.array(out_scores, np.float32)
