"""The catalogue import formats, as one table of data (``FORMATS``; ``list_formats()``).

Each entry names a CSV schema, the columns that identify it (detection and validation) and how
the source writes several artists (``artists``: the separator, or ``None`` when the column holds
one artist name, commas included). ``moodtune.music.importers`` parses the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from moodtune.errors import MoodtuneError


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    required: tuple[str, ...]  #: columns that must be present
    artists: str | None = None  #: separator of the source's artist list; None: one artist per row
    playlist_genres: bool = False  #: the genre column is a playlist context (marked, see features.mark_context)


FORMATS: tuple[Format, ...] = (
    Format("spotify_tracks", 'Kaggle "Spotify Tracks Dataset"', ("track_id", "artists", "track_name", "track_genre"),
           artists=";", playlist_genres=True),
    Format("spotify_music", 'Kaggle "Spotify Music Dataset" (high/low popularity)',
           ("track_id", "track_name", "track_artist", "playlist_genre"), artists=",", playlist_genres=True),
    Format("data_moods", "mood-labelled data_moods.csv (and mood_playlists.csv)", ("name", "artist", "id", "valence", "energy", "mood")),
    Format("top_hits", '"Top Hits Spotify 2000-2019" (songs_normalize.csv)', ("artist", "song", "year", "genre", "valence", "energy")),
    Format("deam", "DEAM static valence/arousal annotations (+ metadata_*.csv)", ("song_id", "valence_mean", "arousal_mean")),
    Format("generic", "any CSV with title and artist columns (see --map); several artists separated by ';'",
           ("title", "artist"), artists=";"),
)
_BY_NAME = {f.name: f for f in FORMATS}


def list_formats() -> list[str]:
    """The format names, in detection order."""
    return [f.name for f in FORMATS]


def get_format(name: str) -> Format:
    """The ``Format`` called ``name``; ``MoodtuneError`` naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise MoodtuneError(f"unknown format {name!r}; expected auto or one of: {', '.join(list_formats())}") from None
