"""The web app (FastAPI): ``create_app()`` builds it, ``moodtune serve`` runs it (see ``moodtune.web.app``)."""

from moodtune.web.app import create_app, run

__all__ = ["create_app", "run"]
