"""Load test of the real server on loopback: concurrent clients mixing analyze, recommend and
feedback for a fixed time, then the same load with a flood of malformed requests alongside.

Starts ``moodtune serve`` (its defaults: 127.0.0.1, the starter catalogue; ``--max-upload-mb 2``
so that oversized uploads in the flood stay cheap) in a subprocess with ``MOODTUNE_HOME`` in a
temporary folder. ``--clients`` clients (asyncio + httpx, one thread, keep-alive connections)
each loop for ``--duration`` seconds over a seeded random mix: ``analyze`` (multipart upload of
Grace Hopper's portrait from matplotlib), ``recommend`` (JSON emotion or valence/arousal, with a
user, so history is written) and ``feedback`` (like/skip on a recommended track, a durable
write). Phase 1 runs that load alone; phase 2 adds ``--flood`` clients sending malformed
requests back to back (garbage bodies, wrong content types, oversized uploads, bad JSON, ...).
The server's RSS is read after a warm-up and at the end.

    python bench/load.py [--clients 50] [--duration 60] [--flood 10]

Prints a markdown table (endpoint, requests, errors, 5xx, p50, p95) per phase, the flood's status
codes, the good-request p95 ratio with/without the flood, and server RSS start/end.
``tests/test_load.py`` runs the same code for a shorter time and asserts on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import struct
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ENDPOINTS = {"analyze": 0.4, "recommend": 0.35, "feedback": 0.25}  #: the mix of good requests
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USERS = tuple(f"listener{i}" for i in range(8))


# the real server on a free loopback port (shared with the tests)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import Server, hopper_jpeg, serve  # noqa: E402

__all__ = ["ENDPOINTS", "Server", "hopper_jpeg", "run_load", "serve", "table"]


# ----------------------------------------------------------------------------- requests


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny PNG declaring a huge image (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")


def malformed_requests(limit: int, jpeg: bytes) -> list[tuple[str, str, str, dict]]:
    """Malformed requests as (name, method, path, httpx keyword arguments); each must get a 4xx.

    ``limit``: the server's upload limit in bytes (the oversized cases exceed it).
    """
    junk = random.Random(1).randbytes(4096)
    ctype = lambda t: {"content-type": t}  # noqa: E731
    big = b"\xff\xd8\xff" + b"\0" * (limit + 1024)
    return [
        ("garbage image body", "POST", "/api/analyze", {"content": junk, "headers": ctype("image/jpeg")}),
        ("truncated JPEG", "POST", "/api/analyze", {"files": {"image": ("t.jpg", jpeg[:600], "image/jpeg")}}),
        ("decompression bomb PNG", "POST", "/api/analyze", {"files": {"image": ("b.png", png_bomb(), "image/png")}}),
        ("text file as image", "POST", "/api/analyze", {"files": {"image": ("a.txt", b"hello", "text/plain")}}),
        ("text/plain body", "POST", "/api/analyze", {"content": b"hello", "headers": ctype("text/plain")}),
        ("JSON to analyze", "POST", "/api/analyze", {"json": {"image": "/etc/passwd"}}),
        ("multipart without boundary", "POST", "/api/analyze", {"content": junk, "headers": ctype("multipart/form-data")}),
        ("broken multipart", "POST", "/api/analyze", {"content": b"--xyz\r\n" + junk, "headers": ctype("multipart/form-data; boundary=xyz")}),
        ("empty multipart", "POST", "/api/analyze", {"content": b"--xyz--\r\n", "headers": ctype("multipart/form-data; boundary=xyz")}),
        ("oversized raw upload", "POST", "/api/analyze", {"content": big, "headers": ctype("image/jpeg")}),
        ("oversized multipart upload", "POST", "/api/recommend", {"files": {"image": ("big.jpg", big, "image/jpeg")}}),
        ("bad JSON", "POST", "/api/recommend", {"content": b'{"emotion": ', "headers": ctype("application/json")}),
        ("non-UTF-8 JSON", "POST", "/api/recommend", {"content": b'{"emotion": "\xff\xfe"}', "headers": ctype("application/json")}),
        ("JSON array", "POST", "/api/recommend", {"json": [1, 2, 3]}),
        ("wrong JSON types", "POST", "/api/recommend", {"json": {"emotion": 5, "n": "many"}}),
        ("out-of-range point", "POST", "/api/recommend", {"content": b'{"valence": NaN, "arousal": 1e999}',
                                                            "headers": ctype("application/json")}),
        ("form-encoded body", "POST", "/api/recommend", {"data": {"emotion": "sad"}}),
        ("oversized JSON", "POST", "/api/feedback", {"content": b'{"track": "' + b"a" * 200_000 + b'", "action": "like"}',
                                                     "headers": ctype("application/json")}),
        ("bad feedback action", "POST", "/api/feedback", {"json": {"track": "x", "action": "love"}}),
        ("unknown track", "POST", "/api/feedback", {"json": {"track": "../../../etc/passwd", "action": "like"}}),
        ("bad JSON feedback", "POST", "/api/feedback", {"content": junk, "headers": ctype("application/json")}),
        ("bad query", "GET", "/api/feedback", {"params": {"limit": "many"}}),
        ("bad user", "GET", "/api/feedback", {"params": {"user": "x" * 500}}),
        ("wrong method", "PUT", "/api/analyze", {"content": b"x"}),
        ("unknown route", "GET", "/api/nope", {}),
    ]


# ----------------------------------------------------------------------------- clients


@dataclass
class Phase:
    """What one phase measured: per endpoint latencies (s) and status codes (0 = no response)."""

    name: str
    max_requests: int | None = None  #: good requests after which the phase ends early
    latency: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ENDPOINTS})
    status: dict[str, Counter] = field(default_factory=lambda: {k: Counter() for k in ENDPOINTS})
    flood: Counter = field(default_factory=Counter)  #: status code → count, for malformed requests
    flood_bad: list[str] = field(default_factory=list)  #: malformed requests not answered 4xx
    failures: list[str] = field(default_factory=list)  #: good requests not answered 200 (first few)
    elapsed: float = 0.0  #: seconds the phase took

    def requests(self, ep: str | None = None) -> int:
        return sum(sum(self.status[e].values()) for e in ([ep] if ep else ENDPOINTS))

    def running(self, deadline: float) -> bool:
        return time.perf_counter() < deadline and (self.max_requests is None or self.requests() < self.max_requests)

    def errors(self, ep: str) -> int:
        return self.requests(ep) - self.status[ep][200]

    def p(self, ep: str | None, q: float) -> float:
        """Percentile ``q`` of latency in ms (all endpoints when ``ep`` is None)."""
        lat = [x for v in self.latency.values() for x in v] if ep is None else self.latency[ep]
        return float(np.percentile(lat, q) * 1e3) if lat else float("nan")


async def _good_client(c, rng: random.Random, deadline: float, phase: Phase, jpeg: bytes, tracks: list[str]) -> None:
    while phase.running(deadline):
        ep = rng.choices(list(ENDPOINTS), weights=list(ENDPOINTS.values()))[0]
        user = rng.choice(USERS)
        if ep == "analyze":
            req = {"files": {"image": ("hopper.jpg", jpeg, "image/jpeg")}}
        elif ep == "recommend":
            body = ({"emotion": rng.choice(EMOTIONS)} if rng.random() < 0.5 else
                    {"valence": rng.uniform(-1, 1), "arousal": rng.uniform(-1, 1)})
            req = {"json": {**body, "strategy": rng.choice(["auto", "match", "calm", "lift"]), "n": 10, "user": user}}
        else:
            req = {"json": {"track": rng.choice(tracks), "action": rng.choice(["like", "skip"]), "user": user}}
        t0 = time.perf_counter()
        try:
            r = await c.post(f"/api/{ep}", **req)
            status = r.status_code
            if status == 200 and ep == "recommend":
                tracks[rng.randrange(len(tracks))] = r.json()["tracks"][0]["id"]
            elif status == 200 and ep == "analyze" and len(r.json()["faces"]) != 1:
                status = -1  # a wrong answer counts as an error
            detail = r.text[:200]
        except Exception as exc:  # noqa: BLE001 - a dropped connection is an error too
            status, detail = 0, f"{type(exc).__name__}: {exc}"
        phase.latency[ep].append(time.perf_counter() - t0)
        phase.status[ep][status] += 1
        if status != 200 and len(phase.failures) < 20:
            phase.failures.append(f"{ep} -> {status}: {detail}")


async def _flood_client(c, rng: random.Random, deadline: float, phase: Phase, cases) -> None:
    while phase.running(deadline):
        name, method, path, kwargs = rng.choice(cases)
        try:
            status = (await c.request(method, path, **kwargs)).status_code
        except Exception as exc:  # noqa: BLE001
            status, name = 0, f"{name} ({type(exc).__name__})"
        phase.flood[status] += 1
        if not 400 <= status < 500 and len(phase.flood_bad) < 20:
            phase.flood_bad.append(f"{name} -> {status}")


async def _run(url: str, phases: list[tuple[str, float, int]], clients: int, seed: int, limit: int, warmup: float,
               max_requests: int | None, on_phase_end=None) -> list[Phase]:
    import httpx

    jpeg = hopper_jpeg()
    cases = malformed_requests(limit, jpeg)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    mk = lambda: httpx.AsyncClient(base_url=url, timeout=120, limits=limits)  # noqa: E731
    async with contextlib.AsyncExitStack() as stack:
        good = [await stack.enter_async_context(mk()) for _ in range(clients)]
        flood = [await stack.enter_async_context(mk()) for _ in range(max(n for *_, n in phases))]
        first = (await good[0].post("/api/recommend", json={"emotion": "happy", "n": 20})).json()
        tracks = [t["id"] for t in first["tracks"]]
        results = []
        for i, (name, duration, n_flood) in enumerate([("warm-up", warmup, 0), *phases]):
            phase = Phase(name, max_requests)
            t0 = time.perf_counter()
            deadline = t0 + duration
            tasks = [_good_client(c, random.Random(seed * 1000 + i * 100 + k), deadline, phase, jpeg, tracks)
                     for k, c in enumerate(good)]
            tasks += [_flood_client(c, random.Random(seed * 1000 + i * 100 + 99 - k), deadline, phase, cases)
                      for k, c in enumerate(flood[:n_flood])]
            await asyncio.gather(*tasks)
            phase.elapsed = time.perf_counter() - t0
            if on_phase_end is not None:
                on_phase_end(phase)
            if i:
                results.append(phase)
    return results


def run_load(server: Server, clients: int = 50, duration: float = 60, flood: int = 10, seed: int = 0,
             limit: int = 2 * 2**20, warmup: float = 5, max_requests: int | None = None) -> tuple[list[Phase], list[float]]:
    """Warm up, then phase "load" (good requests only) and, with ``flood`` > 0, phase "load + flood",
    each ``duration`` seconds or ``max_requests`` good requests, whichever comes first.

    ``limit``: the server's upload limit in bytes. Returns the phases and the server's RSS in MiB
    after the warm-up and after each phase.
    """
    rss: list[float] = []
    phases = [("load", duration, 0)] + ([("load + flood", duration, flood)] if flood else [])
    out = asyncio.run(_run(server.url, phases, clients, seed, limit, warmup, max_requests,
                           on_phase_end=lambda _: rss.append(server.rss_mib())))
    return out, rss


def table(phases: list[Phase], rss: list[float]) -> str:
    """The markdown report."""
    lines = ["| phase | endpoint | requests | req/s | errors | 5xx | p50 ms | p95 ms |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for ph in phases:
        for ep in ENDPOINTS:
            fives = sum(n for s, n in ph.status[ep].items() if s >= 500)
            lines.append(f"| {ph.name} | {ep} | {ph.requests(ep)} | {ph.requests(ep) / ph.elapsed:.1f} | {ph.errors(ep)} | {fives} "
                         f"| {ph.p(ep, 50):.0f} | {ph.p(ep, 95):.0f} |")
        if ph.flood:
            n = sum(ph.flood.values())
            lines.append(f"| {ph.name} | malformed (flood) | {n} | {n / ph.elapsed:.1f} | "
                         f"{n - sum(v for s, v in ph.flood.items() if 400 <= s < 500)} not 4xx | "
                         f"{sum(v for s, v in ph.flood.items() if s >= 500)} | | |")
    lines.append("")
    after = ", ".join(f"{r:.1f} MiB after {ph.name}" for ph, r in zip(phases, rss[1:], strict=False))
    lines.append(f"server RSS: {rss[0]:.1f} MiB after the warm-up, {after} ({rss[-1] - rss[0]:+.1f} MiB)")
    for ph in phases:
        if ph.flood:
            lines.append(f"flood status codes: {dict(sorted(ph.flood.items()))}")
    if len(phases) == 2:
        lines.append(f"good-request p95 with the flood / without: {phases[1].p(None, 95) / phases[0].p(None, 95):.2f}")
    for ph in phases:
        lines += [f"{ph.name}: {x}" for x in ph.failures + ph.flood_bad]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50, help="concurrent good clients (default 50)")
    ap.add_argument("--duration", type=float, default=60, help="seconds per phase (default 60)")
    ap.add_argument("--flood", type=int, default=10, help="malformed-request clients in phase 2 (default 10; 0: no phase 2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with serve("--max-upload-mb", "2", "--log-level", "warning") as server:
        phases, rss = run_load(server, args.clients, args.duration, args.flood, args.seed)
    print(f"moodtune serve on loopback, {args.clients} clients x {args.duration:g} s per phase, {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f}), MOODTUNE_THREADS={os.environ.get('MOODTUNE_THREADS', '1')}\n")
    print(table(phases, rss))


if __name__ == "__main__":
    main()
