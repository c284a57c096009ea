"""``moodtune recommend``: music for a face, an emotion, or a valence/arousal point."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from moodtune import choices
from moodtune.cli.common import CatalogOpt, DatabaseOpt, DetectorOpt, Emotion, JsonOpt, ModelOpt, Strategy, UserOpt, usage_error, value
from moodtune.contract import to_json
from moodtune.errors import MoodtuneError
from moodtune.music.recommend import PLAYLIST_RULE

EPILOG = "\b\nstrategies:\n" + choices.strategy_help() + "\n\n" + PLAYLIST_RULE + """

\b
catalogue: --catalog takes a catalogue database, a CSV of a supported schema (imported into a
temporary catalogue), or 'starter'. Default: your catalogue (moodtune catalog import ...) when
it holds tracks, otherwise the starter catalogue shipped with moodtune.

\b
examples:
  moodtune recommend photo.jpg
  moodtune recommend --emotion sad --strategy lift --n 8
  moodtune recommend --va -0.6 0.7 --json
  moodtune recommend --text "tired but hopeful" --more
  moodtune recommend photo.jpg --text "a long day" --m3u evening.m3u8
  moodtune recommend group.jpg --group --catalog data_moods.csv
"""


def register(app: typer.Typer) -> None:
    app.command("recommend", epilog=EPILOG)(recommend)


def recommend(
    image: Annotated[Path | None, typer.Argument(metavar="[IMAGE]", show_default=False,
                                                 help="photo to analyse (largest face, or all faces with --group)")] = None,
    emotion: Annotated[Emotion | None, typer.Option(metavar="E", show_default=False,
                                                    help="use this emotion instead of a photo")] = None,
    va: Annotated[tuple[float, float] | None, typer.Option(metavar="V A", show_default=False,
                                                           help="use this valence and arousal, each in [-1, 1]")] = None,
    text: Annotated[str | None, typer.Option(metavar="TEXT", show_default=False,
                                             help="how you feel, in words; with IMAGE the two are combined")] = None,
    more: Annotated[int, typer.Option("--more", count=True, show_default=False,
                                      help="the next list for this mood (twice: the one after; see below)")] = 0,
    page: Annotated[int | None, typer.Option(min=0, max=50, metavar="N", show_default=False,
                                             help="list number N for this mood (0: the first; --more is --page 1)")] = None,
    m3u: Annotated[Path | None, typer.Option("--m3u", metavar="FILE", show_default=False,
                                             help="also write the playlist to FILE (.m3u8, .m3u or .xspf)")] = None,
    strategy: Annotated[Strategy, typer.Option(help="how to pick the music (see below)")] = Strategy("auto"),
    n: Annotated[int, typer.Option("--n", min=1, help="playlist length")] = 10,
    catalog: CatalogOpt = None,
    user: UserOpt = "default",
    stateless: Annotated[bool, typer.Option("--stateless", help="ignore feedback and history (nothing is recorded)")] = False,
    group: Annotated[bool, typer.Option("--group", help="several faces: use their mean affect instead of the largest face")] = False,
    detector: DetectorOpt = None,
    model: ModelOpt = None,
    spotify: Annotated[bool, typer.Option("--spotify", help="take candidates from a Spotify search (needs SPOTIFY_CLIENT_ID/SECRET)")] = False,
    save_to_spotify: Annotated[str | None, typer.Option(metavar="NAME", show_default=False,
                                                        help="save the playlist to your Spotify account under NAME")] = None,
    json_out: JsonOpt = False,
    database: DatabaseOpt = None,
) -> int:
    """Recommend music for a face (IMAGE), an emotion, a valence/arousal point, or words (--text)."""
    from moodtune.music.recommend import recommend as make_playlist
    from moodtune.music.recommend import recommend_from_spotify
    from moodtune.music.types import Affect

    given = sum(x is not None for x in (image, emotion, va))
    if given > 1 or (given == 0 and text is None) or (text is not None and (emotion is not None or va is not None)):
        usage_error("give exactly one of IMAGE, --emotion E or --va V A (or --text TEXT, alone or with IMAGE)")
    if va is not None and not all(-1 <= x <= 1 for x in va):
        usage_error(f"--va: valence and arousal must lie in [-1, 1], got {va[0]:g} {va[1]:g}")
    if more and page is not None:
        usage_error("give --more or --page N, not both")
    if text is not None and spotify:
        usage_error("--text does not combine with --spotify")
    if m3u is not None and m3u.suffix.lower() not in (".m3u8", ".m3u", ".xspf"):
        usage_error(f"--m3u: the file name must end in .m3u8, .m3u or .xspf, got {m3u.name!r}")
    faces = []
    affect: Affect | None = None
    if image is not None:
        faces = image_faces(image, value(detector), model)
        affect = Affect.from_faces(faces if group else faces[:1])
    elif emotion is not None:
        affect = Affect.from_emotion(value(emotion))
    elif va is not None:
        affect = Affect.from_va(*va)
    kwargs = dict(strategy=value(strategy), n=n, catalog=catalog, user=None if stateless else user,
                  page=more if page is None else page)
    if spotify:
        playlist = recommend_from_spotify(affect, **kwargs)
    else:
        playlist = make_playlist(affect, text=text, **kwargs)
    if m3u is not None:
        from moodtune.music.export import save_playlist
        from moodtune.music.recommend import open_catalog

        written = save_playlist(playlist, m3u, open_catalog(catalog))

    saved = _save(playlist, save_to_spotify) if save_to_spotify else None
    if json_out:
        out = to_json(playlist)
        if faces:
            out["faces"] = [dict(f, used=(group or i == 0)) for i, f in enumerate(to_json(faces))]
        if saved:
            out["spotify_playlist"] = {"id": saved.id, "url": saved.url, "tracks": saved.tracks}
        if m3u is not None:
            out["playlist_file"] = str(written)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(format_playlist(playlist, faces, group))
    if m3u is not None:
        print(f"\nplaylist written to {written}")
    if saved:
        print(f"\nsaved to Spotify: {saved.name} ({saved.tracks} tracks) {saved.url}")
    return 0


def image_faces(image: Path, detector: str | None, model: str | None) -> list:
    """The faces of ``image``; ``MoodtuneError`` when it is missing or shows none."""
    from moodtune import analyze
    from moodtune.video import is_video

    if not image.exists():
        raise MoodtuneError(f"image not found: {image}")
    if is_video(image):
        raise MoodtuneError(f"{image} is a video; recommend takes one photo (moodtune analyze {image} follows the "
                            "faces of a video over time)")
    faces = analyze(image, detector=detector, model=model)
    if not faces:
        raise MoodtuneError(f"no face found in {image}; try another photo, or --emotion / --va")
    return faces


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
            f"face {i + 1}: box ({x}, {y}, {w}, {h})  {f.emotion} {f.confidence * 100:.0f}%{' (not sure)' if f.uncertain else ''}  "
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
