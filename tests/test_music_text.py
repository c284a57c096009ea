"""Mood from words (moodtune.music.text) and its combination with a face, on phrases written here."""

from __future__ import annotations

import numpy as np
import pytest

import moodtune
from moodtune import Affect, FaceResult, MoodtuneError
from moodtune.emotion.labels import CLASSES
from moodtune.music.text import combine, text_affect


def test_phrases_land_in_their_quadrant():
    cases = {
        "exhausted after the exam": (-1, -1),
        "feeling down and lonely tonight": (-1, -1),
        "so excited for the party!": (1, 1),
        "really stressed about the deadline": (-1, 1),
        "I am furious with my landlord": (-1, 1),
        "calm and relaxed on a sunday morning": (1, -1),
    }
    for phrase, (sv, sa) in cases.items():
        a = text_affect(phrase)
        assert a.source == "text" and np.sign(a.valence) == sv and np.sign(a.arousal) == sa, (phrase, a)
        assert 0 < a.confidence <= 0.9


def test_negation_and_intensifiers():
    happy, not_happy = text_affect("I am happy"), text_affect("I am not happy")
    assert happy.valence > 0.3 and not_happy.valence < 0
    tired, not_tired = text_affect("I feel tired"), text_affect("I don't feel tired at all")
    assert tired.arousal < 0 < not_tired.arousal
    assert text_affect("I am very happy").valence > happy.valence
    assert text_affect("I am very tired").arousal < tired.arousal
    assert text_affect("I am angry!!!").arousal > text_affect("I am angry").arousal


def test_bad_text():
    for bad in ["", "   ", "x" * 1001]:
        with pytest.raises(MoodtuneError):
            text_affect(bad)
    plain = text_affect("the table is made of wood")  # no mood words: neutral, and nobody is sure of it
    assert plain.emotion == "neutral" and plain.confidence == 0.0


def test_face_and_text_are_weighted_by_confidence():
    p = np.array([0.05 if c != "happy" else 0.7 for c in CLASSES])
    face = Affect.from_faces([FaceResult.from_probabilities((0, 0, 10, 10), p / p.sum())])
    text = text_affect("exhausted and sad after the exam")
    both = combine(face, text)
    assert both.source == "face+text"
    assert min(face.valence, text.valence) < both.valence < max(face.valence, text.valence)
    w = face.confidence / (face.confidence + text.confidence)
    assert both.valence == pytest.approx(w * face.valence + (1 - w) * text.valence)
    pl = moodtune.recommend(face, text="exhausted and sad after the exam", n=5, catalog="starter")
    assert pl.affect.source == "face+text" and len(pl) == 5
    alone = moodtune.recommend(None, text="exhausted after the exam", n=5, catalog="starter")
    assert alone.affect.source == "text" and alone.strategy == "lift"  # sad and tired: the iso path


def test_words_without_mood_add_nothing_to_a_face():
    """A face (or emotion) with a text that holds no mood words: the face alone decides."""
    alone = moodtune.recommend("sad", n=5)
    with_words = moodtune.recommend("sad", n=5, text="the table is made of wood")
    assert with_words.affect.source == alone.affect.source and [t.id for t in with_words] == [t.id for t in alone]
    assert moodtune.recommend(None, text="the table is made of wood").affect.emotion == "neutral"
