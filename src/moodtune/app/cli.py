"""Moved to ``moodtune.cli`` (kept as an alias for old imports)."""

from moodtune.cli import main  # noqa: F401
