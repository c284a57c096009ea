"""A tiny real training run: interrupted after one epoch, resumed; then ONNX parity, ``moodtune eval``
(table and ``--report``) and ``moodtune benchmark-models`` on what it produced."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodtune.cli import main  # noqa: E402
from moodtune.config import ASSETS, data_dir  # noqa: E402
from moodtune.emotion.classifier import EmotionClassifier  # noqa: E402
from moodtune.emotion.labels import CLASSES  # noqa: E402
from moodtune.training import train as train_mod  # noqa: E402
from moodtune.training.data import load_csv  # noqa: E402
from moodtune.training.evaluate import evaluate  # noqa: E402
from moodtune.training.export import TTA_GATE, Deployable, export_onnx  # noqa: E402
from moodtune.training.report import write_report  # noqa: E402
from moodtune.training.train import TrainConfig, train  # noqa: E402
from moodtune.training.zoo import create_model  # noqa: E402

FER = data_dir() / "fer2013"
HAVE_DATA = (FER / "meta.csv").is_file() and (FER / "images").is_dir()
pytestmark = [pytest.mark.slow, pytest.mark.shared, pytest.mark.skipif(not HAVE_DATA, reason=f"FER2013 not found at {FER}")]

PER_SPLIT = {"Training": 192, "PublicTest": 64, "PrivateTest": 64}
LIMIT, BATCH = 128, 64  # 2 steps per epoch
PNG = b"\x89PNG\r\n\x1a\n"


def config(out: Path, data: Path) -> TrainConfig:
    return TrainConfig(model="mini_xception", epochs=2, batch_size=BATCH, lr=0.01, limit=LIMIT, data=str(data), out=str(out))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A Kaggle-style CSV of the first real faces of each split."""
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    count = dict.fromkeys(PER_SPLIT, 0)
    with open(FER / "meta.csv", newline="") as f, open(path, "w") as out:
        out.write("emotion,pixels,Usage\n")
        for row in csv.DictReader(f):
            if count[row["usage"]] >= PER_SPLIT[row["usage"]]:
                continue
            count[row["usage"]] += 1
            img = cv2.imread(str(FER / row["png"]), cv2.IMREAD_GRAYSCALE)
            out.write(f"{CLASSES.index(row['label'])},{' '.join(map(str, img.ravel()))},{row['usage']}\n")
            if count == PER_SPLIT:
                break
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, dataset) -> dict:
    """An uninterrupted reference run, and the same run interrupted in epoch 2 then resumed."""
    root = tmp_path_factory.mktemp("runs")
    reference = train(config(root / "reference", dataset))

    steps = LIMIT // BATCH
    calls = {"n": 0}
    real_augment = train_mod.augment

    def interrupt_in_epoch_2(x, *a, **kw):
        calls["n"] += 1
        if calls["n"] > steps:  # first batch of epoch 2: Ctrl-C
            raise KeyboardInterrupt
        return real_augment(x, *a, **kw)

    run = root / "mini_xception"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_mod, "augment", interrupt_in_epoch_2)
        with pytest.raises(KeyboardInterrupt):
            train(config(run, dataset))
    after_interrupt = {
        "files": sorted(p.name for p in run.iterdir()),
        "history": json.loads((run / "history.json").read_text()),
        "epoch": torch.load(run / "last.pt", map_location="cpu", weights_only=False)["epoch"],
    }
    # --resume needs only the run folder: the config comes from the checkpoint.
    resumed = train(TrainConfig(model="mini_xception", out=str(run)), resume=True)
    return {"root": root, "run": run, "onnx": resumed, "reference": reference, "after_interrupt": after_interrupt}


def _same_history(a: list[dict], b: list[dict], rel: float) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if k != "seconds":
                assert x[k] == pytest.approx(y[k], rel=rel, abs=1e-7), (k, x, y)


def test_interrupted_run_resumes_to_the_same_history(runs):
    ai = runs["after_interrupt"]
    assert ai["epoch"] == 0 and len(ai["history"]) == 1
    assert {"last.pt", "best.pt", "history.json"} <= set(ai["files"]) and "model.onnx" not in ai["files"]
    ref = json.loads((runs["root"] / "reference" / "history.json").read_text())
    got = json.loads((runs["run"] / "history.json").read_text())
    _same_history(got[:1], ref[:1], rel=1e-6)  # epoch 1 before the interruption is the uninterrupted epoch 1
    _same_history(got, ref, rel=1e-4)  # and the resumed epoch 2 continues it (weights, optimiser, RNG restored)
    assert [h["epoch"] for h in got] == [1, 2]
    files = {p.name for p in runs["run"].iterdir()}
    assert {"last.pt", "best.pt", "history.json", "model.onnx", "model.json"} <= files
    card = json.loads((runs["run"] / "model.json").read_text())
    assert card["name"] == "mini_xception" and card["epochs_run"] == 2 and card["tta"] == "hflip"
    last = torch.load(runs["run"] / "last.pt", map_location="cpu", weights_only=False)
    ref_last = torch.load(runs["root"] / "reference" / "last.pt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 1 and set(last) >= {"config", "model", "optimizer", "history", "best", "rng"}
    for k, v in ref_last["model"].items():
        if v.is_floating_point():
            assert torch.allclose(last["model"][k], v, rtol=1e-4, atol=1e-5), k


def best_model(run: Path) -> tuple[torch.nn.Module, TrainConfig]:
    ckpt = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
    cfg = TrainConfig(**ckpt["config"])
    model = create_model(cfg.model, **cfg.model_kwargs)
    model.load_state_dict(ckpt["model"])
    return model.eval(), cfg


def test_onnx_export_matches_torch_on_real_faces(runs, dataset):
    faces = load_csv(dataset).subset("PrivateTest").images
    model, cfg = best_model(runs["run"])
    temperature = json.loads(runs["onnx"].with_suffix(".json").read_text())["temperature_scaling"]["temperature"]
    assert temperature > 0
    with torch.no_grad():
        deployed = Deployable(model.eval(), tta=cfg.export_tta, temperature=temperature).eval()
        expected = deployed(torch.from_numpy(faces).float()[:, None]).numpy()
    got = EmotionClassifier.load(runs["onnx"]).predict(faces)
    assert got.shape == (len(faces), 7)
    assert np.abs(got - expected).max() < 1e-4
    assert np.array_equal(got.argmax(1), expected.argmax(1))


def test_gated_mirror_pass_runs_only_for_unsure_faces(runs, dataset, tmp_path):
    faces = load_csv(dataset).subset("PrivateTest").images
    model, _ = best_model(runs["run"])
    single = EmotionClassifier.load(export_onnx(model, tmp_path / "single.onnx", tta=False, card={}))
    gated_path = export_onnx(model, tmp_path / "gated.onnx", tta="hflip-gated", card={})
    assert json.loads(gated_path.with_suffix(".json").read_text())["tta_gate"] == TTA_GATE
    first, mirror = single.predict(faces), single.predict(faces[:, :, ::-1])
    gated = EmotionClassifier.load(gated_path)
    gated.card["tta_gate"] = float(np.median(first.max(1)))  # this tiny model is unsure: gate at its median
    unsure = first.max(1) < gated.card["tta_gate"]
    assert 0 < unsure.sum() < len(faces)
    got = gated.predict(faces)
    assert np.abs(got[~unsure] - first[~unsure]).max() < 1e-6
    assert np.abs(got[unsure] - (first[unsure] + mirror[unsure]) / 2).max() < 1e-6
    with pytest.raises(ValueError, match="tta must be one of"):
        export_onnx(model, tmp_path / "bad.onnx", tta="ten-crop")


def test_int8_copy_is_quantized_and_tracks_the_float_model(runs, dataset):
    onnx = pytest.importorskip("onnx")
    run = runs["run"]
    ops = {n.op_type for n in onnx.load(run / "model.int8.onnx").graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    card = json.loads((run / "model.int8.json").read_text())
    assert card["precision"] == "int8" and card["onnx"] == "model.int8.onnx" and 0 <= card["public_test_accuracy"] <= 1
    faces = load_csv(dataset).subset("PrivateTest").images
    full = EmotionClassifier.load(run / "model.onnx").predict(faces)
    int8 = EmotionClassifier.load(run / "model.int8.onnx").predict(faces)
    assert int8.shape == full.shape and np.allclose(int8.sum(1), 1, atol=1e-3)
    assert np.abs(int8 - full).mean() < 0.01, np.abs(int8 - full).mean()


def test_eval_cli_prints_the_tables(runs, capsys):
    assert main(["eval", str(runs["onnx"]), "--limit", "50"]) == 0
    out = capsys.readouterr().out
    assert "| subset | faces | accuracy | macro precision | macro recall | macro F1 |" in out
    assert "| full | 50 |" in out and "| minus Training duplicates |" in out
    assert "| class | precision | recall | F1 | support |" in out
    assert "| true \\ predicted | angry | disgust" in out
    assert "50 faces in" in out


def test_eval_report_writes_plots_and_summary(runs, tmp_path, capsys):
    report = tmp_path / "report"
    assert main(["eval", str(runs["onnx"]), "--limit", "50", "--report", str(report)]) == 0
    assert f"report written to {report / 'summary.md'}" in capsys.readouterr().out
    for name in ("confusion.png", "per_class.png", "curves.png", "gradcam.png"):
        assert (report / name).read_bytes()[:8] == PNG, name
        assert f"]({name})" in (report / "summary.md").read_text()
    summary = (report / "summary.md").read_text()
    assert "| full | 50 |" in summary and "| class | precision |" in summary and "| true \\ predicted |" in summary
    assert "best.pt" in summary  # Grad-CAM says which checkpoint it used
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["full"]["n"] == 50 and len(metrics["confusion"]) == 7
    assert sorted(p.name for p in report.iterdir()) == sorted(
        ["confusion.png", "per_class.png", "curves.png", "gradcam.png", "metrics.json", "summary.md"])


def test_report_without_torch_model_or_history_skips_with_notes(runs, dataset, tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(runs["onnx"], lone / "model.onnx")
    shutil.copy(runs["onnx"].with_suffix(".json"), lone / "model.json")
    ev = evaluate(str(lone / "model.onnx"), "PrivateTest", data=load_csv(dataset))
    summary = write_report(ev, tmp_path / "r")
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert names == {"confusion.png", "per_class.png", "metrics.json", "summary.md"}
    text = summary.read_text()
    assert "No Grad-CAM" in text and "no `best.pt` lies beside" in text and "No training curves" in text


def test_report_for_a_checkpoint_has_gradcam(runs, dataset, tmp_path):
    ev = evaluate(str(runs["run"] / "best.pt"), "PrivateTest", tta=True, data=load_csv(dataset))
    write_report(ev, tmp_path / "r")
    assert {"gradcam.png", "curves.png"} <= {p.name for p in (tmp_path / "r").iterdir()}


def test_benchmark_models_table_and_cache(runs, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    shutil.copytree(runs["run"], runs_dir / "mini_xception")
    wip = runs_dir / "cnn3"  # a run still training: no model.onnx yet
    wip.mkdir()
    torch.save({"config": {"model": "cnn3", "epochs": 40}, "model": {}, "epoch": 2, "val_acc": 0.4321}, wip / "best.pt")
    (wip / "history.json").write_text(json.dumps([{"epoch": i, "seconds": 60} for i in (1, 2, 3)]))
    md = tmp_path / "table.md"
    args = ["benchmark-models", "--runs", str(runs_dir), "--limit", "200", "--out", str(md)]
    assert main(args) == 0
    out, _err = capsys.readouterr()
    lines = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines() if line.startswith("| ")}
    for algo in ("Gaussian Naive Bayes", "k-NN", "Random Forest", "SVM (RBF kernel, Nystroem approximation)",
                 "SVM (exact RBF kernel, subsample)", "mini-Xception"):
        cells = lines[algo].split(" | ")
        assert 0.0 <= float(cells[2]) <= 1.0 and 0.0 <= float(cells[6]) <= 1.0, lines[algo]
    assert "| 2/2 | 48x48 |" in lines["mini-Xception"]
    assert "training in progress" in lines["3-block CNN (32/64/128)"] and "0.4321" in lines["3-block CNN (32/64/128)"]
    assert "| 3/40 |" in lines["3-block CNN (32/64/128)"]
    for name in ("Xception", "ResNet50V2", "VGG (Khaireddin & Chen)", "moodnet (flagship)", "moodnet, 1.5x widths"):
        assert "| not trained yet |" in lines[name]
    shipped = [v for k, v in lines.items() if k.startswith("**moodtune as shipped**")]
    card = json.loads((ASSETS / "emotion.json").read_text())
    assert len(shipped) == 1 and card.get("precision", "float") in shipped[0] and f"mirror {card['tta']}" in shipped[0]
    assert float(shipped[0].split(" | ")[2]) > 0.5  # the real model on 200 real faces, not a smoke-run model
    fer = lines["`fer` package (its shipped model)"]
    assert "| 0.658 |" in fer and "| 0.639 |" in fer and "measured by the team" in fer
    assert "smoke run on 200 faces" in out
    assert md.read_text().count("| not trained yet |") == 5
    assert (runs_dir / "benchmark-cache.json").is_file()

    assert main(args) == 0  # second time: everything from the cache, same table
    out2, err2 = capsys.readouterr()
    assert "baselines: using cached results" in err2 and "using cached evaluation" in err2
    assert [x for x in out2.splitlines() if x.startswith("| ")] == [x for x in out.splitlines() if x.startswith("| ")]


def test_distillation_targets_are_the_teachers_mean_on_clean_faces(dataset, tmp_path, monkeypatch):
    """``teacher_targets``: the mean of the teachers' runtime answers on the unaugmented faces,
    cached in the run folder (a resumed run reads it back, loading no model); a run with
    ``--teacher`` says so in its card."""
    from moodtune.training.data import load
    from moodtune.training.train import teacher_targets

    faces = load(str(dataset)).subset("Training").images[:40]
    shipped = str(ASSETS / "emotion.onnx")
    cache = tmp_path / "teacher.npy"
    probs = teacher_targets([shipped, shipped], faces, cache)
    assert probs.shape == (40, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)
    assert np.allclose(probs, EmotionClassifier.load(shipped).predict(faces), atol=1e-6)
    monkeypatch.setattr(EmotionClassifier, "load", lambda *a, **k: pytest.fail("the cache should be read"))
    assert np.array_equal(teacher_targets([shipped], faces, cache), probs)
    monkeypatch.undo()
    cfg = TrainConfig(model="mini_xception", epochs=1, batch_size=BATCH, lr=0.01, limit=LIMIT, data=str(dataset),
                      out=str(tmp_path / "distilled"), teachers=[shipped], distill=0.5)
    card = json.loads(train(cfg).with_suffix(".json").read_text())
    assert "distilled from 1 teacher(s), weight 0.5" in card["trained_on"] and card["config"]["teachers"] == [shipped]
    assert np.load(tmp_path / "distilled" / "teacher.npy").shape == (LIMIT, 7)


def test_ensemble_graph_averages_the_members_log_probabilities(dataset, tmp_path):
    """``training.ensemble``: one graph, the members' geometric mean at temperature T (two copies of
    one network at T=1 answer as it does, at T=2 its flattened answer); an ensemble given as a
    member joins with its networks (the shipped ensemble rebuilt from itself answers as it does;
    with a third network each of the three weighs a third); ``merge`` fits T on PublicTest and
    writes a card the runtime classifier uses (mirror rule, "not sure" threshold)."""
    import onnx
    import onnxruntime as ort

    from moodtune.errors import MoodtuneError
    from moodtune.training.data import load
    from moodtune.training.ensemble import FLOOR, build, merge, networks

    shipped = ASSETS / "emotion.onnx"
    faces = load(str(dataset)).subset("PublicTest").images[:32].astype(np.float32)[:, None]

    def answer(model) -> np.ndarray:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"faces": faces})[0]

    def geometric(probs: list[np.ndarray], t: float = 1.0) -> np.ndarray:
        p = np.exp(np.mean([np.log(np.maximum(q, FLOOR)) for q in probs], axis=0) / t)
        return p / p.sum(1, keepdims=True)

    nets = networks(onnx.load(str(shipped)))
    assert len(nets) == 2 and networks(nets[0]) == [nets[0]]
    first = tmp_path / "first.onnx"
    onnx.save(nets[0], str(first))
    p0, p1 = answer(nets[0]), answer(nets[1])
    assert np.allclose(p0.sum(1), 1, atol=2e-2) and not np.allclose(p0, p1, atol=1e-2)  # int8: steps of 1/255
    for t in (1.0, 2.0):
        assert np.allclose(answer(build([first, first], t)), geometric([p0], t), atol=2e-3), t
    t_shipped = json.loads(shipped.with_suffix(".json").read_text())["temperature_scaling"]["temperature"]
    assert np.allclose(answer(build([shipped], t_shipped)), answer(onnx.load(str(shipped))), atol=1e-5)
    assert np.allclose(answer(build([shipped, first])), geometric([p0, p1, p0]), atol=2e-3)
    with pytest.raises(MoodtuneError):
        build([first])
    out = merge([shipped, first], tmp_path / "ens.onnx", data=load(str(dataset)))
    card = json.loads(out.with_suffix(".json").read_text())
    assert [m["file"] for m in card["members"]][2] == "first.onnx" and len(card["members"]) == 3
    assert card["epochs_run"][:2] == json.loads(shipped.with_suffix(".json").read_text())["epochs_run"]
    assert card["tta"] == "hflip-gated" and "uncertain_below" in card and card["temperature_scaling"]["temperature"] > 0
    probs = EmotionClassifier.load(out).predict(faces[:, 0].astype(np.uint8))
    assert probs.shape == (32, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_batchnorm_recalibration_takes_the_clean_faces_statistics(dataset, runs, tmp_path):
    """``recalibrate_batchnorm``: the first BatchNorm's running mean becomes the mean of its input
    over the given faces, the model's mode is kept; ``finish(clean_bn=True)`` says so in the card."""
    from moodtune.training.checkpoint import recalibrate_batchnorm
    from moodtune.training.data import load
    from moodtune.training.train import finish

    faces = torch.from_numpy(load(str(dataset)).subset("Training").images[:128])
    model = create_model("moodnet").eval()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = first.running_mean.clone()
    assert recalibrate_batchnorm(model, faces, batch_size=128) >= 1 and not model.training
    seen = []
    hook = first.register_forward_hook(lambda m, i, o: seen.append(i[0].mean(dim=(0, 2, 3))))
    with torch.no_grad():
        model(train_mod.normalise(faces.float()[:, None]))
    hook.remove()
    assert torch.allclose(first.running_mean, seen[0], atol=1e-4) and not torch.allclose(before, first.running_mean)
    run = shutil.copytree(runs["run"], tmp_path / "run")  # the shared run's exports stay as they are
    card = json.loads(finish(run, clean_bn=True).with_suffix(".json").read_text())
    assert card["batchnorm_statistics"].startswith("8192 unaugmented Training faces")
