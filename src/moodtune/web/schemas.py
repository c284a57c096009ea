"""What the HTTP API takes and answers: request bodies as pydantic models, responses as the core
dataclasses (``moodtune.contract``) inside small pydantic envelopes.

A face is the core ``FaceResult`` (the same JSON as ``moodtune analyze --json`` and the WebSocket);
a live face is that face plus its ``track`` id and this frame's unsmoothed ``raw_emotion``.
Enums (emotions, strategies, feedback actions) come from ``moodtune.choices``, i.e. the registries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from moodtune import choices
from moodtune.music.recommend import MAX_PAGE
from moodtune.music.types import Playlist, Track
from moodtune.types import FaceResult

if TYPE_CHECKING:  # built from the registries at run time
    from moodtune.choices import Emotion_ as Emotion
    from moodtune.choices import FeedbackAction_ as FeedbackAction
    from moodtune.choices import Strategy_ as Strategy
else:
    Emotion = choices.Emotion()
    Strategy = choices.Strategy()
    FeedbackAction = choices.FeedbackAction()

#: The JSON of one face: the core type itself.
Face = FaceResult


# ----------------------------------------------------------------------------- responses


class ErrorOut(BaseModel):
    error: str


class AnalyzeOut(BaseModel):
    faces: list[Face]
    width: int
    height: int


class LiveControlOut(BaseModel):
    ok: bool
    half_life: float


@dataclass
class PlaylistOut(Playlist):
    """A playlist (the JSON of ``moodtune recommend --json``), plus the faces of an uploaded image."""

    faces: list[FaceResult] | None = None


class FeedbackOut(BaseModel):
    stored: bool
    id: int
    user: str
    track: str
    title: str
    artist: str
    action: str


class FeedbackEventOut(BaseModel):
    id: int
    track: str
    title: str
    artist: str
    action: str
    ts: float


class FeedbackListOut(BaseModel):
    user: str
    events: list[FeedbackEventOut]


class CatalogSearchOut(BaseModel):
    catalog: str
    tracks: list[Track]


class SpotifySavedOut(BaseModel):
    saved: bool
    url: str
    name: str
    tracks: int


class SpotifyLoginOut(BaseModel):
    error: str
    login_url: str


class HealthOut(BaseModel):
    status: str = Field(description="'ok' once models and catalogue are loaded")
    version: str
    classes: list[str]
    class_va: dict[str, list[float]]
    strategies: list[str]
    recommend: bool
    catalog: str | None
    catalog_tracks: int | None
    spotify: bool
    max_upload_bytes: int
    pid: int = Field(description="the answering server process (one of several with moodtune serve --workers N)")


# ----------------------------------------------------------------------------- requests


def _whole(v: Any) -> Any:
    """JSON's 10.0 is the integer 10 (JSON Schema says so); anything else is left to strict validation."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


#: An integer field that also takes a float with no fraction (never a bool or a string).
WholeNumber = Annotated[int, BeforeValidator(_whole)]

#: A listener name: 1 to 64 letters, digits, printable ASCII and spaces, not starting with a space.
USER_PATTERN = r"^[\w!-~][\w !-~]*$"

#: JSON Schema for "what to recommend for": an emotion, or both coordinates of a point (not null).
BY_EMOTION: dict[str, Any] = {"required": ["emotion"], "properties": {"emotion": {"type": "string"}}}
BY_POINT: dict[str, Any] = {"required": ["valence", "arousal"], "properties": {"valence": {"type": "number"}, "arousal": {"type": "number"}}}
BY_TEXT: dict[str, Any] = {"required": ["text"], "properties": {"text": {"type": "string"}}}
POINT_PAIRS: dict[str, Any] = {"valence": ["arousal"], "arousal": ["valence"]}


class RecommendFields(BaseModel):
    """What to recommend for besides an image: an ``emotion``, or a ``valence``/``arousal`` point."""

    # optional but never null (a form field cannot say null): the defaults are None
    emotion: Emotion = Field(None, description="a FER2013 class; with valence/arousal: the face's class")  # type: ignore[assignment]
    valence: float = Field(None, ge=-1, le=1)  # type: ignore[assignment]
    arousal: float = Field(None, ge=-1, le=1)  # type: ignore[assignment]
    source: str = Field(None, pattern="^(face|group|manual)$", description="where the point came from")  # type: ignore[assignment]
    strategy: Strategy = Field(Strategy("auto"), description="how to pick the music")
    n: WholeNumber = Field(10, ge=1, le=50, description="playlist length")
    user: str = Field(None, min_length=1, max_length=64, pattern=USER_PATTERN,  # type: ignore[assignment]
                             description="listener name for feedback and history")
    text: str = Field(None, min_length=1, max_length=500,  # type: ignore[assignment]
                      description="how the listener feels, in words; combined with the face when there is one")
    page: WholeNumber = Field(0, ge=0, le=MAX_PAGE, description="0: this mood's list; 1, 2, ...: the next ones (the playlist rule)")

    @model_validator(mode="after")
    def _point_complete(self) -> RecommendFields:
        if (self.valence is None) != (self.arousal is None):
            raise ValueError("give both valence and arousal")
        return self


class RecommendIn(RecommendFields):
    """A JSON request: give ``emotion``, or ``valence`` and ``arousal`` (both in [-1, 1]), optionally ``probabilities``."""

    model_config = ConfigDict(strict=True, json_schema_extra={"anyOf": [BY_EMOTION, BY_POINT, BY_TEXT], "dependentRequired": POINT_PAIRS})

    probabilities: dict[str, float] | None = Field(None, description="the face's class probabilities, if known")

    @model_validator(mode="after")
    def _something_to_go_by(self) -> RecommendIn:
        if self.emotion is None and self.valence is None and self.text is None:
            raise ValueError("nothing to recommend for: send an image, an emotion, valence and arousal, or text")
        return self


class RecommendForm(RecommendFields):
    """A multipart request: the ``image`` file, and the fields of a JSON request as text fields."""

    image: bytes = Field(None, description="a photo: the playlist is for its faces", min_length=1,  # type: ignore[assignment]
                         json_schema_extra={"format": "binary"})

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["image"]}, BY_EMOTION, BY_POINT, BY_TEXT],  # noqa: RUF012
                                                 "dependentRequired": POINT_PAIRS})


class AnalyzeForm(BaseModel):
    """A multipart request to ``/api/analyze``: the ``image`` file."""

    image: bytes = Field(min_length=1, description="a JPEG, PNG, WebP, BMP, GIF or TIFF", json_schema_extra={"format": "binary"})


class ImplicitAffect(BaseModel):
    """The listener's smoothed affect over a track, as the page measured it (summary numbers only)."""

    valence_start: float = Field(ge=-1, le=1)
    arousal_start: float = Field(ge=-1, le=1)
    valence_end: float = Field(ge=-1, le=1)
    arousal_end: float = Field(ge=-1, le=1)
    samples: int = Field(ge=0)


class FeedbackIn(BaseModel):
    track: str = Field(min_length=1, max_length=500, description="track id (from a playlist) or 'Title - Artist'")
    action: FeedbackAction
    user: str = Field("default", min_length=1, max_length=64, pattern=USER_PATTERN)
    implicit: bool = Field(False, description="sent by the page itself (played through, or the camera's closer/farther)")
    affect: ImplicitAffect = Field(None, description="for closer/farther: what the camera saw (checked, not stored)")  # type: ignore[assignment]


class SpotifySaveIn(BaseModel):
    tracks: list[str] = Field(min_length=1, max_length=100, description="track ids from a playlist")
    name: str = Field("moodtune", min_length=1, max_length=100)
