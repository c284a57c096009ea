"""Real audio files for the playback tests: short chords written as WAV (stdlib), and as OGG
Vorbis, FLAC and MP3 when soundfile (libsndfile) is installed. Titles come from the
"Artist - Title" file names; one WAV also carries ID3 tags (mutagen)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 22050


def chord(seconds: float, freqs=(220.0, 277.2, 329.6), rate: int = RATE) -> np.ndarray:
    """A soft major chord with a fade in/out, float32 in [-0.5, 0.5]."""
    t = np.arange(int(seconds * rate)) / rate
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    fade = np.minimum(1, np.minimum(t, t[-1] - t) / 0.05)
    return (0.5 * y * fade).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, rate: int = RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((y * 32767).astype("<i2").tobytes())
    return path


def tag_genre(path: Path, genre: str) -> None:
    """Set the genre tag (mutagen: easy tags where the format has them, an ID3 frame in a WAV)."""
    import mutagen

    f = mutagen.File(str(path), easy=True)
    if path.suffix.lower() == ".wav":
        from mutagen.id3 import TCON

        f.add_tags()
        f.tags.add(TCON(encoding=3, text=genre))
    else:
        if f.tags is None:
            f.add_tags()
        f["genre"] = genre
    f.save()


GENRES = ("pop", "classical", "ambient", "dance", "jazz", "rock")


def music_folder(root: Path, seconds: float = 3.0, genres=GENRES) -> list[Path]:
    """A folder of distinct tracks tagged with ``genres`` in turn (so the catalogue can place them on the
    valence/arousal plane without librosa): WAVs always, OGG/FLAC/MP3 where soundfile encodes them."""
    files = [
        write_wav(root / "Test Band - Morning Sine.wav", chord(seconds)),
        write_wav(root / "sub" / "Test Band - Evening Sine.wav", chord(seconds, (196.0, 233.1, 293.7))),
        write_wav(root / "Quiet Trio - Slow Hum.wav", chord(seconds, (130.8, 164.8, 196.0))),
    ]
    try:
        import soundfile as sf
    except ImportError:
        sf = None
    for name, fmt, sub in (("Test Band - Ogg Tone.ogg", "OGG", "VORBIS"), ("Test Band - Flac Tone.flac", "FLAC", "PCM_16"),
                           ("Test Band - Mp3 Tone.mp3", "MP3", "MPEG_LAYER_III")):
        if sf is None:
            break
        try:
            sf.write(str(root / name), chord(seconds, (261.6, 329.6, 392.0)), RATE, format=fmt, subtype=sub)
            files.append(root / name)
        except (sf.LibsndfileError, ValueError, TypeError):
            pass  # this libsndfile cannot encode the format
    for i, f in enumerate(files):
        tag_genre(f, genres[i % len(genres)])
    return files
