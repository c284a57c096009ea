"""Ship a finished training run as the package's emotion model, if it is not worse than the shipped one.

    python tools/ship_model.py /root/moodtune-runs/moodnet-deploy --tta hflip-gated

Exports the run's best checkpoint (``model.onnx`` and its int8 copy ``model.int8.onnx``, each with
a card; the temperature fitted on PublicTest is in the graph), then applies the shipping rule on the
development sets only: the candidate must be at least as accurate as the shipped model on FER2013
PublicTest and on faces-wild-dev end to end (``moodtune.training.wild``), both through the runtime
classifier. Only then is PrivateTest read, ONCE, through the runtime path (``moodtune eval``), its
figures written into the card, and both files copied to ``src/moodtune/assets/emotion.{onnx,json}``.
``--dry-run`` stops after the development comparison.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from moodtune.config import ASSETS
from moodtune.training.evaluate import evaluate
from moodtune.training.export import TTA_MODES
from moodtune.training.train import finish
from moodtune.training.wild import score_wild


def development_scores(onnx: Path) -> dict:
    """PublicTest accuracy and macro recall, and faces-wild-dev accuracy, through the runtime classifier."""
    pub = evaluate(str(onnx), "PublicTest")
    wild = score_wild(str(onnx))
    return {"public_test": round(pub.full.accuracy, 4), "public_test_macro_recall": round(pub.full.macro_recall, 4),
            "faces_wild_dev": round(wild.accuracy, 4), "wild_neutral_as_angry": round(wild.neutral_as["angry"], 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="training run folder holding best.pt, or an exported .onnx model with its "
                    "card (e.g. an ensemble from moodtune.training.ensemble), shipped as it is")
    ap.add_argument("--note", default="", help="free text for the card (e.g. 'interim: epoch 1 of 30')")
    ap.add_argument("--precision", choices=("int8", "float"), default="int8",
                    help="ship the static int8 model (about 3x faster on CPU) or the float one")
    ap.add_argument("--tta", choices=("run", *TTA_MODES), default="run",
                    help="mirror test-time augmentation: as the run was configured, none, in the graph for every face, "
                         "or in the runtime for unsure faces only (decide on PublicTest: "
                         "`moodtune eval runs/NAME/best.pt --split PublicTest [--tta]`)")
    ap.add_argument("--clean-bn", action="store_true", help="export with the BatchNorm statistics of unaugmented "
                    "Training faces (train.finish clean_bn), not the augmented batches'")
    ap.add_argument("--dry-run", action="store_true", help="export and compare on the development sets, ship nothing")
    ap.add_argument("--skip-export", action="store_true", help="the run is already exported (model.onnx and cards)")
    args = ap.parse_args()
    if args.run.suffix == ".onnx":
        onnx = args.run
    else:
        onnx = args.run / "model.onnx" if args.skip_export else finish(args.run, tta=None if args.tta == "run" else args.tta,
                                                                       clean_bn=args.clean_bn)
        if args.precision == "int8":
            onnx = onnx.with_suffix(".int8.onnx")
    new, old = development_scores(onnx), development_scores(ASSETS / "emotion.onnx")
    print(f"candidate {onnx}: {new}\nshipped   {ASSETS / 'emotion.onnx'}: {old}")
    card_path = onnx.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["development"] = {"candidate": new, "replaced": old, "measured": time.strftime("%Y-%m-%d")}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    worse = [k for k in ("public_test", "faces_wild_dev") if new[k] < old[k]]
    if worse:
        print(f"not shipped: worse than the shipped model on {', '.join(worse)}")
        sys.exit(1)
    if args.dry_run:
        print("dry run: not worse on PublicTest and faces-wild-dev; nothing shipped, PrivateTest not read")
        return
    ev = evaluate(str(onnx), "PrivateTest")
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
