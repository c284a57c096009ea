"""moodtune: recognise facial expressions and recommend music for the mood.

>>> import moodtune
>>> faces = moodtune.analyze("photo.jpg")
>>> faces[0].emotion, faces[0].valence, faces[0].arousal
>>> playlist = moodtune.recommend(faces[0])          # or "sad", or (valence, arousal)
>>> [(t.title, t.artist) for t in playlist.tracks]
"""

__version__ = "0.1.0"

from moodtune.api import FaceResult, analyze, analyze_frame  # noqa: E402
from moodtune.emotion.labels import CLASSES  # noqa: E402
from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.music.recommend import feedback, recommend  # noqa: E402
from moodtune.music.types import Affect, Playlist, PlaylistItem, Track  # noqa: E402

__all__ = [
    "analyze", "analyze_frame", "FaceResult", "CLASSES", "MoodtuneError", "__version__",
    "recommend", "feedback", "Playlist", "PlaylistItem", "Track", "Affect",
]
