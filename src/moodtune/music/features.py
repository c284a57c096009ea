"""Music-side affect: valence as measured, arousal from energy, loudness, tempo and acousticness.

The arousal formula
-------------------
Spotify's ``energy`` alone is a fair arousal proxy, but loudness, tempo and acousticness
carry arousal cues of their own (Gabrielsson & Lindström 2010; Yang & Chen 2012). moodtune
uses one linear formula, clipped to [0, 1]::

    loud_n  = clip((loudness_dB + 40) / 40, 0, 1)      # -40 dB -> 0, 0 dB -> 1
    tempo_n = clip((tempo_bpm - 60) / 120, 0, 1)       # 60 BPM -> 0, 180 BPM -> 1
    arousal = clip(c0 + ce*energy + cl*loud_n + ct*tempo_n + ca*acousticness, 0, 1)

The coefficients are *calibrated*, not guessed, by ``tools/genre_stats.py`` on the
"Spotify Music Dataset" (``high/low_popularity_spotify_data.csv``): a logistic regression
separates tracks from calm playlist contexts (wellness, classical, lofi, ambient, soft pop,
chill subgenres) from energetic ones (metal, punk, hardstyle, techno, workout, drill, ...);
its direction is kept and rescaled so that arousal has the same mean and spread as
``energy`` over that corpus (so a face arousal of 0 maps to a typical mid-energy track).
The mood-labelled ``data_moods.csv`` is *not* used for the fit; the script reports how well
the formula separates its Happy/Energetic from its Sad/Calm tracks as a held-out check.
The coefficients live in ``assets/genre_stats.json`` (key ``arousal_formula``).

Missing inputs are filled from the track's genre statistics, then from the corpus means;
a track without ``energy`` gets its arousal (and valence) from its genre, marked estimated.

Face → music
------------
A face's valence/arousal in [-1, 1] maps to the music scale [0, 1] by ``(x + 1) / 2``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from moodtune.config import ASSETS

GENRE_STATS_PATH = ASSETS / "genre_stats.json"

#: Features a track may carry, in [0, 1] unless noted.
AUDIO_FEATURES = (
    "valence",
    "energy",
    "tempo",  # BPM
    "danceability",
    "acousticness",
    "loudness",  # dB, usually -60..0
    "mode",  # 1 major, 0 minor
    "instrumentalness",
)

# ----------------------------------------------------------------------------- genres

#: Spellings seen in the datasets (and in people's tags) → moodtune's genre names.
_GENRE_ALIASES = {
    "hip hop": "hip-hop",
    "hiphop": "hip-hop",
    "rap": "hip-hop",
    "r&b": "r&b",
    "rnb": "r&b",
    "r-n-b": "r&b",
    "soulrb": "r&b",
    "rhythm and blues": "r&b",
    "dance/electronic": "electronic",
    "dance": "electronic",
    "edm": "electronic",
    "electronica": "electronic",
    "house": "electronic",
    "techno": "electronic",
    "folk/acoustic": "folk",
    "acoustic": "folk",
    "singer/songwriter": "folk",
    "world/traditional": "world",
    "easy listening": "easy listening",
    "kpop": "k-pop",
    "jpop": "j-pop",
    "heavy metal": "metal",
    "punk rock": "punk",
    "pop-rock": "rock",
    "pop rock": "rock",
    "alternative": "indie",
    "alternative rock": "rock",
    "indie rock": "indie",
    "bossa nova": "brazilian",
    "mpb": "brazilian",
    "samba": "brazilian",
    "bollywood": "indian",
    "afrobeat": "afrobeats",
    "chanson": "world",
    "lo-fi": "lofi",
    "lo fi": "lofi",
    "soundtrack": "classical",
    "instrumental": "ambient",
    "new age": "ambient",
    "salsa": "latin",
    "reggaeton": "latin",
    "cumbia": "latin",
    "flamenco": "latin",
}


def normalize_genre(name: str) -> str:
    """A genre label in moodtune's spelling: lower case, known aliases folded (``'hip hop'`` → ``'hip-hop'``)."""
    g = re.sub(r"\s+", " ", str(name).strip().lower())
    return _GENRE_ALIASES.get(g, g)


def split_genres(text: str | None) -> list[str]:
    """``'hip hop, pop, R&B'`` → ``['hip-hop', 'pop', 'r&b']`` (``'set()'`` and blanks → ``[]``)."""
    if not text:
        return []
    out: list[str] = []
    for part in re.split(r"[,;|]", str(text)):
        part = part.strip()
        if not part or part in ("set()", "[]", "n/a", "nan"):
            continue
        g = normalize_genre(part)
        if g and g not in out:
            out.append(g)
    return out


#: Playlist contexts that a source files under "genre" but that say nothing about the music's
#: style (a rapper in a "gaming" playlist is not a gaming musician).
CONTEXT_GENRES = frozenset({"gaming", "wellness", "workout", "sleep", "study", "focus", "party", "travel", "romance", "mood"})
CONTEXT_MARK = " (playlist)"


def mark_context(genres: list[str]) -> list[str]:
    """Mark playlist-context genres of a source that files playlist contexts as genres: ``gaming`` → ``gaming (playlist)``."""
    return [g + CONTEXT_MARK if g in CONTEXT_GENRES else g for g in genres]


def clean_genres(genres: list[str]) -> list[str]:
    """Drop the marked playlist-context genres when the track also has a real one; otherwise keep them, marked."""
    real = [g for g in genres if not g.endswith(CONTEXT_MARK)]
    return real if real else list(genres)


# ----------------------------------------------------------------------------- statistics file


@lru_cache(maxsize=1)
def genre_stats() -> dict:
    """The parsed ``assets/genre_stats.json`` (written by ``tools/genre_stats.py``)."""
    try:
        return json.loads(GENRE_STATS_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeError(f"{GENRE_STATS_PATH} is missing; run tools/genre_stats.py") from None


def formula() -> dict:
    """The calibrated arousal coefficients: ``{"c0", "energy", "loudness", "tempo", "acousticness"}``."""
    return genre_stats()["arousal_formula"]["coefficients"]


def genre_profile(genres: Iterable[str] | str | None) -> dict | None:
    """Mean feature values of the first known genre among ``genres`` (or ``None``)."""
    if isinstance(genres, str):
        genres = split_genres(genres)
    table = genre_stats()["genres"]
    for g in genres or ():
        g = normalize_genre(g.removesuffix(CONTEXT_MARK))
        if g in table:
            return table[g]
    return None


def overall_profile() -> dict:
    """Mean feature values over the whole calibration corpus."""
    return genre_stats()["overall"]


# ----------------------------------------------------------------------------- arousal


def loudness_norm(loudness):
    """dB → [0, 1]: -40 dB → 0, 0 dB → 1 (numpy-aware)."""
    return np.clip((np.asarray(loudness, dtype=np.float64) + 40.0) / 40.0, 0.0, 1.0)


def tempo_norm(tempo):
    """BPM → [0, 1]: 60 → 0, 180 → 1 (numpy-aware)."""
    return np.clip((np.asarray(tempo, dtype=np.float64) - 60.0) / 120.0, 0.0, 1.0)


def arousal_from_features(energy, loudness, tempo, acousticness):
    """The calibrated arousal formula (module docstring); scalars or equal-shape arrays, no NaNs."""
    c = formula()
    z = (
        c["c0"]
        + c["energy"] * np.asarray(energy, dtype=np.float64)
        + c["loudness"] * loudness_norm(loudness)
        + c["tempo"] * tempo_norm(tempo)
        + c["acousticness"] * np.asarray(acousticness, dtype=np.float64)
    )
    out = np.clip(z, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def _num(x) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def track_affect(features: dict, genres: Iterable[str] | str | None = None) -> tuple[float | None, float | None, list[str]]:
    """(valence, arousal, estimated) for one track's feature dict.

    ``features`` may hold any of ``AUDIO_FEATURES`` (missing or ``None`` allowed) and an
    ``arousal`` that was annotated directly (DEAM). Missing formula inputs come from the
    genre profile, then the corpus means. ``estimated`` names the values that are estimates
    (``'valence'`` and/or ``'arousal'``). Returns ``(None, None, [])`` when nothing is known.
    """
    prof = genre_profile(genres)
    base = prof or overall_profile()
    estimated: list[str] = []
    valence = _num(features.get("valence"))
    if valence is None and prof is not None:
        valence = prof["valence"]
        estimated.append("valence")
    arousal = _num(features.get("arousal"))
    if arousal is None:
        energy = _num(features.get("energy"))
        if energy is not None:
            loud = _num(features.get("loudness"))
            tempo = _num(features.get("tempo"))
            acou = _num(features.get("acousticness"))
            arousal = arousal_from_features(
                energy,
                base["loudness"] if loud is None else loud,
                base["tempo"] if tempo is None else tempo,
                base["acousticness"] if acou is None else acou,
            )
        elif prof is not None:
            arousal = prof["arousal"]
            estimated.append("arousal")
    if valence is None or arousal is None:
        return (valence, arousal, estimated) if (valence is not None or arousal is not None) else (None, None, [])
    return float(valence), float(arousal), estimated


def face_to_music(value: float) -> float:
    """A face valence or arousal in [-1, 1] → the music scale [0, 1]."""
    return float(min(1.0, max(0.0, (float(value) + 1.0) / 2.0)))


def music_to_face(value: float) -> float:
    """The inverse of :func:`face_to_music`."""
    return float(value) * 2.0 - 1.0
