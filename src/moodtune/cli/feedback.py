"""``moodtune feedback``: like, skip, ... a recommended track, so later playlists adapt."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer

from moodtune import choices
from moodtune.cli.common import DatabaseOpt, JsonOpt, UserOpt, usage_error, value

if TYPE_CHECKING:
    from moodtune.choices import FeedbackAction_ as Action
else:
    Action = choices.FeedbackAction()

EPILOG = """\b
TRACK is a track id as printed by 'moodtune recommend --json' (a Spotify id or mt-...),
a Spotify URL/URI, or 'Title - Artist' (or a title that is unique in the catalogue).

\b
actions (--action, or the shortcuts --like / --skip):
  like      you liked it
  skip      you skipped it / did not like it: not recommended to you again
  played    you listened to it to the end
  closer    the camera saw your mood move toward the playlist's target while it played
  farther   the camera saw your mood move away from that target

\b
Every action teaches that user's ranking (see 'moodtune recommend --help'). Feedback is stored
in <moodtune home>/feedback.sqlite (or the --database) and is saved before this command reports it.

\b
examples:
  moodtune feedback "Clair de lune - Claude Debussy" --like
  moodtune feedback 4uLU6hMCjMI75M1A2tKUQC --skip --user ana
  moodtune feedback 4uLU6hMCjMI75M1A2tKUQC --action played
  moodtune feedback --list
"""


def register(app: typer.Typer) -> None:
    app.command("feedback", epilog=EPILOG)(feedback)


def feedback(
    track: Annotated[str | None, typer.Argument(metavar="[TRACK]", show_default=False, help="the track (see below)")] = None,
    like: Annotated[bool, typer.Option("--like", help="you liked it")] = False,
    skip: Annotated[bool, typer.Option("--skip", help="you skipped it / did not like it")] = False,
    action: Annotated[Action | None, typer.Option(metavar="ACTION", show_default=False,
                                                  help="what happened (see below); --like is --action like")] = None,
    list_: Annotated[bool, typer.Option("--list", help="show this user's recent feedback and learnt preferences")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="forget this user's feedback and history")] = False,
    user: UserOpt = "default",
    catalog: Annotated[str | None, typer.Option(metavar="PATH", show_default=False,
                                                help="catalogue to look TRACK up in (default: yours, else the starter)")] = None,
    json_out: JsonOpt = False,
    database: DatabaseOpt = None,
) -> int:
    """Tell moodtune what you made of a track (like, skip, played, ...) so later playlists adapt (per user)."""
    if like + skip + (action is not None) + list_ + clear > 1:
        usage_error("give only one of --like, --skip, --action, --list, --clear")
    if list_ or clear:
        return show_or_clear(user, clear, json_out)
    if not track:
        usage_error("give a TRACK and --like, --skip or --action ACTION (or --list)")
    if not (like or skip or action):
        usage_error("say --like or --skip (or --action ACTION)")
    from moodtune.music.recommend import feedback as store_feedback

    event = store_feedback(track, "like" if like else "skip" if skip else value(action), user=user, catalog=catalog)
    if json_out:
        print(json.dumps(event.__dict__, indent=2, ensure_ascii=False))
    else:
        print(f"saved: {user} {PAST.get(event.action, event.action)} {event.title} — {event.artist} ({event.track_id})")
    return 0


#: How the confirmation line says each action.
PAST = {"like": "liked", "skip": "skipped", "played": "played", "closer": "moved closer to the mood with",
        "farther": "moved away from the mood with"}


def show_or_clear(user: str, clear: bool, json_out: bool) -> int:
    """``--list`` (recent events and learnt preferences) or ``--clear`` for ``user``."""
    from moodtune.music.recommend import feedback_store

    fb = feedback_store()
    if clear:
        print(f"forgot {fb.clear(user)} feedback events of {user}")
        return 0
    events = fb.events(user, limit=50)
    prefs = fb.preferences(user)
    if json_out:
        print(json.dumps({"user": user, "events": [e.__dict__ for e in events], "genres": prefs.genres,
                          "artists": prefs.artists}, indent=2, ensure_ascii=False))
        return 0
    if not events:
        print(f"no feedback from {user} yet")
        return 0
    for e in events:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.ts))
        print(f"{when}  {e.action:4s}  {e.title} — {e.artist}  ({e.track_id})")
    if prefs.genres:
        print("genre preferences: " + ", ".join(f"{g} {s:+.2f}" for g, s in sorted(prefs.genres.items(), key=lambda kv: -kv[1])))
    if prefs.artists:
        print("artist preferences: " + ", ".join(f"{a} {s:+.2f}" for a, s in sorted(prefs.artists.items(), key=lambda kv: -kv[1])))
    return 0
