"""Several stateless servers over one PostgreSQL, on loopback: throughput and p95 with 1 and 2
``moodtune serve`` processes, then kill -9 one of two servers mid-load.

Starts a PostgreSQL server in a temporary folder (``tests/pg.py``), then ``moodtune serve``
processes on free ports with ``MOODTUNE_DATABASE_URL`` pointing at it (each with its own empty
``MOODTUNE_HOME``: nothing shared but the database). ``--clients`` clients (asyncio + httpx,
keep-alive) send the mix of ``bench/load.py`` (analyze upload, recommend with a user, feedback)
for ``--duration`` seconds, each request to the next server in round robin; a request whose
server refuses the connection is retried once on the next one. Phases: ``1 server``,
``2 servers``, ``2 servers, one killed``: the second server gets SIGKILL after a third of the
phase. At the end every feedback event acknowledged (HTTP 200 with its id) is looked up in the
database.

    python bench/scale.py [--clients 20] [--duration 20]

Prints a markdown table (phase, endpoint, requests, req/s, 5xx, dropped, p50, p95) and the
acknowledged-feedback check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from load import EMOTIONS, ENDPOINTS, USERS, hopper_jpeg, serve  # noqa: E402


class Phase:
    def __init__(self, name: str):
        self.name = name
        self.latency: dict[str, list[float]] = {k: [] for k in ENDPOINTS}
        self.status: dict[str, Counter] = {k: Counter() for k in ENDPOINTS}
        self.acked: list[int] = []  #: ids of acknowledged feedback events
        self.elapsed = 0.0

    def row(self, ep: str) -> str:
        n = sum(self.status[ep].values())
        fives = sum(v for s, v in self.status[ep].items() if s >= 500)
        lat = np.array(self.latency[ep]) * 1e3
        p50, p95 = (np.percentile(lat, 50), np.percentile(lat, 95)) if len(lat) else (float("nan"),) * 2
        return (f"| {self.name} | {ep} | {n} | {n / self.elapsed:.1f} | {fives} | {self.status[ep][0]} "
                f"| {p50:.0f} | {p95:.0f} |")


async def client(urls: list[str], alive: list[bool], rng: random.Random, deadline: float, phase: Phase, jpeg: bytes,
                 tracks: list[str], http) -> None:
    k = rng.randrange(len(urls))
    while time.perf_counter() < deadline:
        ep = rng.choices(list(ENDPOINTS), weights=list(ENDPOINTS.values()))[0]
        user = rng.choice(USERS)
        if ep == "analyze":
            req = {"files": {"image": ("hopper.jpg", jpeg, "image/jpeg")}}
        elif ep == "recommend":
            req = {"json": {"emotion": rng.choice(EMOTIONS), "n": 10, "user": user}}
        else:
            req = {"json": {"track": rng.choice(tracks), "action": rng.choice(["like", "skip"]), "user": user}}
        t0, status = time.perf_counter(), 0
        for _ in range(2):  # a refused connection (a dead server) is retried once on the next one
            k = (k + 1) % len(urls)
            while not alive[k]:
                k = (k + 1) % len(urls)
            try:
                r = await http[k].post(f"/api/{ep}", **req)
                status = r.status_code
                break
            except Exception:  # noqa: BLE001 - connection refused/reset: that server is gone
                alive[k] = False
                if not any(alive):
                    return
        phase.latency[ep].append(time.perf_counter() - t0)
        phase.status[ep][status] += 1
        if status == 200 and ep == "feedback":
            phase.acked.append(r.json()["id"])
        elif status == 200 and ep == "recommend":
            tracks[rng.randrange(len(tracks))] = r.json()["tracks"][0]["id"]


async def run_phase(name: str, servers: list, clients: int, duration: float, seed: int, kill_after: float | None = None) -> Phase:
    import httpx

    phase, jpeg = Phase(name), hopper_jpeg()
    urls = [s.url for s in servers]
    alive = [True] * len(urls)
    limits = httpx.Limits(max_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        pools = [[await stack.enter_async_context(httpx.AsyncClient(base_url=u, timeout=120, limits=limits)) for u in urls]
                 for _ in range(clients)]
        first = (await pools[0][0].post("/api/recommend", json={"emotion": "happy", "n": 20})).json()
        tracks = [t["id"] for t in first["tracks"]]
        t0 = time.perf_counter()
        tasks = [client(urls, alive, random.Random(seed * 100 + i), t0 + duration, phase, jpeg, tracks, pools[i])
                 for i in range(clients)]

        async def killer():
            await asyncio.sleep(kill_after)
            servers[-1].proc.kill()  # SIGKILL: no shutdown, requests in flight are dropped

        if kill_after is not None:
            tasks.append(killer())
        await asyncio.gather(*tasks)
        phase.elapsed = time.perf_counter() - t0
    return phase


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    ap.add_argument("--duration", type=float, default=20, help="seconds per phase (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from pg import start_server, stop_server

    from moodtune.store import open_database

    pg = start_server()
    try:
        url = pg.new_database()
        env = {"MOODTUNE_DATABASE_URL": url}
        phases = []
        with serve("--log-level", "warning", env=env) as a:
            asyncio.run(run_phase("warm-up", [a], args.clients, 3, args.seed))
            phases.append(asyncio.run(run_phase("1 server", [a], args.clients, args.duration, args.seed)))
            with serve("--log-level", "warning", env=env) as b:
                asyncio.run(run_phase("warm-up", [a, b], args.clients, 3, args.seed))
                phases.append(asyncio.run(run_phase("2 servers", [a, b], args.clients, args.duration, args.seed)))
            with serve("--log-level", "warning", env=env) as b:
                asyncio.run(run_phase("warm-up", [a, b], args.clients, 3, args.seed))
                phases.append(asyncio.run(run_phase("2 servers, one killed", [a, b], args.clients, args.duration,
                                                    args.seed, kill_after=args.duration / 3)))
                killed_rc = b.proc.poll()
        db = open_database(url)
        stored = {r[0] for r in db.execute("SELECT id FROM feedback").fetchall()}
    finally:
        stop_server(pg)
    print(f"moodtune serve x 1-2 on loopback over one PostgreSQL 15, {args.clients} clients x {args.duration:g} s per phase, "
          f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}: the machine is shared)\n")
    print("| phase | endpoint | requests | req/s | 5xx | dropped | p50 ms | p95 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for ph in phases:
        for ep in ENDPOINTS:
            print(ph.row(ep))
    for ph in phases:
        total = sum(sum(c.values()) for c in ph.status.values())
        print(f"{ph.name}: {total / ph.elapsed:.1f} requests/s in all")
    acked = [i for ph in phases for i in ph.acked]
    missing = sorted(set(acked) - stored)
    print(f"killed server exit status: {killed_rc} (-9 = SIGKILL)")
    print(f"acknowledged feedback events: {len(acked)}, in the database: {len(acked) - len(missing)}, missing: {len(missing)}")


if __name__ == "__main__":
    main()
