"""Learning from the listener: a linear contextual bandit (LinUCB) over track features.

Every recommendation for a listener recomputes the model from their stored events (no state of
its own): the last ``WINDOW`` events, each a (track, action) pair, give a ridge-regression
posterior over the track features ``x`` (one-hot genre bucket, decade, valence third, arousal
third; four ones per track)::

    A = PRIOR * I + sum_e w_e x_e x_e^T          b = sum_e w_e r_e x_e          theta = A^-1 b
    bonus(track) = clip(theta . x + ALPHA * sqrt(x^T A^-1 x), -1, 1)

with rewards ``r`` and weights ``w`` from ``REWARDS`` (``closer``/``farther``, the camera's
implicit events, count a third of a button press). Feature values: genre 1.0, decade 0.7,
valence and arousal thirds 0.5 each (``|x|^2`` = 1.99). The ranking subtracts
``WEIGHT * bonus`` from a track's distance to the mood target; the listener's affect enters
through that target (the strategy), the bandit adds their taste on top. The update is bounded:
one event moves ``theta . x`` by at most ``|r| w |x|^2 / (PRIOR + w |x|^2)`` = 0.038, i.e. a score
by at most 0.023 distance units (test: one like changes at most 4 of the next 10 tracks), while
hundreds of consistent events can move it by up to ``WEIGHT`` = 0.6. The constants were chosen
with bench/feedback_sim.py and that test (PRIOR 30 / WEIGHT 0.5 let one like change 5 tracks of a
lift on the starter catalogue; PRIOR 6 / WEIGHT 0.12 learnt too little: 1.51x random). The exploration term is equal for all
tracks before any event and shrinks where the listener has given feedback, so features the
listener has not heard yet gain a little over those already judged.
"""

from __future__ import annotations

import zlib

import numpy as np

from moodtune.music.store import TrackIndex

#: action → (reward, weight)
REWARDS: dict[str, tuple[float, float]] = {
    "like": (1.0, 1.0),
    "skip": (-1.0, 1.0),
    "played": (0.5, 0.5),
    "closer": (1.0, 1.0 / 3.0),
    "farther": (-1.0, 1.0 / 3.0),
}
PRIOR = 50.0
ALPHA = 0.05
#: Distance units a full bonus is worth in the ranking (the fit distances near a target are ~0.05-0.2).
WEIGHT = 0.6
WINDOW = 500

GENRE_BUCKETS = 24
DECADES = tuple(range(1950, 2030, 10))  # 1950s .. 2020s; earlier and unknown get their own slots
DIM = GENRE_BUCKETS + len(DECADES) + 2 + 3 + 3
#: Feature values: a genre match says most about taste, then the era, then the mood bins.
SCALE_GENRE, SCALE_DECADE, SCALE_BIN = 1.0, 0.7, 0.5


def _bucket(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) % GENRE_BUCKETS


def features(idx: TrackIndex, pos: np.ndarray) -> np.ndarray:
    """(len(pos), DIM) float32 feature rows of the tracks at ``pos``."""
    pos = np.asarray(pos, np.int64)
    x = np.zeros((len(pos), DIM), np.float32)
    rows = np.arange(len(pos))
    codes = idx.genre[pos]
    if idx._genre_bucket is None:
        idx._genre_bucket = np.array([_bucket(g) for g in idx.genres] + [0], np.int64)
    gb = idx._genre_bucket[np.where(codes >= 0, codes, len(idx.genres))]
    x[rows[codes >= 0], gb[codes >= 0]] = SCALE_GENRE
    year = idx.year[pos] if idx.year is not None else np.zeros(len(pos), np.int32)
    dec = np.where(year <= 0, len(DECADES) + 1, np.where(year < DECADES[0], len(DECADES),
                   np.clip((year - DECADES[0]) // 10, 0, len(DECADES) - 1)))
    x[rows, GENRE_BUCKETS + dec] = SCALE_DECADE
    base = GENRE_BUCKETS + len(DECADES) + 2
    x[rows, base + np.minimum((idx.valence[pos] * 3).astype(np.int64), 2)] = SCALE_BIN
    x[rows, base + 3 + np.minimum((idx.arousal[pos] * 3).astype(np.int64), 2)] = SCALE_BIN
    return x


class TasteModel:
    """The posterior of one listener's taste, from their events (``from_events``)."""

    def __init__(self, a_inv: np.ndarray, theta: np.ndarray, n_events: int):
        self.a_inv = a_inv
        self.theta = theta
        self.n_events = n_events

    @classmethod
    def from_events(cls, idx: TrackIndex, events: list[tuple[str, str]]) -> TasteModel | None:
        """``events``: (track_key, action) newest first; tracks not in ``idx`` are ignored.
        ``None`` when no event can be used (the ranking then has no bandit term)."""
        pos, r, w = [], [], []
        for key, action in events[:WINDOW]:
            p = idx.position(key)
            if p is None or action not in REWARDS:
                continue
            pos.append(p)
            r.append(REWARDS[action][0])
            w.append(REWARDS[action][1])
        if not pos:
            return None
        x = features(idx, np.array(pos)).astype(np.float64)
        w_arr, r_arr = np.array(w), np.array(r)
        a = PRIOR * np.eye(DIM) + (x * w_arr[:, None]).T @ x
        b = (x * (w_arr * r_arr)[:, None]).sum(axis=0)
        a_inv = np.linalg.inv(a)
        return cls(a_inv, a_inv @ b, len(pos))

    def bonus(self, idx: TrackIndex, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bonus in [-1, 1], the mean part theta . x) for the tracks at ``pos``."""
        x = features(idx, pos).astype(np.float64)
        mean = x @ self.theta
        ucb = np.sqrt(np.maximum(((x @ self.a_inv) * x).sum(axis=1), 0.0))
        return np.clip(mean + ALPHA * ucb, -1.0, 1.0).astype(np.float32), mean.astype(np.float32)
