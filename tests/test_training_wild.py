"""faces-wild-dev scoring: the arithmetic, and a few real photos end to end."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from moodtune.config import data_dir
from moodtune.emotion.labels import CLASSES
from moodtune.training.wild import labelled_photos, score_predictions, score_wild

IDX = {c: i for i, c in enumerate(CLASSES)}


def test_scores_count_a_photo_without_a_face_as_wrong():
    labels = np.array([IDX["happy"], IDX["happy"], IDX["neutral"], IDX["neutral"], IDX["neutral"], IDX["neutral"]])
    pred = np.array([IDX["happy"], -1, IDX["neutral"], IDX["angry"], IDX["sad"], IDX["neutral"]])
    s = score_predictions(pred, labels)
    assert s.n == 6 and s.found == 5
    assert s.accuracy == pytest.approx(3 / 6)
    assert s.recall == {"happy": 0.5, "neutral": 0.5}
    assert s.neutral_as["angry"] == 0.25 and s.neutral_as["sad"] == 0.25 and s.neutral_as["neutral"] == 0.5
    assert "neutral read as angry 0.250" in s.line()


WILD = data_dir() / "faces-wild-dev"


@pytest.mark.shared
@pytest.mark.skipif(not (WILD / "labels.csv").is_file(), reason=f"faces-wild-dev not found at {WILD}")
def test_a_few_real_photos_end_to_end(tmp_path):
    import moodtune

    paths, labels = labelled_photos(WILD)
    pick = [0, 1, len(paths) - 1]
    (tmp_path / "images").symlink_to(WILD / "images")
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for i in pick:
            w.writerow([f"images/{paths[i].name}", CLASSES[labels[i]]])
    s = score_wild(root=tmp_path)
    expected = [CLASSES.index(faces[0].emotion) if (faces := moodtune.analyze(str(paths[i]))) else -1 for i in pick]
    assert s.n == 3 and s.found == sum(e >= 0 for e in expected)
    assert s.accuracy == pytest.approx(np.mean([e == labels[i] for e, i in zip(expected, pick, strict=True)]))
