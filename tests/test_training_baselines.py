"""Classical baselines (HOG/LBP + scikit-learn) on a small subsample of real faces."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skimage")

from moodtune.config import data_dir  # noqa: E402
from moodtune.emotion.labels import CLASSES  # noqa: E402
from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.training.baselines import (  # noqa: E402
    BASELINES,
    BaselineResult,
    features,
    hog_features,
    lbp_features,
    markdown_table,
    run_baselines,
)
from moodtune.training.data import FerData, train_test_duplicates  # noqa: E402

FER = data_dir() / "fer2013"
HAVE_DATA = (FER / "meta.csv").is_file() and (FER / "images").is_dir()


def test_feature_shapes_and_lbp_histograms():
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    assert hog_features(faces).shape == (5, 900)
    lbp = lbp_features(faces)
    assert lbp.shape == (5, 360) and lbp.dtype == np.float32
    assert lbp.reshape(5, 36, 10).sum(2) == pytest.approx(np.ones((5, 36)))  # one normalised histogram per 8x8 cell
    both = features(faces, "hog+lbp")
    assert both.shape == (5, 1260) and np.array_equal(both[:, 900:], lbp)
    flat = lbp_features(np.full((1, 48, 48), 100, np.uint8)).reshape(36, 10)
    assert (flat.argmax(1) == flat.argmax(1)[0]).all()  # a flat face: the same code in every cell
    with pytest.raises(ValueError, match="unknown features 'sift'"):
        features(faces, "sift")


def test_unknown_baseline_is_a_user_error():
    data = FerData(np.zeros((2, 48, 48), np.uint8), np.array([0, 1]), np.array(["Training", "PrivateTest"]), np.arange(2))
    with pytest.raises(MoodtuneError, match="unknown baseline\\(s\\) xgboost"):
        run_baselines(data, keys=["xgboost"], log=None)


@pytest.fixture(scope="module")
def small() -> FerData:
    """The first 420 Training and 120 PrivateTest faces of the shared FER2013 (one of them already a
    Training duplicate), plus one Training face copied into PrivateTest."""
    want = {"Training": 420, "PrivateTest": 120}
    rows = []
    with open(FER / "meta.csv", newline="") as f:
        for row in csv.DictReader(f):
            if want.get(row["usage"], 0) > 0:
                want[row["usage"]] -= 1
                rows.append(row)
            if not any(want.values()):
                break
    images = np.stack([cv2.imread(str(FER / r["png"]), cv2.IMREAD_GRAYSCALE) for r in rows])
    labels = np.array([CLASSES.index(r["label"]) for r in rows], np.int64)
    splits = np.array([r["usage"] for r in rows])
    images = np.concatenate([images, images[:1]])
    labels, splits = np.append(labels, labels[0]), np.append(splits, "PrivateTest")
    return FerData(images, labels, splits, np.arange(len(labels)))


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")
def test_every_baseline_trains_and_scores_on_a_subsample(small):
    dups = train_test_duplicates(small, "PrivateTest")
    assert dups[-1]  # the copied face
    lines = []
    results = run_baselines(small, seed=0, log=lines.append)
    assert [r.key for r in results] == list(BASELINES)
    for r in results:
        assert r.split == "PrivateTest" and r.n_train == min(420, BASELINES[r.key].max_train or 420)
        assert r.full.confusion.sum() == 121 and r.dedup.confusion.sum() == 121 - dups.sum()
        assert 0.0 <= r.full.accuracy <= 1.0 and 0.0 <= r.full.macro_f1 <= 1.0
        assert f"{r.n_train} Training faces" in r.budget and "threads" in r.budget
        back = BaselineResult.from_json(r.to_json())
        assert np.array_equal(back.full.confusion, r.full.confusion) and back.full.accuracy == r.full.accuracy
        assert back.dedup.macro_f1 == pytest.approx(r.dedup.macro_f1)
    # the smoke set is tiny, but every model must beat a constant guess of the commonest class on Training faces
    assert max(r.full.accuracy for r in results) > 0.2
    assert any("features hog+lbp" in line for line in lines)
    table = markdown_table(results).splitlines()
    assert len(table) == 2 + len(BASELINES) and table[2].startswith("| Gaussian Naive Bayes | HOG+LBP | ")


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")
def test_baselines_are_seeded(small):
    keys = ["naive_bayes", "knn", "random_forest"]
    a = run_baselines(small, keys=keys, seed=3, train_limit=300, log=None)
    b = run_baselines(small, keys=keys, seed=3, train_limit=300, log=None)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.full.confusion, y.full.confusion), x.key
        assert x.n_train == 300
