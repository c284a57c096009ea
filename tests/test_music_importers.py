"""Importers: every supported schema (small CSVs written here), bad files, bad rows, merging,
all-or-nothing imports, and the real shared CSVs (marked ``shared``)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest

from moodtune.config import data_dir
from moodtune.errors import MoodtuneError
from moodtune.music.importers import import_file, read_tracks
from moodtune.music.store import CatalogStore

MUSIC = data_dir() / "music"
shared = pytest.mark.skipif(not (MUSIC / "data_moods.csv").is_file(), reason="shared music data absent")

SPOTIFY_TRACKS_HEADER = ["", "track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit",
                         "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                         "instrumentalness", "liveness", "valence", "tempo", "time_signature", "track_genre"]
SPOTIFY_MUSIC_HEADER = ["energy", "tempo", "danceability", "playlist_genre", "loudness", "liveness", "valence",
                        "track_artist", "time_signature", "speechiness", "track_popularity", "track_href", "uri",
                        "track_album_name", "playlist_name", "analysis_url", "track_id", "track_name",
                        "track_album_release_date", "instrumentalness", "track_album_id", "mode", "key", "duration_ms",
                        "acousticness", "id", "playlist_subgenre", "type", "playlist_id"]
MOODS_HEADER = ["name", "album", "artist", "id", "release_date", "popularity", "length", "danceability", "acousticness",
                "energy", "instrumentalness", "liveness", "valence", "loudness", "speechiness", "tempo", "key",
                "time_signature", "mood"]
TOPHITS_HEADER = ["artist", "song", "duration_ms", "explicit", "year", "popularity", "danceability", "energy", "key",
                  "loudness", "mode", "speechiness", "acousticness", "instrumentalness", "liveness", "valence", "tempo", "genre"]


def write_csv(path: Path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def sid(i: int) -> str:
    return "A" * (21 - len(str(i))) + str(i) + "x"  # 22 base62 characters, like a Spotify id


@pytest.fixture()
def store(tmp_path):
    s = CatalogStore.open(tmp_path / "cat.sqlite")
    yield s
    s.close()


def test_spotify_tracks_schema(tmp_path, store):
    rows = [
        ["0", "5SuOikwiRyPMVoIQDJUgSV", "Gen Hoshino", "Comedy", "Comedy", "73", "230666", "False", "0.676", "0.461",
         "1", "-6.746", "0", "0.143", "0.0322", "1.01e-06", "0.358", "0.715", "87.917", "4", "acoustic"],
        ["1", "4qPNDBW1i3p13qLCt0Ki3A", "Ben Woodward;Dua Lipa", "Ghost", "Ghost - Acoustic", "55", "149610", "False",
         "0.42", "0.166", "1", "-17.235", "1", "0.0763", "0.924", "5.56e-06", "0.101", "0.267", "77.489", "4", "acoustic"],
    ]
    rep = import_file(write_csv(tmp_path / "tracks.csv", SPOTIFY_TRACKS_HEADER, rows), store)
    assert rep.format == "spotify_tracks" and (rep.good, rep.added, len(rep.bad)) == (2, 2, 0)
    t = store.find("4qPNDBW1i3p13qLCt0Ki3A")[0]
    assert t.artists == ["Ben Woodward", "Dua Lipa"] and t.genres == ["folk"]  # 'acoustic' folds into folk
    assert t.valence == pytest.approx(0.267) and t.arousal is not None and t.estimated == []
    assert t.links["spotify"].endswith("/track/4qPNDBW1i3p13qLCt0Ki3A")


def test_spotify_music_schema_merges_repeated_ids(tmp_path, store):
    def row(tid, name, genre, valence="0.5"):
        return ["0.6", "120", "0.7", genre, "-6", "0.1", valence, "Artist A, Artist B", "4", "0.05", "70",
                f"https://api.spotify.com/v1/tracks/{tid}", f"spotify:track:{tid}", "Album", "List", "x", tid, name,
                "2020-05-01", "0", "alb", "1", "5", "200000", "0.2", tid, "sub", "audio_features", "pl"]

    rows = [row(sid(1), "One", "pop"), row(sid(1), "One", "latin"), row(sid(2), "Two", "rock", valence="")]
    rep = import_file(write_csv(tmp_path / "high.csv", SPOTIFY_MUSIC_HEADER, rows), store)
    assert rep.format == "spotify_music"
    assert (rep.rows, rep.added, rep.merged, rep.distinct_ids) == (3, 2, 1, 2)
    one = store.find(sid(1))[0]
    assert one.genres == ["pop", "latin"] and one.year == 2020 and one.artists == ["Artist A", "Artist B"]
    two = store.find(sid(2))[0]
    assert "valence" in two.estimated  # missing valence -> rock's genre mean, marked estimated


def test_data_moods_schema_never_imports_the_mood(tmp_path, store):
    rows = [["Song", "Alb", "Someone", sid(3), "1999-02", "40", "200000", "0.5", "0.1", "0.8", "0.0", "0.1", "0.3",
             "-5", "0.05", "128", "5", "4", "Happy"]]
    import_file(write_csv(tmp_path / "moods.csv", MOODS_HEADER, rows), store)
    t = store.find(sid(3))[0]
    assert t.year == 1999 and "happy" not in " ".join(t.tags).lower()
    raw = sqlite3.connect(store.path).execute("SELECT * FROM tracks").fetchall()
    assert "Happy" not in repr(raw)


def test_top_hits_schema_and_duplicates(tmp_path, store):
    base = ["200000", "False", "2001", "70", "0.7", "0.8", "1", "-5", "1", "0.05", "0.1", "0.0", "0.1", "0.9", "120"]
    rows = [
        ["Britney Spears", "Oops!...I Did It Again", *base, "pop"],
        ["Britney Spears", "Oops!...I Did It Again", *base, "pop"],  # full duplicate
        ["Eminem", "Stan (feat. Dido)", *base, "hip hop, pop, R&B"],
        ["Nobody", "Silence", *base, "set()"],
    ]
    rep = import_file(write_csv(tmp_path / "songs.csv", TOPHITS_HEADER, rows), store)
    assert rep.format == "top_hits" and (rep.added, rep.merged, rep.distinct_pairs) == (3, 1, 3)
    assert store.find("Stan (feat. Dido) - Eminem")[0].genres == ["hip-hop", "pop", "r&b"]
    assert store.find("Silence - Nobody")[0].genres == []


def test_generic_with_mapping_and_tsv(tmp_path, store):
    p = tmp_path / "mine.tsv"
    p.write_text("Song\tSinger\tMood V\tEnergy\tGenre\nA Song\tMe\t0.2\t0.3\tjazz\nB Song\tYou\t0.9\t0.9\tfunk\n", encoding="utf-8")
    rep = import_file(p, store, format="generic", mapping={"title": "Song", "artist": "Singer", "valence": "Mood V"})
    assert (rep.format, rep.added) == ("generic", 2)
    a = store.find("A Song - Me")[0]
    assert a.valence == pytest.approx(0.2) and a.energy == pytest.approx(0.3) and a.genres == ["jazz"]


def test_unrecognised_columns_name_the_expected_ones(tmp_path, store):
    p = write_csv(tmp_path / "x.csv", ["foo", "bar"], [["1", "2"]])
    with pytest.raises(MoodtuneError) as e:
        import_file(p, store)
    msg = str(e.value)
    assert "foo, bar" in msg and "track_id, track_name, track_artist, playlist_genre" in msg and "--map" in msg
    with pytest.raises(MoodtuneError, match="missing mood"):
        import_file(write_csv(tmp_path / "y.csv", MOODS_HEADER[:-1], []), store, format="data_moods")
    with pytest.raises(MoodtuneError, match="file not found"):
        import_file(tmp_path / "nope.csv", store)
    with pytest.raises(MoodtuneError, match="unknown format"):
        import_file(p, store, format="mp3")
    assert store.count() == 0


def test_bad_rows_are_reported_with_line_numbers_and_skipped(tmp_path, store):
    good = ["Song", "Alb", "Someone", sid(4), "2001", "40", "200000", "0.5", "0.1", "0.8", "0.0", "0.1", "0.3",
            "-5", "0.05", "128", "5", "4", "Calm"]
    rows = [
        good,
        ["", "Alb", "Someone", sid(5), "2001", "40", "1", "0.5", "0.1", "0.8", "0", "0.1", "0.3", "-5", "0.05", "128", "5", "4", "Sad"],
        ["Other", "Alb", "Someone", sid(6), "2001", "40", "1", "0.5", "0.1", "high", "0", "0.1", "0.3", "-5", "0.05", "128", "5", "4", "Sad"],
        ["Third", "Alb", "Someone", sid(7), "2001", "40", "1", "0.5", "0.1", "0.8", "0", "0.1", "1.7", "-5", "0.05", "128", "5", "4", "Sad"],
        ["Fourth", "Alb", "X", sid(8), "2001", "40", "1", "0.5", "0.1", "0.8", "0", "0.1", "0.3", "-5", "0.05", "128", "5", "4", "Sad", "extra"],
    ]
    rep = import_file(write_csv(tmp_path / "m.csv", MOODS_HEADER, rows), store)
    lines = {line: why for line, why in rep.bad}
    assert sorted(lines) == [3, 4, 5, 6]
    assert "empty title" in lines[3] and "'energy'" in lines[4] and "outside" in lines[5] and "fields" in lines[6]
    assert (rep.good, store.count()) == (1, 1)


def test_max_bad_aborts_and_imports_nothing(tmp_path, store):
    rows = [[f"S{i}", "A", "X", "", "2001", "1", "1", "0.5", "0.1", "nan?" if i % 2 else "0.5", "0", "0.1", "0.3",
             "-5", "0.05", "128", "5", "4", "Sad"] for i in range(10)]
    with pytest.raises(MoodtuneError, match="nothing imported"):
        import_file(write_csv(tmp_path / "m.csv", MOODS_HEADER, rows), store, max_bad=2)
    assert store.count() == 0


def test_reimport_is_idempotent_and_measured_beats_estimated(tmp_path, store):
    p = tmp_path / "g.csv"
    p.write_text("title,artist,genre\nLonely,Someone,classical\n", encoding="utf-8")
    import_file(p, store)
    t = store.find("Lonely - Someone")[0]
    assert {"valence", "arousal"} <= set(t.estimated)
    q = tmp_path / "g2.csv"
    q.write_text("title,artist,valence,energy,loudness,tempo,acousticness\nLonely,Someone,0.9,0.8,-5,130,0.1\n", encoding="utf-8")
    rep = import_file(q, store)
    assert rep.merged == 1
    t = store.find("Lonely - Someone")[0]
    assert t.valence == pytest.approx(0.9) and t.estimated == [] and t.genres == ["classical"]
    before = store.count()
    import_file(q, store)
    assert store.count() == before == 1


def test_read_tracks_detects_deam_folder(tmp_path):
    d = tmp_path / "deam"
    d.mkdir()
    (d / "static_annotations_averaged_songs_1_2000.csv").write_bytes(
        b"song_id, valence_mean, valence_std, arousal_mean, arousal_std\r\n2,3.1,0.94,3,0.63\r\n3,7,1,8.2,1\r\n4,5,1,5,1\r\n")
    (d / "metadata_2013.csv").write_text(
        'song_id,album,artist,title,Genre\n2,"\t2.mp3","Band\t","\tSlow One\t","\tBlues\t"\n3,"3.mp3","DJ","Fast","Hip-Hop-Electronic"\n',
        encoding="utf-8")
    fmt, rows = read_tracks(d)
    items = list(rows)
    assert fmt == "deam" and len(items) == 3
    t2 = items[0][1]
    assert (t2.title, t2.artists, t2.genres) == ("Slow One", ["Band"], ["blues"])
    assert t2.valence == pytest.approx((3.1 - 1) / 8) and t2.arousal == pytest.approx(0.25)
    assert items[1][1].genres == ["hip-hop", "electronic"]
    assert "no metadata" in str(items[2][1])


@shared
def test_shared_files_import_with_readme_counts(tmp_path):
    """Counts from ../shared/data/music/README.md."""
    s = CatalogStore.open(tmp_path / "all.sqlite")
    moods = import_file(MUSIC / "data_moods.csv", s)
    assert (moods.rows, moods.good, moods.distinct_ids, len(moods.bad)) == (686, 686, 686, 0)
    high = import_file(MUSIC / "high_popularity_spotify_data.csv", s)
    assert (high.rows, high.distinct_ids, len(high.bad)) == (1686, 1437, 0)
    low = import_file(MUSIC / "low_popularity_spotify_data.csv", s)
    assert (low.rows, low.distinct_ids, len(low.bad), low.without_features) == (3145, 3101, 0, 1)
    hits = import_file(MUSIC / "songs_normalize.csv", s)
    assert (hits.rows, hits.distinct_pairs, len(hits.bad)) == (2000, 2000 - 74, 0)
    deam = import_file(MUSIC / "deam", s)
    assert (deam.rows, deam.good, len(deam.bad)) == (1802, 1802, 0)
    ids = {r[0] for r in sqlite3.connect(s.path).execute("SELECT spotify_id FROM tracks WHERE spotify_id IS NOT NULL")}
    high_low = set()
    for name in ("high_popularity_spotify_data.csv", "low_popularity_spotify_data.csv"):
        with open(MUSIC / name, newline="", encoding="utf-8") as f:
            high_low |= {r["track_id"] for r in csv.DictReader(f)}
    assert len(high_low) == 4495  # the README's union count
    # every id is stored, except those of rows merged into a same title+artist track
    assert len(high_low - ids) <= high.merged + low.merged
    assert s.stats()["rankable"] == s.count()


def test_catalog_scan_reads_tags(tmp_path):
    mutagen = pytest.importorskip("mutagen")
    import wave

    import numpy as np
    from mutagen.id3 import TCON, TDRC, TIT2, TPE1
    from mutagen.wave import WAVE

    from moodtune.music.scan import scan_folder

    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    y = (np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 8000).astype("<i2")
    for name, tags in (("a.wav", ("My Tune", "Me", "Jazz", "2001")), ("sub/b.wav", None)):
        with wave.open(str(music / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(y.tobytes())
        if tags:
            f = WAVE(str(music / name))
            f.add_tags()
            for frame, text in zip((TIT2, TPE1, TCON, TDRC), tags, strict=False):
                f.tags.add(frame(encoding=3, text=text))
            f.save()
    (music / "notes.txt").write_text("not audio")
    with CatalogStore.open(tmp_path / "c.sqlite") as s:
        rep = scan_folder(music, s, audio=False)
        assert (rep.files, rep.added, len(rep.bad)) == (2, 2, 0)
        t = s.find("My Tune - Me")[0]
        assert (t.year, t.genres, t.duration_ms) == (2001, ["jazz"], 1000) and "valence" in t.estimated
        assert s.find("b - Unknown artist")  # untagged: file name as title
    assert mutagen


# ----------------------------------------------------------------------------- issue 11/12: identity, genres, titles


def test_artist_identity_survives_commas(tmp_path, store):
    from moodtune.music.types import artist_key, split_artists

    assert split_artists("Earth, Wind & Fire") == ["Earth, Wind & Fire"]
    assert split_artists("Crosby, Stills, Nash & Young, Neil Young") == ["Crosby, Stills, Nash & Young", "Neil Young"]
    assert split_artists("Tyler, The Creator, GloRilla, Sexyy Red") == ["Tyler, The Creator", "GloRilla", "Sexyy Red"]
    assert split_artists("Grover Washington, Jr., Bill Withers") == ["Grover Washington, Jr.", "Bill Withers"]
    assert split_artists("Lady Gaga, Bruno Mars") == ["Lady Gaga", "Bruno Mars"]
    assert split_artists("Simon & Garfunkel;Art Garfunkel", ";") == ["Simon & Garfunkel", "Art Garfunkel"]
    assert artist_key("Earth, Wind & Fire") != artist_key("Earth") and artist_key("Drake feat. Rihanna") == "drake"

    def row(tid, name, artist):
        return ["0.6", "120", "0.7", "disco", "-6", "0.1", "0.8", artist, "4", "0.05", "70",
                f"https://api.spotify.com/v1/tracks/{tid}", f"spotify:track:{tid}", "Album", "List", "x", tid, name,
                "1979-05-01", "0", "alb", "1", "5", "200000", "0.2", tid, "sub", "audio_features", "pl"]

    import_file(write_csv(tmp_path / "m.csv", SPOTIFY_MUSIC_HEADER,
                          [row(sid(11), "September", "Earth, Wind & Fire"), row(sid(12), "Boogie Wonderland", "Earth, Wind & Fire, The Emotions"),
                           row(sid(13), "Earth Song", "Earth")]), store)
    assert store.find(sid(12))[0].artists == ["Earth, Wind & Fire", "The Emotions"]
    idx = store.index()
    assert len(set(idx.artist.tolist())) == 2  # EWF twice (one artist), "Earth" another
    # a data_moods-style column holds ONE artist: never split
    rows = [["Mister Magic", "Alb", "Grover Washington, Jr.", sid(14), "1975", "40", "200000", "0.5", "0.1", "0.8",
             "0.0", "0.1", "0.3", "-5", "0.05", "128", "5", "4", "Calm"]]
    import_file(write_csv(tmp_path / "moods.csv", MOODS_HEADER, rows), store)
    assert store.find(sid(14))[0].artists == ["Grover Washington, Jr."]


def test_no_artist_twice_in_a_top_10_of_a_real_catalogue(tmp_path):
    import moodtune
    from moodtune.emotion.labels import CLASSES
    from moodtune.music.recommend import starter_store
    from moodtune.music.types import artist_key

    for emotion in CLASSES:
        for strategy in ("auto", "match", "calm", "energize", "lift", "balanced"):
            pl = moodtune.recommend(emotion, strategy=strategy, n=10, catalog=starter_store())
            firsts = [artist_key(t.artists[0]) for t in pl.tracks]
            assert len(set(firsts)) == 10, (emotion, strategy, firsts)


def test_display_titles_and_playlist_genres(tmp_path, store):
    from moodtune.music.features import clean_genres
    from moodtune.music.types import display_title

    for raw, shown in [("Come Together - Remastered 2009", "Come Together"), ("Heroes - 2017 Remaster", "Heroes"),
                       ("Let It Be (Remastered 2009)", "Let It Be"), ("Time - 2011 Remastered Version", "Time"),
                       ("Help! - Mono Version", "Help!"), ("Live Forever", "Live Forever"),
                       ("Mix - Tape", "Mix - Tape"), ("Remastered", "Remastered")]:
        assert display_title(raw) == shown, raw
    assert clean_genres(["gaming (playlist)", "hip-hop"]) == ["hip-hop"]
    assert clean_genres(["gaming (playlist)"]) == ["gaming (playlist)"]

    def row(tid, name, genre):
        return ["0.6", "120", "0.7", genre, "-6", "0.1", "0.5", "Rapper", "4", "0.05", "70",
                f"https://api.spotify.com/v1/tracks/{tid}", f"spotify:track:{tid}", "Album", "List", "x", tid, name,
                "2020-05-01", "0", "alb", "1", "5", "200000", "0.2", tid, "sub", "audio_features", "pl"]

    import_file(write_csv(tmp_path / "g.csv", SPOTIFY_MUSIC_HEADER,
                          [row(sid(21), "Track - Remastered 2012", "gaming"), row(sid(21), "Track - Remastered 2012", "hip-hop"),
                           row(sid(22), "Only Gaming", "gaming")]), store)
    one = store.find(sid(21))[0]
    assert one.title == "Track" and one.genres == ["hip-hop"]
    assert store.find(sid(22))[0].genres == ["gaming (playlist)"]  # kept, but marked


def test_import_adds_to_the_starter_unless_replace(tmp_path, store):
    from moodtune.music.importers import import_catalog
    from moodtune.music.starter import load_starter_tracks

    n_starter = len({t.key for t in load_starter_tracks()})
    p = write_csv(tmp_path / "mine.csv", ["title", "artist", "valence", "energy"], [["Mine", "Me", "0.5", "0.5"]])
    rep = import_catalog(p, store)
    assert rep.total == n_starter + 1 and store.search("bohemian") and store.find("Mine - Me")
    bad = write_csv(tmp_path / "bad.csv", ["foo", "bar"], [["1", "2"]])
    with pytest.raises(MoodtuneError):
        import_catalog(bad, store, replace=True)
    assert store.count() == n_starter + 1  # a file that cannot be read loses nothing
    rep = import_catalog(p, store, replace=True)
    assert rep.total == 1 and not store.search("bohemian")
