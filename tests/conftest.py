"""Shared fixtures: real sample photos from registry packages and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from moodtune.config import data_dir


@pytest.fixture(scope="session")
def hopper_path() -> Path:
    """Grace Hopper's portrait, shipped inside matplotlib (one face)."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def hopper_bgr(hopper_path) -> np.ndarray:
    return cv2.imread(str(hopper_path))


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """Eileen Collins, from scikit-image's sample data (one face)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared datasets; tests using this skip when the folder is absent."""
    root = data_dir()
    if not (root / "fer2013").is_dir():
        pytest.skip(f"shared data not found at {root}")
    return root
