"""The inputs a user names: image files, folders of images (walked recursively) and videos."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from moodtune.vision.decode import IMAGE_SUFFIXES


def display(path: Path) -> str:
    """The path as text; undecodable bytes in file names are escaped instead of crashing the output."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def iter_inputs(paths: Iterable[str | os.PathLike], with_root: bool = False) -> Iterator[tuple]:
    """Yield (path, error) for every image under ``paths``; folders are walked recursively (links not followed).

    ``with_root``: yield (path, error, root) instead, ``root`` being the folder argument the file
    was found under (None for a path named directly), so outputs can keep the folder layout.
    """
    for raw in paths:
        path = Path(raw)
        for found, error, root in _walk(path):
            yield (found, error, root) if with_root else (found, error)


def _walk(path: Path) -> Iterator[tuple[Path, str | None, Path | None]]:
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists() or path.is_symlink()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte in it
        yield path, f"{path}: cannot open ({getattr(exc, 'strerror', None) or exc})", None
        return
    if is_dir:
        found = False
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    found = True
                    yield Path(root) / name, None, path
        if not found:
            yield path, f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})", None
    elif exists:
        yield path, None, None
    else:
        yield path, f"{path}: no such file or folder", None
