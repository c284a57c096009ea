"""The command line (in process, through ``moodtune.cli.main``): recommend, catalog, feedback,
eval music; and the starter catalogue on a fresh machine."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter

import cv2
import numpy as np
import pytest

from moodtune.cli import main
from moodtune.config import data_dir
from moodtune.emotion.classifier import DEFAULT_MODEL
from moodtune.music.starter import TAG_ANCHORS, load_starter_tracks

DATA = data_dir()
MUSIC = DATA / "music"
FACES = DATA / "faces-wild-dev"
shared_music = pytest.mark.skipif(not (MUSIC / "data_moods.csv").is_file(), reason="shared music data absent")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("MOODTUNE_HOME", str(h))
    monkeypatch.delenv("MOODTUNE_USER", raising=False)
    return h


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- recommend


def test_recommend_emotion_json_shape(capsys, home):
    code, out, _ = run(capsys, "recommend", "--emotion", "sad", "--json", "--n", "6")
    assert code == 0
    d = json.loads(out)
    assert set(d["affect"]) == {"emotion", "valence", "arousal", "source", "confidence"}
    assert d["affect"]["emotion"] == "sad" and d["strategy"] == "lift" and len(d["tracks"]) == 6
    for t in d["tracks"]:
        assert {"title", "artist", "id", "valence", "energy", "tempo", "popularity", "links", "why"} <= set(t)
        assert {"spotify_search", "youtube_search"} <= set(t["links"])
    vals = [t["valence"] for t in d["tracks"]]
    assert vals == sorted(vals)
    assert "starter" in d["catalog"]  # fresh machine: the starter catalogue


def test_recommend_va_human_output(capsys):
    code, out, _ = run(capsys, "recommend", "--va", "0.6", "0.6", "--strategy", "energize", "--n", "3", "--stateless")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("affect: ") and "valence/arousal" in lines[0]
    assert any(line.startswith("strategy: energize:") for line in lines)
    assert [m.group(1) for m in (re.match(r"\s*(\d+)\. ", line) for line in lines) if m] == ["1", "2", "3"]
    assert out.count("why: ") == 3 and " — " in out


def test_recommend_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "recommend")
    assert code == 2 and "exactly one of IMAGE" in err  # usage errors exit 2
    code, _, err = run(capsys, "recommend", str(tmp_path / "missing.jpg"))
    assert code == 1 and "image not found" in err
    code, _, err = run(capsys, "recommend", "--va", "3", "0")
    assert code == 2 and "[-1, 1]" in err
    code, _, err = run(capsys, "recommend", "--emotion", "bored")
    assert code == 2 and "is not one of" in err
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 200, np.uint8))
    if DEFAULT_MODEL.is_file():
        code, _, err = run(capsys, "recommend", str(blank))
        assert code == 1 and "no face found" in err


def test_recommend_csv_catalog_and_history(capsys, tmp_path):
    p = tmp_path / "mine.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "artist", "valence", "energy", "genre"])
        for i in range(30):
            w.writerow([f"Song {i}", f"Artist {i}", (i % 10) / 10 + 0.05, (i // 10) / 3 + 0.1, "pop"])
    code, out, _ = run(capsys, "recommend", "--emotion", "happy", "--catalog", str(p), "--n", "4", "--json")
    first = [t["title"] for t in json.loads(out)["tracks"]]
    assert code == 0 and "mine.csv" in json.loads(out)["catalog"] and len(first) == 4
    code, out, _ = run(capsys, "recommend", "--emotion", "happy", "--catalog", str(p), "--n", "4", "--json")
    second = [t["title"] for t in json.loads(out)["tracks"]]
    assert first == second  # same listener ('default'), same mood: the same list (the playlist rule)


@pytest.mark.skipif(not (DEFAULT_MODEL.is_file() and (FACES / "labels.csv").is_file()), reason="needs the emotion model and shared photos")
def test_recommend_image_largest_face_and_group(capsys, tmp_path):
    with open(FACES / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))[:2]
    imgs = [cv2.resize(cv2.imread(str(FACES / r["path"])), (300, 300)) for r in rows]
    group = tmp_path / "group.jpg"
    cv2.imwrite(str(group), np.hstack(imgs))
    code, out, _ = run(capsys, "recommend", str(group), "--n", "3", "--stateless")
    assert code == 0 and out.startswith("face 1: box (") and "%" in out.splitlines()[0]
    code, out, _ = run(capsys, "recommend", str(group), "--group", "--json", "--n", "3", "--stateless")
    d = json.loads(out)
    assert code == 0 and all(f["used"] for f in d["faces"])
    if len(d["faces"]) > 1:
        assert d["affect"]["source"] == f"group of {len(d['faces'])} faces"


def test_help_explains_strategies(capsys):
    assert main(["recommend", "--help"]) == 0
    out = capsys.readouterr().out
    for s in ("match", "calm", "energize", "lift", "auto", "iso principle"):
        assert s in out


# ----------------------------------------------------------------------------- catalog


def test_catalog_import_stats_list_search_clear(capsys, tmp_path):
    db = tmp_path / "c.sqlite"
    p = tmp_path / "songs.csv"
    p.write_text("title,artist,year,genre,valence,energy\nBlue Song,Ann,1999,jazz,0.3,0.2\nRed Song,Bob,2005,rock,0.7,0.9\n"
                 "Bad,,2001,rock,0.5,0.5\nGreen Song,Cid,2010,jazz,2.5,0.3\n", encoding="utf-8")
    code, out, _ = run(capsys, "catalog", "import", str(p), "--catalog", str(db), "--no-progress")
    assert code == 0 and "2 imported" in out and "line 4: empty artist" in out and "line 5:" in out
    code, out, _ = run(capsys, "catalog", "stats", "--catalog", str(db), "--json")
    s = json.loads(out)
    assert s["tracks"] == 2 and s["genres"] == {"jazz": 1, "rock": 1}
    code, out, _ = run(capsys, "catalog", "search", "blue", "--catalog", str(db))
    assert code == 0 and "Blue Song — Ann" in out and "Red" not in out
    code, out, _ = run(capsys, "catalog", "list", "--genre", "rock", "--catalog", str(db))
    assert "Red Song" in out and "Blue" not in out
    code, _, err = run(capsys, "catalog", "clear", "--catalog", str(db))
    assert code == 1 and "--yes" in err
    code, out, _ = run(capsys, "catalog", "clear", "--yes", "--catalog", str(db))
    assert "removed 2" in out


def test_catalog_default_location_and_starter_fallback(capsys, home, tmp_path):
    code, out, _ = run(capsys, "catalog", "stats")
    assert code == 0 and "starter catalogue" in out and "no catalogue at" in out
    p = tmp_path / "one.csv"
    p.write_text("title,artist,valence,energy\nOnly One,Me,0.9,0.8\n", encoding="utf-8")
    run(capsys, "catalog", "import", str(p), "--no-progress")
    assert (home / "catalog.sqlite").is_file()
    code, out, _ = run(capsys, "recommend", "--emotion", "happy", "--n", "3", "--json", "--stateless")
    d = json.loads(out)
    assert [t["title"] for t in d["tracks"]] == ["Only One"] and "catalog.sqlite" in d["catalog"]


def test_catalog_bad_file_message(capsys, tmp_path):
    p = tmp_path / "weird.csv"
    p.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    code, _, err = run(capsys, "catalog", "import", str(p), "--catalog", str(tmp_path / "x.sqlite"))
    assert code == 1 and "unrecognised columns (a, b, c)" in err and "Traceback" not in err


def test_unwritable_home_falls_back_for_recommend_but_refuses_feedback(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MOODTUNE_HOME", str(blocker / "home"))
    code, out, _ = run(capsys, "recommend", "--emotion", "happy", "--n", "2")
    assert code == 0 and "1. " in out
    code, _, err = run(capsys, "feedback", "Clair de lune - Claude Debussy", "--like")
    assert code == 1 and "cannot save feedback" in err


# ----------------------------------------------------------------------------- feedback


def test_feedback_like_skip_list(capsys, home):
    code, out, _ = run(capsys, "feedback", "Clair de lune - Claude Debussy", "--like", "--user", "ana")
    assert code == 0 and "saved: ana liked Clair de lune" in out
    code, out, _ = run(capsys, "recommend", "--emotion", "angry", "--json", "--n", "3", "--user", "ana")
    tid = [t["id"] for t in json.loads(out)["tracks"] if t["title"] != "Clair de lune"][0]
    code, out, _ = run(capsys, "feedback", tid, "--skip", "--user", "ana")
    assert code == 0 and "skipped" in out
    code, out, _ = run(capsys, "feedback", "--list", "--user", "ana")
    assert "like  Clair de lune" in out and "skip" in out and "claude debussy +0.50" in out
    code, _, err = run(capsys, "feedback", "No Such Song At All", "--like")
    assert code == 1 and "no track" in err
    code, _, err = run(capsys, "feedback", "Clair de lune - Claude Debussy")
    assert code == 2 and "--like or --skip" in err
    assert (home / "feedback.sqlite").is_file()


# ----------------------------------------------------------------------------- starter catalogue


def test_starter_catalogue_contents():
    tracks = load_starter_tracks()
    assert len(tracks) >= 300
    genres = Counter(t.genre for t in tracks)
    assert len(genres) >= 15 and max(genres.values()) < 0.15 * len(tracks)
    decades = Counter(t.year // 10 * 10 for t in tracks if t.year >= 1950)
    assert len(decades) >= 7
    assert len({t.language for t in tracks} - {"en", "instrumental"}) >= 10
    assert len({t.key for t in tracks}) == len(tracks)
    for t in tracks:
        assert t.tags and set(t.tags) <= set(TAG_ANCHORS)
        assert {"valence", "energy", "tempo"} <= set(t.estimated)
        assert 0 <= t.valence <= 1 and 0 <= t.energy <= 1 and 40 < t.tempo < 220


@shared_music
def test_eval_music_table_holds(capsys):
    code, out, _ = run(capsys, "eval", "music", "--catalog", str(MUSIC / "data_moods.csv"))
    assert code == 0 and "all bars hold" in out
    assert out.count("PASS") == 9 and "FAIL" not in out
    code, out, _ = run(capsys, "eval", "music", "--catalog", str(MUSIC / "data_moods.csv"), "--json")
    d = json.loads(out)
    assert d["passed"] and all(c["distinct_artists_top10"] == 10 for c in d["cases"])
