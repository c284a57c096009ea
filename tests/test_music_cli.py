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
    code, out, _ = run(capsys, "catalog", "import", str(p), "--catalog", str(db), "--no-progress", "--replace")
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
    run(capsys, "catalog", "import", str(p), "--no-progress", "--replace")
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
    tid = next(t["id"] for t in json.loads(out)["tracks"] if t["title"] != "Clair de lune")
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


# ----------------------------------------------------------------------------- recommend: words, pages, playlist files


def test_recommend_from_words_and_with_a_photo(capsys, hopper_path):
    code, out, _ = run(capsys, "recommend", "--text", "so sad and lonely today", "--json", "--n", "4", "--stateless")
    d = json.loads(out)
    assert code == 0 and d["affect"]["source"] == "text" and d["affect"]["valence"] < 0 and len(d["tracks"]) == 4
    code, out, err = run(capsys, "recommend", "--text", "qwzx blorp", "--json", "--stateless")
    d = json.loads(out)  # no mood words: the neutral point, and nobody is sure of it
    assert code == 0 and d["affect"]["emotion"] == "neutral" and d["affect"]["confidence"] == 0.0
    code, _, err = run(capsys, "recommend", "--text", "", "--stateless")
    assert code in (1, 2) and err.startswith("moodtune: error:") and "Traceback" not in err
    code, _, err = run(capsys, "recommend", "--emotion", "sad", "--text", "happy")
    assert code == 2 and "--text TEXT" in err
    if DEFAULT_MODEL.is_file():
        code, out, _ = run(capsys, "recommend", str(hopper_path), "--text", "absolutely furious", "--json", "--n", "3",
                           "--stateless")
        face_only = json.loads(run(capsys, "recommend", str(hopper_path), "--json", "--n", "3", "--stateless")[1])
        d = json.loads(out)
        assert code == 0 and d["affect"]["source"].endswith("+text") and d["faces"]
        assert (d["affect"]["valence"], d["affect"]["arousal"]) != (face_only["affect"]["valence"], face_only["affect"]["arousal"])


def test_recommend_more_and_page_give_the_next_stable_lists(capsys):
    def titles(*extra):
        code, out, err = run(capsys, "recommend", "--emotion", "happy", "--n", "5", "--json", "--user", "pat", *extra)
        assert code == 0, err
        d = json.loads(out)
        return d["page"], [t["id"] for t in d["tracks"]]

    page0, first = titles()
    _, again = titles()
    page1, more = titles("--more")
    _, page_1 = titles("--page", "1")
    _, more2 = titles("--more", "--more")
    _, page_2 = titles("--page", "2")
    assert first == again and more == page_1 and more2 == page_2 and (page0, page1) == (0, 1)
    assert not set(first) & set(more) and not set(more2) & (set(first) | set(more)) and len(more2) == 5
    code, _, err = run(capsys, "recommend", "--emotion", "happy", "--more", "--page", "3")
    assert code == 2 and "--more or --page" in err
    code, _, err = run(capsys, "recommend", "--emotion", "happy", "--page", "51")
    assert code == 2 and "--page" in err


def test_recommend_writes_m3u8_and_xspf(capsys, tmp_path):
    import xml.etree.ElementTree as ET

    code, out, _ = run(capsys, "recommend", "--emotion", "neutral", "--n", "4", "--stateless",
                       "--m3u", str(tmp_path / "list.m3u8"))
    titles = [m.group(1) for m in (re.match(r"\s*\d+\. (.+?) — ", line) for line in out.splitlines()) if m]
    assert code == 0 and f"playlist written to {tmp_path / 'list.m3u8'}" in out and len(titles) == 4
    m3u = (tmp_path / "list.m3u8").read_text(encoding="utf-8").splitlines()
    assert m3u[0] == "#EXTM3U" and len([x for x in m3u if x.startswith("#EXTINF:")]) == 4
    assert all(any(x.startswith("#EXTINF:") and x.endswith(" - " + t) for x in m3u) for t in titles)
    assert all(x.startswith("https://") for x in m3u if not x.startswith("#"))  # no scanned files: links
    code, out, _ = run(capsys, "recommend", "--emotion", "neutral", "--n", "4", "--stateless", "--json",
                       "--m3u", str(tmp_path / "list.xspf"))
    assert code == 0 and json.loads(out)["playlist_file"] == str(tmp_path / "list.xspf")
    ns = {"x": "http://xspf.org/ns/0/"}
    tracks = ET.parse(tmp_path / "list.xspf").getroot().findall(".//x:track", ns)
    assert [t.find("x:title", ns).text for t in tracks] == titles
    code, _, err = run(capsys, "recommend", "--emotion", "neutral", "--m3u", str(tmp_path / "list.txt"))
    assert code == 2 and ".m3u8, .m3u or .xspf" in err and not (tmp_path / "list.txt").exists()


def test_recommend_help_states_the_playlist_rule(capsys):
    from moodtune.music.recommend import PLAYLIST_RULE

    assert main(["recommend", "--help"]) == 0
    out = capsys.readouterr().out
    squeezed = "".join(out.split())  # the help wraps lines, at spaces and after hyphens
    assert "".join(PLAYLIST_RULE.split()) in squeezed and "--more" in out and "--text" in out and "--m3u" in out


# ----------------------------------------------------------------------------- feedback actions, --database


def test_feedback_every_action(capsys, home):
    from moodtune.music.feedback import ACTIONS

    code, out, _ = run(capsys, "recommend", "--emotion", "sad", "--json", "--n", "5", "--user", "kim")
    ids = [t["id"] for t in json.loads(out)["tracks"]]
    for tid, action in zip(ids, ACTIONS, strict=True):
        code, out, err = run(capsys, "feedback", tid, "--action", action, "--user", "kim", "--json")
        assert code == 0 and json.loads(out)["action"] == action and json.loads(out)["track_id"] == tid, err
    code, out, _ = run(capsys, "feedback", "--list", "--user", "kim", "--json")
    assert sorted(e["action"] for e in json.loads(out)["events"]) == sorted(ACTIONS)
    assert main(["feedback", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert all(re.search(rf"^\s+{a}\s+\w", help_text, re.M) for a in ACTIONS)  # each action explained
    code, _, err = run(capsys, "feedback", ids[0], "--action", "love")
    assert code == 2 and "'love' is not one of" in err and all(a in err for a in ACTIONS)
    code, _, err = run(capsys, "feedback", ids[0], "--action", "like", "--skip")
    assert code == 2 and "only one of" in err


def test_database_option_keeps_state_in_that_database(capsys, home, tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("MOODTUNE_DATABASE_URL", "")  # empty: unset; the option sets it, monkeypatch removes it after the test
    db = tmp_path / "shared.sqlite"
    url = f"sqlite:///{db}"
    songs = tmp_path / "songs.csv"
    songs.write_text("title,artist,valence,energy\nDb Song,Dee,0.9,0.8\nOther,Oz,0.2,0.2\n", encoding="utf-8")
    code, out, _ = run(capsys, "catalog", "import", str(songs), "--replace", "--no-progress", "--database", url)
    assert code == 0 and "2 imported" in out
    code, out, _ = run(capsys, "catalog", "stats", "--json", "--database", url)
    assert json.loads(out)["tracks"] == 2
    code, out, _ = run(capsys, "recommend", "--emotion", "happy", "--n", "1", "--json", "--user", "lee", "--database", url)
    assert code == 0 and json.loads(out)["tracks"][0]["title"] == "Db Song"
    code, out, _ = run(capsys, "feedback", "Db Song - Dee", "--like", "--user", "lee", "--database", url)
    assert code == 0 and "saved: lee liked Db Song" in out
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        feedback_table = next(t for t in tables if "feedback" in t)
        assert conn.execute(f"select count(*) from {feedback_table}").fetchone()[0] == 1
    assert not (home / "feedback.sqlite").exists() and not (home / "catalog.sqlite").exists()
    code, _, err = run(capsys, "catalog", "stats", "--database", "mysql://x")
    assert code == 2 and "--database" in err


# ----------------------------------------------------------------------------- catalog import (add or replace), map


def test_catalog_import_adds_to_the_starter_unless_replace(capsys, tmp_path):
    starter = len(load_starter_tracks())
    db = tmp_path / "c.sqlite"
    p = tmp_path / "two.csv"
    p.write_text("title,artist,valence,energy\nMy First,Me,0.9,0.8\nMy Second,Me,0.1,0.2\n", encoding="utf-8")
    code, out, _ = run(capsys, "catalog", "import", str(p), "--catalog", str(db), "--no-progress")
    assert code == 0 and "2 imported" in out
    code, out, _ = run(capsys, "catalog", "stats", "--catalog", str(db), "--json")
    assert json.loads(out)["tracks"] == starter + 2
    code, out, _ = run(capsys, "catalog", "search", "bohemian", "--catalog", str(db))
    assert code == 0 and "Bohemian" in out  # the starter's tracks are still there
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    code, _, err = run(capsys, "catalog", "import", str(bad), "--catalog", str(db), "--replace")
    assert code == 1 and "unrecognised columns" in err
    assert json.loads(run(capsys, "catalog", "stats", "--catalog", str(db), "--json")[1])["tracks"] == starter + 2  # nothing lost
    code, out, _ = run(capsys, "catalog", "import", str(p), "--catalog", str(db), "--no-progress", "--replace")
    assert code == 0 and json.loads(run(capsys, "catalog", "stats", "--catalog", str(db), "--json")[1])["tracks"] == 2


def test_catalog_map_draws_and_prints_cluster_sizes(capsys, tmp_path):
    code, out, err = run(capsys, "catalog", "map", "--out", str(tmp_path / "map.png"), "--clusters", "3", "--catalog", "starter")
    assert code == 0, err
    img = cv2.imread(str(tmp_path / "map.png"))
    assert img is not None and img.shape[0] > 300 and img.std() > 10
    rows = [m.groups() for m in (re.match(r"\s+(.+?)\s+(\d+) tracks", line) for line in out.splitlines()) if m]
    assert len(rows) == 3 and sum(int(n) for _, n in rows) == len(load_starter_tracks())
    d = json.loads(run(capsys, "catalog", "map", "--out", str(tmp_path / "map.svg"), "--clusters", "5", "--catalog", "starter",
                       "--json")[1])
    assert len(d["clusters"]) == 5 and {"happy", "sad", "calm", "energetic"} <= {c["name"] for c in d["clusters"]}
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")
    code, _, err = run(capsys, "catalog", "map", "--out", str(tmp_path / "map.gif"))
    assert code == 2 and ".png, .svg or .pdf" in err
    code, _, err = run(capsys, "catalog", "map")
    assert code == 2 and "--out" in err


# ----------------------------------------------------------------------------- eval music: both dev sets, variety


@shared_music
@pytest.mark.slow
def test_eval_music_both_dev_sets(capsys):
    code, out, _ = run(capsys, "eval", "music", "--json")
    results = json.loads(out)
    from moodtune.music.evaluate import dev_set_paths

    assert [r["catalog"] for r in results] == [str(p) for p in dev_set_paths()]
    assert code == (0 if all(r["passed"] for r in results) else 1)
    code2, text, _ = run(capsys, "eval", "music")
    assert code2 == code and text.count("catalogue: ") == 2


def test_eval_music_variety_table(capsys):
    from moodtune.emotion.labels import CLASSES

    code, out, _ = run(capsys, "eval", "music", "--variety")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("| emotion | strategy | artists |")
    assert all(any(line.startswith(f"| {e} | auto -> ") for line in lines) for e in CLASSES)
    code, _, err = run(capsys, "eval", "music", "--robustness")
    assert code == 2 and "emotion models" in err
