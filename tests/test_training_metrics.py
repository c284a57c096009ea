"""Metrics against values computed by hand, and every zoo model's output shape."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from moodtune.errors import MoodtuneError  # noqa: E402
from moodtune.training.metrics import score  # noqa: E402
from moodtune.training.zoo import MODELS, create_model  # noqa: E402

# 10 faces, 4 classes. By hand:
#   true\pred  0  1  2  3
#   0          2  0  1  0
#   1          0  1  1  0
#   2          1  0  3  0
#   3          0  0  1  0
# tp = 2,1,3,0 -> accuracy 6/10; column sums 3,1,6,0; row sums (support) 3,2,4,1
# precision 2/3, 1, 1/2, 0 (class 3 never predicted); recall 2/3, 1/2, 3/4, 0
# F1 2/3, 2/3, 0.6, 0; macro P 13/24, macro R 23/48, macro F1 29/60
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
Y_PRED = [0, 0, 2, 1, 2, 2, 2, 2, 0, 2]


def test_scores_match_hand_computed_values():
    s = score(Y_TRUE, Y_PRED, num_classes=4)
    assert s.confusion.tolist() == [[2, 0, 1, 0], [0, 1, 1, 0], [1, 0, 3, 0], [0, 0, 1, 0]]
    assert s.accuracy == pytest.approx(0.6)
    assert s.precision == pytest.approx([2 / 3, 1.0, 0.5, 0.0])
    assert s.recall == pytest.approx([2 / 3, 0.5, 0.75, 0.0])
    assert s.f1 == pytest.approx([2 / 3, 2 / 3, 0.6, 0.0])
    assert s.support.tolist() == [3, 2, 4, 1]
    assert s.macro_precision == pytest.approx(13 / 24)
    assert s.macro_recall == pytest.approx(23 / 48)
    assert s.macro_f1 == pytest.approx(29 / 60)
    assert s.summary() == {"accuracy": 0.6, "macro_precision": round(13 / 24, 4), "macro_recall": round(23 / 48, 4),
                           "macro_f1": round(29 / 60, 4), "n": 10}


def test_absent_classes_count_as_zero_in_macro_averages():
    # 7 classes, only "angry" (0) and "happy" (3) occur; all predictions right.
    s = score([0, 3, 3], [0, 3, 3])
    assert s.accuracy == 1.0
    assert s.recall.tolist() == [1, 0, 0, 1, 0, 0, 0]
    assert s.macro_f1 == pytest.approx(2 / 7)
    assert s.confusion.sum() == 3


def test_markdown_tables_list_every_class():
    s = score(Y_TRUE, Y_PRED, num_classes=7)
    per_class = s.per_class_markdown().splitlines()
    assert len(per_class) == 2 + 7 and per_class[2].startswith("| angry | 0.667 | 0.667 | 0.667 | 3 |")
    conf = s.confusion_markdown().splitlines()
    assert conf[2] == "| angry | 2 | 0 | 1 | 0 | 0 | 0 | 0 |"


def test_empty_input_scores_zero():
    s = score([], [])
    assert s.accuracy == 0.0 and s.macro_f1 == 0.0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_zoo_model_gives_7_logits(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


def test_unknown_zoo_model_is_a_user_error():
    with pytest.raises(MoodtuneError, match=r"unknown model 'lenet'.*mini_xception"):
        create_model("lenet")


def test_channels_last_is_avoided_where_onednn_breaks():
    # oneDNN#6035: NHWC backward-weights of a 1x1 strided conv with < 16 input channels segfaults on x86
    from moodtune.training.train import channels_last_safe

    assert not channels_last_safe(create_model("mini_xception"))  # its first shortcut: 1x1, stride 2, 8 -> 16
    assert all(channels_last_safe(create_model(n)) for n in ("cnn3", "moodnet", "vgg_kc"))
