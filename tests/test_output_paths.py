"""Outputs never land on inputs (issue 25): a --like playlist, the genre playlists, 00's features CSV and the window's
exports are refused, in one line, where they would write the results file or a song; a file no decoder reads is one
line, without the decoder's own notes on stderr, and so is a file whose samples are NaN or infinite.

Runs the real scripts on a real scanned library (synthetic songs, the shipped model); no shared data needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script
from helpers_classify import run_classifier, synthetic_song, write_wav

import functions_audio as audio


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three synthetic songs scanned by 03 with the shipped model into a results file: (songs folder, file)."""
    root = tmp_path_factory.mktemp("library")
    songs = root / "songs"
    for i, genre in enumerate(("metal", "blues", "classical")):
        write_wav(songs / f"{genre}.wav", synthetic_song([(genre, 6.0)], seed=i))
    results = root / "library.jsonl"
    run = run_classifier(songs, "--results", results, "--workers", "1", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert len(results.read_bytes().splitlines()) == 3
    return songs, results


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("how", ["same name", "symbolic link", "hard link", "another spelling"])
def test_a_like_playlist_that_is_the_results_file_is_refused(library, tmp_path, how):
    songs, scanned = library
    results = tmp_path / "lib.m3u8"  # a results file that happens to be named like a playlist
    results.write_bytes(scanned.read_bytes())
    before = results.read_bytes()
    playlist = {"same name": results, "symbolic link": tmp_path / "link.m3u8", "hard link": tmp_path / "hard.m3u8",
                "another spelling": tmp_path / "sub" / ".." / "lib.m3u8"}[how]
    if how == "symbolic link":
        playlist.symlink_to(results)
    elif how == "hard link":
        os.link(results, playlist)
    elif how == "another spelling":
        (tmp_path / "sub").mkdir()
    run = run_classifier("--like", songs / "metal.wav", "--results", results, "--playlist", playlist)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert "is the results file" in line and str(playlist) in line
    assert results.read_bytes() == before
    # another name works, and the results file is still unchanged
    run = run_classifier("--like", songs / "metal.wav", "--results", results, "--playlist", tmp_path / "ok.m3u8")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "ok.m3u8").read_text().startswith("#EXTM3U") and results.read_bytes() == before


@pytest.mark.parametrize("playlist", ["metal", "unknown"])
def test_genre_playlists_never_overwrite_the_results_file(library, tmp_path, playlist):
    songs, scanned = library
    folder = tmp_path / "lists"
    folder.mkdir()
    results = folder / f"{playlist}.m3u8"  # where --playlists would write the metal (or unknown) playlist
    results.write_bytes(scanned.read_bytes())
    before = results.read_bytes()
    run = run_classifier(songs, "--results", results, "--playlists", folder)
    assert run.returncode == 2
    line = one_line(run.stderr)
    assert f"{playlist}.m3u8" in line and "results file" in line
    assert results.read_bytes() == before and sorted(folder.iterdir()) == [results]
    run = run_classifier(songs, "--results", scanned, "--playlists", results)
    assert run.returncode == 2 and "is a file, not a folder" in one_line(run.stderr)
    assert results.read_bytes() == before


def test_00_never_writes_its_csv_over_a_clip_or_reads_a_binary_file_as_one(tmp_path):
    dataset = tmp_path / "dataset"
    clip = write_wav(dataset / "metal" / "a.wav", synthetic_song([("metal", 3.0)]))
    before = clip.read_bytes()
    run = run_script("00_preprocess_music.py", dataset, "-o", clip, "--features", "classic")
    assert run.returncode == 2 and "ending in .csv" in run.stderr and clip.read_bytes() == before
    binary = tmp_path / "binary.csv"
    binary.write_bytes(before)
    run = run_script("00_preprocess_music.py", dataset, "-o", binary, "--features", "classic", "--no-progress")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "not a features CSV" in run.stderr.strip().splitlines()[-1] and binary.read_bytes() == before


def test_a_file_no_decoder_reads_is_one_line_without_the_decoders_notes(library, tmp_path):
    _, results = library
    junk = tmp_path / "notaudio.mp3"
    junk.write_bytes(bytes(range(256)) * 80)  # libsndfile's MP3 reader prints "Note: Illegal Audio-MPEG-Header"
    run = run_classifier("--like", junk, "--results", results)
    assert run.returncode == 1
    line = one_line(run.stderr)
    assert str(junk) in line and "cannot be analysed" in line
    run = run_classifier(junk, junk, "--workers", "2")
    assert run.returncode == 1 and "Note:" not in run.stderr and "Traceback" not in run.stderr


def test_same_file_sees_links_and_paths_not_made_yet(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    (tmp_path / "link").symlink_to(a)
    os.link(a, tmp_path / "hard")
    assert audio.same_file(tmp_path / "link", a) and audio.same_file(tmp_path / "hard", a)
    assert audio.same_file(tmp_path / "new" / ".." / "a.txt", a)
    assert not audio.same_file(tmp_path / "b.txt", a)
    (tmp_path / "dangling").symlink_to(tmp_path / "c.txt")
    assert audio.same_file(tmp_path / "dangling", tmp_path / "c.txt")


def test_a_float_file_with_nan_or_infinite_samples_is_one_line(tmp_path):
    """It ended in an IndexError traceback (the silence trimming found no loud block among NaN energies)."""
    import soundfile

    y = np.sin(np.arange(5 * audio.SAMPLE_RATE) / 10).astype(np.float32)
    y[1000], y[2000] = np.nan, np.inf
    damaged = tmp_path / "damaged.wav"
    soundfile.write(str(damaged), y, audio.SAMPLE_RATE, subtype="FLOAT")
    run = run_classifier(damaged)
    assert run.returncode == 1 and "Traceback" not in run.stderr and "RuntimeWarning" not in run.stderr
    assert run.stdout.strip() == f"{damaged}: ERROR: damaged audio: some samples are not numbers (NaN or infinite)"
    record = json.loads(run_classifier(damaged, "--json").stdout)
    assert record["error"].startswith("damaged audio") and record["genre"] is None
