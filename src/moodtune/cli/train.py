"""``moodtune train MODEL``: train a zoo model on FER2013, checkpoint every epoch, export ONNX + card."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer


class Schedule(str, Enum):
    cosine = "cosine"
    plateau = "plateau"


class Augment(str, Enum):
    """The names of ``moodtune.training.augment.POLICIES`` (that module needs torch; a test checks they agree)."""

    deployment = "deployment"
    camera = "camera"
    robust = "robust"
    basic = "basic"

def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    model: Annotated[str, typer.Argument(help="a model of the zoo (moodtune.training.zoo.MODELS, e.g. moodnet, mini_xception)")],
    epochs: Annotated[int | None, typer.Option(min=1, show_default=False,
                                               help="epochs to train (default 40); with --resume: change the run's length")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    lr: Annotated[float, typer.Option(help="peak learning rate (SGD, Nesterov momentum 0.9)")] = 0.03,
    weight_decay: float = 5e-4,
    schedule: Annotated[Schedule, typer.Option()] = Schedule.cosine,
    patience: Annotated[int, typer.Option(min=0, help="early stop after N epochs without PublicTest gain (0: off)")] = 0,
    ferplus_mix: Annotated[float, typer.Option(min=0, max=1, help="weight of the FER+ vote distribution in the targets")] = 0.25,
    label_smoothing: Annotated[float, typer.Option(min=0, max=1)] = 0.0,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")] = "auto",
    limit: Annotated[int | None, typer.Option(min=1, show_default=False, help="use N random faces per split (smoke runs)")] = None,
    data: Annotated[str | None, typer.Option(show_default=False,
                                             help="FER2013 image folder or Kaggle fer2013.csv (default <data>/fer2013)")] = None,
    weights: Annotated[str | None, typer.Option(show_default=False,
                                                help="initialise from this local state-dict file (e.g. ImageNet weights you supply)")] = None,
    init_onnx: Annotated[str | None, typer.Option(metavar="PATH", show_default=False,
                                                  help="warm start from an exported moodnet ONNX file (e.g. the shipped model)")] = None,
    logit_adjust: Annotated[float, typer.Option(min=0, max=5, metavar="TAU",
                                                help="logit-adjusted loss CE(logits + TAU * log prior): favours macro recall (0: off)")] = 0.0,
    augment: Annotated[Augment, typer.Option(help="deployment: camera-like light, blur, noise, JPEG, low resolution, "
                                             "occlusion, framing 0.9-1.4x, roll ±20°; camera: the same camera families "
                                             "on basic's framing; robust: deployment with low light, blur, low resolution and a "
                                             "covered lower face about twice as often; "
                                             "basic: framing 0.87-1.18x, roll ±10°, mirror, patches")] = Augment.deployment,
    teacher: Annotated[list[str] | None, typer.Option(metavar="ONNX", show_default=False,
                                                      help="a teacher model (repeat for an ensemble): their mean answer on "
                                                           "each unaugmented Training face joins the target (see --distill)")] = None,
    distill: Annotated[float, typer.Option(min=0, max=1, help="weight of the teachers' answer in the target (with --teacher)")] = 0.5,
    no_tta: Annotated[bool, typer.Option("--no-tta", help="export without mirror test-time augmentation")] = False,
    out: Annotated[str | None, typer.Option(show_default=False, help="run folder (default runs/MODEL)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out from its last checkpoint")] = False,
) -> int:
    """Train an emotion model on FER2013 (needs moodtune[train]): select on PublicTest, export model.onnx and its card.

    Stop any time: --resume continues from the last finished epoch.
    """
    from moodtune.training.train import TrainConfig
    from moodtune.training.train import train as run_training

    cfg = TrainConfig(
        model=model, epochs=epochs or 40, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule.value,
        patience=patience, ferplus_mix=ferplus_mix, label_smoothing=label_smoothing, seed=seed, device=device, limit=limit,
        data=data, weights=weights, export_tta=not no_tta, out=out or f"runs/{model}",
        init_onnx=init_onnx, logit_adjust=logit_adjust, augment=augment.value,
        teachers=list(teacher or []), distill=distill if teacher else 0.0,
    )
    run_training(cfg, resume=resume, epochs=epochs)
    return 0
