"""00_preprocess_music.py as a user runs it: bad input, kill -9 and resume, a Dask cluster, the GTZAN download."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from conftest import PROJECT_DIR, child_processes, run_script

import functions_audio as audio
import functions_dataset as dataset
import functions_synthetic
from functions_features import EXTRACTOR_VERSION

SR = audio.SAMPLE_RATE


def assert_clean_failure(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    """A failure a user can read: the exit code, a message naming the problem, no Python traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    message = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in message, message


# --------------------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture
def messy_dataset(tmp_path: Path) -> Path:
    """Two good clips, and every kind of file and folder that cannot be used."""
    root = tmp_path / "messy"
    for genre in ("rock", "jazz", "empty_genre", "pop"):
        (root / genre).mkdir(parents=True)
    soundfile.write(root / "rock/good.wav", functions_synthetic.synthesize_clip("rock", 0, 3.0), SR)
    soundfile.write(root / "jazz/good.flac", functions_synthetic.synthesize_clip("jazz", 0, 3.0), SR)
    (root / "rock/broken.wav").write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt " + os.urandom(400))
    (root / "rock/empty.wav").write_bytes(b"")
    (root / "jazz/notes.mp3").write_text("these are my notes, not an mp3\n" * 50)
    good = (root / "rock/good.wav").read_bytes()
    (root / "jazz/truncated.wav").write_bytes(good[:60])  # header cut short: no samples
    soundfile.write(root / "pop/short.wav", functions_synthetic.synthesize_clip("pop", 1, 0.4), SR)
    soundfile.write(root / "pop/silence.wav", np.zeros(3 * SR, dtype=np.float32), SR)
    (root / "pop/cover.jpg").write_bytes(b"\xff\xd8 not audio, and not named as audio")
    (root / "pop/._good.wav").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (root / "rock/.Trash").mkdir()  # hidden folders are not part of the collection
    soundfile.write(root / "rock/.Trash/deleted.wav", functions_synthetic.synthesize_clip("rock", 2, 2.0), SR)
    return root


def test_bad_files_are_reported_and_skipped_and_the_run_goes_on(messy_dataset, tmp_path):
    out = tmp_path / "out/features.csv"
    result = run_script("00_preprocess_music.py", messy_dataset, "-o", out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = pd.read_csv(out)
    assert sorted(rows["file"]) == ["jazz/good.flac", "rock/good.wav"]
    assert np.all(np.isfinite(rows[list(audio.FEATURE_COLUMNS)].to_numpy()))
    errors = pd.read_csv(tmp_path / "out/features.errors.csv").set_index("file")["error"]
    assert set(errors.index) == {"rock/broken.wav", "rock/empty.wav", "jazz/notes.mp3", "jazz/truncated.wav",
                                 "pop/short.wav", "pop/silence.wav", "empty_genre/"}
    assert "empty" in errors["rock/empty.wav"]
    assert "too short" in errors["pop/short.wav"]
    assert "silent" in errors["pop/silence.wav"]
    assert "no audio" in errors["empty_genre/"]
    for file in errors.index:  # one line each on the terminal, naming the file
        assert sum(file in line for line in result.stderr.splitlines()) == 1, file
    assert "Skipped 7" in result.stdout


def test_an_unreadable_folder_is_reported_and_the_rest_extracted(tmp_path):
    root = tmp_path / "dataset"
    for genre in ("rock", "jazz"):
        (root / genre).mkdir(parents=True)
        soundfile.write(root / genre / "a.wav", functions_synthetic.synthesize_clip(genre, 0, 2.0), SR)
    (root / "jazz/private").mkdir()
    soundfile.write(root / "jazz/private/b.wav", functions_synthetic.synthesize_clip("jazz", 1, 2.0), SR)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads everything: drop the capabilities that bypass file permissions
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and util-linux's setpriv is missing: cannot make a folder unreadable")
        drop = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}"]
    os.chmod(root / "jazz/private", 0)
    try:
        result = subprocess.run([*prefix, sys.executable, str(PROJECT_DIR / "00_preprocess_music.py"), str(root),
                                 "-o", str(tmp_path / "f.csv"), "--workers", "1", "--no-progress"],
                                cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    finally:
        os.chmod(root / "jazz/private", 0o755)
    assert result.returncode == 0, result.stderr
    assert sorted(pd.read_csv(tmp_path / "f.csv")["file"]) == ["jazz/a.wav", "rock/a.wav"]
    errors = pd.read_csv(tmp_path / "f.errors.csv")
    assert errors["file"].tolist() == ["jazz/private/"]
    assert "unreadable folder" in errors["error"][0]
    assert "jazz/private/" in result.stderr


def test_missing_and_empty_datasets_fail_with_one_clear_line(tmp_path):
    result = run_script("00_preprocess_music.py", tmp_path / "nowhere", "-o", tmp_path / "f.csv")
    assert_clean_failure(result, 1, "not found", "nowhere")
    (tmp_path / "empty/rock").mkdir(parents=True)
    (tmp_path / "empty/rock/readme.txt").write_text("no music here")
    result = run_script("00_preprocess_music.py", tmp_path / "empty", "-o", tmp_path / "f.csv")
    assert_clean_failure(result, 1, "no audio files", "empty")


def test_an_unwritable_output_fails_with_one_clear_line(synthetic_dataset, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", tmp_path / "a_file/f.csv")
    assert_clean_failure(result, 1, "cannot write", "f.csv")


def test_a_foreign_csv_is_not_overwritten_without_asking(synthetic_dataset, tmp_path):
    (tmp_path / "f.csv").write_text("name,score\nalice,3\n")
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", tmp_path / "f.csv")
    assert_clean_failure(result, 1, "--overwrite")
    assert (tmp_path / "f.csv").read_text() == "name,score\nalice,3\n"


@pytest.mark.parametrize("args", [["--workers", "0"], [], ["--demo", "somewhere"], ["--max-seconds", "0.5"],
                                  ["--scheduler", "localhost"]])
def test_bad_arguments_exit_2_with_usage(args, synthetic_dataset):
    full = [*args] if args and args[0] == "--demo" else [str(synthetic_dataset), *args] if args else []
    result = run_script("00_preprocess_music.py", *full)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def test_help_explains_the_script():
    result = run_script("00_preprocess_music.py", "--help")
    assert result.returncode == 0
    for words in ("DATASET_DIR", "--workers", "--scheduler", "--max-seconds", "--download-gtzan", "--demo",
                  "errors.csv"):
        assert words in result.stdout


# --------------------------------------------------------------------------------------------------------------
# Never losing work
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resumable_dataset(tmp_path_factory) -> Path:
    """Enough clips that a run can be killed in the middle: 3 genres x 12 clips of 6 s."""
    root = tmp_path_factory.mktemp("resume") / "dataset"
    return functions_synthetic.make_synthetic_collection(root, clips_per_genre=12, seconds=6.0,
                                                         genres=("disco", "hiphop", "pop"))


def _rows_on_disk(path: Path) -> int:
    try:
        return max(0, path.read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_kill_9_keeps_finished_rows_and_a_rerun_completes_to_the_same_csv(resumable_dataset, tmp_path):
    clean = tmp_path / "clean.csv"
    assert run_script("00_preprocess_music.py", resumable_dataset, "-o", clean, "--workers", "2").returncode == 0

    killed = tmp_path / "killed.csv"
    command = [sys.executable, str(PROJECT_DIR / "00_preprocess_music.py"), str(resumable_dataset), "-o",
               str(killed), "--workers", "2", "--no-progress"]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while _rows_on_disk(killed) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the script and its worker processes, with no chance to clean up
    process.wait()
    assert process.returncode == -signal.SIGKILL

    partial = pd.read_csv(killed)  # a valid CSV of the finished clips
    assert 5 <= len(partial) < 36
    assert partial["file"].is_unique
    assert np.all(np.isfinite(partial[list(audio.FEATURE_COLUMNS)].to_numpy()))
    with open(killed, "a") as stream:  # as if the kill had landed in the middle of a row
        stream.write("disco/synthetic_disco.011.wav,disco,-1.5,2.")

    result = run_script("00_preprocess_music.py", resumable_dataset, "-o", killed, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert f"{len(partial)} kept from an earlier run" in result.stdout
    assert killed.read_text() == clean.read_text()


def test_a_finished_csv_is_left_as_it_is_on_a_rerun(synthetic_dataset, tmp_path):
    out = tmp_path / "f.csv"
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", out).returncode == 0
    before = out.read_text()
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out)
    assert result.returncode == 0
    assert "0 extracted now, 12 kept" in result.stdout
    assert out.read_text() == before


@pytest.mark.slow
def test_a_killed_worker_costs_only_its_clip_and_a_rerun_extracts_it(resumable_dataset, tmp_path):
    out = tmp_path / "f.csv"
    command = [sys.executable, str(PROJECT_DIR / "00_preprocess_music.py"), str(resumable_dataset), "-o", str(out),
               "--workers", "2", "--no-progress"]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _rows_on_disk(out) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child_processes(process.pid)[0], signal.SIGKILL)  # what the out-of-memory killer does to one worker
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    rows, errors = pd.read_csv(out), pd.read_csv(tmp_path / "f.errors.csv")
    assert errors["error"].str.startswith("worker process died (killed by SIGKILL").all()
    assert len(errors) <= 1 and len(rows) + len(errors) == 36  # only the clip it held, if any, is missing
    for file in errors["file"]:
        assert f"skipped {file}: worker process died" in stderr and "run the same command again" in stdout
    rerun = run_script("00_preprocess_music.py", resumable_dataset, "-o", out, "--workers", "2")
    assert rerun.returncode == 0 and f"{len(errors)} extracted now, {len(rows)} kept" in rerun.stdout
    assert len(pd.read_csv(out)) == 36 and len(pd.read_csv(tmp_path / "f.errors.csv")) == 0


def test_rows_made_with_other_settings_or_by_an_older_extractor_are_extracted_again(synthetic_dataset, tmp_path):
    clean, out = tmp_path / "clean.csv", tmp_path / "f.csv"
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", clean).returncode == 0
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--max-seconds", "3").returncode == 0
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "12 extracted now, 0 kept" in result.stdout
    assert "Set aside 12 rows made with other settings (max_seconds 3.0 -> 30.0)" in result.stdout
    assert out.read_text() == clean.read_text()
    assert len(pd.read_csv(tmp_path / "f.previous.csv")) == 12  # set aside, not lost
    # rows of an older extractor: a CSV from before settings were recorded, or from another extractor version
    settings = tmp_path / "f.settings.json"
    record = json.loads(settings.read_text())
    settings.unlink()
    report = dataset.extract_dataset(synthetic_dataset, out, workers=1, progress=False)
    assert (report.rows_set_aside, report.rows_extracted) == (12, 12) and "older extractor" in report.settings_change
    settings.write_text(json.dumps({**record, "extractor_version": record["extractor_version"] - 1}))
    report = dataset.extract_dataset(synthetic_dataset, out, workers=1, progress=False)
    assert report.rows_set_aside == 12
    assert report.settings_change == f"extractor_version {EXTRACTOR_VERSION - 1} -> {EXTRACTOR_VERSION}"
    # in this process BLAS may use several threads, where workers use one: the last digits may differ
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(clean), rtol=1e-5, atol=1e-6)
    report = dataset.extract_dataset(synthetic_dataset, out, workers=1, progress=False)  # the same settings
    assert (report.rows_from_earlier_run, report.rows_set_aside) == (12, 0)


def test_another_folder_with_the_same_file_names_gets_its_own_rows(synthetic_dataset, tmp_path):
    """The same -o for a second collection whose files are named like the first's (blues/blues.00000.wav...):
    its clips are extracted, not given the first collection's rows, and those rows are set aside, not lost, each
    set-aside beside the earlier ones."""
    other = tmp_path / "other"
    shutil.copytree(synthetic_dataset, other)
    for wav in sorted(other.rglob("*.wav")):  # the same names, other sounds: each clip the next one's audio
        y, sr = soundfile.read(str(wav), dtype="float32")
        soundfile.write(str(wav), np.roll(y, len(y) // 3) * np.float32(0.5), sr)
    out, alone = tmp_path / "f.csv", tmp_path / "alone.csv"
    assert run_script("00_preprocess_music.py", other, "-o", alone, "--features", "classic").returncode == 0
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic").returncode == 0
    first = out.read_text()
    result = run_script("00_preprocess_music.py", other, "-o", out, "--features", "classic")
    assert result.returncode == 0, result.stderr
    assert "12 extracted now, 0 kept" in result.stdout and "Set aside 12 rows" in result.stdout
    assert f"dataset {os.path.realpath(synthetic_dataset)} -> {os.path.realpath(other)}" in result.stdout
    assert out.read_text() == alone.read_text() and (tmp_path / "f.previous.csv").read_text() == first
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic")
    assert result.returncode == 0 and "f.previous-2.csv" in result.stdout, result.stdout
    assert (tmp_path / "f.previous.csv").read_text() == first  # the first set-aside is still there
    assert (tmp_path / "f.previous-2.csv").read_text() == alone.read_text() and out.read_text() == first


def test_a_file_changed_since_its_row_was_made_is_extracted_again(synthetic_dataset, tmp_path):
    """Another song saved under a clip's name (same size, a later modification time): 00 used to keep the old
    song's row. Its row is made again from the new audio; the other rows stay as they were. A CSV of a run
    before stamps were kept keeps its rows unless their file was modified after it, and says so."""
    library = tmp_path / "library"
    shutil.copytree(synthetic_dataset, library)
    out = tmp_path / "f.csv"
    assert run_script("00_preprocess_music.py", library, "-o", out, "--features", "classic").returncode == 0
    first = pd.read_csv(out).set_index("file")
    stamps = pd.read_csv(tmp_path / "f.stamps.csv").set_index("file")
    assert sorted(stamps.index) == sorted(first.index)
    replaced = sorted(first.index)[1]
    y, sr = soundfile.read(str(library / replaced), dtype="float32")
    soundfile.write(str(library / replaced), np.roll(y, len(y) // 3) * np.float32(0.5), sr)  # same size
    later = os.stat(library / replaced).st_mtime_ns + 5_000_000_000
    os.utime(library / replaced, ns=(later, later))
    result = run_script("00_preprocess_music.py", library, "-o", out, "--features", "classic")
    assert result.returncode == 0, result.stderr
    assert "1 extracted now, 11 kept" in result.stdout
    assert ("Extracted 1 clip again: its file changed since the rows were made (their size or modification time "
            "differs") in result.stdout
    again = pd.read_csv(out).set_index("file")
    fresh = run_script("00_preprocess_music.py", library, "-o", tmp_path / "fresh.csv", "--features", "classic")
    assert fresh.returncode == 0
    pd.testing.assert_frame_equal(again, pd.read_csv(tmp_path / "fresh.csv").set_index("file"))
    assert not np.allclose(again.loc[replaced, "mfcc_mean_01"], first.loc[replaced, "mfcc_mean_01"])
    pd.testing.assert_frame_equal(again.drop(index=replaced), first.drop(index=replaced))
    # a CSV written before stamps: its rows are kept, but that of a file modified after it, and stamped
    (tmp_path / "f.stamps.csv").unlink()
    os.utime(library / replaced, ns=(later - 60 * 10**9,) * 2)  # back from the future this test sent it to
    newer = sorted(first.index)[2]
    os.utime(library / newer, ns=(out.stat().st_mtime_ns + 10**9,) * 2)
    result = run_script("00_preprocess_music.py", library, "-o", out, "--features", "classic")
    assert result.returncode == 0 and "1 extracted now, 11 kept" in result.stdout, result.stdout
    assert "Kept 11 rows of a run before f.stamps.csv existed without checking their files" in result.stdout
    assert len(pd.read_csv(tmp_path / "f.stamps.csv")) == 12


def test_damaged_stamps_cost_only_their_rows_and_a_failed_write_loses_none(synthetic_dataset, tmp_path):
    """What a reviewer found: one damaged line of FEATURES.stamps.csv re-extracted every row, an empty one too
    without saying why, a stamps file that could not be written lost every row before the error (naming the CSV),
    and a set-aside CSV left its stamps behind."""
    out, stamps = tmp_path / "f.csv", tmp_path / "f.stamps.csv"
    report = dataset.extract_dataset(synthetic_dataset, out, workers=1, progress=False, feature_set="classic")
    assert report.rows_extracted == 12
    lines = stamps.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b".wav", b".w\xe9v")  # a byte that is not UTF-8
    stamps.write_bytes(b"".join(lines))
    report = dataset.extract_dataset(synthetic_dataset, out, workers=1, progress=False, feature_set="classic")
    assert (report.rows_extracted, report.rows_from_earlier_run, report.stamps_problem) == (1, 11, "")
    stamps.write_bytes(b"")
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic")
    assert result.returncode == 0 and "12 extracted now, 0 kept" in result.stdout
    assert "Extracted 12 clips again: f.stamps.csv is empty, so the files of the earlier rows could not be checked" \
        in result.stdout
    before = out.read_text()
    stamps.unlink()
    stamps.mkdir()  # cannot be written (nor read)
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic")
    assert result.returncode == 1 and "cannot write" in result.stderr and "f.stamps.csv:" in result.stderr
    assert out.read_text() == before  # every row still there
    assert not list(tmp_path.glob("*.tmp"))  # and no temporary file left
    stamps.rmdir()
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic").returncode == 0
    assert stamps.is_file()
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic",
                      "--max-seconds", "3").returncode == 0  # other settings: the rows are set aside, with stamps
    assert (tmp_path / "f.previous.stamps.csv").is_file() and (tmp_path / "f.previous.csv").is_file()


def test_file_stamps_read_the_audio_only_of_files_whose_size_or_time_changed(tmp_path):
    """With a stream function (labels from tags), a file touched or retagged keeps its row when its audio is the
    same, and the audio is read only for such files: an unchanged library costs no decoding."""
    import functions_stamps

    paths = {name: tmp_path / f"{name}.bin" for name in ("a", "b", "c")}
    for name, path in paths.items():
        path.write_bytes(b"tags:old|audio:" + name.encode())
    read = []

    def stream_of(path: Path) -> str:
        read.append(path.name)
        return "audio=" + path.read_bytes().split(b"|")[1].decode()

    first = functions_stamps.FileStamps(paths, stream_of)
    earlier = {name: first.made(name) for name in paths}
    assert all(stamp.endswith(f"audio=audio:{name}") for name, stamp in earlier.items())
    read.clear()
    paths["b"].write_bytes(b"tags:NEW, longer|audio:b")  # tags edited: size and time change, audio the same
    paths["c"].write_bytes(b"tags:old|audio:C")  # another song under the name, same size
    os.utime(paths["c"], ns=(paths["c"].stat().st_mtime_ns + 10**9,) * 2)
    second = functions_stamps.FileStamps(paths, stream_of)
    assert [second.unchanged(name, earlier[name]) for name in paths] == [True, True, False]
    assert sorted(read) == ["b.bin", "c.bin"]  # a's size and time are the same: its audio is not read
    assert second.kept["b"].endswith("audio=audio:b") and second.kept["b"] != earlier["b"]
    assert not second.unchanged("a", None) and not second.unchanged("a", "")
    plain = functions_stamps.FileStamps(paths)  # folders: size and time alone
    assert plain.made("a") == functions_stamps.file_stamp(paths["a"]) and not plain.unchanged("b", earlier["b"])


def test_odd_names_round_trip_and_a_name_that_is_not_utf8_is_one_line(tmp_path):
    """A carriage return or a line break in a file name: its row is kept on the next run (it was re-extracted
    every time); a name of bytes that are not UTF-8 made the run crash (UnicodeEncodeError) and is now skipped
    with one line."""
    root = tmp_path / "odd"
    (root / "jazz").mkdir(parents=True)
    for name in ("cr\rname.wav", "line\nbreak.wav", 'quote "and", comma.wav', "plain.wav"):
        soundfile.write(root / "jazz" / name, functions_synthetic.synthesize_clip("jazz", len(name), 2.0), SR)
    (root / "jazz" / os.fsdecode(b"lat\xe9.wav")).write_bytes((root / "jazz" / "plain.wav").read_bytes())
    out = tmp_path / "f.csv"
    result = run_script("00_preprocess_music.py", root, "-o", out, "--features", "classic", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "not valid UTF-8" in result.stderr
    assert "4 extracted now, 0 kept" in result.stdout
    assert sorted(pd.read_csv(out)["file"]) == sorted(f"jazz/{n}" for n in (
        "cr\rname.wav", "line\nbreak.wav", 'quote "and", comma.wav', "plain.wav"))
    again = run_script("00_preprocess_music.py", root, "-o", out, "--features", "classic", "--workers", "1")
    assert again.returncode == 0 and "0 extracted now, 4 kept" in again.stdout, again.stdout
    # a stray quote in the CSV (damage) costs its own row, not the rest of the file (nor a traceback)
    text = out.read_text(encoding="utf-8").replace("jazz/plain.wav,", 'jazz/pl"ain.wav,')
    out.write_text(text, encoding="utf-8")
    damaged = run_script("00_preprocess_music.py", root, "-o", out, "--features", "classic", "--workers", "1")
    assert damaged.returncode == 0 and "Traceback" not in damaged.stderr, damaged.stderr
    assert "extracted now, 3 kept" in damaged.stdout or "extracted now, 2 kept" in damaged.stdout, damaged.stdout
    assert sorted(pd.read_csv(out)["file"]) == sorted(f"jazz/{n}" for n in (
        "cr\rname.wav", "line\nbreak.wav", 'quote "and", comma.wav', "plain.wav"))


def test_links_are_followed_without_loops_or_duplicates(tmp_path):
    root, outside = tmp_path / "dataset", tmp_path / "elsewhere"
    for folder in ("blues", "metal"):
        (root / folder).mkdir(parents=True)
    (outside / "deeper").mkdir(parents=True)
    clip = functions_synthetic.synthesize_clip("blues", 0, 1.5)
    for path in ("blues/a.wav", "blues/b.wav", "metal/c.wav", "metal/d.wav"):
        soundfile.write(root / path, clip, SR)
    soundfile.write(outside / "e.wav", clip, SR)
    soundfile.write(outside / "deeper/f.wav", clip, SR)
    (root / "blues/all_genres").symlink_to("..")  # the loop users met: 164 clips from 4 files
    (root / "blues/metal_too").symlink_to("../metal")  # another genre's folder: its clips stay metal
    (root / "blues/again.wav").symlink_to("a.wav")  # one file, two names
    os.link(root / "metal/c.wav", root / "metal/c_hard.wav")  # a hard link: one file too
    (root / "metal/more").symlink_to(outside)  # a folder outside the dataset is followed...
    (outside / "deeper/up").symlink_to("..")  # ...without looping there either
    (root / "alias").symlink_to("metal")  # a second name for a genre folder is not a genre
    clips, skipped = dataset.scan_dataset(root)
    assert [(clip.file, clip.genre) for clip in clips] == [
        ("blues/a.wav", "blues"), ("blues/b.wav", "blues"), ("metal/c.wav", "metal"), ("metal/d.wav", "metal"),
        ("metal/more/e.wav", "metal"), ("metal/more/deeper/f.wav", "metal")]
    assert [(item.file, "link to metal/" in item.error) for item in skipped] == [("alias/", True)]
    assert [path.relative_to(root).as_posix() for path in dataset.iter_audio_files(root)] == [
        "blues/a.wav", "blues/b.wav", "metal/c.wav", "metal/d.wav", "metal/more/e.wav", "metal/more/deeper/f.wav"]


# --------------------------------------------------------------------------------------------------------------
# A Dask cluster started with the `dask` command-line tools on 127.0.0.1 (tests/helpers_cluster.py)
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resumable_local_csv(resumable_dataset, tmp_path_factory) -> Path:
    """The CSV of an uninterrupted local run over `resumable_dataset`."""
    out = tmp_path_factory.mktemp("local") / "local.csv"
    assert run_script("00_preprocess_music.py", resumable_dataset, "-o", out, "--workers", "2").returncode == 0
    return out


def start_00(dataset: Path, out: Path, scheduler: str) -> subprocess.Popen:
    """00 on the cluster in the background, as a user's terminal runs it."""
    command = [sys.executable, str(PROJECT_DIR / "00_preprocess_music.py"), str(dataset), "-o", str(out),
               "--scheduler", scheduler, "--no-progress"]
    return subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_rows(out: Path, rows: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while _rows_on_disk(out) < rows and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None and _rows_on_disk(out) >= rows, "the run should be in the middle"


@pytest.mark.slow
def test_a_cli_started_cluster_gives_the_same_csv_as_local_processes(cli_cluster, synthetic_dataset, tmp_path):
    local = tmp_path / "local.csv"
    assert run_script("00_preprocess_music.py", synthetic_dataset, "-o", local, "--workers", "2").returncode == 0
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", tmp_path / "dask.csv",
                        "--scheduler", cli_cluster.address)
    assert result.returncode == 0, result.stderr
    assert "Dask cluster" in result.stdout and "Traceback" not in result.stderr
    assert (tmp_path / "dask.csv").read_text() == local.read_text()


@pytest.mark.slow
def test_a_worker_killed_with_9_mid_run_loses_nothing(cli_cluster, resumable_dataset, resumable_local_csv,
                                                       tmp_path):
    out = tmp_path / "f.csv"
    process = start_00(resumable_dataset, out, cli_cluster.address)
    wait_for_rows(out, 3, process)
    os.kill(cli_cluster.worker_pids()[0], signal.SIGKILL)  # its task runs elsewhere; its nanny starts a new one
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "36 extracted now" in stdout
    assert out.read_text() == resumable_local_csv.read_text()
    assert not (tmp_path / "f.errors.csv").read_text().strip().count("\n")  # the header alone
    cli_cluster.wait_for_workers(2)  # the restarted worker rejoined, with the project's modules


@pytest.mark.slow
def test_a_clip_that_keeps_killing_workers_is_one_line_in_the_errors_file(resumable_dataset, resumable_local_csv,
                                                                          tmp_path):
    from helpers_cluster import CliCluster

    cluster = CliCluster(tmp_path / "cluster", workers=1, allowed_failures=0)  # the first death is one too many
    try:
        cluster.start()
        out = tmp_path / "f.csv"
        process = start_00(resumable_dataset, out, cluster.address)
        wait_for_rows(out, 3, process)
        os.kill(cluster.worker_pids()[0], signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        assert not cluster.stop(), "Dask processes were left behind"
    assert process.returncode == 0, stderr
    errors = pd.read_csv(tmp_path / "f.errors.csv")
    assert 1 <= len(errors) <= 2, errors  # the clip it was reading (and one it may have been handed next)
    assert errors["error"].str.contains("killed the Dask worker reading it").all()
    assert "Traceback" not in stderr
    local = {line.split(",", 1)[0]: line for line in resumable_local_csv.read_text().splitlines()}
    rows = out.read_text().splitlines()
    assert all(local[line.split(",", 1)[0]] == line for line in rows)  # every other clip, the same row
    assert len(rows) - 1 + len(errors) == 36


@pytest.mark.slow
def test_a_killed_scheduler_ends_the_run_with_one_line_and_the_same_command_resumes(
        cli_cluster, resumable_dataset, resumable_local_csv, tmp_path):
    out = tmp_path / "f.csv"
    process = start_00(resumable_dataset, out, cli_cluster.address)
    wait_for_rows(out, 3, process)
    cli_cluster.kill_scheduler()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert stderr.strip().count("\n") == 0, stderr  # one line, no traceback, no log lines of distributed
    assert "lost the Dask scheduler" in stderr and "run the same command again" in stderr
    partial = pd.read_csv(out)  # every finished row is on disk, whole
    assert 3 <= len(partial) < 36 and partial["file"].is_unique
    assert np.all(np.isfinite(partial[list(audio.FEATURE_COLUMNS)].to_numpy()))

    cli_cluster.restart()  # what the user does: the scheduler again, and its workers (they left with it)
    result = run_script("00_preprocess_music.py", resumable_dataset, "-o", out, "--scheduler", cli_cluster.address)
    assert result.returncode == 0, result.stderr
    assert f"{len(partial)} kept from an earlier run" in result.stdout
    assert out.read_text() == resumable_local_csv.read_text()


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                    reason="running as root without util-linux's setpriv: workers would read anything")
def test_clips_the_workers_cannot_read_are_one_line_each_in_the_errors_file(cli_cluster, tmp_path):
    root = tmp_path / "dataset"
    for genre in ("rock", "jazz"):
        (root / genre).mkdir(parents=True)
        for index in range(2):
            soundfile.write(root / genre / f"{index}.wav", functions_synthetic.synthesize_clip(genre, index, 2.0), SR)
    unreadable = [root / "rock/1.wav", root / "jazz/0.wav"]
    for path in unreadable:
        path.chmod(0)  # this process (the client) lists them; the workers cannot open them
    result = run_script("00_preprocess_music.py", root, "-o", tmp_path / "f.csv", "--scheduler", cli_cluster.address)
    assert result.returncode == 0, result.stderr
    assert sorted(pd.read_csv(tmp_path / "f.csv")["file"]) == ["jazz/1.wav", "rock/0.wav"]
    errors = pd.read_csv(tmp_path / "f.errors.csv")
    assert sorted(errors["file"]) == ["jazz/0.wav", "rock/1.wav"]
    for error in errors["error"]:
        assert "on the Dask worker" in error and "same paths" in error, error
    assert "Traceback" not in result.stderr


def test_a_worker_missing_a_package_ends_the_run_with_one_line_naming_it(synthetic_dataset, tmp_path):
    from helpers_cluster import CliCluster

    shadow = tmp_path / "shadow"  # a worker where `import soundfile` fails, as where it was never installed
    shadow.mkdir()
    (shadow / "soundfile.py").write_text("raise ImportError('No module named soundfile')\n")
    cluster = CliCluster(tmp_path / "cluster", workers=1, pythonpath=shadow)
    try:
        cluster.start()
        result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", tmp_path / "f.csv",
                            "--scheduler", cluster.address, "--no-progress")
    finally:
        assert not cluster.stop(), "Dask processes were left behind"
    assert_clean_failure(result, 1, "Dask worker", "cannot import soundfile", "requirements.txt")
    assert result.stderr.strip().count("\n") == 0, result.stderr


@pytest.mark.slow
def test_a_local_cluster_in_the_callers_process_leaves_its_modules_alone(synthetic_dataset, tmp_path):
    """A notebook's LocalCluster: the scheduler lives in the caller's own interpreter, which the CLI-started
    cluster cannot check; no copy of the project may be loaded there (its classes stay the same objects)."""
    from distributed import LocalCluster

    import functions_dataset

    def project_objects() -> dict[str, object]:
        return {f"{name}.{attr}": value for name, module in list(sys.modules.items()) if name.startswith("functions_")
                for attr, value in vars(module).items() if isinstance(value, type | type(project_objects))}

    before = project_objects()
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # its HTTP server, on a free port
                      processes=True, local_directory=str(tmp_path / "dask")) as cluster:
        report = functions_dataset.extract_dataset(synthetic_dataset, tmp_path / "f.csv", progress=False,
                                                   scheduler=cluster.scheduler_address)
    assert report.rows_extracted == 12
    after = project_objects()
    assert all(after[name] is value for name, value in before.items())


def test_an_unreachable_scheduler_fails_with_one_clear_line(synthetic_dataset, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_script("00_preprocess_music.py", synthetic_dataset, "-o", tmp_path / "f.csv", "--scheduler",
                        f"tcp://127.0.0.1:{port}", timeout=120)
    assert_clean_failure(result, 1, "Dask scheduler", str(port))


# --------------------------------------------------------------------------------------------------------------
# --download-gtzan against a loopback HTTP server
# --------------------------------------------------------------------------------------------------------------
class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one tarball, honouring Range requests like the real server; records what it was asked."""

    payload = b""
    requests: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path != "/sound/genres.tar.gz":
            self.send_error(404)
            return
        asked = self.headers.get("Range")
        type(self).requests.append(asked)
        start = int(asked.split("=")[1].split("-")[0]) if asked else 0
        body = self.payload[start:]
        self.send_response(206 if asked else 200)
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gtzan_server():
    """A loopback server holding a small genres.tar.gz laid out like the real one (genres/<genre>/*.au)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for genre in ("blues", "metal"):
            for index in range(2):
                clip = io.BytesIO()
                soundfile.write(clip, functions_synthetic.synthesize_clip(genre, index, 2.0), SR, format="AU",
                                subtype="PCM_16")
                info = tarfile.TarInfo(f"genres/{genre}/{genre}.{index:05d}.au")
                info.size = clip.tell()
                clip.seek(0)
                tar.addfile(info, clip)
    RangeHandler.payload = buffer.getvalue()
    RangeHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sound/genres.tar.gz", RangeHandler
    server.shutdown()


def test_download_gtzan_resumes_checks_md5_unpacks_and_extracts(gtzan_server, tmp_path):
    url, handler = gtzan_server
    md5 = hashlib.md5(handler.payload).hexdigest()
    half = len(handler.payload) // 2
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl/genres.tar.gz.part").write_bytes(handler.payload[:half])  # an earlier, interrupted download
    result = run_script("00_preprocess_music.py", "--download-gtzan", "--gtzan-url", url, "--gtzan-md5", md5,
                        "--download-dir", tmp_path / "dl", "-o", tmp_path / "f.csv")
    assert result.returncode == 0, result.stderr
    assert handler.requests == [f"bytes={half}-"]  # only the missing half was fetched
    assert (tmp_path / "dl/genres.tar.gz").read_bytes() == handler.payload
    assert sorted(pd.read_csv(tmp_path / "f.csv")["file"]) == [
        "blues/blues.00000.au", "blues/blues.00001.au", "metal/metal.00000.au", "metal/metal.00001.au"]


def test_download_gtzan_with_a_wrong_checksum_or_a_404_fails_cleanly(gtzan_server, tmp_path):
    url, _ = gtzan_server
    result = run_script("00_preprocess_music.py", "--download-gtzan", "--gtzan-url", url, "--gtzan-md5", "0" * 32,
                        "--download-dir", tmp_path / "dl", "-o", tmp_path / "f.csv")
    assert_clean_failure(result, 1, "corrupt", "MD5")
    assert not list((tmp_path / "dl").glob("genres*"))  # the bad archive is not kept, nor unpacked
    result = run_script("00_preprocess_music.py", "--download-gtzan", "--gtzan-url", url.replace("genres", "nope"),
                        "--download-dir", tmp_path / "dl", "-o", tmp_path / "f.csv")
    assert_clean_failure(result, 1, "404")
