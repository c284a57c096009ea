"""``bench/compare_fer.py`` without the fer venv: scoring, merging of worker results, the table,
pin checks and the install-size closure (on a fake site-packages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import script_module

from moodtune.emotion.labels import CLASSES


@pytest.fixture(scope="module")
def cf():
    return script_module("bench", "compare_fer")


def photo(emotion, faces=1):
    return {"faces": faces if emotion else 0, "emotion": emotion, "box": [0, 0, 10, 10] if emotion else None}


def test_wild_scoring_counts_misses_as_wrong(cf):
    labels = np.array([CLASSES.index(c) for c in ("happy", "happy", "neutral", "neutral")])
    s = cf.summarize_wild([photo("happy"), photo(None), photo("neutral", faces=2), photo("happy")], labels)
    assert (s["wild_n"], s["wild_found"], s["wild_multi"]) == (4, 3, 1)
    assert s["wild_acc"] == pytest.approx(0.5)  # 2 right of 4; the photo without a face counts as wrong
    assert s["wild_acc_found"] == pytest.approx(2 / 3)
    # macro-F1 over the two classes present: happy P=1/2 R=1/2, neutral P=1 R=1/2
    assert s["wild_f1"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_fer2013_scoring_and_dedup(cf):
    labels = np.array([0, 3, 3, 6])
    s = cf.summarize_fer2013(["angry", "happy", "sad", "neutral"], labels, np.array([False, False, True, False]))
    assert s["fer_acc"] == pytest.approx(0.75) and s["fer_acc_dedup"] == pytest.approx(1.0) and s["fer_n_dedup"] == 3


def test_agreement(cf):
    a = [photo("happy"), photo("sad"), photo(None), photo("neutral")]
    b = [photo("happy"), photo("happy"), photo("happy"), photo(None)]
    assert cf.agreement(a, b) == (1, 2)


def test_verdicts(cf):
    assert cf.verdict(0.70, 0.658, "points") == "moodtune +4.2 pts"
    assert cf.verdict(0.60, 0.658, "points") == "fer +5.8 pts"
    assert cf.verdict(1000, 950, "count") == "moodtune (+50)"
    assert cf.verdict(3, 10, "fewer") == "moodtune (-7)"
    assert cf.verdict(100, 500, "ratio") == "0.20 (moodtune 5.0x less)"
    assert cf.time_verdict(5.0, 80.0) == "0.062 (moodtune 16.0x faster)"
    assert cf.time_verdict(4.0, 0.5, 4.0, 0.5) == "8.00 (fer 8.0x faster); CPU 8.000"
    assert cf.verdict(float("nan"), 1.0, "points") == "n/a"


def speed_result(frame_ms, clf_ms, rss):
    frame = {"ms": frame_ms, "cpu_ms": frame_ms * 0.9, "repeats": 5, "faces": 1}
    return {"cold_start_s": 1.5, "peak_rss_mb": rss, "classifier": {"ms": clf_ms, "cpu_ms": clf_ms},
            "frames": {"frame 640x480": frame, "photo 512x600": dict(frame)}}


def test_merge_and_table(cf):
    crop_labels, dups = np.array([3, 6]), np.array([False, False])
    photo_labels = np.array([CLASSES.index("happy")])
    raw_m = {"fer2013": {"pred": ["happy", "neutral"]}, "wild": {"photos": [photo("happy")]}, "speed": speed_result(5.0, 1.0, 120)}
    raw_f = {"fer2013": {"pred": ["happy", "sad"]}, "wild": {"photos": [photo(None)]}, "speed": speed_result(80.0, 0.5, 530)}
    m = {**cf.summarize(raw_m, crop_labels, dups, photo_labels), "size_mb": 300.0}
    f = {**cf.summarize(raw_f, crop_labels, dups, photo_labels), "size_mb": 1600.0}
    table = cf.markdown_table(cf.build_rows(m, f))
    lines = table.splitlines()
    assert lines[0] == "| metric | moodtune | fer | ratio moodtune/fer or winner |"
    assert all(line.count("|") == 5 for line in lines)
    row = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert "| 100.0% | 50.0% | moodtune +50.0 pts |" in row["FER2013 PrivateTest accuracy (2 crops, no detection)"]
    assert "| 1 (100.0%) | 0 (0.0%) | moodtune (+1) |" in row["faces-wild-dev: photos with a face found (of 1)"]
    assert "moodtune 16.0x faster" in row["ms per frame 640x480, one face, detect+classify (median; CPU ms)"]
    assert "fer 2.0x faster" in row["ms per face, classifier alone (median; CPU ms)"]
    assert "| 300 | 1600 |" in row["install size (runtime dependency closure), MiB"]
    # a variant measured for speed only gives only the speed rows
    speed_only = cf.build_rows(m, cf.summarize({"speed": speed_result(100.0, 30.0, 550)}, crop_labels, dups, photo_labels))
    assert speed_only and all(not r[0].startswith(("FER2013", "faces-wild-dev", "install")) for r in speed_only)


def test_missing_pins(cf):
    have = {"tensorflow-cpu": "2.21.0", "opencv-contrib-python-headless": "4.14.0.94", "setuptools": "81.0.0"}
    assert cf.missing_pins(have, ["tensorflow_cpu==2.21.0", "opencv-contrib-python-headless==4.14.0.94",
                                  "setuptools==80.10.2", "fer==25.10.3"]) == ["setuptools==80.10.2", "fer==25.10.3"]
    # every fer requirement is pinned exactly, and the constraints agree with the requirements
    cons = dict(c.split("==") for c in cf.FER_CONSTRAINTS)
    for req in cf.FER_REQUIREMENTS:
        name, version = req.split("==")
        assert cons[cf.canon(name)] == version


def write_dist(site: Path, name: str, version: str, requires: list[str], files: dict[str, int]) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   + "".join(f"Requires-Dist: {r}\n" for r in requires))
    record = []
    for rel, size in files.items():
        p = site / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x" * size)
        record.append(f"{rel},,{size}")
    (info / "RECORD").write_text("\n".join([*record, f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]) + "\n")


def test_install_size_closure(cf, tmp_path):
    site = tmp_path / "site-packages"
    write_dist(site, "tool", "1.0", ["dep_a>=1", "dep-b; python_version < '3'", "dev-thing; extra == 'dev'", "absent"],
               {"tool/__init__.py": 1000})
    write_dist(site, "dep_a", "2.0", ["dep-c"], {"dep_a/core.so": 5000})
    write_dist(site, "dep-b", "1.0", [], {"dep_b/x.py": 7000})  # marker false here: not counted
    write_dist(site, "dep_c", "1.0", [], {"dep_c/y.py": 300})
    write_dist(site, "pip", "23.0", [], {"pip/__init__.py": 99999})  # never counted
    size = cf.install_size(site, ["tool"])
    assert set(size["per_dist"]) == {"tool", "dep-a", "dep-c"}
    meta = {n: sum((site / f"{d}-{v}.dist-info" / f).stat().st_size for f in ("METADATA", "RECORD"))
            for n, d, v in (("tool", "tool", "1.0"), ("dep-a", "dep_a", "2.0"), ("dep-c", "dep_c", "1.0"))}
    assert size["per_dist"]["dep-a"] == 5000 + meta["dep-a"]
    assert size["bytes"] == 1000 + 5000 + 300 + sum(meta.values())
    assert size["not_installed"] == ["absent"]
    assert size["site_packages_bytes"] > size["bytes"]  # dep-b is in site-packages, pip is not
