"""00 --labels tags as a user runs it: a library of any layout labelled by its genre tags (issue 21, item 1)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from conftest import run_script
from helpers_classify import encode

import functions_audio as audio
import functions_labels as labels
import functions_synthetic
from functions_dataset import csv_columns


# -------------------------------------------------------------------------------------------------------------
# Tagging helpers (mutagen, as a music player would)
# -------------------------------------------------------------------------------------------------------------
def tag(path: Path, genres: list[str] | None, artist: str | None = None, album_artist: str | None = None) -> Path:
    """Write genre (several values: several genres), artist and album artist into `path` by its format."""
    import mutagen
    from mutagen.id3 import TCON, TPE1, TPE2

    audio_file = mutagen.File(path)
    if audio_file.tags is None:
        audio_file.add_tags()
    tags = audio_file.tags
    if path.suffix == ".mp3":
        for frame, value in ((TCON, genres), (TPE1, artist and [artist]), (TPE2, album_artist and [album_artist])):
            if value:
                tags.add(frame(encoding=3, text=value))
    elif path.suffix == ".m4a":
        for key, value in (("\xa9gen", genres), ("\xa9ART", artist and [artist]),
                           ("aART", album_artist and [album_artist])):
            if value:
                tags[key] = value
    else:  # Vorbis comments: FLAC, Ogg
        for key, value in (("genre", genres), ("artist", artist and [artist]),
                           ("albumartist", album_artist and [album_artist])):
            if value:
                tags[key] = value
    audio_file.save()
    return path


CODECS = {".mp3": ("-codec:a", "libmp3lame", "-b:a", "96k"), ".flac": ("-codec:a", "flac"),
          ".ogg": ("-codec:a", "libvorbis"), ".m4a": ("-codec:a", "aac", "-b:a", "96k")}


def make_song(source: Path, target: Path, seconds: float = 4.0) -> Path:
    """The first `seconds` of `source` encoded into `target` (format from its suffix)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return encode(source, target, "-t", str(seconds), "-ac", "1", *CODECS[target.suffix])


# (path in the library, gtzan clip, genre values as written, artist, album artist)
LIBRARY = [
    ("Muddy/Live/01.mp3", "blues/blues.00000.wav", ["(0)"], "Muddy", None),  # ID3v1 number: Blues
    ("Muddy/Live/02.flac", "blues/blues.00001.wav", ["blues"], "Muddy", None),
    ("misc/blues-ish.m4a", "blues/blues.00002.wav", ["Blues; Rock"], "Howlin", None),  # several: the first
    ("Bach/a.ogg", "classical/classical.00000.wav", ["Classical"], "Bach", None),
    ("Bach/b.flac", "classical/classical.00001.wav", ["classical", "Baroque"], None, "Bach"),  # album artist
    ("c.mp3", "classical/classical.00002.wav", ["CLASSICAL"], "Glenn", None),
    ("rap/one.mp3", "hiphop/hiphop.00000.wav", ["Hip-Hop"], "MC One", None),
    ("rap/two.flac", "hiphop/hiphop.00001.wav", ["hip hop"], "MC Two", None),
    ("rap/deep/three.m4a", "hiphop/hiphop.00002.wav", ["Hip-Hop"], "MC One", None),
    ("rap/four.mp3", "hiphop/hiphop.00003.wav", ["(7)"], "MC Two", None),  # ID3v1 7: Hip-Hop
    ("loud/x.mp3", "metal/metal.00000.wav", ["Heavy Metal"], "Band X", None),  # genre map: Metal
    ("loud/y.ogg", "metal/metal.00001.wav", ["metal"], "Band Y", None),
    ("loud/z.flac", "metal/metal.00002.wav", ["Metal"], None, None),  # no artist at all
    ("reggae.mp3", "reggae/reggae.00000.wav", ["Reggae"], "Bob", None),  # one song: under --min-songs 2
    ("untagged/u1.mp3", "rock/rock.00000.wav", None, "Someone", None),
    ("untagged/u2.flac", "rock/rock.00001.wav", None, None, None),
]
EXPECTED = {"Muddy/Live/01.mp3": ("blues", "Muddy"), "Muddy/Live/02.flac": ("blues", "Muddy"),
            "misc/blues-ish.m4a": ("blues", "Howlin"), "Bach/a.ogg": ("classical", "Bach"),
            "Bach/b.flac": ("classical", "Bach"), "c.mp3": ("classical", "Glenn"),
            "rap/one.mp3": ("hip-hop", "MC One"), "rap/two.flac": ("hip-hop", "MC Two"),
            "rap/deep/three.m4a": ("hip-hop", "MC One"), "rap/four.mp3": ("hip-hop", "MC Two"),
            "loud/x.mp3": ("metal", "Band X"), "loud/y.ogg": ("metal", "Band Y"), "loud/z.flac": ("metal", "")}


@pytest.fixture(scope="module")
def gtzan_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nested library of MP3/FLAC/OGG/M4A songs cut from gtzan_mini, tagged in mixed spellings, two untagged,
    one whose tags cannot be read; and a genre map."""
    shared = audio.shared_data_dir()
    if shared is None or not (shared / "gtzan_mini").is_dir():
        pytest.skip("shared real data (gtzan_mini) not found at ../shared/data (set GENRE_SHARED_DATA)")
    root = tmp_path_factory.mktemp("tagged") / "library"
    for file, clip, genres, artist, album_artist in LIBRARY:
        song = make_song(shared / "gtzan_mini" / clip, root / file)
        if genres or artist or album_artist:
            tag(song, genres, artist, album_artist)
    (root / "broken.flac").write_bytes(b"not a flac file at all" * 100)  # tags unreadable: listed, not fatal
    (root.parent / "map.tsv").write_text("# my genre map\ntag\tlabel\nheavy metal\tMetal\nno tab here\n"
                                         "Heavy-Metal\tRock\n", encoding="utf-8")
    return root


def read_rows(csv_path: Path) -> dict[str, tuple[str, str]]:
    frame = pd.read_csv(csv_path, keep_default_na=False)
    return {row.file: (row.genre, row.artist) for row in frame.itertuples()}


def test_gtzan_library_labelled_by_its_tags(gtzan_library: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.csv"
    result = run_script("00_preprocess_music.py", gtzan_library, "--labels", "tags", "-o", out, "--features",
                        "classic", "--genre-map", gtzan_library.parent / "map.tsv", "--min-songs", "2",
                        "--workers", "2", "--no-progress")
    assert result.returncode == 0, (result.stdout, result.stderr)
    text = result.stdout
    # the summary comes first, before any audio
    assert text.index("Tags of 17 audio files") < text.index("Extracting the classic features")
    assert "13 songs in 4 genres to learn, 2 untagged, 1 with unreadable tags, 1 in 1 genres set aside" in text
    # bad genre map lines: one clear line each, the rest used
    bad = [line for line in result.stderr.splitlines() if "genre map" in line]
    assert len(bad) == 2 and "line 4: expected two columns" in bad[0]
    assert "'Heavy-Metal' is already mapped to 'Metal' on line 3; line ignored" in bad[1]
    # per genre: songs, artists, merged spellings; per artist; several genres; untagged and unreadable listed
    assert "  hip-hop        4 songs     2 artists   ('Hip-Hop' 3, 'hip hop' 1)" in text
    assert "  metal          3 songs     2 artists   ('Metal' 2, 'metal' 1)" in text
    assert "  blues          3 songs     2 artists   ('Blues' 2, 'blues' 1)" in text  # "(0)" is Blues
    assert "2 songs have several genres; the first was taken:" in text
    assert "  misc/blues-ish.m4a: 'Blues; Rock' -> blues" in text
    assert "  Bach/b.flac: 'classical; Baroque' -> classical" in text
    assert "Songs per artist (8 artists):\n  Bach: 2 (classical 2)\n" in text
    assert "  Muddy: 2 (blues 2)" in text and "  (no artist tag): 1 (metal 1)" in text
    assert "  reggae" in text.split("Set aside")[1]
    assert "  untagged/u1.mp3\n  untagged/u2.flac\n" in text
    assert "  broken.flac: cannot read its tags (the file is not a valid FLAC file)" in text
    # the CSV: file, genre, artist, then the features; one row per labelled song
    header = next(csv.reader(out.open()))
    assert tuple(header) == csv_columns("classic", artist=True) and header[:3] == ["file", "genre", "artist"]
    assert read_rows(out) == EXPECTED
    # the labels' spellings beside it, for writing tags back; every song's fate in the labels CSV
    settings = json.loads(out.with_name("mine.settings.json").read_text())
    assert settings["genres"]["hip-hop"]["spelling"] == "Hip-Hop" and settings["genres"]["metal"]["spelling"] == "Metal"
    assert settings["genres"]["classical"]["spelling"] == "Classical"  # a tie of three: not all capitals
    assert settings["genres"]["blues"]["songs"] == 3 and settings["set_aside"] == {"reggae": 1}
    listed = pd.read_csv(out.with_name("mine.labels.csv"), keep_default_na=False).set_index("file")
    assert len(listed) == 17 and listed.loc["reggae.mp3", "status"] == "set aside"
    assert listed.loc["untagged/u1.mp3", "status"] == "untagged"
    assert listed.loc["broken.flac", "status"] == "unreadable tags"
    errors = pd.read_csv(out.with_name("mine.errors.csv"))
    assert list(errors["file"]) == ["broken.flac"]

    # retagging a song: the next run keeps its features and writes its new label; nothing extracted again
    tag(gtzan_library / "c.mp3", ["Metal"], "Glenn")
    features_before = pd.read_csv(out).set_index("file").loc["c.mp3"].iloc[2:]
    again = run_script("00_preprocess_music.py", gtzan_library, "--labels", "tags", "-o", out, "--features",
                       "classic", "--genre-map", gtzan_library.parent / "map.tsv", "--min-songs", "2", "--workers",
                       "1", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "(0 extracted now, 13 kept from an earlier run)" in again.stdout
    after = pd.read_csv(out, keep_default_na=False).set_index("file")
    assert (after.loc["c.mp3", "genre"], after.loc["c.mp3", "artist"]) == ("metal", "Glenn")
    pd.testing.assert_series_equal(after.loc["c.mp3"].iloc[2:].astype(float), features_before.astype(float))
    tag(gtzan_library / "c.mp3", ["CLASSICAL"], "Glenn")


def test_edited_tags_keep_a_songs_row_and_another_song_under_its_name_is_extracted_again(
        gtzan_library: Path, tmp_path: Path) -> None:
    """Labels from tags: writing tags changes a file's time and size but not its audio, so the row is kept (each
    format); another song saved under a tagged song's name, with the same tags, is extracted again."""
    library = tmp_path / "library"
    shutil.copytree(gtzan_library, library)
    out = tmp_path / "mine.csv"
    args = ("--labels", "tags", "-o", out, "--features", "classic", "--genre-map", gtzan_library.parent / "map.tsv",
            "--min-songs", "2", "--workers", "1", "--no-progress")
    assert run_script("00_preprocess_music.py", library, *args).returncode == 0
    first = pd.read_csv(out, keep_default_na=False).set_index("file")
    for file in ("Muddy/Live/01.mp3", "Muddy/Live/02.flac", "Bach/a.ogg", "misc/blues-ish.m4a"):
        tag(library / file, ["Blues"], "Someone Else")
    again = run_script("00_preprocess_music.py", library, *args)
    assert again.returncode == 0, again.stderr
    assert "(0 extracted now, 13 kept from an earlier run)" in again.stdout
    assert read_rows(out)["Bach/a.ogg"] == ("blues", "Someone Else")
    # another song of the same length (a reviewer found these kept: the stamp was the length alone), in each
    # format, with the same tags; and the same song encoded again at another bitrate
    shared = audio.shared_data_dir()
    replaced = {"rap/two.flac": (["hip hop"], "MC Two"), "loud/y.ogg": (["metal"], "Band Y"),
                "rap/deep/three.m4a": (["Hip-Hop"], "MC One")}
    for file, (genres, artist) in replaced.items():
        make_song(shared / "gtzan_mini" / "jazz" / "jazz.00000.wav", library / file)  # 4 s, as the one it replaces
        tag(library / file, genres, artist)
    encode(shared / "gtzan_mini" / "metal" / "metal.00000.wav", library / "loud" / "x.mp3", "-t", "4", "-ac", "1",
           "-codec:a", "libmp3lame", "-b:a", "192k")
    tag(library / "loud" / "x.mp3", ["Heavy Metal"], "Band X")
    third = run_script("00_preprocess_music.py", library, *args)
    assert third.returncode == 0, third.stderr
    assert "(4 extracted now, 9 kept from an earlier run)" in third.stdout
    assert "Extracted 4 clips again: their files changed since the rows were made (their audio differs" \
        in third.stdout
    after = pd.read_csv(out, keep_default_na=False).set_index("file")
    assert after.loc["rap/two.flac", "genre"] == "hip-hop" and after.loc["loud/x.mp3", "genre"] == "metal"
    for file in replaced:
        assert not np.allclose(after.loc[file].iloc[2:].astype(float), first.loc[file].iloc[2:].astype(float))


def test_a_song_whose_name_is_not_utf8_is_one_line_and_the_rest_are_labelled(gtzan_library: Path,
                                                                               tmp_path: Path) -> None:
    """A file name of Latin-1 bytes made 00 --labels tags end in a traceback (UnicodeEncodeError) writing its
    labels CSV."""
    library = tmp_path / "library"
    shutil.copytree(gtzan_library, library)
    shutil.copy(library / "c.mp3", library / os.fsdecode(b"caf\xe9.mp3"))
    out = tmp_path / "mine.csv"
    result = run_script("00_preprocess_music.py", library, "--labels", "tags", "-o", out, "--features", "classic",
                        "--genre-map", gtzan_library.parent / "map.tsv", "--min-songs", "2", "--workers", "1",
                        "--no-progress")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "caf\ufffd.mp3" in result.stdout + result.stderr and "not valid UTF-8" in result.stdout + result.stderr
    assert len(pd.read_csv(out)) == 13


def test_dry_run_reads_tags_only(gtzan_library: Path, tmp_path: Path) -> None:
    out = tmp_path / "dry.csv"
    result = run_script("00_preprocess_music.py", gtzan_library, "--labels", "tags", "-o", out, "--dry-run",
                        "--min-songs", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "--dry-run: no audio read" in result.stdout and "Extracting" not in result.stdout
    assert not out.exists() and out.with_name("dry.labels.csv").is_file()
    assert "4 in 3 genres set aside" in result.stdout  # without the map: heavy metal 1, metal 2, reggae 1


# -------------------------------------------------------------------------------------------------------------
# Without shared data: synthetic songs as FLAC with Vorbis comments
# -------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("synthetic_tags")
    collection = functions_synthetic.make_synthetic_collection(base / "wav", clips_per_genre=3, seconds=3.0,
                                                               genres=("blues", "metal"))
    root = base / "library"
    for index, wav in enumerate(sorted(collection.rglob("*.wav"))):
        genre = wav.parent.name
        target = root / f"artist{index % 2}" / f"{wav.stem}.flac"
        target.parent.mkdir(parents=True, exist_ok=True)
        samples, sr = soundfile.read(wav)
        soundfile.write(target, samples, sr, format="FLAC")
        if index != 0:  # the first song stays untagged
            tag(target, [genre.upper() if index % 2 else genre.capitalize()], f"Artist {index % 2}")
    return root


def test_synthetic_library(synthetic_library: Path, tmp_path: Path) -> None:
    out = tmp_path / "synth.csv"
    result = run_script("00_preprocess_music.py", synthetic_library, "--labels", "tags", "-o", out,
                        "--features", "classic", "--min-songs", "2", "--workers", "1", "--no-progress")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "5 songs in 2 genres to learn, 1 untagged" in result.stdout
    frame = pd.read_csv(out)
    assert list(frame.columns[:3]) == ["file", "genre", "artist"] and len(frame) == 5
    assert sorted(set(frame["genre"])) == ["blues", "metal"]
    assert set(frame["artist"]) == {"Artist 0", "Artist 1"}
    assert "artist0/blues.00000.flac" not in set(frame["file"])


def test_nothing_to_train_is_one_line(synthetic_library: Path, tmp_path: Path) -> None:
    def run(library: Path, *extra: str):
        return run_script("00_preprocess_music.py", library, "--labels", "tags", "-o", tmp_path / "x.csv",
                          "--features", "classic", "--no-progress", *extra)

    def assert_one_line(result, *words: str) -> None:
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and "Extracting" not in result.stdout
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and all(word in last for word in words), last

    untagged = tmp_path / "untagged"
    shutil.copytree(synthetic_library / "artist0", untagged)
    for flac in untagged.glob("*.flac"):
        soundfile.write(flac, *soundfile.read(flac)[::-1][::-1], format="FLAC")  # a fresh file: no tags
    (untagged / "bad.ogg").write_bytes(b"OggS but not really")
    assert_one_line(run(untagged), "has a genre tag", "1 with unreadable tags")
    assert_one_line(run(synthetic_library), "no genre has --min-songs 10 songs")
    one = tmp_path / "one"
    shutil.copytree(synthetic_library, one)
    for flac in one.rglob("*.flac"):
        tag(flac, ["Blues"])
    assert_one_line(run(one, "--min-songs", "2"), "only one genre to learn: blues (6 songs)")
    assert_one_line(run(one, "--genre-map", tmp_path / "missing.tsv"), "genre map not found")
    folders = run_script("00_preprocess_music.py", "--demo", "--labels", "tags", "-o", tmp_path / "d.csv")
    assert folders.returncode == 2 and "--labels tags reads the genre tags of a LIBRARY folder" in folders.stderr


def test_genre_values() -> None:
    assert labels.split_genres(["(17)"]) == ["Rock"] and labels.split_genres(["17"]) == ["Rock"]
    assert labels.split_genres(["(17)(9)"]) == ["Rock", "Metal"]
    assert labels.split_genres(["(17)Hard Rock"]) == ["Hard Rock"]
    assert labels.split_genres(["R&B/Soul | Pop", "  Drum  and Bass "]) == ["R&B/Soul", "Pop", "Drum and Bass"]
    assert labels.split_genres(["255", " ; ", "--", "Unknown", "N/A", "none"]) == []


def test_a_dask_cluster_gives_the_same_csv(cli_cluster, synthetic_library: Path, tmp_path: Path) -> None:
    common = ("--labels", "tags", "--features", "classic", "--min-songs", "2", "--no-progress")
    local = tmp_path / "local.csv"
    assert run_script("00_preprocess_music.py", synthetic_library, "-o", local, "--workers", "2",
                      *common).returncode == 0
    result = run_script("00_preprocess_music.py", synthetic_library, "-o", tmp_path / "dask.csv", "--scheduler",
                        cli_cluster.address, *common)
    assert result.returncode == 0, result.stderr
    assert "Dask cluster" in result.stdout and "Traceback" not in result.stderr
    assert (tmp_path / "dask.csv").read_text() == local.read_text()
