"""Library scans (03 FOLDER --results FILE.jsonl): resume, changes, vanished files, bad input, kill -9.

Real files, the real 03 script and a real model (the tiny synthetic one of conftest); a process that must not
read a file runs as the unprivileged user ``nobody`` where the tests run as root (root reads everything).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_classify import PROJECT_DIR, encode, run_classifier, script_env, synthetic_song, write_wav
from helpers_cluster import unsent_imports

import functions_interface as fi
import functions_library as fl
import functions_playlists as fp


def records_of(results: Path) -> list[dict]:
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]


def summary_of(run: subprocess.CompletedProcess) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith("library: ")]
    assert lines, run.stderr
    return lines[-1]


def make_library(folder: Path, count: int, seconds: float = 6.0, prefix: str = "song") -> list[Path]:
    genres = ["metal", "blues", "classical", "reggae"]
    return [write_wav(folder / f"{prefix} {i:02d}.wav", synthetic_song([(genres[i % 4], seconds)], seed=i))
            for i in range(count)]


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "Music"
    make_library(folder / "Rock ünd Roll", 3)
    make_library(folder, 2, prefix="top")
    return folder


def test_rerun_skips_unchanged_songs_redoes_changed_ones_and_drops_vanished_ones(library, model_dir, tmp_path):
    results = tmp_path / "library.jsonl"
    first = run_classifier(library, "--model", model_dir, "--results", results, "--json", "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert summary_of(first) == "library: 5 classified, 0 uncertain, 0 failed, 0 skipped as unchanged"
    records = records_of(results)
    assert len(records) == 5 and len(first.stdout.splitlines()) == 5
    song = library / "Rock ünd Roll" / "song 01.wav"
    record = next(r for r in records if r["path"] == str(song))
    assert record["size"] == song.stat().st_size and record["mtime_ns"] == song.stat().st_mtime_ns
    printed = {json.loads(line)["input"]: json.loads(line) for line in first.stdout.splitlines()}
    assert {k: v for k, v in record.items() if k not in ("path", "size", "mtime_ns", "model")} == printed[str(song)]

    again = run_classifier(library, "--model", model_dir, "--results", results, "--json")
    assert again.returncode == 0, again.stderr
    assert summary_of(again) == "library: 0 classified, 0 uncertain, 0 failed, 5 skipped as unchanged"
    assert again.stdout == ""

    write_wav(song, synthetic_song([("metal", 7.0)], seed=40))  # changed: other size and time
    (library / "top 00.wav").unlink()  # vanished
    third = run_classifier(library, "--model", model_dir, "--results", results)
    assert summary_of(third) == ("library: 1 classified, 0 uncertain, 0 failed, 3 skipped as unchanged, "
                                 "1 vanished (dropped from the results)")
    records = records_of(results)
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in library.rglob("*.wav"))
    assert next(r for r in records if r["path"] == str(song))["duration_s"] == pytest.approx(7.0, abs=0.01)


def test_the_summary_counts_songs_cut_short(library, model_dir, tmp_path):
    """A song shorter than its header says (a copy cut short) is classified on what could be decoded, its record
    says so, and the scan's summary counts it."""
    song = encode(write_wav(tmp_path / "whole.wav", synthetic_song([("metal", 20.0)], seed=9)),
                  tmp_path / "whole.flac", "-c:a", "flac")
    data = song.read_bytes()
    (library / "cut.flac").write_bytes(data[: len(data) // 2])
    results = tmp_path / "r.jsonl"
    run = run_classifier(library, "--model", model_dir, "--results", results, "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert summary_of(run) == ("library: 6 classified, 0 uncertain, 0 failed, 0 skipped as unchanged, 1 cut short "
                               "(shorter than their headers say: classified on what could be decoded; see their notes)")
    record = next(r for r in records_of(results) if r["path"].endswith("cut.flac"))
    assert record["cut_short"]["header_s"] == pytest.approx(20.0, abs=0.1) and record["duration_s"] < 15


def test_another_model_redoes_everything_and_failures_are_tried_again(library, model_dir, tmp_path):
    results = tmp_path / "r.jsonl"
    (library / "broken.mp3").write_bytes(b"ID3 but no audio at all")
    run = run_classifier(library, "--model", model_dir, "--results", results)
    assert summary_of(run) == "library: 5 classified, 0 uncertain, 1 failed, 0 skipped as unchanged"
    other = run_classifier(library, "--model", model_dir, "--results", results, "--hop", "10")
    assert summary_of(other) == "library: 5 classified, 0 uncertain, 1 failed, 0 skipped as unchanged"
    assert len(records_of(results)) == 6


def test_a_torn_last_line_is_ignored_and_a_foreign_file_is_refused(library, model_dir, tmp_path):
    results = tmp_path / "r.jsonl"
    assert run_classifier(library, "--model", model_dir, "--results", results).returncode == 0
    whole = results.read_bytes()
    results.write_bytes(whole + whole.splitlines(keepends=True)[0][:40])  # a record cut short by a kill
    run = run_classifier(library, "--model", model_dir, "--results", results)
    assert run.returncode == 0, run.stderr
    assert "1 torn or unreadable line(s) ignored" in run.stderr
    assert summary_of(run).endswith("5 skipped as unchanged")
    assert results.read_bytes() == whole  # compacted: the torn tail is gone

    foreign = tmp_path / "notes.txt"
    foreign.write_text("my notes, not results\n")
    run = run_classifier(library, "--model", model_dir, "--results", foreign)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"error: {foreign} is not a results file of this program "
                                               "(no song record in it); choose another --results file"]
    assert foreign.read_text() == "my notes, not results\n"



def test_a_line_longer_than_any_record_is_dropped_without_being_read_whole(library, model_dir, tmp_path,
                                                                           monkeypatch):
    import tracemalloc

    import functions_records

    results = tmp_path / "r.jsonl"
    assert run_classifier(library, "--model", model_dir, "--results", results).returncode == 0
    whole = results.read_bytes()
    lines = whole.splitlines(keepends=True)
    junk = b"x" * (24 << 20)  # longer than any record (16 MB)
    results.write_bytes(b"".join(lines[:2]) + junk + b"\n" + b"".join(lines[2:]))
    monkeypatch.setattr(functions_records, "LONGEST_LINE", 1 << 20)
    tracemalloc.start()
    try:
        read = fl.ResultsFile(results)
        read._read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # the whole file was read: 48 MB and more
    assert read.dropped_lines == 1 and len(read.entries) == 5
    run = run_classifier(library, "--model", model_dir, "--results", results)
    assert run.returncode == 0, run.stderr
    assert f"{results}: 1 torn or unreadable line(s) ignored" in run.stderr.splitlines()
    assert summary_of(run).endswith("5 skipped as unchanged")
    assert results.read_bytes() == whole  # compacted: the junk is gone

def test_bad_files_each_get_one_line_and_the_rest_is_kept(library, model_dir, tmp_path):
    (library / "zero.wav").write_bytes(b"")
    (library / "text.flac").write_text("not audio at all")
    good = (library / "top 01.wav").read_bytes()
    (library / "corrupt.wav").write_bytes(b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(range(256)) * 40)
    (library / "truncated.wav").write_bytes(good[:30])
    (library / "loop").symlink_to(library)  # a symbolic link loop
    (library / "again.wav").symlink_to(library / "top 01.wav")  # the same song through a second path
    results = tmp_path / "r.jsonl"
    run = run_classifier(library, "--model", model_dir, "--results", results, "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stdout.splitlines() if ": ERROR: " in line]
    assert sorted(line.split(": ERROR: ")[0].rsplit("/", 1)[1] for line in errors) == [
        "corrupt.wav", "text.flac", "truncated.wav", "zero.wav"]
    assert f"{library / 'top 01.wav'}: same file as {library / 'again.wav'}, classified once" in run.stderr \
        or f"{library / 'again.wav'}: same file as {library / 'top 01.wav'}, classified once" in run.stderr
    assert summary_of(run).startswith("library: 5 classified, 0 uncertain, 4 failed, 0 skipped as unchanged")
    assert summary_of(run).endswith("1 reached twice (classified once)")
    assert "loop" not in run.stdout  # the loop's folder is not walked again
    ok = [r for r in records_of(results) if r["error"] is None]
    assert len(ok) == 5


def test_a_file_deleted_during_the_scan_is_one_failure_and_the_rest_is_kept(library, model_dir, tmp_path):
    job = fi.ClassificationJob(model_dir=str(model_dir))
    items = fi.expand_inputs([str(library)])
    victim = Path(items[-1][0])
    seen: list[str] = []

    def delete_the_last(result) -> None:
        seen.append(result.input)
        victim.unlink(missing_ok=True)

    with fl.ResultsFile(tmp_path / "r.jsonl") as results:
        report = fl.scan_library(job, items, results, workers=1, on_result=delete_the_last)
    assert (report.summary.classified, report.summary.failed) == (4, 1)
    failure = next(e for e in report.entries if not e.ok)
    assert failure.path == str(victim) and failure.error == "no such file"
    assert str(victim) in results.vanished  # its record is dropped when the file closes: the song is gone
    assert sorted(r["path"] for r in records_of(tmp_path / "r.jsonl")) == sorted(e.path for e in report.entries
                                                                                if e.ok)


def test_one_scan_at_a_time_per_results_file(library, model_dir, tmp_path):
    """A second scan of the same results file (another terminal, a forgotten run) would rewrite the file under the
    first one and lose records: it is refused in one line until the first ends, and then works."""
    results = tmp_path / "r.jsonl"
    with fl.ResultsFile(results):
        run = run_classifier(library, "--model", model_dir, "--results", results)
        assert run.returncode == 1 and "is in use by another scan" in run.stderr, run.stderr
        assert "library:" not in run.stderr
    run = run_classifier(library, "--model", model_dir, "--results", results)
    assert run.returncode == 0 and summary_of(run).startswith("library: 5 classified"), run.stderr


@pytest.fixture()
def public_folder() -> Iterator[Path]:
    """A folder that the user ``nobody`` can read (pytest's own temporary folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="genre-library-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_as_nobody(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """03 as the unprivileged user ``nobody`` when the tests run as root (so that file modes apply)."""
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if prefix and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return subprocess.run([*prefix, sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), *map(str, args)],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=180, env=script_env())


def test_unreadable_files_and_folders_are_reported_and_the_rest_is_kept(model_dir, public_folder):
    model = public_folder / "model"
    shutil.copytree(model_dir, model)
    music = public_folder / "music"
    make_library(music, 3)
    make_library(music / "private", 1)
    (music / "song 01.wav").chmod(0)
    (music / "private").chmod(0)
    results = public_folder / "r.jsonl"
    for path in [public_folder, model, *model.iterdir(), music, *music.glob("*.wav")]:
        if path.name != "song 01.wav":
            path.chmod(path.stat().st_mode | stat.S_IROTH | stat.S_IWOTH | (stat.S_IXOTH if path.is_dir() else 0))
    run = run_as_nobody(music, "--model", model, "--results", results)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    errors = sorted(line for line in run.stdout.splitlines() if ": ERROR: " in line)
    assert len(errors) == 2
    assert errors[0] == f"{music / 'private'}: ERROR: unreadable folder (Permission denied)"
    assert errors[1].startswith(f"{music / 'song 01.wav'}: ERROR: ") and errors[1].endswith("Permission denied)")
    assert summary_of(run) == "library: 2 classified, 0 uncertain, 2 failed, 0 skipped as unchanged"


@pytest.mark.slow
def test_kill_9_during_a_scan_loses_at_most_the_songs_in_flight(model_dir, tmp_path):
    music = tmp_path / "music"
    songs = make_library(music, 12, seconds=8.0)
    results = tmp_path / "r.jsonl"
    command = [sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), str(music), "--model", str(model_dir),
               "--results", str(results), "--workers", "2", "--json"]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=script_env(), start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not results.exists() or results.read_bytes().count(b"\n") < 3):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the scan and its worker processes, at once
    process.wait()
    done_before = {r["path"] for r in records_of(results)} if results.read_bytes().endswith(b"\n") else None
    assert done_before is None or 3 <= len(done_before) < 12

    rerun = run_classifier(music, "--model", model_dir, "--results", results, "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    skipped = int(summary_of(rerun).split(" skipped")[0].rsplit(" ", 1)[1])
    classified = int(summary_of(rerun).split()[1])
    assert skipped >= 3 and skipped + classified == 12
    records = records_of(results)
    assert sorted(r["path"] for r in records) == sorted(map(str, songs))
    assert all(r["error"] is None for r in records)


def test_the_walk_follows_outside_links_once_and_reaches_inside_links_by_their_real_path(tmp_path):
    import functions_dataset

    music, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    make_library(music / "rock", 1, seconds=1.0)
    make_library(elsewhere, 1, seconds=1.0, prefix="far")
    (music / "favourites").symlink_to(music / "rock")  # inside: reached as rock/...
    (music / "drive").symlink_to(elsewhere)  # outside: followed
    (elsewhere / "back").symlink_to(elsewhere)  # a loop outside the tree: walked once
    found = [p.relative_to(music).as_posix() for p in functions_dataset.iter_audio_files(music)]
    assert found == ["drive/far 00.wav", "rock/song 00.wav"]


def test_playlists_one_per_genre_most_confident_first_relative_utf8_and_uncertain(library, model_dir, tmp_path):
    results, lists = tmp_path / "r.jsonl", tmp_path / "playlists ä"
    dry = run_classifier(library, "--model", model_dir, "--results", results, "--playlists", lists, "--dry-run",
                         "--min-confidence", "0.6")
    assert dry.returncode == 0, dry.stderr
    assert "would write playlists: " in dry.stderr and not lists.exists()
    run = run_classifier(library, "--model", model_dir, "--results", results, "--playlists", lists,
                         "--min-confidence", "0.6")
    assert run.returncode == 0, run.stderr
    records = records_of(results)
    genres = json.loads((model_dir / "model.json").read_text())["genres"]
    # a playlist for each genre (and uncertain) that has songs: none is written empty
    assert {p.name for p in lists.iterdir()} <= {f"{g}.m3u8" for g in [*genres, "uncertain"]}
    listed: dict[str, list[dict]] = {}
    for playlist in lists.iterdir():
        lines = playlist.read_bytes().decode("utf-8").splitlines()
        assert lines[:2] == ["#EXTM3U", fp.PLAYLIST_MARK] and len(lines) % 2 == 0 and len(lines) > 2
        for info, relative in zip(lines[2::2], lines[3::2], strict=True):
            song = (lists / relative).resolve()
            record = next(r for r in records if r["path"] == str(song))
            assert info == f"#EXTINF:{round(record['duration_s'])},{record['title']}"
            listed.setdefault(playlist.stem, []).append(record)
    assert sum(map(len, listed.values())) == 5  # every song once
    for name, songs in listed.items():
        confidences = [r["probabilities"][r["genre"]] for r in songs]
        assert confidences == sorted(confidences, reverse=True)
        if name == "uncertain":
            assert all(c < 0.6 or r["uncertain"] for c, r in zip(confidences, songs, strict=True))
        else:
            assert all(r["genre"] == name and c >= 0.6 for c, r in zip(confidences, songs, strict=True))
    assert any("Rock ünd Roll/song" in line for p in lists.iterdir() for line in p.read_text("utf-8").splitlines())



def playlist_paths(folder: Path) -> dict[str, list[Path]]:
    """The songs of each genre playlist in ``folder``, as the real files a player opening it finds."""
    lists = {}
    for playlist in sorted(folder.glob("*.m3u8")):
        lines = playlist.read_text(encoding="utf-8").splitlines()
        lists[playlist.stem] = [(playlist.resolve().parent / line).resolve() for line in lines[3::2]]
    return lists


def test_playlists_list_the_whole_library_and_never_replace_a_playlist_of_your_own(library, model_dir, tmp_path):
    """With --results, the playlists are the library's: a later scan of one folder keeps the other folders' songs
    in them, a song deleted since leaves them, a playlist left with no song is removed (it was ours); a folder
    reached through a symbolic link gets paths a player finds from its real place; a playlist there that this
    program did not write stops the run before any song, untouched."""
    results, store = tmp_path / "r.jsonl", tmp_path / "store" / "deep"
    store.mkdir(parents=True)
    (tmp_path / "lists").symlink_to(store)
    run = run_classifier(library, "--model", model_dir, "--results", results, "--playlists", tmp_path / "lists",
                         "--min-confidence", "0")
    assert run.returncode == 0, run.stderr
    songs = sorted(p.resolve() for p in library.rglob("*.wav"))
    assert sorted(p for paths in playlist_paths(store).values() for p in paths) == songs
    assert all(p.is_file() for paths in playlist_paths(store).values() for p in paths)

    gone = library / "top 00.wav"
    gone.unlink()
    run = run_classifier(library / "Rock ünd Roll", "--model", model_dir, "--results", results, "--playlists",
                         tmp_path / "lists", "--min-confidence", "0")
    assert run.returncode == 0, run.stderr
    listed = sorted(p for paths in playlist_paths(store).values() for p in paths)
    assert listed == [p for p in songs if p != gone.resolve()]  # the top folder's other song is still listed

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "blues.m3u8").write_text("#EXTM3U\n#EXTINF:-1,my favourite\n/music/fav.mp3\n", encoding="utf-8")
    before = (mine / "blues.m3u8").read_bytes()
    run = run_classifier(library, "--model", model_dir, "--results", tmp_path / "other.jsonl", "--playlists", mine)
    assert run.returncode == 2 and "did not write (blues.m3u8)" in run.stderr, run.stderr
    assert "library:" not in run.stderr and not (tmp_path / "other.jsonl").exists()
    assert (mine / "blues.m3u8").read_bytes() == before and sorted(mine.iterdir()) == [mine / "blues.m3u8"]


ODD_NAMES = [b"caf\xe9 latin-1.wav", b"new\nline.wav", b"carriage\rreturn.wav", b"#hash first.wav",
             b'say "hi".wav', b"a, comma.wav", b" space first.wav", b"tab\there.wav"]


def strict_json(line: str | bytes) -> dict:
    """``line`` parsed as JSON proper: NaN, Infinity and -Infinity are refused (Python's reader accepts them)."""
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


def playlist_songs(playlist: Path) -> list[bytes]:
    """The files a player finds in an M3U8 playlist: its location lines (relative to its folder, or file URIs)."""
    from urllib.parse import unquote_to_bytes

    lines = playlist.read_bytes().decode("utf-8").split("\n")  # strict UTF-8
    assert lines[0] == "#EXTM3U" and lines[-1] == "", lines
    lines = lines[1:] if lines[1] != fp.PLAYLIST_MARK else lines[2:]  # a genre playlist carries the mark
    infos, places = lines[:-1:2], lines[1:-1:2]
    assert all(info.startswith("#EXTINF:") and info.isprintable() for info in infos), infos
    assert not any(place.startswith("#") or place != place.strip() or "\r" in place for place in places), places
    return [unquote_to_bytes(place[len("file://"):]) if place.startswith("file://")
            else os.path.normpath(os.fsencode(playlist.parent) + b"/" + place.encode("utf-8")) for place in places]


def test_odd_file_names_reach_playlists_the_csv_and_the_records_intact(model_dir, tmp_path):
    music = tmp_path / "music"
    make_library(music, 1, seconds=3.0)
    plain = music / "song 00.wav"
    for name in ODD_NAMES:
        shutil.copy(plain, os.path.join(os.fsencode(music), name))
    songs = sorted(os.path.join(os.fsencode(music), name) for name in [*ODD_NAMES, b"song 00.wav"])
    results = tmp_path / "r.jsonl"
    run = subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), music, "--model", model_dir,
                          "--results", results, "--playlists", music, "--min-confidence", "0"], cwd=PROJECT_DIR,
                         capture_output=True, env=script_env(), timeout=300)  # playlists beside the songs
    run.stderr = run.stderr.decode("utf-8", "surrogateescape")  # names are printed as their bytes
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert summary_of(run) == "library: 9 classified, 0 uncertain, 0 failed, 0 skipped as unchanged"
    listed = [song for playlist in music.glob("*.m3u8") for song in playlist_songs(playlist)]
    assert sorted(listed) == songs

    records = [strict_json(line) for line in results.read_bytes().splitlines()]
    assert sorted(os.fsencode(r["path"]) for r in records) == songs

    with fl.ResultsFile(results) as read:
        entries = list(read.entries.values())
    table = tmp_path / "table.csv"
    fl.export_csv(entries, table)
    import csv

    with open(table, encoding="utf-8", newline="") as handle:  # strict UTF-8
        rows = list(csv.reader(handle))
    assert rows[0][0] == "path" and len(rows) == 1 + len(songs)
    written = sorted(row[0] for row in rows[1:])
    expected = sorted(os.fsencode(song).decode("utf-8", "replace") for song in map(os.fsdecode, songs))
    assert written == expected  # the name's byte that is not UTF-8 as U+FFFD, every other name as it is


def test_numbers_that_are_nan_or_infinite_are_null_in_records_and_playlists(tmp_path):
    import functions_analysis as fa

    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    result = fa.SongResult(input=str(song), title="t", duration_s=float("nan"), genre="metal",
                           probabilities={"metal": float("inf"), "blues": 0.1})
    with fl.ResultsFile(tmp_path / "r.jsonl") as results:
        entry = results.append(fl.record_for(result, (4, 1), "model"))
    record = strict_json((tmp_path / "r.jsonl").read_bytes())
    assert record["duration_s"] is None and record["probabilities"] == {"metal": None, "blues": 0.1}
    assert fp.playlist_text([entry, fl.LibraryEntry(str(song), duration_s=float("inf"))], tmp_path).splitlines()[
        1::2] == ["#EXTINF:-1,t", "#EXTINF:-1,song"]


def test_a_url_in_a_playlist_is_one_line_of_utf8(tmp_path):
    url = "https://example.org/a song\nwith\r\udce9 odd bytes"
    text = fp.playlist_text([fl.LibraryEntry(url, title="t\u00e9\x00x")], tmp_path)
    assert text.encode("utf-8").decode("utf-8").splitlines() == [
        "#EXTM3U", "#EXTINF:-1,t\u00e9 x", "https://example.org/a%20song%0Awith%0D%E9%20odd%20bytes"]

@pytest.mark.slow
def test_a_cli_started_dask_cluster_scan_writes_the_same_results_file(library, model_dir, tmp_path, cli_cluster):
    """Scheduler and workers started with the dask command-line tools, where the project is not importable."""
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    assert run_classifier(library, "--model", model_dir, "--results", local, "--workers", "2").returncode == 0
    run = run_classifier(library, "--model", model_dir, "--results", remote, "--scheduler", cli_cluster.address)
    again = run_classifier(library, "--model", model_dir, "--results", remote, "--scheduler", cli_cluster.address)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert summary_of(run) == "library: 5 classified, 0 uncertain, 0 failed, 0 skipped as unchanged"
    assert summary_of(again) == "library: 0 classified, 0 uncertain, 0 failed, 5 skipped as unchanged"
    by_path = {r["path"]: r for r in records_of(local)}
    for record in records_of(remote):
        assert record["genre"] == by_path[record["path"]]["genre"]
        for genre, p in record["probabilities"].items():
            assert p == pytest.approx(by_path[record["path"]]["probabilities"][genre], abs=1e-6)


def test_an_unreachable_scheduler_is_one_line_and_exit_1(library, model_dir, tmp_path):
    from helpers_classify import free_port_refusing_connections

    port = free_port_refusing_connections()
    run = run_classifier(library, "--model", model_dir, "--results", tmp_path / "r.jsonl", "--scheduler",
                         f"tcp://127.0.0.1:{port}", timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")


# Runs a command and prints its peak RSS (the command and its workers, from wait4). It is a small process of its
# own: a child forked straight from pytest would count pytest's own resident memory in its peak.
PEAK_RSS_WRAPPER = ("import os, subprocess, sys\n"
                    "child = subprocess.Popen(sys.argv[1:])\n"
                    "_, status, usage = os.wait4(child.pid, 0)\n"
                    "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n")


def scan_measured(folder: Path, model_dir: Path, results: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (the scan and its workers) and stderr of a library scan."""
    command = [sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), str(folder), "--model", str(model_dir),
               "--results", str(results), "--workers", "2"]
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, *command], cwd=PROJECT_DIR, capture_output=True,
                         text=True, env=script_env(), timeout=600)
    seconds = time.perf_counter() - started
    peak_kb, code = run.stdout.split()[-2:]
    assert int(code) in (0, 1), run.stderr
    return seconds, int(peak_kb) / 1024, run.stderr


@pytest.mark.slow
def test_a_folder_of_2000_tiny_files_scans_in_linear_time_and_bounded_memory(model_dir, tmp_path):
    import numpy as np
    import soundfile

    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 2205).astype(np.float32)  # 0.1 s: each is "too short"
    for count in (200, 2000):
        folder = tmp_path / f"many{count}"
        for i in range(count):
            soundfile.write(str(folder / f"{i // 100:02d}" / f"clip {i:04d}.wav") if (folder / f"{i // 100:02d}")
                            .mkdir(parents=True, exist_ok=True) is None else "", noise, 22050)
    small, _, _ = scan_measured(tmp_path / "many200", model_dir, tmp_path / "small.jsonl")
    seconds, peak_mb, text = scan_measured(tmp_path / "many2000", model_dir, tmp_path / "big.jsonl")
    assert "library: 0 classified, 0 uncertain, 2000 failed, 0 skipped as unchanged" in text
    assert len(records_of(tmp_path / "big.jsonl")) == 2000
    assert seconds < 25 * small, (seconds, small)  # linear: about 10x the work of 200 files, plus start-up
    assert peak_mb < 400, peak_mb


def test_genre_playlists_of_your_own_genres_are_files_of_their_own(tmp_path):
    """Genres of a user's library can be named like a path (R&B/Soul), a hidden file or the playlists of songs the
    model is not sure of (Unknown, uncertain): each still gets a playlist of its own in the folder, and the songs
    of none of the genres still go to unknown.m3u8."""
    genres = ["R&B/Soul", "Unknown", "uncertain", ".hidden", "Rock"]
    songs = {genre: fl.LibraryEntry(str(tmp_path / f"{n}.mp3"), genre=genre, confidence=0.9, known=True)
             for n, genre in enumerate(genres)}
    odd = fl.LibraryEntry(str(tmp_path / "odd.mp3"), genre="Rock", confidence=0.9, known=False)
    unsure = fl.LibraryEntry(str(tmp_path / "unsure.mp3"), genre="Rock", confidence=0.3, known=True)
    gone = fl.LibraryEntry(str(tmp_path / "deleted since.mp3"), genre="Rock", confidence=0.9, known=True)
    for entry in [*songs.values(), odd, unsure]:
        Path(entry.path).write_bytes(b"")  # the songs are there; "deleted since" is not (in no playlist)
    lists = fp.plan_playlists([*songs.values(), odd, unsure, gone], genres)
    assert set(lists) == {"R&B-Soul", "Unknown (genre)", "uncertain (genre)", "_hidden", "Rock", "uncertain",
                          "unknown"}
    assert lists["Unknown (genre)"] == [songs["Unknown"]] and lists["uncertain (genre)"] == [songs["uncertain"]]
    assert lists["unknown"] == [odd] and lists["uncertain"] == [unsure] and lists["R&B-Soul"] == [songs["R&B/Soul"]]
    assert lists["Rock"] == [songs["Rock"]]  # not the song deleted since
    folder = tmp_path / "lists"
    written, removed = fp.write_playlists(lists, folder)
    assert sorted(path.name for path in folder.iterdir()) == sorted(f"{name}.m3u8" for name in lists)
    assert all(path.parent == folder for path in written) and removed == []
    # a playlist of ours left with no song is removed, the others rewritten; none is written empty
    written, removed = fp.write_playlists({**lists, "Rock": [], "R&B-Soul": []}, folder)
    assert sorted(path.name for path in removed) == ["R&B-Soul.m3u8", "Rock.m3u8"]
    assert sorted(path.name for path in folder.iterdir()) == sorted(path.name for path in written)
    (folder / "Rock.m3u8").write_text("#EXTM3U\n", encoding="utf-8")  # the user's own now
    with pytest.raises(fl.LibraryError, match="did not write"):
        fp.write_playlists(lists, folder)
    assert (folder / "Rock.m3u8").read_text(encoding="utf-8") == "#EXTM3U\n"
    assert set(fp.every_playlist_name(genres)) == set(lists)


def test_dask_workers_get_every_project_module_a_scan_imports():
    """The upload list of a scan on a Dask cluster names every project module a worker loads to classify a song
    with the shipped model (importing functions_library, loading the model, running the musicnn network's module),
    each after the project modules it imports itself: a worker cannot import the project otherwise (a module
    missing from it made every song of a cluster scan fail)."""
    import ast

    names = [m.__name__ for m in fl.dask_worker_modules()]
    code = ("import sys, functions_audio, functions_library, functions_nn, functions_musicnn; "
            "functions_nn.load_classifier(functions_audio.PRETRAINED_MODEL_DIR); "
            "print(sorted(m for m in sys.modules if m.startswith('functions_')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(fl.__file__).parent, capture_output=True, text=True,
                         timeout=120)
    loaded = set(ast.literal_eval(out.stdout.strip())) - {"functions_parallel"}  # connect_dask sends that one
    assert loaded <= set(names), (sorted(loaded - set(names)), out.stderr)
    assert not unsent_imports(fl.dask_worker_modules(), sent_first=("functions_parallel",))  # connect_dask's own
