"""The starter catalogue shipped in the package (``assets/starter_catalog.csv``).

Written by the moodtune authors (see ``assets/STARTER_CATALOG.md``): facts (title, artist(s)
separated by ``;``, year, genre, language) and editorial mood tags. No audio features were
copied from anywhere; valence, energy, tempo, loudness, acousticness, danceability and
instrumentalness are *estimated* here from the tags and from genre-level statistics
(``assets/genre_stats.json``), and every track lists them in ``estimated``.

Estimate per track::

    tag_v, tag_e = mean (valence, energy) anchor of its tags (TAG_ANCHORS)
    valence = 0.3 * genre.valence + 0.7 * tag_v
    energy  = 0.3 * genre.energy  + 0.7 * tag_e
    tempo   = genre.tempo * (0.85 + 0.3 * tag_e)
    loudness     = clip(genre.loudness + 12 dB * (energy - genre.energy), -35, -2)
    acousticness = clip(genre.acousticness - 0.8 * (energy - genre.energy), 0.01, 0.99)
    instrumentalness = 0.85 for language "instrumental", else 0.05
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from moodtune.config import ASSETS
from moodtune.music.features import genre_profile, overall_profile
from moodtune.music.store import CatalogStore
from moodtune.music.types import Track

STARTER_CSV = ASSETS / "starter_catalog.csv"
SOURCE = "starter"

#: Editorial tag → (valence, energy) anchor on Spotify's [0, 1] scales.
TAG_ANCHORS: dict[str, tuple[float, float]] = {
    "happy": (0.85, 0.70),
    "joyful": (0.90, 0.75),
    "euphoric": (0.85, 0.90),
    "upbeat": (0.75, 0.75),
    "playful": (0.80, 0.60),
    "party": (0.80, 0.85),
    "groovy": (0.70, 0.70),
    "uplifting": (0.75, 0.65),
    "hopeful": (0.65, 0.50),
    "triumphant": (0.70, 0.85),
    "confident": (0.65, 0.70),
    "romantic": (0.60, 0.40),
    "sensual": (0.55, 0.45),
    "tender": (0.55, 0.25),
    "peaceful": (0.60, 0.15),
    "calm": (0.50, 0.15),
    "relaxing": (0.55, 0.20),
    "dreamy": (0.45, 0.30),
    "nostalgic": (0.45, 0.40),
    "bittersweet": (0.40, 0.40),
    "mysterious": (0.30, 0.45),
    "melancholic": (0.25, 0.30),
    "sad": (0.15, 0.25),
    "somber": (0.15, 0.20),
    "dark": (0.20, 0.60),
    "tense": (0.25, 0.75),
    "epic": (0.45, 0.80),
    "intense": (0.35, 0.90),
    "defiant": (0.45, 0.85),
    "energetic": (0.60, 0.90),
    "angry": (0.20, 0.90),
    "aggressive": (0.25, 0.95),
}

ESTIMATED = ["valence", "energy", "tempo", "loudness", "acousticness", "danceability", "instrumentalness"]


def estimate(genre: str, tags: list[str], language: str | None) -> dict:
    """Estimated audio features for one starter track (see the module docstring)."""
    prof = genre_profile([genre]) or overall_profile()
    unknown = [t for t in tags if t not in TAG_ANCHORS]
    if unknown:
        raise ValueError(f"unknown mood tags {unknown}; known: {', '.join(TAG_ANCHORS)}")
    if tags:
        tag_v = float(np.mean([TAG_ANCHORS[t][0] for t in tags]))
        tag_e = float(np.mean([TAG_ANCHORS[t][1] for t in tags]))
    else:
        tag_v, tag_e = prof["valence"], prof["energy"]
    valence = 0.3 * prof["valence"] + 0.7 * tag_v
    energy = 0.3 * prof["energy"] + 0.7 * tag_e
    return {
        "valence": round(valence, 4),
        "energy": round(energy, 4),
        "tempo": round(prof["tempo"] * (0.85 + 0.3 * tag_e), 1),
        "loudness": round(float(np.clip(prof["loudness"] + 12.0 * (energy - prof["energy"]), -35.0, -2.0)), 2),
        "acousticness": round(float(np.clip(prof["acousticness"] - 0.8 * (energy - prof["energy"]), 0.01, 0.99)), 4),
        "danceability": round(prof["danceability"], 4),
        "instrumentalness": 0.85 if (language or "").lower() == "instrumental" else 0.05,
    }


def load_starter_tracks(path: Path = STARTER_CSV) -> list[Track]:
    """The starter catalogue as ``Track``s with estimated features."""
    tracks = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            tags = [t.strip() for t in row["tags"].split(";") if t.strip()]
            genre = row["genre"].strip().lower()
            feats = estimate(genre, tags, row["language"])
            tracks.append(
                Track(
                    title=row["title"].strip(),
                    artists=[a.strip() for a in row["artist"].split(";") if a.strip()],
                    year=int(row["year"]),
                    genres=[genre],
                    tags=tags,
                    language=row["language"].strip(),
                    sources=[SOURCE],
                    estimated=list(ESTIMATED),
                    **feats,
                )
            )
    return tracks


def build_starter_store() -> CatalogStore:
    """A fresh in-memory catalogue holding the starter tracks."""
    store = CatalogStore.memory(description="starter catalogue (shipped, features estimated)")
    store.add_tracks(load_starter_tracks())
    return store
