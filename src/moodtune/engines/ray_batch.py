"""Batch analysis on Ray: ``analyze_with_ray(paths)`` gives the same JSON lines as ``moodtune analyze --json``.

Ray Data reads the image files (``read_binary_files``); ``map_batches`` runs them through a
pool of ``num_workers`` actors, each holding one face detector and one emotion classifier
(loaded once per actor), which detects the faces of a batch of images and classifies all of
their crops in one model call. Video files are split into time ranges of ``chunk_seconds``
(face tracks and smoothing restart at each range; track ids are made unique per file). A file
that cannot be read is an error line, as in the local path, not a failed job. Output: the
JSON lines in input order (streamed to ``out`` or yielded), or a Parquet folder when ``out``
ends in ``.parquet``. Ray's progress bars show on stderr.

``address``: a running cluster (``ray://host:10001`` or ``auto``); None starts a local
instance with ``num_workers`` CPUs (or uses the one this process already started).
On a cluster, every node must see the files at the same paths (a shared file system).
"""

from __future__ import annotations

import heapq
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from moodtune.errors import MoodtuneError

TRACKS_PER_RANGE = 100_000  #: track ids of range k of a video start at k * this


def _inputs(paths: Iterable[str | os.PathLike], chunk_seconds: float) -> tuple[list[dict], list[dict], list[dict]]:
    """(images, video ranges, errors): one row per input, each with its ``order`` and shown ``path``."""
    from moodtune.inputs import display, iter_inputs
    from moodtune.video import is_video, open_video

    images: list[dict[str, Any]] = []
    ranges: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for path, error in iter_inputs([str(p) for p in paths]):
        row: dict[str, Any] = {"order": len(images) + len(ranges) + len(errors), "path": display(path)}
        if error is not None:
            errors.append({**row, "error": error})
        elif is_video(path):
            try:
                cap, info = open_video(path)
                cap.release()
            except MoodtuneError as exc:
                errors.append({**row, "error": str(exc)})
                continue
            n = max(1, math.ceil(info.duration / chunk_seconds)) if info.duration else 1
            for k in range(n):
                ranges.append({**row, "order": row["order"] + k / n, "file": str(path), "part": k,
                               "start": k * chunk_seconds if n > 1 else 0.0,
                               "end": (k + 1) * chunk_seconds if k < n - 1 else math.inf})
        else:
            images.append({**row, "file": str(Path(path).resolve())})
    return images, ranges, errors


class ImageBatch:
    """A Ray actor holding one ``Analyzer``: a batch of image files in, result rows out."""

    def __init__(self, detector: str | None = None, model: str | None = None, shown: dict | None = None):
        from moodtune.pipeline import default_analyzer

        self.analyzer = default_analyzer(detector=detector, model=model)
        self.shown = shown or {}  # resolved file path -> [(order, path as shown locally), ...] (a file named twice: twice)

    def __call__(self, batch: dict) -> dict:
        from moodtune.contract import to_json
        from moodtune.vision.decode import load_image

        rows, images, owners = [], [], []
        for data, file in zip(batch["bytes"], batch["path"], strict=True):
            named = self.shown.get(_local(file)) or [(-1, file)]
            order, shown = named.pop(0) if len(named) > 1 else named[0]
            rows.append({"order": float(order), "path": shown, "frame": -1, "time": math.nan, "error": "", "faces": "[]"})
            try:
                images.append(load_image(bytes(data), name=shown))
                owners.append(len(rows) - 1)
            except MoodtuneError as exc:
                rows[-1]["error"] = str(exc)
        # every face of the batch in one model call
        for i, faces in zip(owners, self.analyzer.analyze_batch(images) if images else [], strict=True):
            rows[i]["faces"] = json.dumps(to_json(faces))
        return _columns(rows)


class VideoRange:
    """A Ray actor analysing time ranges of videos (tracked, smoothed faces per frame, as the local path)."""

    def __init__(self, detector: str | None = None, model: str | None = None, every: int = 1, half_life: float | None = None):
        self.detector, self.model, self.every = detector, model, max(1, int(every))
        from moodtune.video import DEFAULT_HALF_LIFE_S

        self.half_life = DEFAULT_HALF_LIFE_S if half_life is None else half_life

    def __call__(self, batch: dict) -> dict:
        rows = []
        for order, shown, file, part, start, end in zip(batch["order"], batch["path"], batch["file"], batch["part"],
                                                        batch["start"], batch["end"], strict=True):
            try:
                rows += self._range(float(order), str(shown), str(file), int(part), float(start), float(end))
            except MoodtuneError as exc:
                rows.append({"order": float(order), "path": str(shown), "frame": -1, "time": math.nan,
                             "error": str(exc), "faces": "[]"})
        return _columns(rows)

    def _range(self, order: float, shown: str, file: str, part: int, start: float, end: float) -> list[dict]:
        from moodtune.contract import to_json
        from moodtune.pipeline import default_analyzer

        rows = []
        frames = default_analyzer(detector=self.detector, model=self.model).iter_video(
            file, every=self.every, half_life=self.half_life, progress=False, start=start, end=end)
        for frame in frames:
            faces = to_json(frame.faces)
            for d in faces:
                d["track"] += part * TRACKS_PER_RANGE
            rows.append({"order": order, "path": shown, "frame": frame.frame, "time": round(frame.time, 3), "error": "",
                         "faces": json.dumps(faces)})
        return rows


def _local(path: str) -> str:
    return str(Path(path.removeprefix("local://")).resolve())


def _columns(rows: list[dict]) -> dict:
    keys = ("order", "path", "frame", "time", "error", "faces")
    return {k: np.array([r[k] for r in rows], dtype=object if k in ("path", "error", "faces") else None) for k in keys}


def line(row: dict) -> dict:
    """One result row as the JSON object ``moodtune analyze --json`` prints."""
    if row["error"]:
        return {"path": row["path"], "error": row["error"]}
    if int(row["frame"]) >= 0:
        return {"path": row["path"], "frame": int(row["frame"]), "time": float(row["time"]), "faces": json.loads(row["faces"])}
    return {"path": row["path"], "faces": json.loads(row["faces"])}


def analyze_with_ray(paths: Iterable[str | os.PathLike], address: str | None = None, out: str | os.PathLike | None = None,
                     num_workers: int = 2, batch_size: int = 16, detector: str | None = None, model: str | None = None,
                     every: int = 1, half_life: float | None = None, chunk_seconds: float = 30.0,
                     progress: bool = True) -> Iterator[dict]:
    """Analyse images, folders and videos on Ray; yields the ``analyze --json`` objects in input order.

    ``out``: also write them, as JSON lines (any name) or Parquet (a name ending in ``.parquet``:
    a folder of files with columns order, path, frame, time, error, faces as JSON text).
    ``MoodtuneError`` when Ray is not installed or the cluster cannot be reached.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise MoodtuneError("Ray is not installed: pip install 'moodtune[ray]'") from None
    images, ranges, errors = _inputs(paths, chunk_seconds)
    if not ray.is_initialized():
        env = {"env_vars": {"OMP_NUM_THREADS": "1", "MOODTUNE_THREADS": "1"}}
        try:
            if address:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
            else:
                ray.init(num_cpus=num_workers, include_dashboard=False, runtime_env=env, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError...: one line for the user
            raise MoodtuneError(f"cannot start or reach Ray{' at ' + address if address else ''}: {exc}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = progress
    # each actor takes 0.9 CPU, so the read tasks always find room beside a full pool
    pool: dict[str, Any] = {"compute": ray.data.ActorPoolStrategy(size=num_workers), "num_cpus": 0.9}
    parts: list = [[{"frame": -1, "time": math.nan, "faces": "[]", **e} for e in errors]]
    if ranges:  # a few rows per second of video: collected, then merged in input order
        parts.append(list(ray.data.from_items(ranges, override_num_blocks=len(ranges))
                          .map_batches(VideoRange, fn_constructor_kwargs={"detector": detector, "model": model,
                                                                          "every": every, "half_life": half_life},
                                       batch_size=1, **pool).iter_rows()))
    images_ds = None
    if images:
        shown: dict[str, list] = {}
        for r in images:
            shown.setdefault(r["file"], []).append((r["order"], r["path"]))
        images_ds = (ray.data.read_binary_files([r["file"] for r in images], include_paths=True,
                                                num_cpus=0.1)
                     .map_batches(ImageBatch, fn_constructor_kwargs={"detector": detector, "model": model, "shown": shown},
                                  batch_size=batch_size, **pool))
    parquet = out is not None and str(out).endswith(".parquet")
    if parquet and images_ds is not None:
        images_ds.write_parquet(str(out))
        images_ds = ray.data.read_parquet(str(out))
    if images_ds is not None:
        parts.append(images_ds.iter_rows())  # streamed, in input order
    rows = heapq.merge(*parts, key=lambda r: (r["order"], r["frame"]))
    if parquet and out is not None and (errors or ranges):
        import pyarrow as pa
        import pyarrow.parquet as pq

        rest = [r for p in parts if isinstance(p, list) for r in p]
        Path(out).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist([{k: r[k] for k in ("order", "path", "frame", "time", "error", "faces")} for r in rest]),
                       Path(out) / "errors-and-videos.parquet")
    return _emit(rows, None if out is None or parquet else Path(out))


def _emit(rows: Iterable[dict], out: Path | None) -> Iterator[dict]:
    f = open(out, "w", encoding="utf-8") if out is not None else None
    try:
        for row in rows:
            obj = line(row)
            if f is not None:
                f.write(json.dumps(obj) + "\n")
            yield obj
    finally:
        if f is not None:
            f.close()
