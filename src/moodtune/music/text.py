"""Mood from words: valence and arousal of a short text, and its combination with a face.

Valence is VADER's compound score (package ``vaderSentiment``, MIT licence; its 7,500-word
lexicon of human valence ratings ships inside the package, and VADER handles negation
("not happy"), intensifiers ("very", "slightly"), capitals and exclamation marks). VADER has
no arousal, so arousal comes from moodtune's own list of arousal cue words (``AROUSAL_WORDS``,
in [-1, 1]: "exhausted" -0.8, "furious" +0.9), read with VADER's negation words (a negated cue
counts ``N_SCALAR`` = -0.74 times) and booster words (x 1.3 / x 0.7), plus +0.1 per "!" (at
most 0.3). Both land on the face scale [-1, 1].

``confidence`` grows with the number of mood words found: ``1 - exp(-hits / 2)``, at most 0.9.
``combine(face, text)`` averages the two points weighted by confidence (a face's confidence is
its top class probability); the result's ``source`` says ``"face+text"``.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from moodtune.errors import MoodtuneError
from moodtune.music.types import Affect, nearest_emotion

MAX_TEXT = 1000
N_SCALAR = -0.74

#: Arousal cues (face scale): how activated a person who says the word is.
AROUSAL_WORDS: dict[str, float] = {
    # low arousal
    "exhausted": -0.8, "tired": -0.7, "sleepy": -0.8, "drained": -0.7, "weary": -0.6, "worn": -0.5,
    "bored": -0.5, "calm": -0.6, "relaxed": -0.6, "peaceful": -0.6, "chill": -0.4, "sad": -0.4,
    "depressed": -0.6, "down": -0.3, "lonely": -0.4, "empty": -0.5, "numb": -0.6, "lazy": -0.5,
    "sluggish": -0.6, "quiet": -0.4, "serene": -0.6, "content": -0.3, "mellow": -0.5, "gloomy": -0.4,
    "heartbroken": -0.3, "miserable": -0.3, "hopeless": -0.4, "unmotivated": -0.6, "burnt": -0.5,
    "sleep": -0.6, "rest": -0.5, "cozy": -0.5, "comfortable": -0.3, "melancholy": -0.4, "blue": -0.3,
    # high arousal
    "excited": 0.8, "thrilled": 0.8, "ecstatic": 0.9, "euphoric": 0.9, "energetic": 0.8, "pumped": 0.8,
    "hyped": 0.8, "angry": 0.8, "furious": 0.9, "mad": 0.7, "rage": 0.9, "annoyed": 0.5,
    "irritated": 0.5, "frustrated": 0.6, "stressed": 0.7, "anxious": 0.7, "nervous": 0.6, "panic": 0.9,
    "panicked": 0.9, "scared": 0.7, "afraid": 0.6, "terrified": 0.9, "worried": 0.5, "tense": 0.6,
    "overwhelmed": 0.6, "restless": 0.6, "happy": 0.4, "joyful": 0.5, "elated": 0.8, "party": 0.7,
    "dance": 0.7, "celebrate": 0.7, "won": 0.5, "win": 0.5, "amazing": 0.5, "awesome": 0.5,
    "shocked": 0.8, "surprised": 0.7, "wow": 0.6, "disgusted": 0.5, "hate": 0.6, "upset": 0.5,
    "motivated": 0.6, "alive": 0.5, "wired": 0.7, "jittery": 0.7, "exam": 0.3, "deadline": 0.4,
}


@lru_cache(maxsize=1)
@lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment import vaderSentiment as vs
    except ImportError:  # pragma: no cover - it is a runtime dependency
        raise MoodtuneError("mood from text needs the vaderSentiment package (pip install vaderSentiment)") from None
    return vs, vs.SentimentIntensityAnalyzer()


_WORD = re.compile(r"[a-z']+")


def has_mood_words(text: str) -> bool:
    """Whether ``text`` holds a word of the valence lexicon or of the arousal cues."""
    _, sia = _vader()
    return any(w in AROUSAL_WORDS or w in sia.lexicon for w in _WORD.findall(str(text).lower()))


def text_affect(text: str) -> Affect:
    """The ``Affect`` of a short text (``source="text"``); a text without mood words gives the neutral
    point with confidence 0. ``MoodtuneError`` for an empty or over-long text."""
    if not isinstance(text, str) or not text.strip():
        raise MoodtuneError("the mood text is empty; describe how you feel, e.g. 'exhausted after the exam'")
    if len(text) > MAX_TEXT:
        raise MoodtuneError(f"the mood text is {len(text)} characters long; at most {MAX_TEXT}")
    vs, sia = _vader()
    words = _WORD.findall(text.lower())
    if not has_mood_words(text):  # nothing to go by: a neutral mood, with no confidence at all
        neutral = Affect.coerce("neutral")
        return Affect("neutral", neutral.valence, neutral.arousal, "text", confidence=0.0)
    lexicon_hits = sum(w in sia.lexicon for w in words)
    valence = float(sia.polarity_scores(text)["compound"])
    cues: list[float] = []
    for i, w in enumerate(words):
        if w not in AROUSAL_WORDS:
            continue
        x = AROUSAL_WORDS[w]
        before = words[max(0, i - 3):i]
        if vs.negated(before):
            x *= N_SCALAR
        if before and before[-1] in vs.BOOSTER_DICT:
            x *= 1.3 if vs.BOOSTER_DICT[before[-1]] > 0 else 0.7
        cues.append(x)
    hits = len(set(i for i, w in enumerate(words) if w in AROUSAL_WORDS or w in sia.lexicon))
    arousal = sum(cues) / len(cues) if cues else 0.0
    arousal += min(0.3, 0.1 * text.count("!"))
    v = max(-1.0, min(1.0, valence))
    a = max(-1.0, min(1.0, arousal))
    confidence = min(0.9, 1.0 - math.exp(-max(hits, lexicon_hits) / 2.0))
    return Affect(nearest_emotion(v, a), v, a, "text", confidence=confidence)


def combine(face: Affect | None, text: Affect) -> Affect:
    """One affect from a face (or group) and a text, weighted by their confidences.

    Without a face the text's affect is returned. A face without a confidence counts 0.5.
    """
    if face is None:
        return text
    wf = face.confidence if face.confidence is not None else 0.5
    wt = text.confidence or 0.0
    if wf + wt <= 0:
        return face
    v = (wf * face.valence + wt * text.valence) / (wf + wt)
    a = (wf * face.arousal + wt * text.arousal) / (wf + wt)
    return Affect(nearest_emotion(v, a), v, a, f"{face.source}+text", confidence=max(wf, wt))
