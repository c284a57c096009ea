"""The three FER2013 formats (Kaggle CSV, <split>/<class>/ folders, FER+ votes) and their bad rows."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodtune.config import data_dir
from moodtune.emotion.labels import CLASSES
from moodtune.errors import MoodtuneError
from moodtune.training.data import load, load_csv, load_ferplus, load_folder, train_test_duplicates

FER = data_dir() / "fer2013"
HAVE_DATA = (FER / "meta.csv").is_file() and (FER / "images").is_dir() and (FER / "fer2013new.csv").is_file()
FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def real_rows(per_split: int = 6) -> list[dict]:
    """The first ``per_split`` order-certain rows of each split of meta.csv, with their pixels."""
    picked, count = [], {}
    with open(FER / "meta.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["order_certain"] != "1" or count.get(row["usage"], 0) >= per_split:
                continue
            count[row["usage"]] = count.get(row["usage"], 0) + 1
            row["image"] = cv2.imread(str(FER / row["png"]), cv2.IMREAD_GRAYSCALE)
            picked.append(row)
    return picked


def write_kaggle_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        f.write("emotion,pixels,Usage\n")
        for r in rows:
            f.write(f"{CLASSES.index(r['label'])},{' '.join(map(str, r['image'].ravel()))},{r['usage']}\n")
    return path


def ferplus_lines(rows: list[dict]) -> list[str]:
    """The lines of the real fer2013new.csv for these meta rows, in this order."""
    wanted = {int(r["row"]) for r in rows}
    by_row = {}
    with open(FER / "fer2013new.csv", newline="") as f:
        next(f)
        for i, line in enumerate(f):
            if i in wanted:
                by_row[i] = line.rstrip("\r\n")
    return [by_row[int(r["row"])] for r in rows]


def expected_soft(line: str) -> np.ndarray:
    v = dict(zip(FERPLUS_HEADER.split(","), next(csv.reader([line])), strict=True))
    names = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy", "sadness": "sad",
             "surprise": "surprise", "neutral": "neutral"}
    out = np.zeros(7)
    for k, c in names.items():
        out[CLASSES.index(c)] = float(v[k])
    return out / out.sum() if out.sum() else np.full(7, 1 / 7)


def write_folder_with_votes(top: Path, per_split: int = 3) -> tuple[list[dict], Path, list[str]]:
    """``top/images/<split>/<class>/<row>.png`` of real faces and their real FER+ lines in ``top/fer2013new.csv``.

    File names are the row index in the (here: our small) fer2013new.csv, as in the shared layout.
    """
    rows, root = real_rows(per_split), top / "images"
    for i, r in enumerate(rows):
        dst = root / r["usage"] / r["label"] / f"{i:05d}.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FER / r["png"], dst)
    lines = ferplus_lines(rows)
    (top / "fer2013new.csv").write_text("\n".join([FERPLUS_HEADER, *lines]) + "\n")
    return rows, root, lines


# --- real files -----------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")
def test_kaggle_csv_of_real_faces_round_trips(tmp_path):
    rows = real_rows(4)
    path = write_kaggle_csv(tmp_path / "fer2013.csv", rows)
    data = load(path)  # a file: the CSV loader; no fer2013new.csv beside it: no soft labels
    assert len(data) == 12 and data.soft is None
    assert np.array_equal(data.images, np.stack([r["image"] for r in rows]))
    assert data.labels.tolist() == [CLASSES.index(r["label"]) for r in rows]
    assert data.splits.tolist() == [r["usage"] for r in rows]
    assert data.rows.tolist() == list(range(12))
    assert len(data.subset("PublicTest")) == 4


@pytest.mark.shared
@pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")
def test_image_folder_and_ferplus_votes_of_real_faces(tmp_path):
    rows, root, lines = write_folder_with_votes(tmp_path / "fer")
    (root / "Training" / "happy").mkdir(parents=True, exist_ok=True)
    (root / "Training" / "happy" / "notes.txt").write_text("not an image, skipped")

    plain = load_folder(root)
    assert len(plain) == len(rows)
    order = np.argsort(plain.rows)
    assert np.array_equal(plain.images[order], np.stack([r["image"] for r in rows]))
    assert plain.labels[order].tolist() == [CLASSES.index(r["label"]) for r in rows]
    assert plain.splits[order].tolist() == [r["usage"] for r in rows]

    data = load(tmp_path / "fer", cache=False)  # folder holding images/, fer2013new.csv found beside it
    assert data.soft is not None and data.soft.shape == (len(rows), 7)
    for i in range(len(data)):
        assert data.soft[i] == pytest.approx(expected_soft(lines[data.rows[i]]), abs=1e-6)
        assert data.soft[i].sum() == pytest.approx(1.0)

    soft = load_ferplus(tmp_path / "fer" / "fer2013new.csv", np.array([0, -1, 999]))
    assert soft[0] == pytest.approx(expected_soft(lines[0]), abs=1e-6)
    assert soft[1] == pytest.approx(np.full(7, 1 / 7)) and soft[2] == pytest.approx(np.full(7, 1 / 7))


@pytest.mark.shared
@pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")
def test_rows_without_certain_ferplus_alignment_get_uniform_votes(tmp_path):
    rows, _, lines = write_folder_with_votes(tmp_path / "fer", per_split=2)
    voted = [i for i, line in enumerate(lines) if not np.allclose(expected_soft(line), 1 / 7)]
    unsure = voted[0]
    with open(tmp_path / "fer" / "meta.csv", "w") as f:  # the shared meta.csv's columns that matter here
        f.write("row,usage,order_certain\n" + "".join(f"{i},{r['usage']},{int(i != unsure)}\n" for i, r in enumerate(rows)))
    data = load(tmp_path / "fer", cache=False)
    for i in range(len(data)):
        want = np.full(7, 1 / 7) if data.rows[i] == unsure else expected_soft(lines[data.rows[i]])
        assert data.soft[i] == pytest.approx(want, abs=1e-6), data.rows[i]


@pytest.mark.shared
@pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")
def test_training_duplicates_are_found(tmp_path):
    rows = real_rows(3)
    rows.append({**rows[0], "usage": "PrivateTest"})  # a Training face copied into PrivateTest
    data = load_csv(write_kaggle_csv(tmp_path / "dup.csv", rows))
    mask = train_test_duplicates(data, "PrivateTest")
    assert mask.tolist() == [False, False, False, True]


# --- bad rows (synthetic pixels) ----------------------------------------------------------------------


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


PX = " ".join(["128"] * 48 * 48)


def test_csv_missing_column_is_named(tmp_path):
    with pytest.raises(MoodtuneError, match="missing column\\(s\\) Usage"):
        load_csv(_csv(tmp_path, f"emotion,pixels\n0,{PX}\n"))


def test_csv_wrong_pixel_count_names_the_line(tmp_path):
    short = " ".join(["7"] * 2303)
    with pytest.raises(MoodtuneError, match=r"line 3: expected 2304 pixel values 0-255, got 2303"):
        load_csv(_csv(tmp_path, f"emotion,pixels,Usage\n0,{PX},Training\n1,{short},Training\n"))


def test_csv_pixel_out_of_range_names_the_line(tmp_path):
    with pytest.raises(MoodtuneError, match="line 2"):
        load_csv(_csv(tmp_path, f"emotion,pixels,Usage\n0,{PX[:-3]}256,Training\n"))


def test_csv_unknown_label_names_the_line(tmp_path):
    with pytest.raises(MoodtuneError, match=r"line 4: unknown label 7"):
        load_csv(_csv(tmp_path, f"emotion,pixels,Usage\n0,{PX},Training\n6,{PX},PublicTest\n7,{PX},Training\n"))
    with pytest.raises(MoodtuneError, match=r"line 2: emotion 'happy' is not a number"):
        load_csv(_csv(tmp_path, f"emotion,pixels,Usage\nhappy,{PX},Training\n"))


def test_csv_bad_usage_and_non_numeric_pixels(tmp_path):
    with pytest.raises(MoodtuneError, match=r"line 2: Usage 'Validation'"):
        load_csv(_csv(tmp_path, f"emotion,pixels,Usage\n0,{PX},Validation\n"))
    with pytest.raises(MoodtuneError, match=r"line 2: pixels must be space-separated integers"):
        load_csv(_csv(tmp_path, "emotion,pixels,Usage\n0,1 2 x,Training\n"))
    with pytest.raises(MoodtuneError, match="no data rows"):
        load_csv(_csv(tmp_path, "emotion,pixels,Usage\n"))


def test_synthetic_csv_loads(tmp_path):
    data = load_csv(_csv(tmp_path, f"emotion,pixels,Usage\n3,{PX},Training\n5,{PX},PrivateTest\n"))
    assert data.images.shape == (2, 48, 48) and data.images.dtype == np.uint8 and (data.images == 128).all()
    assert data.labels.tolist() == [3, 5] and data.splits.tolist() == ["Training", "PrivateTest"]


def test_ferplus_missing_column_and_bad_votes(tmp_path):
    p = tmp_path / "votes.csv"
    p.write_text("Usage,Image name,neutral,happiness\nTraining,a.png,1,9\n")
    with pytest.raises(MoodtuneError, match="not a FER\\+ votes file, missing column\\(s\\) anger, disgust, fear"):
        load_ferplus(p, np.arange(1))
    p.write_text(FERPLUS_HEADER + "\nTraining,a.png,1,9,0,0,0,0,0,0,0,0\nTraining,b.png,1,lots,0,0,0,0,0,0,0,0\n")
    with pytest.raises(MoodtuneError, match="line 3: vote counts must be numbers"):
        load_ferplus(p, np.arange(2))


def test_folder_errors(tmp_path):
    with pytest.raises(MoodtuneError, match="no images in <split>/<class>/ folders"):
        load_folder(tmp_path)
    bad = tmp_path / "Training" / "sad" / "00001.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a png")
    with pytest.raises(MoodtuneError, match=r"00001.png: not a readable image"):
        load_folder(tmp_path)
    with pytest.raises(MoodtuneError, match="FER2013 data not found"):
        load(tmp_path / "nowhere")


def test_folder_resizes_and_reads_row_numbers(tmp_path):
    d = tmp_path / "PrivateTest" / "surprise"
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "00042.png"), np.full((96, 96), 200, np.uint8))
    cv2.imwrite(str(d / "face.jpg"), np.full((48, 48), 10, np.uint8))
    data = load_folder(tmp_path)
    assert data.images.shape == (2, 48, 48)
    assert sorted(data.rows.tolist()) == [-1, 42]
    assert set(data.labels.tolist()) == {CLASSES.index("surprise")}
