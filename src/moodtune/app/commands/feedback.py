"""``moodtune feedback``: like or skip a recommended track, so later playlists adapt."""

from __future__ import annotations

import argparse
import json
import os
import time

from moodtune.errors import MoodtuneError

EPILOG = """TRACK is a track id as printed by 'moodtune recommend --json' (a Spotify id or mt-...),
a Spotify URL/URI, or 'Title - Artist' (or a title that is unique in the catalogue).

Likes and skips adapt that user's genre and artist preferences; a skipped track is not
recommended to them again. Feedback is stored in <moodtune home>/feedback.sqlite and is
on disk before this command reports it.

examples:
  moodtune feedback "Clair de lune - Claude Debussy" --like
  moodtune feedback 4uLU6hMCjMI75M1A2tKUQC --skip --user ana
  moodtune feedback --list
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "feedback",
        help="like or skip a track so that later recommendations adapt",
        description="Record a like or a skip for a track (per user).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("track", nargs="?", metavar="TRACK")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--like", action="store_true", help="you liked it")
    act.add_argument("--skip", action="store_true", help="you skipped it / did not like it")
    act.add_argument("--list", action="store_true", help="show this user's recent feedback and learnt preferences")
    act.add_argument("--clear", action="store_true", help="forget this user's feedback and history")
    p.add_argument("--user", metavar="NAME", default=os.environ.get("MOODTUNE_USER", "default"),
                   help="whose feedback (default: $MOODTUNE_USER or 'default')")
    p.add_argument("--catalog", metavar="PATH", help="catalogue to look TRACK up in (default: yours, else the starter)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from moodtune.music.recommend import feedback, feedback_store

    if args.list or args.clear:
        fb = feedback_store()
        if args.clear:
            n = fb.clear(args.user)
            print(f"forgot {n} feedback events of {args.user}")
            return 0
        events = fb.events(args.user, limit=50)
        prefs = fb.preferences(args.user)
        if args.json:
            print(json.dumps({
                "user": args.user,
                "events": [e.__dict__ for e in events],
                "genres": prefs.genres, "artists": prefs.artists,
            }, indent=2, ensure_ascii=False))
            return 0
        if not events:
            print(f"no feedback from {args.user} yet")
            return 0
        for e in events:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.ts))
            print(f"{when}  {e.action:4s}  {e.title} — {e.artist}  ({e.track_id})")
        if prefs.genres:
            print("genre preferences: " + ", ".join(f"{g} {s:+.2f}" for g, s in sorted(prefs.genres.items(), key=lambda kv: -kv[1])))
        if prefs.artists:
            print("artist preferences: " + ", ".join(f"{a} {s:+.2f}" for a, s in sorted(prefs.artists.items(), key=lambda kv: -kv[1])))
        return 0
    if not args.track:
        raise MoodtuneError("give a TRACK and --like or --skip (or --list)")
    if not (args.like or args.skip):
        raise MoodtuneError("say --like or --skip")
    event = feedback(args.track, "like" if args.like else "skip", user=args.user, catalog=args.catalog)
    if args.json:
        print(json.dumps(event.__dict__, indent=2, ensure_ascii=False))
    else:
        print(f"saved: {args.user} {'liked' if event.action == 'like' else 'skipped'} {event.title} — {event.artist} ({event.track_id})")
    return 0
