"""``moodtune benchmark-models``: the papers' comparison table, from our own runs only.

Rows: the classical baselines (``moodtune.training.baselines``; computed once, then cached in
``<runs>/benchmark-cache.json``), every finished CNN run ``<runs>/*/best.pt`` (evaluated on
PrivateTest with ``moodtune.training.evaluate.evaluate``, cached by checkpoint file), the model
the package ships (through the runtime, as users run it), one row "not trained yet" per zoo
model without a run, and the ``fer`` package reference row measured by
the team. A run without ``model.onnx`` is still training: it is listed with its PublicTest score
and PrivateTest is not touched (selection stays on PublicTest; PrivateTest once per finished model).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

SPLIT = "PrivateTest"
CACHE = "benchmark-cache.json"

#: Display names of the zoo models (``moodtune.training.zoo.MODELS``) in the table.
DISPLAY = {
    "cnn3": "3-block CNN (32/64/128)",
    "mini_xception": "mini-Xception",
    "xception": "Xception",
    "resnet50v2": "ResNet50V2",
    "vgg_kc": "VGG (Khaireddin & Chen)",
    "moodnet": "moodnet (flagship)",
    "moodnet_wide": "moodnet, 1.5x widths",
}

#: The ``fer`` package, measured by the team on FER2013 PrivateTest (not re-run by this command).
FER_REFERENCE = {"algorithm": "`fer` package (its shipped model)", "accuracy": "0.658", "macro_f1": "0.639"}


def register(app: typer.Typer) -> None:
    app.command("benchmark-models")(benchmark_models)


def benchmark_models(
    out: Annotated[Path | None, typer.Option(metavar="FILE.md", show_default=False,
                                             help="also write the table (with how it was made) into this markdown file")] = None,
    baselines: Annotated[bool, typer.Option(help="include the classical baselines (SVM, k-NN, Random Forest, Naive Bayes on HOG/LBP)")] = True,
    runs: Annotated[Path, typer.Option(metavar="DIR", help="folder holding one sub-folder per training run")] = Path("runs"),
    data: Annotated[str | None, typer.Option(metavar="DIR", show_default=False,
                                             help="FER2013 image folder or fer2013.csv (default: <data>/fer2013)")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="recompute instead of using cached results")] = False,
    include_unfinished: Annotated[bool, typer.Option("--include-unfinished",
                                                     help="also score runs still training (touches PrivateTest early)")] = False,
    limit: Annotated[int | None, typer.Option(min=1, show_default=False,
                                              help="smoke run: N random faces per split (numbers not comparable)")] = None,
) -> int:
    """Write the comparison table (classical baselines, CNN runs, fer package) on FER2013 PrivateTest.

    Baselines are computed once and cached in RUNS/benchmark-cache.json; CNN runs are every
    RUNS/*/best.pt whose run has finished (model.onnx exported).
    """
    return build_table(out, baselines, runs, data, refresh, include_unfinished, limit)


def build_table(out: Path | None, baselines: bool, runs: Path, data: str | None, refresh: bool,
                include_unfinished: bool, limit: int | None) -> int:
    """Build, print and optionally write the table (see ``benchmark_models``)."""
    from moodtune.errors import MoodtuneError
    from moodtune.training.data import load
    from moodtune.training.zoo import MODELS

    runs_dir = runs
    if runs_dir.exists() and not runs_dir.is_dir():
        raise MoodtuneError(f"--runs {runs_dir} is not a folder")
    fer = load(data, ferplus=None)
    signature = _data_signature(fer, limit)
    cache = {} if refresh else _read_cache(runs_dir / CACHE, signature)
    cache.setdefault("cnn", {})
    cache["data"] = signature
    rows = []

    if baselines:
        rows += _baseline_rows(fer, limit, cache)
        _write_cache(runs_dir / CACHE, cache)

    trained = set()
    for ckpt in sorted(runs_dir.glob("*/best.pt")):
        row, model = _cnn_row(ckpt, fer, limit, include_unfinished, cache)
        trained.add(model)
        rows.append(row)
        _write_cache(runs_dir / CACHE, cache)
    rows.append(_shipped_row(fer, limit, cache))
    _write_cache(runs_dir / CACHE, cache)
    for name in MODELS:
        if name not in trained:
            rows.append({"algorithm": DISPLAY.get(name, name), "input": "48x48 gray face", "note": "not trained yet"})
    rows.append({"algorithm": FER_REFERENCE["algorithm"], "input": "48x48 gray face", "accuracy": FER_REFERENCE["accuracy"],
                 "macro_f1": FER_REFERENCE["macro_f1"],
                 "note": "reference: measured by the team on PrivateTest, not re-run by this command"})

    table = markdown(rows)
    head = f"## FER2013 {SPLIT}: classical baselines, CNN runs and the `fer` package"
    if limit:
        head += f" (smoke run on {limit} faces per split: not comparable)"
    print(f"\n{head}\n\n{table}\n")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = sys.argv[2:] if sys.argv[1:2] == ["benchmark-models"] else []
        cmd = " ".join(["moodtune benchmark-models", *argv])
        out.write_text(
            f"{head}\n\nMade by `{cmd}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Accuracy and macro "
            f"precision/recall/F1 over the 7 classes on all {SPLIT} faces; \"acc. minus Training dups\" leaves out the "
            f"faces whose exact pixels also occur in Training. CNN rows use each run's best.pt (selected on "
            f"PublicTest), with mirror test-time augmentation when the run exports it.\n\n{table}\n"
        )
        print(f"table written to {out}")
    return 0


# --- rows --------------------------------------------------------------------------------------


def _baseline_rows(data, limit, cache) -> list[dict]:
    from moodtune.training import baselines as bl

    cfg = bl.config()
    cached = cache.get("baselines")
    if cached and cached.get("config") == cfg and set(cached.get("results", {})) == set(bl.BASELINES):
        results = [bl.BaselineResult.from_json(cached["results"][k]) for k in bl.BASELINES]
        _say(f"baselines: using cached results ({CACHE})")
    else:
        _say(f"baselines: computing {', '.join(bl.BASELINES)} (cached afterwards) ...")
        results = bl.run_baselines(data, split=SPLIT, train_limit=limit, test_limit=limit, log=_say)
        cache["baselines"] = {"config": cfg, "results": {r.key: r.to_json() for r in results}}
    rows = []
    for r in results:
        rows.append({
            "algorithm": r.algorithm, "input": f"{r.features.upper()} of 48x48 face", "accuracy": r.full.accuracy,
            "dedup": r.dedup.accuracy, "macro_precision": r.full.macro_precision, "macro_recall": r.full.macro_recall,
            "macro_f1": r.full.macro_f1, "epochs": "—", "size": "48x48", "hardware": r.hardware, "minutes": r.minutes,
            "note": f"{r.params}; fit on {r.n_train} Training faces (seed {r.seed}); minutes include "
                    f"{r.feature_seconds:.0f} s of feature extraction",
        })
    return rows


def _cnn_row(ckpt: Path, data, limit: int | None, include_unfinished: bool, cache) -> tuple[dict, str]:
    import torch

    from moodtune.training.train import TrainConfig

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    cfg = TrainConfig(**state["config"])
    folder = ckpt.parent
    history = _read_json(folder / "history.json", [])
    card = _read_json(folder / "model.json", {})
    finished = (folder / "model.onnx").is_file()
    epochs = f"{len(history)}/{cfg.epochs}" if history else f"{state.get('epoch', -1) + 1}/{cfg.epochs}"
    if finished and history and len(history) < cfg.epochs:
        epochs += " (early stop)"
    minutes = card.get("train_minutes", round(sum(h.get("seconds", 0) for h in history) / 60, 1) if history else None)
    row = {"algorithm": f"{DISPLAY.get(cfg.model, cfg.model)}", "input": f"48x48 gray face{', mirror TTA' if cfg.export_tta else ''}",
           "epochs": epochs, "size": f"{card.get('input_size', 48)}x{card.get('input_size', 48)}",
           "hardware": card.get("hardware", "—"), "minutes": minutes}
    run_note = f"run `{folder}`" + (f", initialised from `{cfg.weights}`" if cfg.weights else "")
    if cfg.limit:
        run_note += f", trained on {cfg.limit} faces only (smoke run)"
    if not finished and not include_unfinished:
        best = state.get("val_acc")
        row["note"] = (f"training in progress ({run_note}, best PublicTest {best:.4f}); PrivateTest not touched until it "
                       "finishes" if best is not None else f"training in progress ({run_note})")
        return row, cfg.model
    st = ckpt.stat()
    key = f"{ckpt.resolve()}|{st.st_size}|{st.st_mtime_ns}|tta={cfg.export_tta}|limit={limit}"
    row.update(_scores(key, str(ckpt), cfg.export_tta, data, limit, cache))
    row["note"] = run_note + ("" if finished else "; unfinished run")
    return row, cfg.model


def _shipped_row(data, limit: int | None, cache) -> dict:
    """The model in the package, scored through the runtime users run (precision and mirror mode as shipped)."""
    from moodtune.config import ASSETS

    onnx = ASSETS / "emotion.onnx"
    card = _read_json(onnx.with_suffix(".json"), {})
    key = f"shipped|{hashlib.sha1(onnx.read_bytes()).hexdigest()}|limit={limit}"
    size = card.get("input_size", 48)
    return {"algorithm": f"**moodtune as shipped** ({DISPLAY.get(card.get('name'), card.get('name', '?'))}, "
                         f"{card.get('precision', 'float')})",
            "input": f"48x48 gray face, mirror {card.get('tta', 'none')}", "epochs": card.get("epochs_run", "—"),
            "size": f"{size}x{size}", "hardware": card.get("hardware", "—"), "minutes": card.get("train_minutes"),
            **_scores(key, "shipped", False, data, limit, cache), "note": f"`src/moodtune/assets/emotion.onnx`. {card.get('note', '')}".strip()}


def _scores(key: str, target: str, tta: bool, data, limit: int | None, cache) -> dict:
    """PrivateTest scores of ``target`` (see ``evaluate.predictor``), from the cache when ``key`` is there."""
    from moodtune.training.evaluate import evaluate

    hit = cache["cnn"].get(key)
    if hit:
        _say(f"{target}: using cached evaluation")
    else:
        _say(f"{target}: evaluating on {SPLIT} ...")
        ev = evaluate(target, SPLIT, tta=tta, limit=limit, data=data)
        hit = {"accuracy": ev.full.accuracy, "dedup": ev.dedup.accuracy, "macro_precision": ev.full.macro_precision,
               "macro_recall": ev.full.macro_recall, "macro_f1": ev.full.macro_f1, "n": int(ev.full.support.sum())}
        cache["cnn"][key] = hit
    return {k: hit[k] for k in ("accuracy", "dedup", "macro_precision", "macro_recall", "macro_f1")}


# --- table ---------------------------------------------------------------------------------------


def _num(v, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(rows: list[dict]) -> str:
    """The comparison table; a row without scores shows its note ("not trained yet", "training in progress")."""
    out = ["| algorithm | features / input | accuracy | acc. minus Training dups | macro precision | macro recall | "
           "macro F1 | epochs | input size | hardware | minutes | notes |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = r.get("note", "")
        acc = _num(r.get("accuracy")) if r.get("accuracy") is not None else ("not trained yet" if note == "not trained yet" else "—")
        minutes = r.get("minutes")
        out.append(
            f"| {r['algorithm']} | {r.get('input', '—')} | {acc} | {_num(r.get('dedup'))} | {_num(r.get('macro_precision'))} | "
            f"{_num(r.get('macro_recall'))} | {_num(r.get('macro_f1'))} | {r.get('epochs', '—')} | {r.get('size', '—')} | "
            f"{r.get('hardware', '—')} | {'—' if minutes is None else f'{minutes:.1f}'} | "
            f"{'' if note == 'not trained yet' else note} |"
        )
    return "\n".join(out)


# --- cache ---------------------------------------------------------------------------------------


def _data_signature(data, limit) -> str:
    from moodtune.training.data import SPLITS

    h = hashlib.sha1()
    for split in SPLITS:
        s = data.subset(split)
        h.update(split.encode())
        h.update(s.images.tobytes())
        h.update(s.labels.tobytes())
    return f"{h.hexdigest()[:16]}|limit={limit}"


def _read_cache(path: Path, signature: str) -> dict:
    cache = _read_json(path, {})
    return cache if cache.get("data") == signature else {}


def _write_cache(path: Path, cache: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(path)
    except OSError as exc:
        _say(f"could not write the cache {path}: {exc}")


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
