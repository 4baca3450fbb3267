"""Genre tags (03 --write-tags): every format written through mutagen, read back by mutagen and by ffmpeg's probe,
the audio never touched (decoded samples identical), the rules, --dry-run, read-only and vanished files, and
kill -9 in the middle of tagging (no file left corrupt; the rerun finishes)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers_classify import PROJECT_DIR, encode, run_classifier, script_env, synthetic_song, write_wav

import functions_audio as audio
import functions_library as fl
import functions_tags as ft

FORMATS = {  # suffix -> ffmpeg arguments
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    ".flac": ["-c:a", "flac"],
    ".ogg": ["-c:a", "libvorbis", "-q:a", "3"],
    ".opus": ["-c:a", "libopus", "-b:a", "64k"],
    ".m4a": ["-c:a", "aac", "-b:a", "96k"],
    ".wav": [],
    ".aiff": [],
    ".wma": ["-c:a", "wmav2", "-b:a", "96k"],
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("source") / "song.wav", synthetic_song([("rock", 4.0)], seed=3))


def make(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return encode(source, target, *FORMATS[target.suffix])


def ffmpeg_genre(path: Path) -> str | None:
    """The genre as the bundled ffmpeg's probe of the file reports it (format or stream metadata)."""
    probe = subprocess.run([audio.ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    found = re.search(r"^\s*genre\s*:\s*(.*)$", probe.stderr, re.MULTILINE | re.IGNORECASE)
    return found.group(1).strip() if found else None


def decoded(path: Path) -> np.ndarray:
    return audio.load_audio(path, max_seconds=None)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_each_format_is_tagged_read_back_and_its_audio_is_untouched(source, tmp_path, suffix):
    path = make(source, tmp_path / f"Bäd näme {suffix[1:]}{suffix}")
    path.chmod(0o640)
    samples = decoded(path)
    assert ft.read_genre(path) is None
    state = ft.write_genre(path, "Hip-Hop")
    assert state == (path.stat().st_size, path.stat().st_mtime_ns)
    assert ft.read_genre(path) == "Hip-Hop"
    assert ffmpeg_genre(path) == "Hip-Hop"
    assert np.array_equal(decoded(path), samples)  # the audio data is never touched
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left
    ft.write_genre(path, "Jazz")  # replaced, not added
    assert ft.read_genre(path) == "Jazz" and ffmpeg_genre(path) == "Jazz"
    assert np.array_equal(decoded(path), samples)


def test_formats_without_a_genre_tag_and_bad_files_are_one_line(source, tmp_path):
    au = encode(source, tmp_path / "song.au")
    webm = encode(source, tmp_path / "song.webm", "-c:a", "libopus")
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\xff\xfb garbage")
    for path, message in [(au, "cannot tag .au files (not a format mutagen writes)"),
                          (webm, "cannot tag .webm files (not a format mutagen writes)")]:
        before = path.read_bytes()
        with pytest.raises(ft.TagError) as error:
            ft.write_genre(path, "Rock")
        assert str(error.value) == message and path.read_bytes() == before
    with pytest.raises(ft.TagError):
        ft.write_genre(broken, "Rock")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp3", "song.au", "song.webm"]


def entry(path: Path, genre: str = "rock", confidence: float = 0.9, uncertain: bool = False) -> fl.LibraryEntry:
    return fl.LibraryEntry(path=str(path), genre=genre, confidence=confidence, uncertain=uncertain)


def test_rules_sure_songs_only_existing_genres_kept_unless_overwrite_each_file_once(source, tmp_path):
    songs = {name: make(source, tmp_path / f"{name}.mp3") for name in ("sure", "uncertain", "low", "tagged", "same")}
    ft.write_genre(songs["tagged"], "Jazz")
    ft.write_genre(songs["same"], "hip hop")
    (tmp_path / "link.mp3").symlink_to(songs["sure"])
    entries = [entry(songs["sure"]), entry(tmp_path / "link.mp3"), entry(songs["uncertain"], uncertain=True),
               entry(songs["low"], confidence=0.3), entry(songs["tagged"]), entry(songs["same"], genre="hiphop")]
    plan = ft.plan_tags(entries, min_confidence=0.5, overwrite=False)
    assert [(Path(c.path).name, c.old, c.new) for c in plan.changes] == [("sure.mp3", None, "Rock")]
    assert (plan.already, plan.kept, plan.not_sure, plan.problems) == (1, 1, 2, [])
    plan = ft.plan_tags(entries, min_confidence=0.25, overwrite=True)
    assert [(Path(c.path).name, c.old, c.new) for c in plan.changes] == [
        ("sure.mp3", None, "Rock"), ("low.mp3", None, "Rock"), ("tagged.mp3", "Jazz", "Rock")]
    assert ft.apply_tags(plan) == 3
    assert [ft.read_genre(songs[n]) for n in ("sure", "uncertain", "low", "tagged")] == ["Rock", None, "Rock", "Rock"]
    assert (tmp_path / "link.mp3").is_symlink()  # the link is followed, not replaced by a file


def test_read_only_and_vanished_files_are_reported_and_the_others_tagged(source, tmp_path):
    songs = [make(source, tmp_path / f"{name}.flac") for name in ("a", "read-only", "vanishing")]
    plan = ft.plan_tags([entry(song) for song in songs], 0.5, False)
    songs[1].chmod(0o444)  # made read-only and deleted between the plan and the writing
    songs[2].unlink()
    problems: list[tuple[str, str]] = []
    assert ft.apply_tags(plan, on_problem=lambda path, reason: problems.append((Path(path).name, reason))) == 1
    assert problems == [("read-only.flac", "read-only file, not tagged"),
                        ("vanishing.flac", "no such file (vanished)")]
    assert ft.read_genre(songs[0]) == "Rock" and ft.read_genre(songs[1]) is None
    assert stat.S_IMODE(songs[1].stat().st_mode) == 0o444


def tag_run(folder: Path, model_dir: Path, results: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_classifier(folder, "--model", model_dir, "--results", results, "--write-tags", "--min-confidence",
                          "0", *extra)


def test_cli_dry_run_lists_every_change_and_writes_nothing_then_the_real_run_writes(source, model_dir, tmp_path):
    folder = tmp_path / "music"
    songs = [write_wav(folder / f"s{i}.wav", synthetic_song([(g, 5.0)], seed=i))
             for i, g in enumerate(["metal", "classical", "reggae"])]
    songs.append(make(source, folder / "ro.mp3"))
    songs[-1].chmod(0o444)
    results = tmp_path / "r.jsonl"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in songs}
    dry = tag_run(folder, model_dir, results, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    planned = [line for line in dry.stderr.splitlines() if line.startswith("would tag ")]
    assert len(planned) == 3 and all(" -> " in line for line in planned)
    assert f"{songs[-1]}: not tagged: read-only file, not tagged" in dry.stderr.splitlines()
    assert "tags: 3 to write, 0 already right" in dry.stderr and "1 cannot be tagged" in dry.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in songs} == before

    real = tag_run(folder, model_dir, results)
    assert real.returncode == 0, real.stderr
    assert "Traceback" not in real.stderr
    assert f"{songs[-1]}: not tagged: read-only file, not tagged" in real.stderr.splitlines()
    assert "tags: 3 written, 0 already right" in real.stderr
    genres = {json.loads(line)["path"]: json.loads(line)["genre"] for line in results.read_text().splitlines()}
    for song in songs[:3]:
        assert ft.read_genre(song) == ft.tag_value(genres[str(song)])
    again = tag_run(folder, model_dir, results)  # the results file followed the tagged files' new size and time
    assert "library: 0 classified, 0 uncertain, 0 failed, 4 skipped as unchanged" in again.stderr
    assert "tags: 0 written, 3 already right" in again.stderr


@pytest.mark.slow
def test_kill_9_during_tagging_leaves_no_file_corrupt_and_the_rerun_finishes(model_dir, tmp_path):
    folder = tmp_path / "music"
    songs = [write_wav(folder / f"song {i:02d}.wav", synthetic_song([("metal", 3.0)], seed=i)) for i in range(4)]
    song = songs[0].read_bytes()
    big = np.tile(audio.load_audio(songs[0], max_seconds=None), 8)  # 24 s: copies take a moment
    songs += [write_wav(folder / f"long {i:02d}.wav", big * (0.5 + 0.01 * i)) for i in range(16)]
    samples = {p: decoded(p) for p in songs}
    results = tmp_path / "r.jsonl"
    assert run_classifier(folder, "--model", model_dir, "--results", results, timeout=300).returncode == 0
    command = [sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), str(folder), "--model", str(model_dir),
               "--results", str(results), "--write-tags", "--min-confidence", "0"]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=script_env(), start_new_session=True)
    tagged = 0
    for line in process.stderr:
        tagged += line.startswith("tagged ")
        if tagged == 5:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert tagged == 5 and process.returncode == -signal.SIGKILL
    for path in songs:  # every file decodes to its own samples: none corrupt or half-written
        assert np.array_equal(decoded(path), samples[path])
    assert 5 <= sum(ft.read_genre(p) is not None for p in songs) < len(songs)

    rerun = run_classifier(folder, "--model", model_dir, "--results", results, "--write-tags", "--min-confidence",
                           "0", timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert all(ft.read_genre(p) is not None for p in songs)
    assert all(np.array_equal(decoded(p), samples[p]) for p in songs)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in songs)  # no temporary file left
    assert songs[0].read_bytes() != song


def test_a_file_changed_since_it_was_classified_is_not_tagged(source, tmp_path):
    """Between the scan and the tags another song may have been moved over the file: its size or time is no
    longer the classified one's, so the genre of the song that was there is not written into it."""
    song = make(source, tmp_path / "song.mp3")
    info = song.stat()
    classified = fl.LibraryEntry(str(song), genre="rock", confidence=0.9, size=info.st_size, mtime_ns=info.st_mtime_ns)
    assert [c.new for c in ft.plan_tags([classified], 0.5, False).changes] == ["Rock"]
    make(source, tmp_path / "other.mp3").replace(song)  # another file moved over it
    plan = ft.plan_tags([classified], 0.5, False)
    assert plan.changes == [] and len(plan.problems) == 1 and "changed since it was classified" in plan.problems[0][1]
    assert ft.read_genre(song) is None


def test_a_tag_of_several_genres_that_holds_the_genre_is_already_right(source, tmp_path):
    """--overwrite-tags never drops the other genres of a tag that already holds the model's genre."""
    flac, mp3 = make(source, tmp_path / "a.flac"), make(source, tmp_path / "b.mp3")
    ft.write_genre(flac, "Classical; Soundtrack")
    ft.write_genre(mp3, "Classical/Soundtrack")
    plan = ft.plan_tags([entry(flac, "classical"), entry(mp3, "classical")], 0.5, overwrite=True)
    assert plan.changes == [] and plan.already == 2
    assert ft.read_genre(flac) == "Classical; Soundtrack"


def test_an_id3v2_3_tag_stays_v2_3_and_a_long_name_is_tagged(source, tmp_path):
    """Tagging keeps an MP3's ID3v2.3 tag v2.3 (older players do not read v2.4) with its other frames; a file name
    near the 255-byte limit still gets a temporary copy of a name the system takes."""
    from mutagen.id3 import ID3, TIT2

    song = make(source, tmp_path / "old player.mp3")
    tags = ID3()
    tags.add(TIT2(encoding=1, text=["Ünïcode title"]))
    tags.save(song, v2_version=3)
    ft.write_genre(song, "Rock")
    again = ID3(song)
    assert again.version[:2] == (2, 3) and str(again["TIT2"]) == "Ünïcode title" and str(again["TCON"]) == "Rock"
    long_name = make(source, tmp_path / ("é" * 120 + ".mp3"))  # 244 bytes
    assert len(os.fsencode(ft.temp_path(long_name).name)) <= 255
    ft.write_genre(long_name, "Jazz")
    assert ft.read_genre(long_name) == "Jazz" and sorted(p.name for p in tmp_path.iterdir() if p.name[0] == ".") == []
