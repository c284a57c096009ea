"""Ranking: fit to the target, popularity as a tie-breaker, preferences, diversity, no repeats.

Score of a track for a target (t_v, t_a), lower is better::

    fit      = sqrt(w_v * (valence - t_v)^2 + w_a * (arousal - t_a)^2)
    score    = fit
             - plan.popularity * popularity01            (tie-breaker: 0.02; balanced 0.1)
             + plan.lyrics * (instrumentalness - 0.5)    (strategy's vocal/instrumental preference)
             - preference bonus                          (the listener's bandit, see bandit.py)

Selection is greedy over the best candidates with three rules that relax only when the
catalogue cannot satisfy them: no artist twice, no track recommended to the same user
recently (nor one they skipped), and for ``lift`` valence never decreasing.
Everything runs on numpy arrays (``TrackIndex``). Candidates come from a 32 x 32 grid over
(valence, arousal): cells are visited nearest-first until no unvisited track can beat the
k-th best score found (an exact bound: a cell's distance to the target is a lower bound of its
tracks' fit, and the other terms are bounded), so one recommendation over 100k tracks scores
only a few thousand of them and takes about a millisecond of CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from moodtune.music.store import TrackIndex
from moodtune.music.strategies import Plan

if TYPE_CHECKING:
    from moodtune.music.bandit import TasteModel

#: Bonus (distance units) of a fully liked genre / artist; a fully skipped one gets the negative.
GENRE_WEIGHT = 0.06
ARTIST_WEIGHT = 0.08


@dataclass
class Preferences:
    """Per-user preferences learnt from feedback: scores in [-1, 1] per genre and per artist key,
    the track keys to avoid (skipped, or recommended recently: left out while there are other
    candidates) and to exclude (the earlier pages of this list: never picked)."""

    genres: dict[str, float] = field(default_factory=dict)
    artists: dict[str, float] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    recent: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)
    #: the listener's bandit posterior (``moodtune.music.bandit.TasteModel``), if any
    model: TasteModel | None = None

    def __bool__(self) -> bool:
        return bool(self.genres or self.artists or self.skipped or self.recent or self.exclude or self.model is not None)


@dataclass
class Pick:
    """One selected track: index position, final score, its target, and notes for the 'why'."""

    pos: int
    score: float
    fit: float
    target: tuple[float, float]
    notes: list[str]


def _base_terms(idx: TrackIndex, plan: Plan, pos: np.ndarray) -> np.ndarray:
    """Score terms that do not depend on the target: popularity and lyrics preference."""
    base = -np.float32(plan.popularity) * idx.popularity[pos]
    if plan.lyrics:
        base = base + np.float32(plan.lyrics) * (idx.instrumental[pos] - np.float32(0.5))
    return base


def _base_slack(plan: Plan) -> float:
    """How far the base terms can lower a score below its fit."""
    return plan.popularity + 0.5 * abs(plan.lyrics)


def _fit(idx: TrackIndex, plan: Plan, target, pos: np.ndarray) -> np.ndarray:
    dv = idx.valence[pos] - np.float32(target[0])
    da = idx.arousal[pos] - np.float32(target[1])
    return np.sqrt(np.float32(plan.w_valence) * dv * dv + np.float32(plan.w_arousal) * da * da)


def _cell_min_fit(idx: TrackIndex, plan: Plan, targets) -> np.ndarray:
    """(G*G,) lower bound of the fit of any track in each grid cell to the nearest target."""
    g = idx.grid
    edges = np.arange(g + 1, dtype=np.float64) / g
    lo, hi = edges[:-1], edges[1:]
    best = np.full((g, g), np.inf)
    for tv, ta in set(targets):
        dv = np.maximum(0.0, np.maximum(lo - tv, tv - hi))
        da = np.maximum(0.0, np.maximum(lo - ta, ta - hi))
        np.minimum(best, np.sqrt(plan.w_valence * dv[:, None] ** 2 + plan.w_arousal * da[None, :] ** 2), out=best)
    return best.ravel()


def _candidates(idx: TrackIndex, plan: Plan, k: int, score_fn) -> tuple[np.ndarray, np.ndarray]:
    """Positions (and scores) of a candidate set that surely contains the ``k`` best by ``score_fn``.

    Grid cells are visited nearest first; the set grows until the k-th best score found
    cannot be beaten by any track in an unvisited cell (its fit is at least the cell's
    lower bound, and the base terms lower a score by at most ``_base_slack``).
    """
    n_total = len(idx)
    if k >= n_total or idx.cell_start is None:
        pos = np.arange(n_total)
        return pos, score_fn(pos)
    mind = _cell_min_fit(idx, plan, plan.targets)
    order = np.argsort(mind, kind="stable")
    sorted_mind = mind[order]
    cum = np.cumsum(np.diff(idx.cell_start)[order])
    m = int(np.searchsorted(cum, k)) + 1  # cells needed to hold k tracks
    slack = _base_slack(plan)
    while True:
        pos = idx.cell_members(order[:m])
        scores = score_fn(pos)
        if m >= len(order):
            return pos, scores
        kth = float(np.partition(scores, k - 1)[k - 1])
        if kth + slack <= sorted_mind[m]:
            return pos, scores
        m = max(m + 1, int(np.searchsorted(sorted_mind, kth + slack, side="right")))


def _bonus(idx: TrackIndex, pos: np.ndarray, prefs: Preferences | None) -> tuple[np.ndarray, list[list[str]]]:
    bonus = np.zeros(len(pos), np.float32)
    notes: list[list[str]] = [[] for _ in pos]
    if prefs and prefs.model is not None:
        from moodtune.music.bandit import WEIGHT

        b, mean = prefs.model.bonus(idx, pos)
        bonus += np.float32(WEIGHT) * b
        for hit in np.flatnonzero(mean >= 0.1):
            notes[hit].append("like music you liked")
    if not prefs or not (prefs.genres or prefs.artists):
        return bonus, notes
    for j, p in enumerate(pos):
        g = idx.genre[p]
        if g >= 0 and prefs.genres:
            s = prefs.genres.get(idx.genres[g], 0.0)
            if s:
                bonus[j] += GENRE_WEIGHT * s
                notes[j].append(f"you {'liked' if s > 0 else 'skipped'} {idx.genres[g]}")
        if prefs.artists:
            s = prefs.artists.get(idx.artists[idx.artist[p]], 0.0)
            if s:
                bonus[j] += ARTIST_WEIGHT * s
                notes[j].append(f"you {'liked' if s > 0 else 'skipped'} this artist")
    return bonus, notes


def _pool_size(n: int, n_total: int, prefs: Preferences | None, factor: int) -> int:
    extra = len(prefs.recent) + len(prefs.skipped) + len(prefs.exclude) if prefs else 0
    if prefs and prefs.model is not None:  # the bandit may lift tracks a little farther from the target
        factor, floor = factor * 3, 200
    else:
        floor = 64
    return int(min(n_total, max(floor, factor * n) + extra))


def rank(idx: TrackIndex, plan: Plan, n: int, prefs: Preferences | None = None) -> list[Pick]:
    """Select ``n`` tracks (fewer if the catalogue is smaller) for ``plan``."""
    N = len(idx)
    if N == 0 or n <= 0:
        return []
    n = min(n, N)
    if plan.single_target:
        return _rank_single(idx, plan, n, prefs)
    return _rank_path(idx, plan, n, prefs)


def _excluded(idx: TrackIndex, p: int, prefs: Preferences | None) -> bool:
    return bool(prefs) and idx.keys[p] in prefs.exclude  # type: ignore[union-attr]


def _avoid(idx: TrackIndex, p: int, prefs: Preferences | None) -> bool:
    if not prefs:
        return False
    return idx.keys[p] in prefs.recent or idx.keys[p] in prefs.skipped


def _rank_single(idx, plan, n, prefs) -> list[Pick]:
    target = plan.targets[0]
    k = _pool_size(n, len(idx), prefs, 8)
    fit_of: dict = {}

    def score(pos):
        f = _fit(idx, plan, target, pos)
        fit_of["fit"], fit_of["pos"] = f, pos
        return f + _base_terms(idx, plan, pos)

    cand, cand_scores = _candidates(idx, plan, k, score)
    sel = np.argpartition(cand_scores, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
    pool = cand[sel]
    fit_pool = fit_of["fit"][sel]
    fit_all = dict(zip(pool.tolist(), fit_pool.tolist(), strict=True))
    bonus, notes = _bonus(idx, pool, prefs)
    scores = cand_scores[sel] - bonus
    order = pool[np.argsort(scores, kind="stable")]
    note_of = {int(p): nt for p, nt in zip(pool, notes, strict=True)}
    score_of = {int(p): float(s) for p, s in zip(pool, scores, strict=True)}
    picks: list[Pick] = []
    used_pos: set[int] = set()
    used_artists: set[int] = set()
    genre_count: dict[int, int] = {}
    # pass 0: strict; pass 1: allow recent/skipped; pass 2: allow repeated artists; pass 3: allow the
    # earlier pages' tracks (only a catalogue too small for another page gets there).
    # Within a pass, each pick is the best candidate after a small penalty per earlier
    # pick of the same genre (plan.genre_repeat), so a playlist does not collapse onto one genre.
    for relax in range(4):
        cands = [
            int(p) for p in order
            if (relax >= 3 or not _excluded(idx, int(p), prefs)) and (relax >= 1 or not _avoid(idx, int(p), prefs))
        ]
        while len(picks) < n:
            best, best_s = -1, np.inf
            for p in cands:
                if score_of[p] >= best_s:  # sorted and penalties are >= 0: nothing later can win
                    break
                if p in used_pos or (relax < 2 and int(idx.artist[p]) in used_artists):
                    continue
                g = int(idx.genre[p])
                s = score_of[p] + (plan.genre_repeat * genre_count.get(g, 0) if g >= 0 else 0.0)
                if s < best_s:
                    best, best_s = p, s
            if best < 0:
                break
            used_pos.add(best)
            used_artists.add(int(idx.artist[best]))
            g = int(idx.genre[best])
            genre_count[g] = genre_count.get(g, 0) + 1
            picks.append(Pick(best, float(best_s), float(fit_all[best]), target, note_of[best]))
        if len(picks) >= n:
            break
    return picks


def _rank_path(idx, plan, n, prefs) -> list[Pick]:
    targets = np.asarray(plan.targets, dtype=np.float32)
    wv, wa = np.float32(plan.w_valence), np.float32(plan.w_arousal)
    k = max(_pool_size(n, len(idx), prefs, 40), min(len(idx), 300))
    uniq = np.unique(targets, axis=0)

    def path_score(pos):  # fit to the nearest waypoint + base terms
        v, a = idx.valence[pos], idx.arousal[pos]
        best = np.full(len(pos), np.inf, np.float32)
        for tv, ta in uniq:
            np.minimum(best, wv * (v - tv) ** 2 + wa * (a - ta) ** 2, out=best)
        return np.sqrt(best) + _base_terms(idx, plan, pos)

    cand, cand_scores = _candidates(idx, plan, k, path_score)
    pool = cand[np.argpartition(cand_scores, k - 1)[:k]] if k < len(cand) else cand
    base = _base_terms(idx, plan, pool)
    bonus, notes = _bonus(idx, pool, prefs)
    pv = idx.valence[pool]
    # (slots, pool) fit matrix
    fit = np.sqrt(
        wv * (pv[None, :] - targets[:, 0:1]) ** 2 + wa * (idx.arousal[pool][None, :] - targets[:, 1:2]) ** 2
    )
    score = fit + (base - bonus)[None, :]
    taken = np.zeros(len(pool), bool)
    artist_used: set[int] = set()
    picks: list[Pick] = []
    last_v = -np.inf
    for i in range(n):
        row = score[i]
        chosen = -1
        for relax in range(5):
            # 0 strict; 1 allow recent/skipped; 2 allow a valence step down (the list is sorted by
            # valence at the end anyway); 3 allow repeated artists; 4 allow the earlier pages' tracks
            ok = ~taken
            if relax < 2 and plan.monotonic:
                ok &= pv >= last_v - 1e-6
            cand = np.flatnonzero(ok)
            if cand.size == 0:
                continue
            for j in cand[np.argsort(row[cand], kind="stable")]:
                p = int(pool[j])
                if (relax < 4 and _excluded(idx, p, prefs)) or (relax < 1 and _avoid(idx, p, prefs)):
                    continue
                if relax < 3 and int(idx.artist[p]) in artist_used:
                    continue
                chosen = int(j)
                break
            if chosen >= 0:
                break
        if chosen < 0:
            break
        taken[chosen] = True
        p = int(pool[chosen])
        artist_used.add(int(idx.artist[p]))
        last_v = max(last_v, float(pv[chosen]))
        picks.append(Pick(p, float(score[i, chosen]), float(fit[i, chosen]), (float(targets[i, 0]), float(targets[i, 1])), notes[chosen]))
    if plan.monotonic:
        picks.sort(key=lambda pk: float(idx.valence[pk.pos]))  # guarantee, also after relaxations
        for i, pk in enumerate(picks):
            pk.target = (float(targets[i, 0]), float(targets[i, 1]))
    return picks
