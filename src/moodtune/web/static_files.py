"""Where the page's files live (``web/static``), served under ``/static``."""

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
