"""Strategies: how a listener's affect becomes a target (or a path of targets) for the playlist.

Every strategy returns a ``Plan``: one (valence, arousal) target per playlist slot on the
music scale [0, 1], the weights of valence and arousal in the fit, and a lyrics preference.

* ``match``: mood-congruent. The target is the listener's own point. For negative moods
  vocal tracks are preferred a little: lyrics intensify sad and angry music, while they
  weaken happy and calm music (Ali & Peynircioğlu 2006).
* ``calm``: low arousal with a gently positive valence, vocals welcome (instrumental tracks
  get an edge of ``CALM_LYRICS``), for angry, fearful or disgusted listeners, with a strong
  penalty on repeated genres (not a list of ten classical relaxation pieces). ``CALM_LEAN``
  (0: measured to cost data_moods 0.14 of P@50 at 0.15) would lean the target toward the
  listener's own point. Arousal counts four
  times as much as valence: getting the energy down is the point, and audio valence is least
  reliable for quiet instrumental music.
* ``energize``: high arousal, positive valence.
* ``balanced``: for a neutral face (the seed papers: "balanced: popular / mixed"): mid arousal,
  gently positive valence, popularity counting five times as much as elsewhere and a stronger
  penalty on repeated genres, so a plain face gets a varied, familiar mix rather than a sleep list.
* ``lift``: the music-therapy iso principle. The playlist starts at the listener's point and
  moves in equal steps to a positive, moderately energetic target; valence never goes down
  from one track to the next. For sadness this beats both staying sad and jumping straight
  to happy music: self-selected sad music can deepen sadness (Garrido & Schubert 2015), and
  a sad→happy sequence gave the best mood after sadness induction (Starcke et al. 2021).
* ``auto`` (default): ``calm`` for negative high-arousal affect (angry, fear, disgust),
  ``lift`` for negative low-arousal affect (sad), ``balanced`` for neutral, ``match`` otherwise
  (happy, surprise). The output says which one ran and why.

The strategies are one table of data, ``STRATEGIES`` (``list_strategies()`` gives the names):
the CLI's choices, the HTTP enum and the help text are built from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from moodtune.errors import MoodtuneError
from moodtune.music.features import face_to_music
from moodtune.music.types import Affect

#: Positive end point of ``lift`` and the ``energize``/``calm`` targets, on the face scale [-1, 1].
LIFT_END = (0.8, 0.5)  # near the happy class point (1.0, 0.47), a little calmer
ENERGIZE_POINT = (0.6, 0.8)
CALM_POINT = (0.2, -0.9)
BALANCED_POINT = (0.3, 0.0)  # gently positive, mid arousal

#: match: weight of valence against arousal in the fit (checked across sets by tools/music_cross_set.py)
MATCH_W_VALENCE = 1.0

#: auto: valence at or below this counts as negative affect; arousal above the split as high.
NEGATIVE_VALENCE = -0.2
AROUSAL_SPLIT = 0.1


@dataclass
class Plan:
    """What the ranking aims for.

    ``targets``: one (valence, arousal) pair per slot, music scale [0, 1].
    ``w_valence``, ``w_arousal``: weights of the squared differences in the fit distance.
    ``lyrics``: > 0 prefers vocal tracks, < 0 instrumental ones (score term
    ``lyrics * (instrumentalness - 0.5)``). ``monotonic``: valence must not decrease.
    """

    strategy: str
    reason: str
    targets: list[tuple[float, float]]
    w_valence: float = 1.0
    w_arousal: float = 1.0
    lyrics: float = 0.0
    monotonic: bool = False
    #: weight of popularity (0..1) in the score, and penalty per earlier pick of the same genre
    popularity: float = 0.02
    genre_repeat: float = 0.01

    @property
    def single_target(self) -> bool:
        return len(set(self.targets)) == 1


def _point(v: float, a: float) -> tuple[float, float]:
    return (face_to_music(v), face_to_music(a))


def _fmt(affect: Affect) -> str:
    return f"{affect.emotion} (valence {affect.valence:+.2f}, arousal {affect.arousal:+.2f})"


def plan_match(affect: Affect, n: int) -> Plan:
    lyrics = 0.1 * -affect.valence if affect.valence <= NEGATIVE_VALENCE else 0.0  # clearly negative moods only
    reason = f"music that mirrors {_fmt(affect)}"
    if lyrics > 0:
        reason += "; vocal tracks preferred, as lyrics intensify negative moods (Ali & Peynircioglu 2006)"
    return Plan("match", reason, [_point(affect.valence, affect.arousal)] * n, w_valence=MATCH_W_VALENCE, lyrics=lyrics)


#: calm: how far the target leans toward the listener's own point (so angry, fearful and disgusted
#: listeners get neighbouring, not identical, calm lists), and the instrumental preference.
CALM_LEAN = 0.0
CALM_LYRICS = -0.1


def plan_calm(affect: Affect, n: int) -> Plan:
    reason = f"low-arousal, gently positive music from several genres to bring {_fmt(affect)} down"
    v = CALM_POINT[0] + CALM_LEAN * (affect.valence - CALM_POINT[0])
    a = CALM_POINT[1] + CALM_LEAN * (affect.arousal - CALM_POINT[1])
    return Plan("calm", reason, [_point(v, a)] * n, w_valence=0.25, w_arousal=1.0, lyrics=CALM_LYRICS, genre_repeat=0.06)


def plan_energize(affect: Affect, n: int) -> Plan:
    return Plan("energize", f"upbeat, high-energy, positive music for {_fmt(affect)}", [_point(*ENERGIZE_POINT)] * n)


def _smoothstep(t: float) -> float:
    """Ease in and out: the path lingers at the listener's mood, moves, then settles at the target."""
    return t * t * (3.0 - 2.0 * t)


def plan_lift(affect: Affect, n: int) -> Plan:
    v0, a0 = affect.valence, affect.arousal
    v1, a1 = LIFT_END
    if v0 >= v1:
        p = plan_match(affect, n)
        p.strategy = "lift"
        p.reason = f"{_fmt(affect)} is already at the positive end, so the playlist matches it"
        return p
    steps = max(1, n - 1)
    ease = [_smoothstep(i / steps) for i in range(n)]
    targets = [_point(v0 + (v1 - v0) * e, a0 + (a1 - a0) * e) for e in ease]
    reason = (
        f"iso principle: start where {_fmt(affect)} is and move step by step to "
        f"positive, moderately energetic music, valence never decreasing (Starcke et al. 2021)"
    )
    return Plan("lift", reason, targets, monotonic=True)


def plan_balanced(affect: Affect, n: int) -> Plan:
    reason = f"a popular, varied mix, gently positive at mid energy, for {_fmt(affect)}"
    return Plan("balanced", reason, [_point(*BALANCED_POINT)] * n, w_valence=0.5, popularity=0.1, genre_repeat=0.04)


@dataclass(frozen=True)
class Strategy:
    """One entry of the strategy table: its name, one line for ``--help``, and its planner
    (``None`` for ``auto``, which picks another strategy per affect)."""

    name: str
    description: str
    planner: Callable[[Affect, int], Plan] | None


STRATEGIES: tuple[Strategy, ...] = (
    Strategy("auto", "the default: calm for angry/fear/disgust, lift for sad, balanced for neutral, match for happy/surprise", None),
    Strategy("match", "mood-congruent: music at the listener's valence/arousal point", plan_match),
    Strategy("calm", "low arousal, gently positive valence, instrumental a little preferred (for angry/fear/disgust)", plan_calm),
    Strategy("energize", "high arousal, positive valence", plan_energize),
    Strategy("lift", "iso principle: start at the listener's mood, step toward positive music, valence never decreasing", plan_lift),
    Strategy("balanced", "for a neutral face: mid energy, gently positive, popular and varied", plan_balanced),
)
_BY_NAME = {s.name: s for s in STRATEGIES}
#: One line per strategy, for ``--help`` and the README (derived from ``STRATEGIES``).
DESCRIPTIONS = {s.name: s.description for s in STRATEGIES}


def list_strategies() -> list[str]:
    """The strategy names, ``auto`` first."""
    return [s.name for s in STRATEGIES]


def choose_auto(affect: Affect) -> tuple[str, str]:
    """(strategy, why) for ``auto``: by the recognised emotion; a manual point goes by its quadrant."""
    emotion = affect.emotion if affect.source != "valence/arousal" else None
    agitated = emotion in ("angry", "fear", "disgust") or (
        emotion is None and affect.valence <= NEGATIVE_VALENCE and affect.arousal > AROUSAL_SPLIT)
    low = emotion == "sad" or (emotion is None and affect.valence <= NEGATIVE_VALENCE)
    if agitated:
        return "calm", (
            f"auto chose calm: {affect.emotion} is a negative, high-arousal state; "
            "mood-matching music would sustain the agitation, calming music lowers arousal"
        )
    if emotion == "neutral":
        return "balanced", "auto chose balanced: a neutral face is not a state to steer or to mirror"
    if low:
        return "lift", (
            f"auto chose lift: {affect.emotion} is a negative, low-arousal state; self-selected sad music can deepen "
            "sadness (Garrido & Schubert 2015), a sad-to-happy sequence helps most (Starcke et al. 2021)"
        )
    return "match", f"auto chose match: {affect.emotion} is not a state to steer away from, so the music mirrors it"


def make_plan(affect: Affect, strategy: str = "auto", n: int = 10) -> Plan:
    """The ``Plan`` for ``affect``; raises ``MoodtuneError`` for an unknown strategy."""
    name = (strategy or "auto").strip().lower()
    if name not in DESCRIPTIONS:
        raise MoodtuneError(f"unknown strategy {strategy!r}; expected one of: {', '.join(list_strategies())}")
    if n < 1:
        raise MoodtuneError(f"playlist length must be at least 1, got {n}")
    auto_reason = None
    if name == "auto":
        name, auto_reason = choose_auto(affect)
    planner = _BY_NAME[name].planner
    assert planner is not None  # only auto has none, and auto was resolved above
    plan = planner(affect, n)
    if auto_reason:
        plan.reason = f"{auto_reason}; {plan.reason}"
    return plan
