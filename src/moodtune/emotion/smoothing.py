"""Temporal smoothing of class probabilities for video.

A classifier looking at single frames flickers: a blink or a half-spoken word moves the
top class back and forth. ``EmaSmoother`` keeps, per tracked face, an exponential moving
average of the probability vector. Its memory is given as a *half-life*: after one
half-life an old observation weighs half as much as a fresh one. The half-life is counted
in frames (``unit="frames"``) or in seconds (``unit="seconds"``, for streams whose frame
rate varies, such as a browser webcam or a sampled video), and the update weight is

    alpha = 1 - 2 ** (-dt / half_life)

for a step of ``dt`` frames or seconds since the face was last seen, so skipped frames
and slow clients are handled exactly. The average of probability vectors is again a
probability vector, and valence/arousal (a linear projection) follow it.

>>> s = EmaSmoother(half_life=1, unit="frames")
>>> s.update(1, [1, 0, 0, 0, 0, 0, 0]).round(2).tolist()
[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
>>> s.update(1, [0, 0, 0, 1, 0, 0, 0]).round(2).tolist()
[0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

UNITS = ("frames", "seconds")


@dataclass
class _State:
    probs: np.ndarray
    at: float
    updates: int = 1


class EmaSmoother:
    """Exponential moving average of probability vectors, one per key (a track id).

    ``half_life``: in ``unit`` ("frames" or "seconds"); 0 turns smoothing off.
    ``max_keys``: at most this many keys are remembered (the stalest are forgotten first),
    so an endless stream cannot grow memory.
    """

    def __init__(self, half_life: float = 4.0, unit: str = "frames", max_keys: int = 256):
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
        if not np.isfinite(half_life) or half_life < 0:
            raise ValueError(f"half_life must be a finite number >= 0, got {half_life!r}")
        self.half_life = float(half_life)
        self.unit = unit
        self.max_keys = int(max_keys)
        self._state: dict[Hashable, _State] = {}

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._state

    def alpha(self, dt: float) -> float:
        """Weight of a new observation arriving ``dt`` frames/seconds after the previous one."""
        if self.half_life <= 0:
            return 1.0
        return float(1.0 - 2.0 ** (-max(float(dt), 0.0) / self.half_life))

    def update(self, key: Hashable, probs: Sequence[float] | np.ndarray, at: float | None = None) -> np.ndarray:
        """Fold ``probs`` (7,) into ``key``'s average and return the smoothed vector (7,).

        ``at``: the frame index (unit "frames") or time in seconds (unit "seconds") of this
        observation. Without it (unit "frames" only) each update of a key counts as the
        next frame of that key.
        """
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        st = self._state.get(key)
        if at is None:
            if self.unit == "seconds":
                raise ValueError("unit='seconds' needs the observation time `at`")
            at = 0.0 if st is None else st.at + 1.0
        at = float(at)
        if st is None:
            self._state[key] = st = _State(p.copy(), at)
            self._trim()
            return st.probs.copy()
        a = self.alpha(at - st.at)
        st.probs = (1.0 - a) * st.probs + a * p
        total = st.probs.sum()
        if total > 0:
            st.probs /= total
        st.at = max(st.at, at)
        st.updates += 1
        return st.probs.copy()

    def get(self, key: Hashable) -> np.ndarray | None:
        """The current smoothed vector of ``key``, or None."""
        st = self._state.get(key)
        return None if st is None else st.probs.copy()

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Drop the averages of ``keys`` (e.g. the tracker's dropped ids)."""
        for k in keys:
            self._state.pop(k, None)

    def keep_only(self, keys: Iterable[Hashable]) -> None:
        """Drop every average whose key is not in ``keys``."""
        keep = set(keys)
        for k in [k for k in self._state if k not in keep]:
            del self._state[k]

    def reset(self) -> None:
        self._state.clear()

    def _trim(self) -> None:
        if len(self._state) > self.max_keys:
            for k, _ in sorted(self._state.items(), key=lambda kv: kv[1].at)[: len(self._state) - self.max_keys]:
                del self._state[k]


def label_flips(probabilities: Sequence[Sequence[float]]) -> int:
    """How often the top class changes along a sequence of probability vectors (N, 7)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if len(p) < 2:
        return 0
    top = p.argmax(axis=1)
    return int((top[1:] != top[:-1]).sum())
