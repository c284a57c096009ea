"""moodtune: recognise facial expressions and recommend music for the mood.

>>> import moodtune
>>> faces = moodtune.analyze("photo.jpg")
>>> faces[0].emotion, faces[0].valence, faces[0].arousal
>>> an = moodtune.Analyzer(detector="blazeface", model="moodnet", threads=1, channels="rgb")
>>> per_image = an.analyze_batch([rgb_a, rgb_b])
>>> playlist = moodtune.recommend(faces[0])          # or "sad", or (valence, arousal)
>>> [(t.title, t.artist) for t in playlist.tracks]
"""

__version__ = "0.1.0"

from moodtune.emotion.group import group_mood  # noqa: E402
from moodtune.emotion.labels import CLASSES  # noqa: E402
from moodtune.emotion.models import MODELS, ModelEntry  # noqa: E402
from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.music.recommend import feedback, recommend  # noqa: E402
from moodtune.music.types import Affect, Playlist, PlaylistItem, Track  # noqa: E402
from moodtune.pipeline import Analyzer, FrameAnalyzer, analyze, analyze_frame  # noqa: E402
from moodtune.registry import Entry  # noqa: E402
from moodtune.types import Detection, FaceResult, LiveFrame, TrackedFace, VideoFrame  # noqa: E402
from moodtune.vision.detect import DETECTORS  # noqa: E402


def list_detectors() -> list[Entry]:
    """The face detectors moodtune ships (name, summary), the default first."""
    return list(DETECTORS)


def list_models() -> list[ModelEntry]:
    """The emotion models moodtune ships (name, summary, file), the default first."""
    return list(MODELS)


__all__ = [
    "CLASSES",
    "Affect",
    "Analyzer",
    "Detection",
    "FaceResult",
    "FrameAnalyzer",
    "LiveFrame",
    "MoodtuneError",
    "Playlist",
    "PlaylistItem",
    "Track",
    "TrackedFace",
    "VideoFrame",
    "__version__",
    "analyze",
    "analyze_frame",
    "feedback",
    "group_mood",
    "list_detectors",
    "list_models",
    "recommend",
]
