"""``moodtune train MODEL``: train a zoo model on FER2013, checkpoint every epoch, export ONNX + card."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an emotion model on FER2013 (needs moodtune[train])",
        description="Train MODEL on FER2013 Training, select on PublicTest, export model.onnx and its model card "
        "into --out. Stop any time: --resume continues from the last finished epoch.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", help="zoo name: cnn3, mini_xception, xception, resnet50v2, vgg_kc, moodnet")
    p.add_argument("--epochs", type=int, help="epochs to train (default 40); with --resume: change the run's length")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.03, help="peak learning rate (SGD, Nesterov momentum 0.9)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--schedule", choices=["cosine", "plateau"], default="cosine")
    p.add_argument("--patience", type=int, default=0, help="early stop after N epochs without PublicTest gain (0: off)")
    p.add_argument("--ferplus-mix", type=float, default=0.25, help="weight of the FER+ vote distribution in the targets")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--limit", type=int, help="use N random faces per split (smoke runs)")
    p.add_argument("--data", help="FER2013 image folder or Kaggle fer2013.csv (default <data>/fer2013)")
    p.add_argument("--weights", help="initialise from this local state-dict file (e.g. ImageNet weights you supply)")
    p.add_argument("--init-onnx", help="warm start from an exported moodnet .onnx (int8 or float), e.g. the shipped model")  # issue 13
    p.add_argument("--logit-adjust", type=float, default=0.0, help="tau of the logit-adjusted (class-balanced) loss")  # issue 13
    p.add_argument("--augment", choices=["deployment", "basic"], default="deployment", help="training augmentation")  # issue 13
    p.add_argument("--no-tta", action="store_true", help="export without mirror test-time augmentation")
    p.add_argument("--out", help="run folder (default runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=run)


def run(args) -> int:
    from moodtune.training.train import TrainConfig, train

    cfg = TrainConfig(
        model=args.model, epochs=args.epochs or 40, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, patience=args.patience, ferplus_mix=args.ferplus_mix, label_smoothing=args.label_smoothing,
        seed=args.seed, device=args.device, limit=args.limit, data=args.data, weights=args.weights,
        export_tta=not args.no_tta, init_onnx=args.init_onnx, logit_adjust=args.logit_adjust, augment=args.augment, out=args.out or f"runs/{args.model}",
    )
    train(cfg, resume=args.resume, epochs=args.epochs)
    return 0
