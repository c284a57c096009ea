"""``moodtune recommend``: music for a face, an emotion, or a valence/arousal point."""

from __future__ import annotations

import argparse
import json
import os
import sys

from moodtune.errors import MoodtuneError

EPILOG = """strategies:
  auto      the default: calm for angry/fear/disgust, lift for sad, match for happy/surprise/neutral
  match     mood-congruent: music at the listener's own valence/arousal point
  calm      low arousal, gently positive valence, instrumental preferred
  energize  high arousal, positive valence
  lift      iso principle: start at the listener's mood and step toward positive music,
            valence never decreasing (Starcke et al. 2021; Garrido & Schubert 2015)

catalogue: --catalog takes a catalogue database, a CSV of a supported schema (imported into a
temporary catalogue), or 'starter'. Default: your catalogue (moodtune catalog import ...) when
it holds tracks, otherwise the starter catalogue shipped with moodtune.

examples:
  moodtune recommend photo.jpg
  moodtune recommend --emotion sad --strategy lift --n 8
  moodtune recommend --va -0.6 0.7 --json
  moodtune recommend group.jpg --group --catalog data_moods.csv
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recommend",
        help="recommend music for a face (IMAGE), an emotion, or a valence/arousal point",
        description="Recommend a playlist for the mood of a face, a named emotion, or a valence/arousal point.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", nargs="?", metavar="IMAGE", help="photo to analyse (largest face, or all faces with --group)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--emotion", metavar="E", help="use this emotion instead of a photo (angry, disgust, fear, happy, sad, surprise, neutral)")
    src.add_argument("--va", nargs=2, type=float, metavar=("V", "A"), help="use this valence and arousal, each in [-1, 1]")
    p.add_argument("--strategy", default="auto", choices=["auto", "match", "calm", "energize", "lift"], help="how to pick the music (default: auto; see below)")
    p.add_argument("--n", type=int, default=10, help="playlist length (default 10)")
    p.add_argument("--catalog", metavar="PATH", help="catalogue database, supported CSV, or 'starter'")
    p.add_argument("--user", metavar="NAME", default=os.environ.get("MOODTUNE_USER", "default"),
                   help="whose feedback to use and whose history to avoid repeating (default: $MOODTUNE_USER or 'default')")
    p.add_argument("--stateless", action="store_true", help="ignore feedback and history (nothing is recorded)")
    p.add_argument("--group", action="store_true", help="several faces: use their mean affect instead of the largest face")
    p.add_argument("--detector", metavar="NAME", help="face detector (see moodtune analyze --help)")
    p.add_argument("--model", metavar="ONNX", help="emotion model (default: the shipped one)")
    p.add_argument("--spotify", action="store_true", help="take candidates from a Spotify search (needs SPOTIFY_CLIENT_ID/SECRET)")
    p.add_argument("--save-to-spotify", metavar="NAME", help="save the playlist to your Spotify account under NAME (opens a login page once)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _faces(args):
    from moodtune import analyze

    if not os.path.exists(args.image):
        raise MoodtuneError(f"image not found: {args.image}")
    faces = analyze(args.image, detector=args.detector, model=args.model)
    if not faces:
        raise MoodtuneError(f"no face found in {args.image}; try another photo, or --emotion / --va")
    return faces


def run(args) -> int:
    from moodtune.music.recommend import recommend, recommend_from_spotify
    from moodtune.music.types import Affect

    given = sum(x is not None for x in (args.image, args.emotion, args.va))
    if given != 1:
        raise MoodtuneError("give exactly one of IMAGE, --emotion E or --va V A")
    faces = []
    if args.image:
        faces = _faces(args)
        affect = Affect.from_faces(faces if args.group else faces[:1])
    elif args.emotion:
        affect = Affect.from_emotion(args.emotion)
    else:
        affect = Affect.from_va(*args.va)
    user = None if args.stateless else args.user
    kwargs = dict(strategy=args.strategy, n=args.n, catalog=args.catalog, user=user)
    playlist = recommend_from_spotify(affect, **kwargs) if args.spotify else recommend(affect, **kwargs)

    saved = None
    if args.save_to_spotify:
        saved = _save(playlist, args.save_to_spotify)

    if args.json:
        from moodtune.contract import to_json

        out = playlist.to_dict()
        if faces:
            out["faces"] = [dict(to_json(f), used=(args.group or i == 0)) for i, f in enumerate(faces)]
        if saved:
            out["spotify_playlist"] = {"id": saved.id, "url": saved.url, "tracks": saved.tracks}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(format_playlist(playlist, faces, args.group))
    if saved:
        print(f"\nsaved to Spotify: {saved.name} ({saved.tracks} tracks) {saved.url}")
    return 0


def _save(playlist, name):
    from moodtune.music.spotify import SpotifyAuth, SpotifyClient

    client = SpotifyClient.from_env()
    auth = SpotifyAuth(client)

    def show(url):
        print(f"log in to Spotify to allow saving playlists:\n  {url}", file=sys.stderr)
        try:
            import webbrowser

            webbrowser.open(url)
        except Exception:
            pass

    token = auth.token(interactive=show)
    return client.save_playlist(token, name, playlist.tracks, description=f"moodtune: {playlist.strategy} for {playlist.affect.emotion}")


def format_playlist(playlist, faces=(), group: bool = False) -> str:
    """The human-readable output of ``moodtune recommend``."""
    lines = []
    for i, f in enumerate(faces):
        used = "  <- used" if (group or i == 0) and len(faces) > 1 else ""
        x, y, w, h = f.box
        lines.append(
            f"face {i + 1}: box ({x}, {y}, {w}, {h})  {f.emotion} {f.confidence * 100:.0f}%  "
            f"valence {f.valence:+.2f}  arousal {f.arousal:+.2f}{used}"
        )
    a = playlist.affect
    if not faces or (group and len(faces) > 1):
        lines.append(f"affect: {a.emotion} (valence {a.valence:+.2f}, arousal {a.arousal:+.2f}) from {a.source}")
    if playlist.reason.startswith("auto chose"):
        lines.append(f"strategy: {playlist.reason}")
    else:
        lines.append(f"strategy: {playlist.strategy}: {playlist.reason}")
    lines.append(f"catalogue: {playlist.catalog}")
    lines.append("")
    width = len(str(len(playlist.items)))
    for i, it in enumerate(playlist.items, 1):
        t = it.track
        meta = ", ".join(str(x) for x in (t.year, t.genre) if x)
        v = "?" if t.valence is None else f"{t.valence:.2f}"
        e = "?" if t.energy is None else f"{t.energy:.2f}"
        lines.append(f"{i:>{width}}. {t.title} — {t.artist}" + (f" ({meta})" if meta else "") + f"  v {v} / e {e}")
        lines.append(f"{'':>{width}}  why: {it.why}")
    if not playlist.items:
        lines.append("(the catalogue has no tracks to recommend)")
    return "\n".join(lines)
