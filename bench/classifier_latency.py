"""Time per face of emotion models through ONNX Runtime on one CPU thread (issue 3: ≤ 1 ms).

    python bench/classifier_latency.py [MODEL.onnx ...] [--rounds 20]

Default: the shipped model (``src/moodtune/assets/emotion.onnx``). Faces are real FER2013
PrivateTest crops when the data is there (``$MOODTUNE_DATA``), else random pixels (the time does
depend on the pixels, except for the gated mirror pass, which runs for unsure faces only). Two
figures per model: one face per call (a webcam stream) and 64 faces per call (an evaluation or a
crowd), each the median over ``--rounds`` rounds through the same 64 faces.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from moodtune.emotion.classifier import DEFAULT_MODEL, EmotionClassifier


def faces(n: int, size: int) -> np.ndarray:
    """``n`` real PrivateTest faces if FER2013 is available, else random ones."""
    try:
        from moodtune.training.data import load

        return load(ferplus=None).subset("PrivateTest").images[:n]
    except Exception:  # no data, or no training extra: random pixels time the same
        return np.random.default_rng(0).integers(0, 256, (n, size, size), dtype=np.uint8)


def per_face_ms(clf: EmotionClassifier, crops: np.ndarray, per_call: int, rounds: int) -> float:
    """Milliseconds per face classifying all ``crops``, ``per_call`` faces per ``predict`` call:
    the median over ``rounds`` rounds (after a warm-up round). Every round covers all the faces,
    so a model whose cost depends on the face (the gated mirror pass) is timed over a real mix."""
    batches = [crops[i : i + per_call] for i in range(0, len(crops), per_call)]
    times = []
    for _ in range(rounds + 1):
        t = time.perf_counter()
        for b in batches:
            clf.predict(b)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:]) * 1000 / len(crops)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL])
    ap.add_argument("--rounds", type=int, default=20, help="timed rounds over the 64 faces per row")
    args = ap.parse_args()
    print(f"one ONNX Runtime thread, {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}\n")
    print("| model | precision | mirror TTA | MB | ms per face, 1 per call | ms per face, 64 per call |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        clf = EmotionClassifier.load(path, threads=1)
        crops = faces(64, clf.input_size)
        single = per_face_ms(clf, crops, 1, args.rounds)
        batched = per_face_ms(clf, crops, 64, args.rounds)
        card = clf.card
        print(f"| {path.name} ({card.get('name', '?')}) | {card.get('precision', 'float')} | {card.get('tta', '?')} | "
              f"{path.stat().st_size / 1e6:.1f} | {single:.3f} | {batched:.3f} |")


if __name__ == "__main__":
    main()
