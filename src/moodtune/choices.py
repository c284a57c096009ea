"""The choices a user can name (detectors, strategies, emotions, feedback actions) as ``Enum`` types.

The CLI's option choices and the HTTP API's enums are both built here by ``choice_enum`` from the
registries, so a new detector or strategy shows up in ``--help`` and in ``/openapi.json`` at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING


def choice_enum(name: str, values: Iterable[str]) -> type[Enum]:
    """A ``str`` ``Enum`` called ``name`` whose members are ``values`` (member name = value)."""
    members = list(dict.fromkeys(values))
    return Enum(name, {v: v for v in members}, type=str)  # type: ignore[return-value]


def detector_names() -> list[str]:
    """The face detectors' names (``moodtune.list_detectors()``)."""
    from moodtune.vision.detect import detector_names as names

    return names()


def strategy_names() -> list[str]:
    """The playlist strategies, ``auto`` first (``moodtune.music.strategies.STRATEGIES``)."""
    from moodtune.music.strategies import list_strategies

    return list_strategies()


def strategy_help() -> str:
    """One line per strategy (name and what it does), for help texts."""
    from moodtune.music.strategies import DESCRIPTIONS

    return "\n".join(f"  {name:<9} {DESCRIPTIONS[name]}" for name in strategy_names())


def emotion_names() -> list[str]:
    """The 7 FER2013 classes."""
    from moodtune.emotion.labels import CLASSES

    return list(CLASSES)


def feedback_actions() -> list[str]:
    """What a listener can say of a track (``moodtune.music.feedback.ACTIONS``)."""
    from moodtune.music.feedback import ACTIONS

    return list(ACTIONS)


@cache
def Detector() -> type[Enum]:  # noqa: N802 - it returns a type
    return choice_enum("Detector", detector_names())


@cache
def Strategy() -> type[Enum]:  # noqa: N802
    return choice_enum("Strategy", strategy_names())


@cache
def Emotion() -> type[Enum]:  # noqa: N802
    return choice_enum("Emotion", emotion_names())


@cache
def FeedbackAction() -> type[Enum]:  # noqa: N802
    return choice_enum("FeedbackAction", feedback_actions())


if TYPE_CHECKING:  # what a type checker sees of the enums built at run time
    class Choice_(str, Enum): ...  # noqa: N801

    Detector_ = Choice_
    Strategy_ = Choice_
    Emotion_ = Choice_
    FeedbackAction_ = Choice_
