"""Registries as plain data: frozen entries naming what to import, imported only when used.

A table is a tuple of ``Entry`` values written out in the module that owns the area
(``moodtune.vision.detect.DETECTORS``, ``moodtune.emotion.models.MODELS``); nothing registers
itself at import time, so importing a table imports none of its targets.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from moodtune.errors import MoodtuneError


@dataclass(frozen=True)
class Entry:
    """One registered thing: its ``name``, a one-line ``summary`` and a lazy ``target``
    ("package.module:attribute")."""

    name: str
    summary: str
    target: str

    def load(self) -> Any:
        """Import and return the target attribute."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


def lookup(table: Sequence[Entry], name: str, kind: str) -> Entry:
    """The entry called ``name``; raises ``MoodtuneError`` naming the valid ones (``kind``: "detector")."""
    for entry in table:
        if entry.name == name:
            return entry
    raise MoodtuneError(f"unknown {kind} {name!r}; choose one of: {', '.join(e.name for e in table)}")
