"""``moodtune feedback``: like or skip a recommended track, so later playlists adapt."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from moodtune.cli.common import JsonOpt, UserOpt, usage_error

EPILOG = """\b
TRACK is a track id as printed by 'moodtune recommend --json' (a Spotify id or mt-...),
a Spotify URL/URI, or 'Title - Artist' (or a title that is unique in the catalogue).

\b
Likes and skips adapt that user's genre and artist preferences; a skipped track is not
recommended to them again. Feedback is stored in <moodtune home>/feedback.sqlite and is
on disk before this command reports it.

\b
examples:
  moodtune feedback "Clair de lune - Claude Debussy" --like
  moodtune feedback 4uLU6hMCjMI75M1A2tKUQC --skip --user ana
  moodtune feedback --list
"""


def register(app: typer.Typer) -> None:
    app.command("feedback", epilog=EPILOG)(feedback)


def feedback(
    track: Annotated[str | None, typer.Argument(metavar="[TRACK]", show_default=False, help="the track (see below)")] = None,
    like: Annotated[bool, typer.Option("--like", help="you liked it")] = False,
    skip: Annotated[bool, typer.Option("--skip", help="you skipped it / did not like it")] = False,
    list_: Annotated[bool, typer.Option("--list", help="show this user's recent feedback and learnt preferences")] = False,
    clear: Annotated[bool, typer.Option("--clear", help="forget this user's feedback and history")] = False,
    user: UserOpt = "default",
    catalog: Annotated[str | None, typer.Option(metavar="PATH", show_default=False,
                                                help="catalogue to look TRACK up in (default: yours, else the starter)")] = None,
    json_out: JsonOpt = False,
) -> int:
    """Like or skip a track so that later recommendations adapt (per user)."""
    if like + skip + list_ + clear > 1:
        usage_error("give only one of --like, --skip, --list, --clear")
    if list_ or clear:
        return show_or_clear(user, clear, json_out)
    if not track:
        usage_error("give a TRACK and --like or --skip (or --list)")
    if not (like or skip):
        usage_error("say --like or --skip")
    from moodtune.music.recommend import feedback as store_feedback

    event = store_feedback(track, "like" if like else "skip", user=user, catalog=catalog)
    if json_out:
        print(json.dumps(event.__dict__, indent=2, ensure_ascii=False))
    else:
        print(f"saved: {user} {'liked' if event.action == 'like' else 'skipped'} {event.title} — {event.artist} ({event.track_id})")
    return 0


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
