"""Moved to ``moodtune.web`` (kept as an alias for old imports)."""

from moodtune.web.app import create_app, is_loopback, run  # noqa: F401
