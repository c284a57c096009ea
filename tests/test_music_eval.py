"""``moodtune eval music`` on labelled CSVs written here: the empty-id fix, the random baseline, P@10/20/50."""

from __future__ import annotations

import csv

import pytest

from moodtune import MoodtuneError
from moodtune.music.evaluate import CUTOFFS, evaluate, format_table, read_labels

HEADER = ["name", "album", "artist", "id", "release_date", "popularity", "length", "danceability", "acousticness",
          "energy", "instrumentalness", "liveness", "valence", "loudness", "speechiness", "tempo", "key",
          "time_signature", "mood"]
# (valence, energy, loudness, instrumentalness) per mood
POINTS = {"Happy": (0.85, 0.75, -5, 0.0), "Energetic": (0.45, 0.95, -3, 0.0), "Sad": (0.15, 0.3, -12, 0.0),
          "Calm": (0.35, 0.08, -25, 0.9)}


def labelled_csv(path, n_per_mood=60, ids=False, last="Sad"):
    rows = []
    for mood, (v, e, loud, ins) in POINTS.items():
        for i in range(n_per_mood):
            j = (i % 10) / 200
            rows.append([f"{mood} song {i}", "", f"{mood} artist {i}", f"{mood[:2]}{i:020d}" if ids else "", "2001", "50",
                         "200000", "0.5", "0.3", e - j, ins, "0.1", v - j, loud, "0.04", "110", "1", "4", mood])
    rows.sort(key=lambda r: r[-1] == last)  # the last row carries ``last``'s label
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def test_empty_ids_are_matched_by_title_and_artist(tmp_path):
    p = labelled_csv(tmp_path / "noids.csv")
    by_id, by_key = read_labels(p)
    assert by_id == {} and len(by_key) == 240  # an empty id is never a key
    res = evaluate(p)
    rows = {r["case"]: r for r in res["cases"]}
    # before the fix every id-less track took the last row's label ("Sad"): happy lists scored 0
    assert rows["happy, match"]["precision"]["50"] >= 0.9
    assert rows["happy, match (strict)"]["precision"]["10"] >= 0.8
    assert rows["angry, calm"]["precision"]["50"] >= 0.9
    assert res["lift"]["passed"]


def test_random_baseline_cutoffs_and_table(tmp_path):
    p = labelled_csv(tmp_path / "ids.csv", ids=True)
    res = evaluate(p)
    for r in res["cases"]:
        assert r["random"] == pytest.approx(sum(1 for m in POINTS if m in r["expected"]) / 4, abs=1e-3)
        assert set(r["precision"]) == {str(k) for k in CUTOFFS}
    table = format_table(res)
    assert "| P@10 | P@20 | P@50 | random |" in table and "sad, lift" in table


def test_unlabelled_csv_is_refused(tmp_path):
    p = tmp_path / "plain.csv"
    p.write_text("title,artist,valence,energy\nA,B,0.5,0.5\n")
    with pytest.raises(MoodtuneError, match="label column"):
        evaluate(p)
