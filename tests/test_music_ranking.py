"""Strategies and ranking rules, through the public ``moodtune.recommend`` on small real catalogues."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import moodtune
from moodtune import Affect, FaceResult, MoodtuneError, Track
from moodtune.emotion.labels import CLASSES
from moodtune.music.feedback import FeedbackStore
from moodtune.music.store import CatalogStore
from moodtune.music.strategies import LIFT_END, make_plan


def track(title, artist, v, e, genre="pop", pop=50.0, instr=0.0, loud=None, tempo=120.0, ac=0.2):
    # loudness chosen so that the formula's arousal tracks energy closely
    return Track(title=title, artists=[artist], genres=[genre], popularity=pop, valence=v, energy=e, tempo=tempo,
                 loudness=-30 + 25 * e if loud is None else loud, acousticness=ac, instrumentalness=instr)


def grid_store(n_side=9, genres=("pop", "rock", "jazz")) -> CatalogStore:
    """Tracks on a valence x energy grid, every track its own artist, genres cycling."""
    s = CatalogStore.memory("grid")
    g = itertools.cycle(genres)
    tracks = []
    for i, v in enumerate(np.linspace(0.02, 0.98, n_side)):
        for j, e in enumerate(np.linspace(0.02, 0.98, n_side)):
            tracks.append(track(f"T{i}-{j}", f"Artist {i}-{j}", float(v), float(e), next(g)))
    s.add_tracks(tracks)
    return s


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MOODTUNE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def face(probs: dict, box=(0, 0, 50, 50)) -> FaceResult:
    p = np.array([probs.get(c, 0.0) for c in CLASSES], float)
    return FaceResult.from_probabilities(box, p / p.sum())


# ----------------------------------------------------------------------------- affect and strategy choice


def test_affect_inputs():
    assert Affect.coerce("Sad").emotion == "sad"
    a = Affect.coerce((0.8, 0.5))
    assert (a.emotion, a.source) == ("happy", "valence/arousal")
    one = face({"happy": 0.9, "neutral": 0.1})
    assert Affect.coerce(one).source == "face" and Affect.coerce(one).emotion == "happy"
    g = Affect.coerce([face({"happy": 1}), face({"sad": 1})])
    assert g.source == "group of 2 faces"
    assert g.valence == pytest.approx((one_point("happy")[0] + one_point("sad")[0]) / 2)
    for bad in [(2.0, 0.0), (float("nan"), 0), "elated", [], 42]:
        with pytest.raises(MoodtuneError):
            Affect.coerce(bad)


def one_point(name):
    a = Affect.from_emotion(name)
    return a.valence, a.arousal


@pytest.mark.parametrize("emotion,expected", [
    ("happy", "match"), ("surprise", "match"), ("neutral", "balanced"), ("sad", "lift"),
    ("angry", "calm"), ("fear", "calm"), ("disgust", "calm"),
])
def test_auto_strategy_per_emotion_is_stated(emotion, expected):
    pl = moodtune.recommend(emotion, n=5, catalog=grid_store(5))
    assert pl.strategy == expected and pl.requested_strategy == "auto"
    assert pl.reason.startswith(f"auto chose {expected}") and emotion in pl.reason


def test_bad_strategy_and_n():
    with pytest.raises(MoodtuneError, match="unknown strategy"):
        moodtune.recommend("sad", strategy="cheer", catalog=grid_store(3))
    with pytest.raises(MoodtuneError, match="n must be"):
        moodtune.recommend("sad", n=0, catalog=grid_store(3))


# ----------------------------------------------------------------------------- fit


def test_match_picks_the_nearest_tracks_first():
    s = grid_store()
    pl = moodtune.recommend((0.5, 0.5), strategy="match", n=10, catalog=s)
    tv, ta = 0.75, 0.75
    d = [math.hypot(t.valence - tv, t.arousal - ta) for t in pl.tracks]
    assert d[0] == pytest.approx(min(math.hypot(t.valence - tv, t.arousal - ta) for t in s.iter_tracks()), abs=1e-6)
    assert max(d) < 0.25
    assert all(it.why for it in pl)


def test_calm_and_energize_targets():
    s = grid_store()
    calm = moodtune.recommend("angry", strategy="calm", n=5, catalog=s)
    assert all(t.arousal < 0.2 for t in calm.tracks)
    up = moodtune.recommend("sad", strategy="energize", n=5, catalog=s)
    assert all(t.arousal > 0.7 and t.valence > 0.6 for t in up.tracks)


def test_lift_moves_from_the_listener_to_positive_with_valence_never_decreasing():
    s = grid_store(11)
    pl = moodtune.recommend("sad", strategy="lift", n=10, catalog=s)
    vals = [t.valence for t in pl.tracks]
    assert vals == sorted(vals)
    sad_v = (Affect.from_emotion("sad").valence + 1) / 2
    assert abs(vals[0] - sad_v) < 0.12
    assert abs(vals[-1] - (LIFT_END[0] + 1) / 2) < 0.12
    targets = [it.target for it in pl]
    assert targets[0][0] < targets[-1][0] and "step 1/10" in pl.items[0].why
    plan = make_plan(Affect.from_emotion("sad"), "lift", 10)
    assert [round(t[0], 6) for t in plan.targets] == sorted(round(t[0], 6) for t in plan.targets)


def test_lift_for_an_already_positive_listener_matches():
    pl = moodtune.recommend("happy", strategy="lift", n=5, catalog=grid_store())
    assert "already" in pl.reason


# ----------------------------------------------------------------------------- ranking rules


def test_no_artist_twice_unless_unavoidable():
    s = CatalogStore.memory()
    tracks = [track(f"Hit {i}", "Star", 0.9, 0.75 + i * 0.001) for i in range(6)]
    tracks += [track(f"Other {i}", f"Band {i}", 0.2 + 0.05 * i, 0.3) for i in range(12)]
    s.add_tracks(tracks)
    pl = moodtune.recommend("happy", strategy="match", n=10, catalog=s)
    artists = [t.artist for t in pl.tracks]
    assert artists.count("Star") == 1 and len(set(artists)) == 10
    tiny = CatalogStore.memory()
    tiny.add_tracks([track(f"S{i}", "Solo" if i < 4 else "Duo", 0.5, 0.5) for i in range(6)])
    pl = moodtune.recommend("happy", n=6, catalog=tiny)
    assert len(pl) == 6  # the catalogue cannot avoid repeats: they are allowed


def test_popularity_breaks_ties():
    s = CatalogStore.memory()
    s.add_tracks([track("Obscure", "A", 0.6, 0.6, pop=5), track("Famous", "B", 0.6, 0.6, pop=95),
                  track("Far", "C", 0.1, 0.1, pop=100)])
    pl = moodtune.recommend((0.2, 0.2), strategy="match", n=3, catalog=s)
    assert [t.title for t in pl.tracks][:2] == ["Famous", "Obscure"]


def test_calm_prefers_instrumental_and_negative_match_prefers_vocals():
    s = CatalogStore.memory()
    s.add_tracks([track("Sung", "A", 0.4, 0.1, instr=0.0), track("Instrumental", "B", 0.4, 0.1, instr=0.95)])
    assert moodtune.recommend("angry", strategy="calm", n=1, catalog=s).tracks[0].title == "Instrumental"
    s2 = CatalogStore.memory()
    s2.add_tracks([track("Sung", "A", 0.15, 0.85, instr=0.0), track("Instrumental", "B", 0.15, 0.85, instr=0.95)])
    assert moodtune.recommend("angry", strategy="match", n=1, catalog=s2).tracks[0].title == "Sung"


def test_genres_are_mixed_when_fits_are_close():
    s = CatalogStore.memory()
    s.add_tracks([track(f"P{i}", f"PA{i}", 0.8, 0.7 + 0.001 * i, genre="pop") for i in range(10)]
                 + [track(f"J{i}", f"JA{i}", 0.8, 0.705 + 0.001 * i, genre="jazz") for i in range(10)])
    genres = [t.genre for t in moodtune.recommend("happy", strategy="match", n=10, catalog=s).tracks]
    assert 3 <= genres.count("jazz") <= 7


# ----------------------------------------------------------------------------- feedback and history


def test_feedback_adapts_genres_and_excludes_skips(home):
    # the case: after 8 likes of jazz tracks a happy list must hold jazz
    s = CatalogStore.memory()
    s.add_tracks([track(f"Pop {i}", f"P{i}", 0.8, 0.7 + 0.002 * i, genre="pop") for i in range(8)]
                 + [track(f"Jazz {i}", f"J{i}", 0.75, 0.62 + 0.002 * i, genre="jazz") for i in range(16)])
    fb = FeedbackStore.open(home / "fb.sqlite")
    before = moodtune.recommend("happy", strategy="match", n=4, catalog=s, user="ana", feedback_db=fb, remember=False)
    assert all(t.genre == "pop" for t in before.tracks)
    for i in range(8):
        moodtune.feedback(s.find(f"Jazz {i} - J{i}")[0], "like", user="ana", feedback_db=fb)
        moodtune.feedback(s.find(f"Jazz {i} - J{i}")[0], "played", user="ana", feedback_db=fb)
    moodtune.feedback(before.tracks[0], "skip", user="ana", feedback_db=fb)
    after = moodtune.recommend("happy", strategy="match", n=4, catalog=s, user="ana", feedback_db=fb, remember=False)
    assert sum(t.genre == "jazz" for t in after.tracks) >= 3
    titles = [t.title for t in after.tracks]
    assert before.tracks[0].title not in titles  # skipped
    assert not {f"Jazz {i}" for i in range(8)} & set(titles)  # played through = heard recently
    assert any("like music you liked" in it.why for it in after)
    other = moodtune.recommend("happy", strategy="match", n=4, catalog=s, user="bo", feedback_db=fb, remember=False)
    assert [t.title for t in other.tracks] == [t.title for t in before.tracks]  # per user


def test_playlists_are_stable_paged_and_avoid_skipped_and_heard(home):
    s = grid_store()
    fb = FeedbackStore.open(home / "fb.sqlite")
    ids = lambda pl: [t.id for t in pl.tracks]  # noqa: E731
    first = moodtune.recommend("happy", n=5, catalog=s, user="cy", feedback_db=fb)
    again = moodtune.recommend("happy", n=5, catalog=s, user="cy", feedback_db=fb)
    assert ids(first) == ids(again)  # same listener, same mood: same list
    more = moodtune.recommend("happy", n=5, catalog=s, user="cy", feedback_db=fb, page=1)
    third = moodtune.recommend("happy", n=5, catalog=s, user="cy", feedback_db=fb, page=2)
    assert more.page == 1 and not set(ids(first)) & set(ids(more))
    assert not (set(ids(first)) | set(ids(more))) & set(ids(third))
    sad = moodtune.recommend("sad", strategy="match", n=5, catalog=s, user="cy", feedback_db=fb)
    assert not set(ids(sad)) & set(ids(first))  # another mood, another list
    moodtune.feedback(first.tracks[0], "skip", user="cy", feedback_db=fb)
    moodtune.feedback(first.tracks[1], "played", user="cy", feedback_db=fb)
    after = moodtune.recommend("happy", n=5, catalog=s, user="cy", feedback_db=fb)
    assert first.tracks[0].id not in ids(after) and first.tracks[1].id not in ids(after)
    assert len(set(ids(first)) & set(ids(after))) >= 3  # two events, a bounded change
    small = CatalogStore.memory()
    small.add_tracks([track(f"Only {i}", f"O{i}", 0.5, 0.5) for i in range(3)])
    moodtune.feedback(small.find("Only 0 - O0")[0], "skip", user="cy", feedback_db=fb)
    again = moodtune.recommend("happy", n=3, catalog=small, user="cy", feedback_db=fb, page=1)
    assert len(again) == 3  # nothing else to offer: repeats allowed


def test_one_like_changes_at_most_4_of_the_next_10(home):
    """Bounded updates, on the starter catalogue every new listener hears: for every emotion and
    every track of the first list, one like of that track changes at most 4 of the next 10."""
    from moodtune.music.recommend import starter_store

    s = starter_store()
    worst = 0
    for emotion in CLASSES:
        before = [t.id for t in moodtune.recommend(emotion, n=10, catalog=s, user="u", feedback_db=FeedbackStore.memory()).tracks]
        for tid in before:
            fb = FeedbackStore.memory()
            moodtune.feedback(s.find(tid)[0], "like", user="u", feedback_db=fb)
            after = [t.id for t in moodtune.recommend(emotion, n=10, catalog=s, user="u", feedback_db=fb).tracks]
            worst = max(worst, len(set(before) - set(after)))
    assert 1 <= worst <= 4  # a like moves something, never more than 4 tracks


def test_bandit_update_is_bounded_and_learns_from_every_action():
    from moodtune.music.bandit import PRIOR, REWARDS, WEIGHT, TasteModel, features

    s = grid_store()
    idx = s.index()
    key = idx.keys[0]
    x = features(idx, np.array([0]))[0].astype(float)
    for action, (r, w) in REWARDS.items():
        m = TasteModel.from_events(idx, [(key, action)])
        mean = float(m.bonus(idx, np.array([0]))[1][0])
        bound = abs(r) * w * x @ x / (PRIOR + w * x @ x)
        assert np.sign(mean) == np.sign(r) and abs(mean) <= bound + 1e-6
    assert WEIGHT * bound <= 0.05  # one event moves a score by at most 0.05 distance units
    many = TasteModel.from_events(idx, [(key, "like")] * 400)
    assert 0.5 < float(many.bonus(idx, np.array([0]))[1][0]) <= 1.0  # saturates, stays bounded
    assert TasteModel.from_events(idx, [("not|in the catalogue", "like")]) is None


def test_feedback_api_rejects_bad_input(home):
    fb = FeedbackStore.open(home / "fb.sqlite")
    t = track("X", "Y", 0.5, 0.5)
    with pytest.raises(MoodtuneError, match="expected one of: like, skip, played, closer, farther"):
        moodtune.feedback(t, "love", user="ana", feedback_db=fb)
    with pytest.raises(MoodtuneError, match="invalid user"):
        moodtune.feedback(t, "like", user="", feedback_db=fb)
    with pytest.raises(MoodtuneError, match="no track"):
        moodtune.feedback("Nonexistent Song - Nobody", "like", catalog=grid_store(2), feedback_db=fb)


def test_feedback_database_from_before_the_new_actions_is_widened(tmp_path):
    import sqlite3

    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE feedback (id INTEGER PRIMARY KEY, user TEXT NOT NULL, track_id TEXT NOT NULL, track_key TEXT NOT NULL,
            title TEXT NOT NULL, artist TEXT NOT NULL, genres TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('like', 'skip')), ts REAL NOT NULL);
        CREATE INDEX feedback_user ON feedback(user, id);
        INSERT INTO feedback VALUES (1, 'ana', 'x', 'old|song', 'Old', 'Song', '["pop"]', 'like', 1.0);
    """)
    con.commit()
    con.close()
    fb = FeedbackStore.open(db, fallback=False)
    t = track("New", "Band", 0.5, 0.5)
    for action in ("played", "closer", "farther"):
        fb.add("ana", t, action)
    assert [a for _, a in fb.actions("ana")] == ["farther", "closer", "played", "like"]
    with pytest.raises(sqlite3.IntegrityError):
        fb._conn.execute("INSERT INTO feedback (user, track_id, track_key, title, artist, genres, action, ts) "
                         "VALUES ('ana', 'x', 'k', 't', 'a', '[]', 'love', 0)")


def test_pages_never_repeat_a_track_on_the_starter_catalogue(home):
    """--more on what every new listener hears: four pages per emotion, no track twice (the lift path too)."""
    fb = FeedbackStore.open(home / "fb.sqlite")
    for emotion in ("sad", "angry", "neutral", "happy"):
        ids = [t.id for page in range(4) for t in moodtune.recommend(emotion, user="pat", feedback_db=fb, page=page).tracks]
        assert len(ids) == 40 and len(set(ids)) == 40, emotion
