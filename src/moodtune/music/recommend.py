"""``moodtune.recommend``: an affect in, a ``Playlist`` out; plus ``moodtune.feedback``."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from moodtune.errors import MoodtuneError
from moodtune.music.feedback import FeedbackEvent, FeedbackStore, check_user
from moodtune.music.ranking import Pick, Preferences, rank
from moodtune.music.store import CatalogStore, TrackIndex, default_catalog_path
from moodtune.music.strategies import Plan, make_plan
from moodtune.music.types import Affect, Playlist, PlaylistItem, Track
from moodtune.store import database_url, is_url

_lock = threading.Lock()
_stores: dict[Any, CatalogStore] = {}
_feedback: dict[str, FeedbackStore] = {}

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}


def open_catalog(catalog: Any = None) -> CatalogStore:
    """Resolve the ``catalog`` argument of ``recommend`` to a store (cached per process).

    ``None``: the user catalogue (``default_catalog_path()``) when it exists and holds
    tracks, otherwise the shipped starter catalogue. ``"starter"``: the starter catalogue.
    A ``.csv`` path: that file imported into a temporary in-memory catalogue. Any other
    path: a catalogue database; a database URL (``postgresql://...``), that database's catalogue,
    as is ``None`` while ``$MOODTUNE_DATABASE_URL`` is set. A ``CatalogStore`` is used as it is.
    """
    if isinstance(catalog, CatalogStore):
        return catalog
    url = catalog if is_url(catalog) else (database_url() if catalog is None else None)
    if url:  # a database URL ($MOODTUNE_DATABASE_URL by default): its catalogue (the starter while empty)
        store = _cached(("url", url), lambda: CatalogStore.open(url))
        return store if store.count() > 0 or catalog is not None else starter_store()
    if catalog is None:
        path = default_catalog_path()
        try:
            if path.is_file() and path.stat().st_size > 0:
                store = _cached(("db", str(path)), lambda: CatalogStore.open(path, create=False))
                if store.count() > 0:
                    return store
        except MoodtuneError:
            pass  # an unreadable user catalogue: fall back to the starter
        return starter_store()
    if isinstance(catalog, str) and catalog.strip().lower() == "starter":
        return starter_store()
    p = Path(catalog).expanduser()
    if not p.exists():
        raise MoodtuneError(f"catalogue not found: {p}")
    if p.suffix.lower() in CSV_SUFFIXES or p.is_dir():
        from moodtune.music.importers import load_csv_catalog

        st = p.stat()
        return _cached(("csv", str(p.resolve()), st.st_mtime_ns, st.st_size), lambda: load_csv_catalog(p))
    return _cached(("db", str(p.resolve())), lambda: CatalogStore.open(p, create=False))


def _cached(key, make) -> CatalogStore:
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = make()
            _stores[key] = store
        return store


def starter_store() -> CatalogStore:
    """The shipped starter catalogue in an in-memory store (built once per process)."""
    from moodtune.music.starter import build_starter_store

    return _cached(("starter",), build_starter_store)


def feedback_store(path: str | os.PathLike | None = None) -> FeedbackStore:
    """The feedback database (default ``user_dir()/feedback.sqlite``; in memory if that is not writable)."""
    from moodtune.music.feedback import default_feedback_path

    key = str(path) if path else (database_url() or str(default_feedback_path()))
    with _lock:
        fb = _feedback.get(key)
        if fb is None:
            fb = FeedbackStore.open(path)
            _feedback[key] = fb
        return fb


#: The playlist rule, one paragraph for ``moodtune recommend --help`` and the API docs.
PLAYLIST_RULE = (
    "Playlists are stable: the same listener asking for the same mood again gets the same list, "
    "until their feedback changes it; --more (API: \"page\") gives the next list for that mood, "
    "page 2 the one after, none repeating a track of an earlier page (unless the catalogue has no others); another mood gives another "
    "list. Tracks the listener skipped, and the last {heard} tracks they played through, are left "
    "out while the catalogue has other candidates. Likes, skips, plays and the camera's "
    "closer/farther events teach a per-listener bandit that reorders tracks near the mood target; "
    "one event moves a track's score by a bounded amount, so no single like rewrites a list."
)
#: How many of the listener's last played-through tracks are left out of new playlists.
HEARD_WINDOW = 100
PLAYLIST_RULE = PLAYLIST_RULE.format(heard=HEARD_WINDOW)
#: Face points are rounded to this step before planning, so two photos of the same mood give the same list.
AFFECT_STEP = 0.05
LEARNERS = ("bandit", "counts")
#: The last page ``--more`` can reach (each page ranks all the earlier ones again).
MAX_PAGE = 50


def _quantised(aff: Affect) -> Affect:
    """A face's point rounded to ``AFFECT_STEP`` (named emotions, manual points and texts are exact already)."""
    if "face" not in aff.source:
        return aff
    q = lambda x: max(-1.0, min(1.0, round(x / AFFECT_STEP) * AFFECT_STEP))  # noqa: E731
    return Affect(aff.emotion, q(aff.valence), q(aff.arousal), aff.source, aff.probabilities)


def listener_preferences(fb: FeedbackStore, user: str, idx: TrackIndex, learner: str = "bandit") -> Preferences:
    """What the ranking knows about ``user``: skipped and recently heard tracks, and their taste
    (``learner="bandit"``: the LinUCB posterior from all their events; ``"counts"``: the
    previous per-genre/artist like-skip counts, kept for comparison in bench/feedback_sim.py)."""
    from moodtune.music.bandit import WINDOW, TasteModel

    events = fb.actions(user, WINDOW)
    latest: dict[str, str] = {}
    heard: list[str] = []
    for key, action in events:
        if action in ("like", "skip"):
            latest.setdefault(key, action)
        if action == "played" and len(heard) < HEARD_WINDOW:
            heard.append(key)
    skipped = {k for k, a in latest.items() if a == "skip"}
    if learner == "counts":
        prefs = fb.preferences(user, history_window=0)
        prefs.recent = set(heard)
        return prefs
    if learner != "bandit":
        raise MoodtuneError(f"unknown learner {learner!r}; expected one of: {', '.join(LEARNERS)}")
    return Preferences(skipped=skipped, recent=set(heard), model=TasteModel.from_events(idx, events))


def recommend(
    affect: Any,
    strategy: str = "auto",
    n: int = 10,
    catalog: Any = None,
    user: str | None = None,
    *,
    page: int = 0,
    text: str | None = None,
    feedback_db: str | os.PathLike | FeedbackStore | None = None,
    remember: bool = True,
    learner: str = "bandit",
) -> Playlist:
    """Recommend ``n`` tracks for an affect.

    ``affect``: a ``FaceResult``, a list of them (group: their mean affect), an emotion name
    (``"sad"``), a ``(valence, arousal)`` pair in [-1, 1], an ``Affect``, or ``None`` when
    ``text`` is given. ``text``: words about how the listener feels (``moodtune.music.text``);
    with a face, the two are combined by confidence (``affect.source`` is ``"face+text"``).
    ``strategy``: one of ``list_strategies()`` (``moodtune.music.strategies``). ``catalog``:
    see ``open_catalog`` (default: the user catalogue, else the starter catalogue).
    ``user``: a listener whose feedback adapts the ranking; ``None`` for a stateless call.
    ``page``: 0 for the first list, 1 for the next one (``--more``), ...; see ``PLAYLIST_RULE``.
    ``feedback_db``: the feedback database (path or ``FeedbackStore``; default
    ``<moodtune home>/feedback.sqlite``, in memory when that is not writable).
    ``remember``: record the playlist in the user's history (only with ``user``).
    Returns a ``Playlist``; raises ``MoodtuneError`` for unusable input.

    >>> pl = recommend("sad", strategy="lift", n=8)
    >>> pl.strategy, [(t.title, t.artist) for t in pl.tracks][:2]
    """
    aff = None if affect is None else Affect.coerce(affect)
    if text is not None:
        from moodtune.music.text import combine, has_mood_words, text_affect

        if aff is None or has_mood_words(text):  # words without mood words add nothing to a face
            aff = combine(aff, text_affect(text))
    if aff is None:
        aff = Affect.coerce(affect)
    try:
        n, page = int(n), int(page)
    except (TypeError, ValueError):
        raise MoodtuneError(f"n and page must be whole numbers, got {n!r}, {page!r}") from None
    if n < 1 or n > 500:
        raise MoodtuneError(f"n must be between 1 and 500, got {n}")
    if page < 0 or page > MAX_PAGE:
        raise MoodtuneError(f"page must be between 0 and {MAX_PAGE}, got {page}")
    plan = make_plan(_quantised(aff), strategy, n)
    plan.reason = plan.reason.replace(_fmt_q(aff), _fmt_q(aff, exact=True))
    store = open_catalog(catalog)
    idx = store.index()
    if len(idx) == 0:
        raise MoodtuneError(f"the catalogue {store.description} has no tracks with valence/energy to rank")
    fb = None
    prefs = Preferences()
    if user is not None:
        user = check_user(user)
        fb = feedback_db if isinstance(feedback_db, FeedbackStore) else feedback_store(feedback_db)
        prefs = listener_preferences(fb, user, idx, learner)
    for _ in range(page):  # the earlier pages, by the same rule, are left out
        prefs.exclude |= {idx.keys[p.pos] for p in rank(idx, plan, n, prefs)}
    picks = rank(idx, plan, n, prefs)
    tracks = store.get(int(idx.rowid[p.pos]) for p in picks)
    items = [PlaylistItem.of(tracks[int(idx.rowid[p.pos])], _why(plan, p, i, len(picks), idx, tracks[int(idx.rowid[p.pos])]), p.score, p.target)
             for i, p in enumerate(picks)]
    playlist = Playlist(aff, plan.strategy, plan.reason, items, catalog=store.description, requested_strategy=strategy,
                        page=page)
    if fb is not None and user is not None and remember and items:
        try:
            fb.record_history(user, playlist.tracks)
        except Exception:  # history is a nicety; never fail a recommendation over it
            pass
    return playlist


def _fmt_q(aff: Affect, exact: bool = False) -> str:
    a = aff if exact else _quantised(aff)
    return f"{a.emotion} (valence {a.valence:+.2f}, arousal {a.arousal:+.2f})"


def _why(plan: Plan, pick: Pick, i: int, n: int, idx: TrackIndex, track: Track) -> str:
    v, a = float(idx.valence[pick.pos]), float(idx.arousal[pick.pos])
    tv, ta = pick.target
    est = " (estimated)" if {"valence", "arousal"} & set(track.estimated) else ""
    if plan.strategy == "lift" and not plan.single_target:
        head = f"step {i + 1}/{n} toward positive: aims at v {tv:.2f} a {ta:.2f}, track v {v:.2f} a {a:.2f}{est}"
    else:
        head = f"v {v:.2f} a {a:.2f}{est} near the {plan.strategy} target v {tv:.2f} a {ta:.2f}"
    notes = []
    if plan.lyrics <= -0.03 and track.instrumentalness is not None and track.instrumentalness >= 0.5:
        notes.append("instrumental")
    if plan.lyrics >= 0.03 and track.instrumentalness is not None and track.instrumentalness < 0.5:
        notes.append("with vocals")
    notes += pick.notes
    return head + ("; " + ", ".join(notes) if notes else "")


def resolve_track(ref: str, catalog: Any = None) -> Track:
    """Find one track by id, Spotify URL/URI, or 'title' / 'title - artist'; ``MoodtuneError`` if none or ambiguous."""
    store = open_catalog(catalog)
    found = store.find(ref)
    if not found and catalog is None:
        found = starter_store().find(ref) if store is not starter_store() else []
    if not found:
        raise MoodtuneError(f"no track {ref!r} in {store.description}; use its id (see --json) or 'Title - Artist'")
    if len(found) > 1:
        options = "; ".join(f"{t.title} - {t.artist} ({t.id})" for t in found[:5])
        raise MoodtuneError(f"{ref!r} matches {len(found)} tracks: {options}; give the id or 'Title - Artist'")
    return found[0]


def feedback(
    track: str | Track,
    action: str,
    user: str = "default",
    catalog: Any = None,
    feedback_db: str | os.PathLike | FeedbackStore | None = None,
) -> FeedbackEvent:
    """Record a feedback event of ``user`` for ``track`` (a ``Track`` or a reference, see ``resolve_track``).

    ``action``: one of ``moodtune.music.feedback.ACTIONS`` (``like``, ``skip``, ``played``,
    ``closer``, ``farther``). Returns the stored event once it is committed.
    Raises ``MoodtuneError`` when the feedback cannot be stored persistently.
    """
    t = track if isinstance(track, Track) else resolve_track(str(track), catalog)
    fb = feedback_db if isinstance(feedback_db, FeedbackStore) else feedback_store(feedback_db)
    if not fb.persistent and not isinstance(feedback_db, FeedbackStore):
        where = Path(fb.path) if fb.path != ":memory:" else "the moodtune home folder"
        raise MoodtuneError(f"cannot save feedback: {where} is not writable (set MOODTUNE_HOME)")
    return fb.add(user, t, action)


def recommend_from_spotify(
    affect: Any,
    strategy: str = "auto",
    n: int = 10,
    client: Any = None,
    catalog: Any = None,
    user: str | None = None,
    **kwargs,
) -> Playlist:
    """Like ``recommend``, but the candidates come from a Spotify search (see ``moodtune.music.spotify``).

    ``client``: a ``SpotifyClient`` (default: ``SpotifyClient.from_env()``). Valence/arousal
    come from ``catalog`` (default: the user catalogue or starter) when the track is known
    there, else from the searched genre's statistics.
    """
    from moodtune.music.spotify import SpotifyClient, spotify_candidates

    aff = Affect.coerce(affect)
    plan = make_plan(aff, strategy, int(n))
    client = client or SpotifyClient.from_env()
    known = open_catalog(catalog)
    tracks = spotify_candidates(client, plan.targets, catalog=known)
    if not tracks:
        raise MoodtuneError("Spotify search returned no tracks for this mood")
    store = CatalogStore.memory(description=f"Spotify search ({len(tracks)} candidates; values from {known.description} or genre estimates)")
    store.add_tracks(tracks)
    return recommend(aff, strategy=strategy, n=n, catalog=store, user=user, **kwargs)
