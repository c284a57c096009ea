"""Images per second of batch analysis: the local path (one process, ``moodtune.analyze_frame``
per file as ``moodtune analyze`` does) against ``analyze_with_ray`` on a local Ray instance.

Photos: the first ``--images`` of faces-wild-dev (real photos, one or more faces each). Ray is
started once (``ray.init``, timed apart); the Ray run is timed twice, each including the start
of its actor pool (models loaded per actor). The local run starts with the models loaded.

    python bench/batch_throughput.py [--images 1067] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1067)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args(argv)
    import ray

    import moodtune
    from moodtune.config import data_dir
    from moodtune.engines.ray_batch import analyze_with_ray
    from moodtune.vision.decode import load_image

    paths = sorted((data_dir() / "faces-wild-dev" / "images").glob("*.jpg"))[: args.images]
    moodtune.analyze_frame(load_image(paths[0]))  # models loaded before timing
    t0 = time.perf_counter()
    local_faces = sum(len(moodtune.analyze_frame(load_image(p))) for p in paths)
    local = time.perf_counter() - t0

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MOODTUNE_THREADS": "1"}})
    startup = time.perf_counter() - t0
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        lines = list(analyze_with_ray(paths, num_workers=args.workers, batch_size=args.batch_size, progress=False))
        runs.append(time.perf_counter() - t0)
    ray.shutdown()
    ray_faces = sum(len(x.get("faces", [])) for x in lines)
    print(f"{len(paths)} faces-wild-dev photos, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}: the machine is shared)\n")
    print("| engine | faces | seconds | images/s |")
    print("|---|---:|---:|---:|")
    print(f"| local, 1 process | {local_faces} | {local:.1f} | {len(paths) / local:.1f} |")
    for i, r in enumerate(runs, 1):
        print(f"| Ray local, {args.workers} workers, run {i} | {ray_faces} | {r:.1f} | {len(paths) / r:.1f} |")
    print(f"\nRay start-up (ray.init): {startup:.1f} s, not included above; each run includes starting its actor pool")


if __name__ == "__main__":
    main()
