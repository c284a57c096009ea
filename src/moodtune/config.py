"""Paths moodtune reads from: shared data, user data, shipped assets."""

from __future__ import annotations

import os
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


def data_dir() -> Path:
    """Where the shared datasets live: ``$MOODTUNE_DATA`` or ``../shared/data``.

    The relative default is tried from the working directory first, then from the
    source checkout (``<repo>/../shared/data``) so tests run from any folder.
    """
    env = os.environ.get("MOODTUNE_DATA")
    if env:
        return Path(env).expanduser()
    here = Path.cwd() / ".." / "shared" / "data"
    if here.is_dir():
        return here.resolve()
    repo = Path(__file__).resolve().parents[2]
    return (repo / ".." / "shared" / "data").resolve()


def user_dir() -> Path:
    """Per-user state (catalogue, feedback): ``$MOODTUNE_HOME`` or the XDG data dir."""
    env = os.environ.get("MOODTUNE_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "moodtune"
