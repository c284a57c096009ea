#!/usr/bin/env python
"""Simulated listeners: does the bandit learn a listener's taste? (issue 11, item 4)

Each simulated listener has a hidden taste: two favourite genres, a favourite decade and a
preferred energy (low or high). Their chance to like a track is::

    p = sigmoid(-2.5 + 2.0 [genre is a favourite] + 1.2 [decade is the favourite]
                + 1.2 (1 - 2 |arousal - preferred arousal|))

Every round the listener's face shows a random emotion (one of the 7), the method recommends
10 tracks through ``moodtune.recommend`` (the real path: SQLite feedback store, the playlist
rule), and the listener likes each track with probability ``p`` (a like is also a ``played``
event) or skips it. Methods:

* ``bandit``: ``recommend(..., learner="bandit")``, the LinUCB model of ``moodtune.music.bandit``;
* ``counts``: ``recommend(..., learner="counts")``, the per-genre/artist like-skip counts used before;
* ``random``: 10 tracks drawn at random from the 200 tracks nearest the mood's target (the mood is
  respected, the taste ignored), never a track the listener heard in their last 100.

Regret per round: the expected likes of the best 10 tracks of that 200-track pool for this
listener (knowing their hidden taste) minus the expected likes of the list given.

Catalogue: the Spotify Music Dataset (``../shared/data/music/{high,low}_popularity_spotify_data.csv``,
4,495 tracks with genres and years) when present, else the starter catalogue.

Usage::

    python bench/feedback_sim.py                      # 12 listeners x 200 rounds, table + docs/feedback_sim.png
    python bench/feedback_sim.py --listeners 4 --rounds 120 --no-plot
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from moodtune import recommend
from moodtune.config import data_dir
from moodtune.emotion.labels import CLASSES
from moodtune.music.feedback import FeedbackStore
from moodtune.music.recommend import HEARD_WINDOW, starter_store
from moodtune.music.store import CatalogStore
from moodtune.music.strategies import make_plan
from moodtune.music.types import Affect

METHODS = ("bandit", "counts", "random")
POOL = 200
ROOT = Path(__file__).resolve().parents[1]


def load_catalog() -> CatalogStore:
    files = [data_dir() / "music" / f for f in ("high_popularity_spotify_data.csv", "low_popularity_spotify_data.csv")]
    if not all(f.is_file() for f in files):
        return starter_store()
    from moodtune.music.importers import import_file

    store = CatalogStore.memory("Spotify Music Dataset (high + low popularity)")
    for f in files:
        import_file(f, store)
    return store


class Listener:
    def __init__(self, rng: np.random.Generator, idx):
        counts = np.bincount(idx.genre[idx.genre >= 0], minlength=len(idx.genres))
        top = np.argsort(-counts)[:12]
        self.genres = set(rng.choice(top, size=2, replace=False).tolist())
        decades = idx.year[idx.year > 0] // 10 * 10
        dvals, dcounts = np.unique(decades, return_counts=True)
        common = dvals[dcounts >= max(20, 0.03 * len(decades))]
        self.decade = int(rng.choice(common))
        self.arousal = float(rng.choice([0.3, 0.75]))

    def p_like(self, idx, pos: np.ndarray) -> np.ndarray:
        g = np.isin(idx.genre[pos], list(self.genres)).astype(float)
        d = (idx.year[pos] // 10 * 10 == self.decade).astype(float)
        e = 1.0 - 2.0 * np.abs(idx.arousal[pos] - self.arousal)
        return 1.0 / (1.0 + np.exp(-(-2.5 + 2.0 * g + 1.2 * d + 1.2 * e)))


def mood_pool(idx, emotion: str) -> np.ndarray:
    """Positions of the POOL tracks nearest the mood's target(s)."""
    plan = make_plan(Affect.from_emotion(emotion), "auto", 10)
    t = np.asarray(sorted(set(plan.targets)), np.float32)
    d = np.min((idx.valence[:, None] - t[None, :, 0]) ** 2 * plan.w_valence
               + (idx.arousal[:, None] - t[None, :, 1]) ** 2 * plan.w_arousal, axis=1)
    return np.argsort(d, kind="stable")[:POOL]


def simulate(store: CatalogStore, method: str, listeners: int, rounds: int, seed: int):
    idx = store.index()
    pos_of_id: dict[str, int] = {}
    for p, rid in enumerate(idx.rowid.tolist()):
        pos_of_id[int(rid)] = p
    pools = {e: mood_pool(idx, e) for e in CLASSES}
    likes = np.zeros((listeners, rounds))
    regret = np.zeros((listeners, rounds))
    for li in range(listeners):
        rng = np.random.default_rng(seed + li)
        who = Listener(rng, idx)
        act_rng = np.random.default_rng(seed + 1000 + li)
        fb = FeedbackStore.memory()
        user = f"sim{li}"
        heard: list[int] = []
        for r in range(rounds):
            emotion = CLASSES[int(rng.integers(len(CLASSES)))]
            pool = pools[emotion]
            fresh = np.array([p for p in pool if p not in set(heard[-HEARD_WINDOW:])]) if heard else pool
            if method == "random":
                picks = act_rng.choice(fresh, size=min(10, len(fresh)), replace=False)
                tracks = store.get(int(idx.rowid[p]) for p in picks)
                chosen = [(int(p), tracks[int(idx.rowid[p])]) for p in picks]
            else:
                pl = recommend(emotion, n=10, catalog=store, user=user, feedback_db=fb, remember=False, learner=method)
                chosen = [(pos_of_id[t.rowid], t) for t in pl.tracks]
            pos = np.array([p for p, _ in chosen])
            p_like = who.p_like(idx, pos)
            best = np.sort(who.p_like(idx, fresh))[::-1][:10].sum()
            regret[li, r] = best - p_like.sum()
            liked = act_rng.random(len(pos)) < p_like
            likes[li, r] = liked.mean()
            for (p, t), ok in zip(chosen, liked, strict=False):
                if method != "random":
                    fb.add(user, t, "like" if ok else "skip")
                    if ok:
                        fb.add(user, t, "played")
                heard.append(p)
    return likes, regret


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listeners", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--plot", default=str(ROOT / "docs" / "feedback_sim.png"))
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    store = load_catalog()
    print(f"catalogue: {store.description}, {len(store.index())} rankable tracks; "
          f"{args.listeners} listeners x {args.rounds} rounds x 10 tracks", flush=True)
    res = {}
    for m in METHODS:
        t0 = time.perf_counter()
        res[m] = simulate(store, m, args.listeners, args.rounds, args.seed)
        print(f"  {m}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    half = min(100, args.rounds // 2)
    rnd_late = res["random"][0][:, half:].mean()
    print()
    print(f"| method | like rate, rounds 1-{half} | like rate, rounds {half + 1}-{args.rounds} | x random (late) | "
          f"mean regret per round (late) | cumulative regret |")
    print("|---|---|---|---|---|---|")
    for m in METHODS:
        lk, rg = res[m]
        late = lk[:, half:].mean()
        print(f"| {m} | {lk[:, :half].mean():.3f} | {late:.3f} | {late / rnd_late:.2f} | "
              f"{rg[:, half:].mean():.2f} | {rg.sum(axis=1).mean():.0f} |")
    b, c = res["bandit"][0][:, half:].mean(), res["counts"][0][:, half:].mean()
    ok = b >= 1.5 * rnd_late and b > c
    print(f"\nbar (after {half} rounds: bandit >= 1.5x random and above counts): {'PASS' if ok else 'FAIL'}")
    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        w = 10
        for m in METHODS:
            lk, rg = res[m]
            curve = np.convolve(lk.mean(axis=0), np.ones(w) / w, mode="valid")
            ax[0].plot(np.arange(w, args.rounds + 1), curve, label=m)
            ax[1].plot(np.arange(1, args.rounds + 1), rg.mean(axis=0).cumsum(), label=m)
        ax[0].set(xlabel="round", ylabel=f"like rate ({w}-round mean)", title="like rate")
        ax[1].set(xlabel="round", ylabel="expected likes lost", title="cumulative regret")
        for a in ax:
            a.grid(alpha=0.3)
            a.legend()
        fig.suptitle(f"bench/feedback_sim.py: {args.listeners} simulated listeners, {len(store.index())} tracks")
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
