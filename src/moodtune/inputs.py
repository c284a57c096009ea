"""The inputs a user names: image files, folders of images (walked recursively) and videos."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from moodtune.vision.decode import IMAGE_SUFFIXES


def display(path: Path) -> str:
    """The path as text; undecodable bytes in file names are escaped instead of crashing the output."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def iter_inputs(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str | None]]:
    """Yield (path, error) for every image under ``paths``; folders are walked recursively (links not followed)."""
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
            exists = is_dir or path.exists() or path.is_symlink()
        except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte in it
            yield path, f"{path}: cannot open ({getattr(exc, 'strerror', None) or exc})"
            continue
        if is_dir:
            found = False
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        found = True
                        yield Path(root) / name, None
            if not found:
                yield path, f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        elif exists:
            yield path, None
        else:
            yield path, f"{path}: no such file or folder"
