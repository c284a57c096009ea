"""Round-trip latency of ``POST /api/analyze`` on loopback, with 1 and 20 concurrent clients.

Starts the real server (``moodtune serve``, uvicorn) in a subprocess on a free 127.0.0.1 port,
then uploads JPEGs with one face (Grace Hopper, matplotlib's sample photo, as shipped and
inside a 640x480 frame) as multipart/form-data, the way the page does. Request counts are
bounded: ``--requests`` per row, shared by its clients. The clients run in this process on one asyncio thread (httpx), so on a small
machine they share the CPU with the server, as real local clients would.

    python bench/api_latency.py [--requests 200] [--clients 1 20]

Prints a markdown table. The goal of issue 5 is p95 <= 50 ms at 20 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import cv2
import numpy as np
from load import serve  # the real server on a free loopback port, with its own MOODTUNE_HOME


def payloads() -> dict[str, bytes]:
    """Two uploads: the sample photo as shipped, and a 640x480 webcam-like frame with a smaller face."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    img = cv2.imread(path)
    s = 0.8 * min(640 / img.shape[1], 480 / img.shape[0])
    face = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 100, np.uint8)
    y, x = (480 - face.shape[0]) // 2, (640 - face.shape[1]) // 2
    frame[y : y + face.shape[0], x : x + face.shape[1]] = face
    with open(path, "rb") as f:
        photo = f.read()
    return {
        f"photo 512x600, face ~200 px ({len(photo) // 1024} KB)": photo,
        "frame 640x480, face ~130 px (detector also searches for smaller faces)":
            cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes(),
    }


async def run_clients(url: str, data: bytes, clients: int, requests: int) -> tuple[np.ndarray, float, int]:
    import httpx

    latencies: list[float] = []
    errors = 0

    async def one_client():
        nonlocal errors
        async with httpx.AsyncClient(timeout=60) as c:
            for _ in range(requests):
                t0 = time.perf_counter()
                r = await c.post(url, files={"image": ("frame.jpg", data, "image/jpeg")})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200 or len(r.json()["faces"]) != 1:
                    errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return np.array(latencies), time.perf_counter() - t0, errors


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="requests per row, shared by its clients (default 200)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 20], help="concurrent clients per row (default 1 20)")
    args = ap.parse_args(argv)
    uploads = payloads()
    rows = []
    with serve("--log-level", "warning") as server:
        url = f"{server.url}/api/analyze"
        for name, data in uploads.items():
            asyncio.run(run_clients(url, data, 2, 5))  # warm-up
            for n in args.clients:
                lat, wall, errors = asyncio.run(run_clients(url, data, n, max(1, args.requests // n)))
                rows.append((name, n, lat, wall, errors))
    print(f"POST /api/analyze, multipart JPEG upload with one face, real server on loopback, "
          f"{os.cpu_count()} cores, MOODTUNE_THREADS={os.environ.get('MOODTUNE_THREADS', '1')}\n")
    print("| upload | concurrent clients | requests | p50 ms | p95 ms | max ms | requests/s | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, lat, wall, errors in rows:
        print(f"| {name} | {n} | {len(lat)} | {np.percentile(lat, 50) * 1e3:.1f} | {np.percentile(lat, 95) * 1e3:.1f} | "
              f"{lat.max() * 1e3:.1f} | {len(lat) / wall:.1f} | {errors} |")


if __name__ == "__main__":
    main()
