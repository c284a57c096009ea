"""Memory of the live pipeline over a long stream: RSS after 10,000 frames vs at the start.

Runs the live pipeline (JPEG decode, ``FrameAnalyzer`` in fast mode: detection,
classification, tracking, smoothing, JSON reply) on a 640x480 stream where faces come and go:
Grace Hopper's portrait drifts across the frame, jumps to a new place every 250 frames (a
new track id, so the tracker and the smoother keep dropping old state), and every 10th frame
has no face. RSS is read from /proc (or psutil) every ``--every`` frames after a warm-up.

With ``--server`` the frames go through the real server's WebSocket (``/api/live``) and the
server process's RSS is measured instead.

    python bench/memory_soak.py [--frames 10000] [--server]

Prints a markdown table; "growth" is RSS at the end minus RSS after the warm-up.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_fps import hopper_stream  # noqa: E402


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process in MiB."""
    try:
        with open(f"/proc/{pid or os.getpid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20


def frames(n: int):
    """JPEG frames: a face drifting, jumping every 250 frames, absent every 10th frame."""
    base = hopper_stream(60)
    blank = cv2.imencode(".jpg", np.full((480, 640, 3), 100, np.uint8))[1].tobytes()
    cache = {}
    for i in range(n):
        if i % 10 == 9:
            yield blank
            continue
        key = ((i // 250) * 17 + i) % 60  # jump to another position every 250 frames
        if key not in cache:
            cache[key] = cv2.imencode(".jpg", base[key], [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes()
        yield cache[key]


def soak_in_process(n: int, every: int, warmup: int):
    from moodtune.pipeline import FrameAnalyzer
    from moodtune.web.routers.live import frame as live_frame
    from moodtune.web.state import Work

    analyzer = FrameAnalyzer(fast=True)
    rows, start, t0 = [], None, time.perf_counter()
    for i, data in enumerate(frames(n + warmup)):
        json.dumps(live_frame(Work(), analyzer, data, i))
        done = i + 1 - warmup
        if done == 0:
            gc.collect()
            start = rss_mb()
            rows.append((0, start, time.perf_counter() - t0))
        elif done > 0 and done % every == 0:
            rows.append((done, rss_mb(), time.perf_counter() - t0))
    return rows, analyzer.tracker._next_id - 1


def soak_server(n: int, every: int, warmup: int):
    import tempfile

    from api_latency import free_port, start_server
    from websockets.sync.client import connect

    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        proc = start_server(port, home)
        try:
            rows, tracks, t0 = [], 0, time.perf_counter()
            with connect(f"ws://127.0.0.1:{port}/api/live", max_size=2**24) as ws:
                for i, data in enumerate(frames(n + warmup)):
                    ws.send(data)
                    out = json.loads(ws.recv())
                    tracks = max([tracks] + [f["track"] for f in out.get("faces", [])])
                    done = i + 1 - warmup
                    if done == 0 or (done > 0 and done % every == 0):
                        rows.append((done, rss_mb(proc.pid), time.perf_counter() - t0))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return rows, tracks


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000, help="frames after the warm-up (default 10000)")
    ap.add_argument("--every", type=int, default=1000, help="read RSS every N frames (default 1000)")
    ap.add_argument("--warmup", type=int, default=200, help="frames before the first reading (default 200)")
    ap.add_argument("--server", action="store_true", help="through the real server's WebSocket; measure the server")
    args = ap.parse_args(argv)
    rows, tracks = (soak_server if args.server else soak_in_process)(args.frames, args.every, args.warmup)
    where = "server process, frames over WebSocket /api/live" if args.server else "in process"
    print(f"Memory soak, live pipeline ({where}), 640x480 JPEG frames, {tracks} track ids created\n")
    print("| frames | RSS MiB | change since start MiB | elapsed s |")
    print("|---:|---:|---:|---:|")
    start = rows[0][1]
    for done, rss, t in rows:
        print(f"| {done} | {rss:.1f} | {rss - start:+.1f} | {t:.0f} |")
    mid = rows[len(rows) // 2][1]
    print(f"\ngrowth over {rows[-1][0]} frames: {rows[-1][1] - start:+.1f} MiB "
          f"({rows[-1][1] - mid:+.1f} MiB over the second half)")


if __name__ == "__main__":
    main()
