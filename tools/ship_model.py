"""Ship a finished training run as the package's emotion model.

    python tools/ship_model.py runs/moodnet

Exports the run's best checkpoint (``model.onnx`` and its int8 copy ``model.int8.onnx``, each with
a card), evaluates the chosen precision (int8 by default) ONCE on PrivateTest through the runtime
path (``moodtune eval``), writes those figures into its card and copies both files to
``src/moodtune/assets/emotion.{onnx,json}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from moodtune.config import ASSETS
from moodtune.training.evaluate import evaluate
from moodtune.training.export import TTA_MODES
from moodtune.training.train import finish


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="training run folder holding best.pt")
    ap.add_argument("--note", default="", help="free text for the card (e.g. 'interim: epoch 1 of 30')")
    ap.add_argument("--precision", choices=("int8", "float"), default="int8",
                    help="ship the static int8 model (about 3x faster on CPU) or the float one")
    ap.add_argument("--tta", choices=("run", *TTA_MODES), default="run",
                    help="mirror test-time augmentation: as the run was configured, none, in the graph for every face, "
                         "or in the runtime for unsure faces only (decide on PublicTest: "
                         "`moodtune eval runs/NAME/best.pt --split PublicTest [--tta]`)")
    args = ap.parse_args()
    onnx = finish(args.run, tta=None if args.tta == "run" else args.tta)
    if args.precision == "int8":
        onnx = onnx.with_suffix(".int8.onnx")
    ev = evaluate(str(onnx), "PrivateTest")
    card_path = onnx.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["private_test"] = {"full": ev.full.summary(), "minus_training_duplicates": ev.dedup.summary(),
                            "measured": time.strftime("%Y-%m-%d"), "command": "moodtune eval shipped --split PrivateTest"}
    if args.note:
        card["note"] = args.note
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    shutil.copy(onnx, ASSETS / "emotion.onnx")
    shutil.copy(card_path, ASSETS / "emotion.json")
    print(ev.table())
    print(f"shipped {onnx} → {ASSETS / 'emotion.onnx'} ({(ASSETS / 'emotion.onnx').stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
