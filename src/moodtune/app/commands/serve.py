"""``moodtune serve``: the web app (page + JSON API) on this computer."""

from __future__ import annotations

import socket
import sys

from moodtune.errors import MoodtuneError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="start the web app: live webcam or photo in the browser, moods and playlists",
        description="Serve the moodtune page and its JSON API (OpenAPI schema at /openapi.json). "
        "Open the printed address in a browser, start the camera or drop a photo. Frames are analysed in "
        "memory and never written anywhere. Binds to 127.0.0.1 by default, so only this computer can reach it; "
        "browsers allow the camera only on localhost or over https.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--detector", help="face detector: blazeface (default) or haar")
    p.add_argument("--model", help="ONNX emotion model (default: the shipped one)")
    p.add_argument("--catalog", help="catalogue database or CSV (default: your catalogue, else the starter one)")
    p.add_argument("--max-upload-mb", type=float, default=15.0, metavar="MB", help="largest photo or frame accepted (default 15)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="time limit per request (default 30)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from moodtune.app import server
    except ImportError as exc:
        raise MoodtuneError(f"the web server needs the web extra ({exc.name} is missing): pip install 'moodtune[web]'") from None
    if not 0 < args.port < 65536:
        print("moodtune serve: error: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    if not args.max_upload_mb > 0 or not args.timeout > 0:
        print("moodtune serve: error: --max-upload-mb and --timeout must be positive", file=sys.stderr)
        return 2
    check_port_free(args.host, args.port)
    # a wrong --detector, --model or --catalog is reported here, in one line, before the server starts
    from moodtune.emotion.classifier import get_classifier
    from moodtune.vision.detect import get_detector

    get_detector(args.detector)
    get_classifier(args.model)
    if args.catalog and server.ServerState.music() is not None:
        from moodtune.music.recommend import open_catalog

        open_catalog(args.catalog)
    if not server.is_loopback(args.host):
        print(f"moodtune serve: warning: listening on {args.host}: other computers can reach this server and send it "
              "pictures; browsers only allow the camera over https or on localhost", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"moodtune: serving on http://{shown}:{args.port}/ (Ctrl+C to stop)", file=sys.stderr, flush=True)
    server.run(
        host=args.host, port=args.port, log_level=args.log_level, detector=args.detector, model=args.model,
        catalog=args.catalog, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), timeout=args.timeout,
    )
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
