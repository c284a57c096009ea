"""`moodtune catalog map`: the starter catalogue drawn on the valence/arousal plane with its mood clusters."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodtune.errors import MoodtuneError
from moodtune.music.catalog_map import draw_catalog_map, kmeans, mood_clusters
from moodtune.music.recommend import open_catalog
from moodtune.music.store import CatalogStore

pytest.importorskip("matplotlib")


def test_kmeans_finds_separated_groups():
    rng = np.random.default_rng(1)
    centres = np.array([[0.2, 0.2], [0.8, 0.8], [0.2, 0.8]])
    pts = np.concatenate([c + rng.normal(0, 0.03, (100, 2)) for c in centres])
    labels, found = kmeans(pts, 3)
    assert sorted(np.bincount(labels).tolist()) == [100, 100, 100]
    assert np.abs(np.sort(found, axis=0) - np.sort(centres, axis=0)).max() < 0.05


def test_starter_catalogue_map(tmp_path):
    store = open_catalog("starter")
    out = tmp_path / "map.png"
    clusters = draw_catalog_map(store, out)
    assert sorted(clusters.names) == ["calm", "energetic", "happy", "sad"]
    assert sum(clusters.sizes()) == len(store.index())
    c = dict(zip(clusters.names, clusters.centres, strict=True))
    assert c["happy"][0] > c["sad"][0] and c["energetic"][1] > c["calm"][1] and c["happy"][1] > c["sad"][1]
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] >= 800 and img.shape[1] >= 800 and img.std() > 10


def test_empty_catalogue_is_a_clear_error(tmp_path):
    with pytest.raises(MoodtuneError, match="no tracks"):
        draw_catalog_map(CatalogStore.memory(), tmp_path / "map.png")
    assert mood_clusters(np.array([0.5]), np.array([0.5]), k=4).names == ["calm"]
