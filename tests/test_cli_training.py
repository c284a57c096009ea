"""``moodtune train`` with the warm start, logit adjustment and augmentation options, and
``moodtune eval MODEL --robustness``, in process on a small CSV of real FER2013 faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from test_training_run import HAVE_DATA, dataset  # noqa: E402, F401  (fixture: a CSV of real faces)

from moodtune.cli import main  # noqa: E402
from moodtune.config import ASSETS  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared, pytest.mark.skipif(not HAVE_DATA, reason="FER2013 not found")]


def test_train_options_reach_the_run(dataset, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    code = main(["train", "moodnet", "--epochs", "1", "--limit", "128", "--batch-size", "64", "--data", str(dataset),
                 "--out", str(out), "--init-onnx", str(ASSETS / "emotion.onnx"), "--logit-adjust", "1", "--augment", "basic"])
    stdout = capsys.readouterr().out
    assert code == 0 and f"initialised from {ASSETS / 'emotion.onnx'}" in stdout
    cfg = torch.load(out / "best.pt", map_location="cpu", weights_only=True)["config"]
    assert (cfg["init_onnx"], cfg["logit_adjust"], cfg["augment"]) == (str(ASSETS / "emotion.onnx"), 1.0, "basic")
    assert (out / "model.onnx").is_file()
    assert main(["train", "moodnet", "--augment", "heavy"]) == 2
    from moodtune.training.augment import POLICIES

    assert "'heavy' is not one of " + ", ".join(f"'{p}'" for p in POLICIES) in capsys.readouterr().err


def test_eval_robustness_card(dataset, tmp_path, capsys):  # noqa: F811
    from moodtune.training.robustness import SEVERITIES

    code = main(["eval", "shipped", "--robustness", "--data", str(dataset), "--json"])
    card = json.loads(capsys.readouterr().out)
    assert code == 0 and card["n"] == 64 and card["split"] == "PrivateTest" and set(card["accuracy"]) == set(SEVERITIES)
    assert all(len(v) == 3 and all(0 <= a <= 1 for a in v) for v in card["accuracy"].values())
    report = tmp_path / "report"
    code = main(["eval", "shipped", "--robustness", "--data", str(dataset), "--limit", "32", "--report", str(report)])
    text = capsys.readouterr().out
    assert code == 0 and "## robustness of" in text and "32 faces" in text
    assert {p.name for p in report.iterdir()} == {"robustness.md", "robustness.json", "robustness.png"}
    assert json.loads((report / "robustness.json").read_text())["n"] == 32
    assert Path(report / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
