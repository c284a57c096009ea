"""``moodtune serve``: the web app (page + JSON API) on this computer."""

from __future__ import annotations

import socket
import sys
from enum import Enum
from typing import Annotated

import typer

from moodtune.cli.common import DatabaseOpt, DetectorOpt, ModelOpt, value
from moodtune.errors import MoodtuneError


class LogLevel(str, Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on (127.0.0.1: this computer only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes (each loads its own models and catalogue)")] = 1,
    detector: DetectorOpt = None,
    model: ModelOpt = None,
    catalog: Annotated[str | None, typer.Option(show_default=False,
                                                help="catalogue database or CSV (default: yours, else the starter one)")] = None,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, metavar="MB", help="largest photo or frame accepted")] = 15.0,
    timeout: Annotated[float, typer.Option(min=0.001, metavar="SECONDS", help="time limit per request")] = 30.0,
    log_level: Annotated[LogLevel, typer.Option()] = LogLevel.info,
    offline: Annotated[bool, typer.Option("--offline", help="no third-party content in the page (no Spotify embed player)")] = False,
    database: DatabaseOpt = None,
) -> int:
    """Start the web app: live webcam or photo in the browser, moods and playlists.

    Serves the page and its JSON API (OpenAPI schema at /openapi.json). Frames are analysed in
    memory and never written anywhere. Binds to 127.0.0.1 by default, so only this computer can
    reach it; browsers allow the camera only on localhost or over https.
    """
    try:
        from moodtune.web.app import is_loopback, run
        from moodtune.web.state import Settings, check_startup
    except ImportError as exc:
        raise MoodtuneError(f"the web server needs the web extra ({exc.name} is missing): pip install 'moodtune[web]'") from None
    check_port_free(host, port)
    settings = Settings(detector=value(detector), model=model, catalog=catalog,
                        max_upload_bytes=int(max_upload_mb * 1024 * 1024), timeout=timeout, offline=offline)
    check_startup(settings)  # a wrong --detector, --model or --catalog: one line, before the server starts
    if not is_loopback(host):
        print(f"moodtune serve: warning: listening on {host}: other computers can reach this server and send it "
              "pictures; browsers only allow the camera over https or on localhost", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"moodtune: serving on http://{shown}:{port}/ (Ctrl+C to stop)", file=sys.stderr, flush=True)
    run(host=host, port=port, log_level=log_level.value, workers=workers, settings=settings)
    return 0


def check_port_free(host: str, port: int) -> None:
    """Raise ``MoodtuneError`` when ``host:port`` cannot be listened on (in use, or not an address here)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise MoodtuneError(f"cannot listen on {host}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise MoodtuneError(f"port {port} on {host} is already in use: stop the other server or pick another with --port") from None
            raise MoodtuneError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
