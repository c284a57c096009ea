"""Typed values at the music engine's boundaries: ``Affect``, ``Track``, ``PlaylistItem``, ``Playlist``."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Annotated, Any
from urllib.parse import quote_plus

import numpy as np
from pydantic import Field, computed_field

from moodtune.contract import Rounded
from moodtune.emotion.labels import CLASS_VA, CLASSES, class_index
from moodtune.errors import MoodtuneError

# ----------------------------------------------------------------------------- affect


@dataclass
class Affect:
    """A point on Russell's circumplex, the input of a recommendation.

    ``valence`` and ``arousal`` lie in [-1, 1] (face scale). ``emotion`` is the FER2013 class
    (for a manual point: the nearest class). ``source`` says where the point came from:
    ``"face"``, ``"group of N faces"``, ``"emotion"`` or ``"valence/arousal"``.
    """

    emotion: str
    valence: Rounded
    arousal: Rounded
    source: str = "valence/arousal"
    probabilities: Annotated[dict[str, float] | None, Field(exclude=True)] = None
    #: how sure the source is, in [0, 1] (face: the top class probability; text: lexicon coverage)
    confidence: Rounded | None = None

    @classmethod
    def from_emotion(cls, name: str) -> Affect:
        """The class point of an emotion name (``'sad'`` → valence -0.55, arousal -0.33)."""
        i = class_index(name)
        return cls(CLASSES[i], float(CLASS_VA[i, 0]), float(CLASS_VA[i, 1]), "emotion")

    @classmethod
    def from_va(cls, valence: float, arousal: float) -> Affect:
        """A manual point; raises ``MoodtuneError`` outside [-1, 1]."""
        try:
            v, a = float(valence), float(arousal)
        except (TypeError, ValueError):
            raise MoodtuneError(f"valence/arousal must be numbers, got {valence!r}, {arousal!r}") from None
        if not (-1.0 <= v <= 1.0 and -1.0 <= a <= 1.0) or np.isnan(v) or np.isnan(a):
            raise MoodtuneError(f"valence and arousal must lie in [-1, 1], got {v}, {a}")
        return cls(nearest_emotion(v, a), v, a, "valence/arousal")

    @classmethod
    def from_faces(cls, faces: Sequence[Any]) -> Affect:
        """The mean affect of one or more ``FaceResult``s (emotion: top class of the mean probabilities)."""
        faces = list(faces)
        if not faces:
            raise MoodtuneError("no face to recommend for")
        from moodtune.emotion.group import group_mood

        g = group_mood(faces)
        source = "face" if len(faces) == 1 else f"group of {len(faces)} faces"
        return cls(g.emotion, g.valence, g.arousal, source, dict(g.probabilities), confidence=g.confidence)

    @classmethod
    def coerce(cls, value: Any) -> Affect:
        """Accept an ``Affect``, a ``FaceResult``, a list of them, an emotion name or a (valence, arousal) pair."""
        if isinstance(value, Affect):
            return value
        if isinstance(value, str):
            return cls.from_emotion(value)
        if hasattr(value, "valence") and hasattr(value, "arousal") and hasattr(value, "probabilities"):
            return cls.from_faces([value])
        if isinstance(value, (list, tuple)) and value and all(hasattr(f, "probabilities") for f in value):
            return cls.from_faces(value)
        if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2:
            return cls.from_va(value[0], value[1])
        if isinstance(value, (list, tuple)) and not value:
            raise MoodtuneError("no face to recommend for (empty list)")
        raise MoodtuneError(
            f"cannot read an affect from {type(value).__name__}: pass a FaceResult, a list of them, "
            "an emotion name or a (valence, arousal) pair"
        )


def nearest_emotion(valence: float, arousal: float) -> str:
    """The FER2013 class whose circumplex point is nearest to (valence, arousal)."""
    d = ((CLASS_VA - np.array([valence, arousal])) ** 2).sum(axis=1)
    return CLASSES[int(np.argmin(d))]


# ----------------------------------------------------------------------------- tracks

_PAREN = re.compile(r"\s*[\(\[][^\)\]]*(feat\.?|ft\.|with |remaster|version|edit|mix|live|mono|stereo)[^\)\]]*[\)\]]", re.I)
_DASH = re.compile(r"\s+-\s+.*(remaster|version|edit|mix|live|mono|stereo).*$", re.I)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^\w]+", " ", text).strip()


def title_key(title: str) -> str:
    """A title folded for matching: accents, case, punctuation, '(feat. X)', '- 2011 Remaster' removed."""
    t = _PAREN.sub("", title or "")
    t = _DASH.sub("", t)
    return _fold(t) or _fold(title or "")


#: Artist names that contain a comma. A comma-separated artist list (the Spotify Music Dataset's
#: ``track_artist``) is split at commas except inside these (and before "Jr."/"Sr."/"Inc.").
COMMA_ARTISTS = (
    "Earth, Wind & Fire", "Crosby, Stills, Nash & Young", "Crosby, Stills & Nash", "Tyler, The Creator",
    "Emerson, Lake & Palmer", "Blood, Sweat & Tears", "Peter, Paul and Mary", "Grover Washington, Jr.",
    "Dream, Ivory", "Now, Now", "Bachman, Turner Overdrive", "Lambert, Hendricks & Ross",
)
_COMMA_ARTISTS = {_n.lower(): _n for _n in COMMA_ARTISTS}
_SUFFIX = re.compile(r"^(jr\.?|sr\.?|inc\.?|ltd\.?|the creator)$", re.I)
_FEAT = re.compile(r"\s+(feat\.?|ft\.|featuring)\s+.*$", re.I)


def split_artists(text: str | None, sep: str = ",") -> list[str]:
    """An artist list as the source writes it → names. ``sep`` is the source's separator;
    with ``","`` the names in ``COMMA_ARTISTS`` stay whole ("Earth, Wind & Fire")."""
    if not text:
        return []
    parts = [p.strip() for p in str(text).split(sep) if p.strip()]
    if sep != ",":
        return parts
    out: list[str] = []
    i = 0
    while i < len(parts):
        for j in range(min(len(parts), i + 4), i + 1, -1):  # the longest known name first
            joined = ", ".join(parts[i:j])
            if joined.lower() in _COMMA_ARTISTS:
                out.append(_COMMA_ARTISTS[joined.lower()])
                i = j
                break
        else:
            if out and _SUFFIX.match(parts[i]):
                out[-1] = f"{out[-1]}, {parts[i]}"
            else:
                out.append(parts[i])
            i += 1
    return out


def artist_key(artist: str) -> str:
    """One artist's name folded for matching ("feat. X" removed; commas and "&" are part of the name)."""
    return _fold(_FEAT.sub("", artist or ""))


_VERSION_SUFFIX = re.compile(
    r"\s+-\s+(\d{4}\s+)?(digital(ly)?\s+)?remaster(ed)?(\s+(version|\d{4}))?(\s*/.*)?$"
    r"|\s+-\s+(\d{4}\s+)?(mono|stereo|single|album|radio|remastered)\s+(version|edit|mix)$"
    r"|\s*[\(\[](\d{4}\s+)?(digital(ly)?\s+)?remaster(ed)?(\s+\d{4})?(\s+version)?[\)\]]$",
    re.I,
)


def display_title(title: str) -> str:
    """A title without release-version suffixes: "Come Together - Remastered 2009" → "Come Together"."""
    t = (title or "").strip()
    cleaned = _VERSION_SUFFIX.sub("", t).strip()
    return cleaned or t


def track_key(title: str, artist: str) -> str:
    """``title|artist`` folded (``artist``: the first artist): the identity used to merge duplicates."""
    return f"{title_key(title)}|{artist_key(artist)}"


def local_id(title: str, artist: str) -> str:
    """A stable id for a track without a Spotify id: ``mt-`` + 12 hex digits of its key's SHA-1."""
    return "mt-" + hashlib.sha1(track_key(title, artist).encode("utf-8")).hexdigest()[:12]


@dataclass
class Track:
    """One catalogue track.

    Audio features use Spotify's scales (valence, energy, danceability, acousticness,
    instrumentalness in [0, 1]; tempo in BPM; loudness in dB; mode 1 major / 0 minor);
    ``arousal`` is moodtune's music arousal in [0, 1] (``moodtune.music.features``).
    ``estimated`` names the fields that are estimates rather than measurements;
    ``sources`` the importers/catalogues the track came from.
    """

    title: str
    artists: list[str]
    album: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    popularity: Rounded | None = None
    duration_ms: int | None = None
    valence: Rounded | None = None
    energy: Rounded | None = None
    tempo: Rounded | None = None
    danceability: Rounded | None = None
    acousticness: Rounded | None = None
    loudness: Rounded | None = None
    mode: int | None = None
    instrumentalness: Rounded | None = None
    arousal: Rounded | None = None
    spotify_id: str | None = None
    tags: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    estimated: list[str] = field(default_factory=list)
    language: str | None = None
    rowid: Annotated[int | None, Field(exclude=True)] = None
    #: where this track's own audio plays (a URL the web app sets for files ``catalog scan`` registered)
    audio: Annotated[str | None, Field(exclude=True)] = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def artist(self) -> str:
        """All artists, comma-separated (for display; ``artists`` is the list)."""
        return ", ".join(self.artists)

    @property
    def genre(self) -> str | None:
        """The first genre, if any (Python only: the JSON carries ``genres``)."""
        return self.genres[0] if self.genres else None

    @property
    def key(self) -> str:
        """``title|first artist`` folded (``track_key``)."""
        return track_key(self.title, self.artists[0] if self.artists else "")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """The Spotify id when known, otherwise a stable local id (``mt-…``)."""
        return self.spotify_id or local_id(self.title, self.artists[0] if self.artists else "")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def links(self) -> dict[str, str]:
        """Spotify track URL (when the id is known), Spotify and YouTube search links (always), and
        ``audio`` where the track's own file plays."""
        q = quote_plus(f"{self.title} {self.artists[0] if self.artists else ''}".strip())
        out = {}
        if self.spotify_id:
            out["spotify"] = f"https://open.spotify.com/track/{self.spotify_id}"
        out["spotify_search"] = f"https://open.spotify.com/search/{q}"
        out["youtube_search"] = f"https://www.youtube.com/results?search_query={q}"
        if self.audio:
            out["audio"] = self.audio
        return out


# ----------------------------------------------------------------------------- playlists


@dataclass
class PlaylistItem(Track):
    """A recommended track: the ``Track`` plus the reason it was chosen (``why``) and the
    (valence, arousal) it aimed for on the music scale (``target``; the lift path's waypoints)."""

    why: str = ""
    score: Annotated[float, Field(exclude=True)] = 0.0
    target: tuple[Rounded, Rounded] | None = None

    @classmethod
    def of(cls, track: Track, why: str, score: float, target: tuple[float, float]) -> PlaylistItem:
        return cls(**{f.name: getattr(track, f.name) for f in fields(Track)}, why=why, score=float(score),
                   target=(float(target[0]), float(target[1])))

    @property
    def track(self) -> PlaylistItem:
        """The item itself (it is a ``Track``)."""
        return self


@dataclass
class Playlist:
    """The result of ``moodtune.recommend``; ``contract.to_json(playlist)`` is its JSON.

    ``strategy`` is the strategy that ran (``auto`` resolved), ``reason`` says why it was
    chosen (JSON: ``strategy_reason``), ``tracks`` the items in order, ``catalog`` describes
    the catalogue used, ``page`` which list for this mood it is (0 first; see ``PLAYLIST_RULE``).
    """

    affect: Affect
    strategy: str
    reason: Annotated[str, Field(exclude=True)]
    tracks: list[PlaylistItem]
    catalog: str = ""
    requested_strategy: str = "auto"
    page: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def strategy_reason(self) -> str:
        return self.reason

    @property
    def items(self) -> list[PlaylistItem]:
        return self.tracks

    def __len__(self) -> int:
        return len(self.tracks)

    def __iter__(self):
        return iter(self.tracks)

