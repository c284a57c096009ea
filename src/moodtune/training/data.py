"""FER2013 in the three formats users have, loaded into one in-memory ``FerData``.

- image folders: ``<root>/<split>/<class>/*.png|jpg`` (e.g. ``<data>/fer2013/images``);
- the Kaggle CSV: ``emotion,pixels,Usage`` (48*48 space-separated grey values per row);
- FER+ votes: ``fer2013new.csv`` aligned row by row with FER2013, giving soft labels.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from moodtune.config import data_dir
from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError

SPLITS = ("Training", "PublicTest", "PrivateTest")
SIZE = 48
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: FER+ vote columns that map onto our classes (contempt, unknown, not-a-face are dropped).
FERPLUS_COLUMNS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                   "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}


@dataclass
class FerData:
    """Faces of one or more splits.

    ``images`` (N, 48, 48) uint8; ``labels`` (N,) int64 class indices; ``splits`` (N,) str;
    ``rows`` (N,) int64 row index in the original ``fer2013.csv`` order (-1 when unknown);
    ``soft`` (N, 7) float32 FER+ vote distribution, or None.
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    rows: np.ndarray
    soft: np.ndarray | None = None

    def subset(self, split: str) -> FerData:
        m = self.splits == split
        return FerData(self.images[m], self.labels[m], self.splits[m], self.rows[m], None if self.soft is None else self.soft[m])

    def sample(self, n: int, seed: int = 0) -> FerData:
        """A seeded random subset of at most ``n`` faces (for smoke tests and quick runs)."""
        idx = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return FerData(self.images[idx], self.labels[idx], self.splits[idx], self.rows[idx], None if self.soft is None else self.soft[idx])

    def __len__(self) -> int:
        return len(self.labels)


def default_root() -> Path:
    return data_dir() / "fer2013"


def load(source: str | Path | None = None, ferplus: str | Path | None = "auto", cache: bool = True) -> FerData:
    """Load FER2013 from an image folder, a folder holding ``images/``, or a Kaggle CSV.

    ``ferplus``: path of ``fer2013new.csv``, "auto" (use the one beside the data if present) or None.
    With ``cache`` the decoded folder is kept in ``.cache/`` as .npz (keyed on the folder path).
    """
    src = Path(source) if source else default_root()
    if src.is_dir() and (src / "images").is_dir():
        src = src / "images"
    if not src.exists():
        raise MoodtuneError(f"FER2013 data not found at {src}; set MOODTUNE_DATA or pass --data")
    data = load_csv(src) if src.is_file() else _cached(src, load_folder) if cache else load_folder(src)
    if ferplus == "auto":
        for cand in (src.parent / "fer2013new.csv", src.parent.parent / "fer2013new.csv"):
            if cand.is_file():
                ferplus = cand
                break
        else:
            ferplus = None
    if ferplus:
        data.soft = load_ferplus(ferplus, data.rows)
        meta = Path(ferplus).parent / "meta.csv"
        if meta.is_file():
            data.soft[np.isin(data.rows, unaligned_rows(meta))] = 1.0 / 7
    return data


def unaligned_rows(meta: Path) -> np.ndarray:
    """Rows whose alignment with ``fer2013new.csv`` is unknown (``order_certain`` 0 in ``meta.csv``)."""
    with open(meta, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"row", "order_certain"} <= set(reader.fieldnames or []):
            return np.zeros(0, np.int64)
        return np.array([int(r["row"]) for r in reader if r["order_certain"] == "0"], np.int64)


def _cached(src: Path, loader) -> FerData:
    key = hashlib.sha1(str(src.resolve()).encode()).hexdigest()[:12]
    path = Path(".cache") / f"fer-{key}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return FerData(z["images"], z["labels"], z["splits"].astype(str), z["rows"])
    data = loader(src)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, images=data.images, labels=data.labels, splits=data.splits, rows=data.rows)
        tmp.replace(path)
    except OSError:
        pass  # a read-only working directory only costs speed
    return data


def load_folder(root: str | Path) -> FerData:
    """``<root>/<split>/<class>/<name>.png``; a numeric file name is taken as the CSV row index."""
    root = Path(root)
    files = []
    for split in SPLITS:
        for ci, cls in enumerate(CLASSES):
            d = root / split / cls
            if d.is_dir():
                files += [(p, split, ci) for p in sorted(d.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise MoodtuneError(f"{root}: no images in <split>/<class>/ folders (splits {', '.join(SPLITS)}; classes {', '.join(CLASSES)})")
    images = np.empty((len(files), SIZE, SIZE), np.uint8)
    rows = np.full(len(files), -1, np.int64)
    for i, (p, _, _) in enumerate(tqdm(files, desc="loading faces", unit="img", leave=False)):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise MoodtuneError(f"{p}: not a readable image")
        images[i] = img if img.shape == (SIZE, SIZE) else cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        if p.stem.isdigit():
            rows[i] = int(p.stem)
    labels = np.array([c for _, _, c in files], np.int64)
    splits = np.array([s for _, s, _ in files])
    return FerData(images, labels, splits, rows)


def load_csv(path: str | Path) -> FerData:
    """The Kaggle ``fer2013.csv``: columns ``emotion,pixels,Usage``; errors name the bad row's line."""
    path = Path(path)
    images, labels, splits = [], [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise MoodtuneError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected emotion,pixels,Usage")
        for line, row in enumerate(reader, start=2):
            try:
                label = int(row["emotion"])
            except (TypeError, ValueError):
                raise MoodtuneError(f"{path}, line {line}: emotion {row['emotion']!r} is not a number 0-6") from None
            if not 0 <= label < len(CLASSES):
                raise MoodtuneError(f"{path}, line {line}: unknown label {label}; expected 0-6 ({', '.join(CLASSES)})")
            try:
                px = np.array(row["pixels"].split(), dtype=np.int64)
            except (AttributeError, ValueError):
                raise MoodtuneError(f"{path}, line {line}: pixels must be space-separated integers") from None
            if px.size != SIZE * SIZE or px.min(initial=0) < 0 or px.max(initial=0) > 255:
                raise MoodtuneError(f"{path}, line {line}: expected {SIZE * SIZE} pixel values 0-255, got {px.size}")
            usage = (row["Usage"] or "").strip()
            if usage not in SPLITS:
                raise MoodtuneError(f"{path}, line {line}: Usage {usage!r} is not one of {', '.join(SPLITS)}")
            images.append(px.astype(np.uint8).reshape(SIZE, SIZE))
            labels.append(label)
            splits.append(usage)
    if not images:
        raise MoodtuneError(f"{path}: no data rows")
    n = len(images)
    return FerData(np.stack(images), np.array(labels, np.int64), np.array(splits), np.arange(n, dtype=np.int64))


def load_ferplus(path: str | Path, rows: np.ndarray) -> np.ndarray:
    """FER+ vote distributions over our 7 classes for the given CSV ``rows`` (uniform where unknown)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = set(FERPLUS_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise MoodtuneError(f"{path}: not a FER+ votes file, missing column(s) {', '.join(sorted(missing))}")
        order = [CLASSES.index(FERPLUS_COLUMNS[k]) for k in FERPLUS_COLUMNS]
        votes = np.zeros((0, 7), np.float32)
        table = []
        for line, row in enumerate(reader, start=2):
            try:
                v = np.zeros(7, np.float32)
                v[order] = [float(row[k] or 0) for k in FERPLUS_COLUMNS]
            except ValueError:
                raise MoodtuneError(f"{path}, line {line}: vote counts must be numbers") from None
            table.append(v)
        votes = np.stack(table) if table else votes
    soft = np.full((len(rows), 7), 1.0 / 7, np.float32)
    ok = (rows >= 0) & (rows < len(votes))
    v = votes[rows[ok]]
    total = v.sum(axis=1, keepdims=True)
    soft[ok] = np.where(total > 0, v / np.maximum(total, 1e-9), 1.0 / 7)
    return soft


def train_test_duplicates(data: FerData, split: str) -> np.ndarray:
    """Boolean mask over ``data.subset(split)``: the image's exact pixels also occur in Training."""
    train = {hashlib.sha1(im.tobytes()).digest() for im in data.subset("Training").images}
    test = data.subset(split).images
    return np.array([hashlib.sha1(im.tobytes()).digest() in train for im in test], bool)
