"""03_launch_classifier.py and the whole-song analysis of functions_analysis, on real audio and a real model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import child_processes, process_alive
from helpers_classify import (
    PROJECT_DIR,
    SR,
    encode,
    run_classifier,
    script_env,
    synthetic_song,
    write_wav,
)

import functions_analysis as fa
import functions_audio as audio
import functions_features
import functions_interface as fi
import functions_nn


@pytest.fixture(scope="module")
def analyser(model_dir: Path) -> fa.SongAnalyser:
    return fa.SongAnalyser.from_model_dir(model_dir)


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 70-s song with silence around it, a 20-s song and a 2-s one."""
    folder = tmp_path_factory.mktemp("songs")
    silence = np.zeros(int(2.5 * SR), dtype=np.float32)
    long_song = np.concatenate([silence, synthetic_song([("metal", 35), ("blues", 35)]), silence])
    return {
        "long": write_wav(folder / "long.wav", long_song),
        "short": write_wav(folder / "short.wav", synthetic_song([("reggae", 20)], seed=5)),
        "tiny": write_wav(folder / "tiny.wav", synthetic_song([("blues", 2)], seed=7)),
    }


def reference_probabilities(analyser: fa.SongAnalyser, y: np.ndarray) -> np.ndarray:
    """The model's probabilities for one window, computed directly (extractor + NumPy forward pass)."""
    features = functions_features.compute_features(y)
    columns = [audio.FEATURE_COLUMNS.index(c) for c in analyser.classifier.feature_columns]
    return analyser.classifier.predict_proba(features[None, columns])[0]


# --- windows and trimming ----------------------------------------------------------------------------------
@pytest.mark.parametrize("duration", [3.0, 29.9, 30.0, 44.0, 45.0, 61.3, 600.0, 3600.0])
def test_windows_cover_the_song_with_the_training_length(duration):
    settings = fa.AnalysisSettings()
    starts = fa.plan_windows(duration, settings)
    assert starts == sorted(starts) and starts[0] == 0.0
    assert len(starts) <= settings.max_windows
    if duration <= settings.window_s:
        assert starts == [0.0]
        return
    assert starts[-1] + settings.window_s == pytest.approx(duration, abs=1.0)  # the end is covered
    gaps = np.diff(starts)
    if len(starts) < settings.max_windows:
        assert np.all(gaps <= settings.hop_s + 1e-9)  # no stretch is skipped
    else:  # long recordings: max_windows windows spread evenly
        assert np.allclose(gaps, gaps[0], atol=0.01)


def test_too_short_song_is_an_error():
    with pytest.raises(fa.AnalysisError, match="too short"):
        fa.plan_windows(2.9)


def test_trim_silence_agrees_with_librosa(songs):
    import librosa

    y = audio.load_audio(songs["long"], max_seconds=None)
    y[: SR // 2] += np.float32(1e-5)  # a faint hiss at the start is still silence (60 dB below the peak)
    start, end = fa.trim_silence(y)
    _, (lib_start, lib_end) = librosa.effects.trim(y, top_db=60)
    assert (start, end) == (lib_start, lib_end)
    assert fa.trim_silence(np.zeros(SR, dtype=np.float32)) == (0, 0)


# --- the analysis ------------------------------------------------------------------------------------------
def test_song_result_is_the_mean_over_windows_of_the_trimmed_song(analyser, songs):
    result = analyser.analyse_file(songs["long"])
    y = audio.load_audio(songs["long"], max_seconds=None)
    start, end = fa.trim_silence(y)
    trimmed = y[start:end]
    starts = fa.plan_windows(trimmed.size / SR)
    assert len(starts) == 4  # 70 s: 0, 15, 30 and one aligned with the end
    assert [w.start_s for w in result.windows] == pytest.approx([start / SR + s for s in starts], abs=1e-3)
    firsts = [fa.window_first_sample(s) for s in starts]  # windows start on the song's STFT frame grid
    assert all(abs(first - s * SR) <= 256 for first, s in zip(firsts, starts, strict=True))
    expected = np.array([reference_probabilities(analyser, trimmed[first:first + 30 * SR]) for first in firsts])
    got = np.array([[w.probabilities[g] for g in analyser.genres] for w in result.windows])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    np.testing.assert_allclose([result.probabilities[g] for g in analyser.genres], expected.mean(axis=0),
                               atol=1e-9)
    assert result.genre == analyser.genres[int(np.argmax(expected.mean(axis=0)))]
    assert [w.genre for w in result.windows] == [analyser.genres[i] for i in expected.argmax(axis=1)]
    assert result.duration_s == pytest.approx(y.size / SR)


def test_song_under_30_s_is_one_window_and_under_3_s_an_error(analyser, songs):
    short = analyser.analyse_file(songs["short"])
    y = audio.load_audio(songs["short"], max_seconds=None)
    assert len(short.windows) == 1
    start, end = fa.trim_silence(y)
    np.testing.assert_allclose([short.probabilities[g] for g in analyser.genres],
                               reference_probabilities(analyser, y[start:end]), atol=1e-9)
    tiny = analyser.classify(str(songs["tiny"]))
    assert tiny.error is not None and "too short" in tiny.error


def test_long_files_are_read_window_by_window_with_the_same_result(analyser, songs, monkeypatch):
    whole = fa.SongAnalyser(analyser.classifier, fa.AnalysisSettings(max_windows=3)).analyse_file(songs["long"])
    monkeypatch.setattr(fa, "LOAD_WHOLE_LIMIT_S", 10.0)
    streamed = fa.SongAnalyser(analyser.classifier, fa.AnalysisSettings(max_windows=3)).analyse_file(songs["long"])
    assert len(streamed.windows) == len(whole.windows) == 3
    # the end silence is found on frames aligned with the tail read: the end may move by one trimming hop
    one_hop = fa.TRIM_HOP_LENGTH / SR
    assert [w.start_s for w in streamed.windows] == pytest.approx([w.start_s for w in whole.windows], abs=one_hop)
    assert streamed.windows[0].probabilities == pytest.approx(whole.windows[0].probabilities, abs=1e-6)
    for a, b in zip(streamed.windows, whole.windows, strict=True):
        assert a.genre == b.genre
        assert a.probabilities == pytest.approx(b.probabilities, abs=0.05)


def test_silence_longer_than_a_minute_at_the_ends_of_a_long_file_is_trimmed_like_a_short_one(analyser, tmp_path,
                                                                                              monkeypatch):
    """70 s of digital silence, 100 s of music, 90 s of hiss 66 dB below it: windows only where the music is."""
    music = synthetic_song([("metal", 50), ("blues", 50)], seed=2)
    blocks = music[:music.size // 512 * 512].reshape(-1, 512).astype(np.float64)
    loudest_rms = float(np.sqrt(np.square(blocks).mean(axis=1).max()))
    hiss = np.random.default_rng(0).normal(0, loudest_rms * 10 ** (-66 / 20), 90 * SR).astype(np.float32)
    path = write_wav(tmp_path / "long.wav", np.concatenate([np.zeros(70 * SR, np.float32), music, hiss]))
    whole_file = analyser.analyse_samples(audio.load_audio(path, max_seconds=None))  # the short-file rule
    monkeypatch.setattr(fa, "LOAD_WHOLE_LIMIT_S", 60.0)  # this 260-s file is now "long": read window by window
    streamed = analyser.analyse_file(path)
    assert [w.start_s for w in streamed.windows] == [w.start_s for w in whole_file.windows]
    assert 69.9 < streamed.windows[0].start_s and streamed.windows[-1].start_s + 30 < 170.1
    for a, b in zip(streamed.windows, whole_file.windows, strict=True):
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
    assert streamed.duration_s == pytest.approx(260.0, abs=1e-3)


def test_a_long_file_without_a_length_in_its_header_is_read_window_by_window(model_dir, tmp_path):
    """30 minutes of M4A (no frame count for libsndfile) used to be decoded whole: ~500 MB for this file."""
    clip = encode(write_wav(tmp_path / "clip.wav", synthetic_song([("reggae", 20), ("metal", 20)], seed=6)),
                  tmp_path / "clip.m4a", "-c:a", "aac", "-b:a", "64k")
    song = tmp_path / "half-hour.m4a"
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-v", "error", "-stream_loop", "44", "-i", str(clip), "-c", "copy",
                    str(song)], check=True, timeout=60)
    probe = (  # VmHWM: this process's own peak (ru_maxrss would keep the forking parent's peak across exec)
        "import json, re\n"
        "import functions_analysis as fa\n"
        f"result = fa.SongAnalyser.from_model_dir({str(model_dir)!r}).analyse_file({str(song)!r})\n"
        "peak_kb = int(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "print(json.dumps({'peak_mb': peak_kb / 1024, 'record': result.to_json_dict()}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True,
                         timeout=300, env=script_env())
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout.splitlines()[-1])
    record = measured["record"]
    assert record["error"] is None and record["duration_s"] == pytest.approx(1800.0, abs=3.0)  # AAC padding
    assert len(record["windows"]) == fa.DEFAULT_MAX_WINDOWS
    assert record["windows"][-1]["start_s"] > 1700
    print(f"peak RSS {measured['peak_mb']:.0f} MB")
    assert measured["peak_mb"] < 250, measured["peak_mb"]  # the whole half hour as float32 alone is 159 MB


def test_file_names_that_look_like_ffmpeg_protocols_are_plain_files(model_dir, tmp_path):
    """``concat:song.m4a`` and ``pipe:0`` are files of those names, not another file or standard input."""
    plain = encode(write_wav(tmp_path / "a.wav", synthetic_song([("metal", 12)], seed=1)), tmp_path / "plain.m4a",
                   "-c:a", "aac")
    other = encode(write_wav(tmp_path / "b.wav", synthetic_song([("reggae", 12)], seed=8)), tmp_path / "song.m4a",
                   "-c:a", "aac")
    shutil.copy(plain, tmp_path / "concat:song.m4a")
    shutil.copy(plain, tmp_path / "pipe:0")
    with open(other, "rb") as stdin:
        run = subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), "concat:song.m4a",
                              "pipe:0", "plain.m4a", "song.m4a", "--model", str(model_dir), "--json", "--workers", "1"],
                             cwd=tmp_path, stdin=stdin, capture_output=True, text=True, timeout=120, env=script_env())
    assert run.returncode == 0, run.stderr
    records = {r["input"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert all(r["error"] is None for r in records.values()), records
    assert records["concat:song.m4a"]["probabilities"] == records["plain.m4a"]["probabilities"]
    assert records["pipe:0"]["probabilities"] == records["plain.m4a"]["probabilities"]
    assert records["song.m4a"]["probabilities"] != records["plain.m4a"]["probabilities"]


def test_a_file_cut_short_gets_a_note_naming_what_was_decoded(model_dir, tmp_path):
    """A copy or download cut short keeps a header that names the whole song, and the decoders stop at the cut
    without an error: the answer said nothing of it. Now the text, the JSON record and the window's title say it.
    Whole files get no note, nor do files whose header states no length (a FLAC written to a pipe, whose count
    libsndfile gives as 2**63 - 1) or only an estimate (an MP3 without a length header, even behind a large
    cover: a tester saw "only 4:30 of the 7:33"), and a variable-bitrate MP3 without a length header is decoded to
    its end (libsndfile stopped at its estimate, 75 of 180 s, without a word)."""
    whole = write_wav(tmp_path / "whole.wav", synthetic_song([("reggae", 20), ("metal", 20)], seed=3))
    made = {"whole.mp3": ("-c:a", "libmp3lame", "-q:a", "4"), "whole.flac": ("-c:a", "flac"),
            "whole.aiff": ("-c:a", "pcm_s16be"), "vbr_noheader.mp3": ("-c:a", "libmp3lame", "-q:a", "0",
                                                                      "-write_xing", "0"),
            "cbr_noheader.mp3": ("-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0")}
    for name, codec in made.items():
        encode(whole, tmp_path / name, *codec)
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(whole), "-c:a", "flac", "-f", "flac",
                    "pipe:1"], stdout=(tmp_path / "piped.flac").open("wb"), check=True, timeout=60)
    cover = tmp_path / "cbr_noheader.mp3"
    cover.write_bytes(b"ID3\x03\x00\x00" + bytes([0, 0x0c, 0, 0]) + bytes(0x30000) + cover.read_bytes())  # ID3 tag
    for name in ("whole.mp3", "whole.flac", "whole.wav", "whole.aiff"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[: len(data) * 2 // 5])
    cut = ["cut_whole.mp3", "cut_whole.flac", "cut_whole.wav", "cut_whole.aiff"]
    names = [*cut, "whole.mp3", "vbr_noheader.mp3", "cbr_noheader.mp3", "piped.flac"]
    run = subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), *names, "--model",
                          str(model_dir), "--json", "--workers", "1"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env=script_env())
    assert run.returncode == 0, run.stderr
    records = {r["input"]: r for r in map(json.loads, run.stdout.splitlines())}
    for name in cut:
        assert records[name]["error"] is None and records[name]["cut_short"] is not None, records[name]
        assert records[name]["cut_short"]["header_s"] == pytest.approx(40.0, abs=0.2)
        assert records[name]["cut_short"]["decoded_s"] == pytest.approx(records[name]["duration_s"], abs=0.01)
        assert 10 < records[name]["duration_s"] < 25
    for name in ("whole.mp3", "vbr_noheader.mp3", "cbr_noheader.mp3", "piped.flac"):
        assert records[name]["cut_short"] is None, records[name]
        assert records[name]["duration_s"] == pytest.approx(40.0, abs=0.2), name  # decoded to its end
    text = subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), "cut_whole.flac",
                           "whole.mp3", "--model", str(model_dir), "--workers", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=script_env())
    assert text.returncode == 0, text.stderr
    notes = [line for line in text.stdout.splitlines() if line.strip().startswith("note:")]
    assert len(notes) == 1 and "of the 0:40 its header gives could be decoded (" in notes[0]
    assert " s missing): the file is cut short or damaged" in notes[0]
    # the rule: more than 1 s short of a length the header states
    result = fa.SongResult(input="x", genre="blues", probabilities={"blues": 1.0}, duration_s=200.0)
    assert fa.noted_if_cut_short(result, 200.9).cut_short is None and fa.noted_if_cut_short(result, None).cut_short \
        is None
    assert fa.noted_if_cut_short(result, 201.5).cut_short == (200.0, 201.5)


def test_ffmpeg_and_libsndfile_give_a_stereo_song_the_same_level(tmp_path):
    """ffmpeg made stereo mono as (L + R) / sqrt(2), 3 dB louder than libsndfile's mean of the channels: an M4A
    (or any file ffmpeg decodes) was heard louder than the same song as FLAC."""
    mono = synthetic_song([("metal", 6)], seed=2)
    stereo = tmp_path / "stereo.wav"
    import soundfile

    soundfile.write(stereo, np.column_stack([mono, 0.5 * mono]), SR)
    flac = encode(stereo, tmp_path / "stereo.flac", "-c:a", "flac")
    via_ffmpeg = audio._load_with_ffmpeg(flac, None, 0.0)
    via_libsndfile = audio.load_audio(flac, max_seconds=None)
    n = min(via_ffmpeg.size, via_libsndfile.size)
    ratio = np.sqrt(np.mean(via_ffmpeg[:n] ** 2) / np.mean(via_libsndfile[:n] ** 2))
    assert ratio == pytest.approx(1.0, abs=0.01)


def test_damaged_audio_gives_finite_answers_and_ffmpeg_errors_read_as_one_plain_line(tmp_path):
    """A damaged AAC stream decoded to samples of 1855: float16's overflow in the musicnn input made every
    probability NaN (a bare NaN in the JSON). And ffmpeg's errors carried its memory addresses."""
    import functions_musicnn

    loud = (np.random.default_rng(0).standard_normal(3 * 16000) * 1855).astype(np.float32)
    assert np.isfinite(functions_musicnn.log_mel(loud)).all()
    error = audio._ffmpeg_failure(1, b"[aist#0:0/aac @ 0x564bbc6bd040] [dec:aac @ 0x564bbc6bebc0] Error submitting "
                                     b"packet to decoder: Invalid data found when processing input\n")
    assert str(error) == ("cannot decode audio (Error submitting packet to decoder: Invalid data found when "
                          "processing input)")
    index = audio._ffmpeg_failure(1, b"[in#0 @ 0x563c8e420080] moov atom not found\nError opening input files\n")
    assert "MP4 index (the 'moov' atom) is missing: the file was cut short" in str(index)


def test_model_with_unknown_columns_or_other_extraction_settings_is_refused(model_dir, tmp_path, songs):
    for name, change in [("columns", lambda m: m["feature_columns"].__setitem__(0, "loudness_mean")),
                         ("settings", lambda m: m["feature_extraction"].__setitem__("n_mfcc", 20))]:
        broken = tmp_path / name
        shutil.copytree(model_dir, broken)
        meta = json.loads((broken / "model.json").read_text())
        if name == "settings" and not isinstance(meta.get("feature_extraction"), dict):
            meta["feature_extraction"] = dict(audio.EXTRACTION_SETTINGS)
        change(meta)
        (broken / "model.json").write_text(json.dumps(meta))
        with pytest.raises(functions_nn.ModelLoadError, match="loudness_mean" if name == "columns" else "n_mfcc"):
            fa.SongAnalyser.from_model_dir(broken)
        run = run_classifier(songs["short"], "--model", broken)
        assert run.returncode == 2 and "Traceback" not in run.stderr
        assert ("loudness_mean" if name == "columns" else "n_mfcc") in run.stderr


# --- the command line --------------------------------------------------------------------------------------
def test_cli_json_record_matches_the_analysis(model_dir, analyser, songs):
    run = run_classifier(songs["long"], "--model", model_dir, "--json")
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(records) == 1
    record = records[0]
    assert set(record) == {"input", "title", "duration_s", "genre", "probabilities", "windows", "error", "uncertain",
                           "tags", "known", "novelty", "not_music", "cut_short"}
    assert record["tags"] is None  # a model of classic features does not run the musicnn network
    expected = analyser.analyse_file(songs["long"])
    assert record["error"] is None and record["genre"] == expected.genre
    assert record["uncertain"] is expected.uncertain is False  # the tiny model has no threshold: never uncertain
    assert record["title"] == "long" and record["duration_s"] == pytest.approx(expected.duration_s, abs=1e-3)
    assert record["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert [w["start_s"] for w in record["windows"]] == pytest.approx([w.start_s for w in expected.windows])
    assert [w["genre"] for w in record["windows"]] == [w.genre for w in expected.windows]
    assert record["known"] == expected.known and [w["known"] for w in record["windows"]] == [
        w.known for w in expected.windows]
    assert record["novelty"] == (None if expected.novelty is None else pytest.approx(expected.novelty, abs=1e-6))
    assert record["not_music"] == expected.not_music


def test_cli_human_output_has_a_top_k_bar_chart(model_dir, analyser, songs):
    run = run_classifier(songs["long"], "--model", model_dir, "--top", "2")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    expected = analyser.analyse_file(songs["long"])
    best = max(expected.probabilities, key=expected.probabilities.get)
    assert lines[0].startswith(f"{songs['long']}: {best} ({expected.probabilities[best] * 100:.1f} %)")
    bars = [line.split() for line in lines[1:3]]
    ranked = fi.top_genres(expected.probabilities, 2)
    assert [b[0] for b in bars] == [g for g, _ in ranked]
    assert [float(b[-2]) for b in bars] == pytest.approx([p * 100 for _, p in ranked], abs=0.06)
    assert lines[3].strip().startswith("timeline:")


def test_cli_plot_writes_a_png(model_dir, songs, tmp_path):
    from PIL import Image

    out = tmp_path / "plots" / "song.png"
    run = run_classifier(songs["long"], "--model", model_dir, "--plot", out)
    assert run.returncode == 0, run.stderr
    with Image.open(out) as image:
        assert image.size == (1000, 400)
        assert len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) > 20  # a chart


def test_folder_runs_in_parallel_and_a_bad_file_does_not_stop_the_rest(model_dir, songs, tmp_path):
    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(songs["short"], folder / "a.wav")
    shutil.copy(songs["long"], folder / "sub" / "b.wav")
    (folder / "sub" / "broken.mp3").write_bytes(b"this is not audio")
    (folder / "notes.txt").write_text("not audio, not listed")
    run = run_classifier(folder, "--model", model_dir, "--json", "--workers", "2")
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert [Path(r["input"]).name for r in records] == ["a.wav", "b.wav", "broken.mp3"]
    assert [r["error"] is None for r in records] == [True, True, False]
    assert "Traceback" not in run.stderr
    single = json.loads(run_classifier(folder / "a.wav", "--model", model_dir, "--json").stdout)
    assert records[0]["probabilities"] == single["probabilities"]


@pytest.mark.parametrize("args, code, message", [
    (["{missing}"], 1, "no such file"),
    (["{tiny}", "{missing}"], 1, "too short"),
    (["{short}", "--top", "0"], 2, "--top"),
    (["--search", "  "], 2, "empty search"),
    ([], 2, "at least one INPUT"),
    (["{short}", "--model", "{nomodel}"], 2, "model folder not found"),
])
def test_exit_status_and_one_line_errors(model_dir, songs, tmp_path, args, code, message):
    values = {"missing": str(tmp_path / "missing.wav"), "nomodel": str(tmp_path / "nomodel"),
              **{k: str(v) for k, v in songs.items()}}
    args = [a.format(**values) for a in args]
    if "--model" not in args:
        args += ["--model", str(model_dir)]
    run = run_classifier(*args)
    assert run.returncode == code
    assert message in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_cold_start_imports_no_tensorflow_pandas_sklearn_matplotlib_or_ytdlp(model_dir, songs):
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['03_launch_classifier.py', {str(songs['short'])!r}, '--model', {str(model_dir)!r}]\n"
        "try:\n    runpy.run_path('03_launch_classifier.py', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "heavy = ['tensorflow', 'keras', 'pandas', 'sklearn', 'matplotlib', 'seaborn', 'yt_dlp']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True,
                         timeout=120, env=script_env())
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "LOADED []"


@pytest.mark.slow
def test_numpy_forward_pass_equals_keras_predict_on_real_clips(model_dir, shared_data, tmp_path):
    """The fast path and Keras's own predict agree to 1e-5 on real GTZAN clips (one per genre)."""
    clips = sorted((shared_data / "gtzan_mini").glob("*/*.00000.wav"))
    if not clips:
        pytest.skip("no GTZAN clips in the shared data")
    folder = tmp_path / "clips"
    folder.mkdir()
    for clip in clips:
        (folder / clip.name).symlink_to(clip)
    fast = run_classifier(folder, "--model", model_dir, "--json", "--workers", "1")
    slow = run_classifier(folder, "--model", model_dir, "--json", "--backend", "keras", "--workers", "1",
                          timeout=300)
    assert fast.returncode == 0 and slow.returncode == 0, fast.stderr + slow.stderr
    fast_records = [json.loads(line) for line in fast.stdout.splitlines()]
    slow_records = [json.loads(line) for line in slow.stdout.splitlines()]
    assert len(fast_records) == len(slow_records) == len(clips)
    for a, b in zip(fast_records, slow_records, strict=True):
        assert a["error"] is None and b["error"] is None
        assert a["genre"] == b["genre"]
        for genre, p in a["probabilities"].items():
            assert p == pytest.approx(b["probabilities"][genre], abs=1e-5)


# --- worker processes: a killed worker, Ctrl-C, a killed 03 -------------------------------------------------
def _start_classifier(*args: str | Path) -> subprocess.Popen:
    """03 in a session of its own, as a terminal runs it (Ctrl-C goes to its whole process group)."""
    return subprocess.Popen([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), *map(str, args)],
                            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=script_env(), start_new_session=True)


def _busy_workers(process: subprocess.Popen, count: int = 2) -> list[int]:
    deadline = time.monotonic() + 60
    while len(child_processes(process.pid)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # each has a song by now (they get one as soon as they are up)
    workers = child_processes(process.pid)
    assert len(workers) == count, workers
    return workers


@pytest.fixture(scope="module")
def long_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-minute song (a 20-s synthetic clip, repeated): several seconds of work for a worker."""
    clip = synthetic_song([("metal", 20)], seed=3)
    return write_wav(tmp_path_factory.mktemp("long_song") / "long.wav", np.tile(clip, 18))


def test_a_killed_worker_costs_only_its_song(model_dir, songs):
    process = _start_classifier(*[songs["long"]] * 8, "--model", model_dir, "--json", "--workers", "2")
    first = process.stdout.readline()  # one song is done: both workers are at work on the others
    os.kill(child_processes(process.pid)[0], signal.SIGKILL)  # what the out-of-memory killer does
    # The rest through the same buffered reader: readline may already hold the next lines (communicate() reads
    # the pipe underneath it and would miss them).
    out = process.stdout.read()
    err = process.stderr.read()
    assert process.wait(timeout=300) == 0, err
    assert "Traceback" not in err
    records = [json.loads(line) for line in [first, *out.splitlines()]]
    assert len(records) == 8  # one result per input, in order
    failed = [r["error"] for r in records if r["error"] is not None]
    assert len(failed) <= 1 and all(e.startswith("worker process died (killed by SIGKILL") for e in failed)
    assert not [pid for pid in child_processes(process.pid) if process_alive(pid)]


def test_ctrl_c_stops_every_worker_within_a_second(model_dir, long_song):
    process = _start_classifier(*[long_song] * 4, "--model", model_dir, "--workers", "2")
    workers = _busy_workers(process)
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground process group
    _, err = process.communicate(timeout=120)
    seconds = time.monotonic() - started
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err
    assert "Traceback" not in err
    assert seconds < 2.0, f"{seconds:.1f} s from Ctrl-C to exit"
    assert not [pid for pid in workers if process_alive(pid)]


def test_workers_end_when_03_is_killed(model_dir, long_song):
    process = _start_classifier(*[long_song] * 4, "--model", model_dir, "--workers", "2")
    workers = _busy_workers(process)
    process.kill()  # kill -9 of 03 alone: its workers must not live on as orphans
    process.wait(timeout=30)
    process.stdout.close()
    process.stderr.close()
    deadline = time.monotonic() + 5
    while any(process_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = [pid for pid in workers if process_alive(pid)]
    for pid in orphans:  # do not leave them to the rest of the test session
        os.kill(pid, signal.SIGKILL)
    assert not orphans, "workers outlived the killed 03"


# --- uncertain answers ---------------------------------------------------------------------------------------
def test_uncertain_answers_name_the_top_two_genres_in_text_and_json(model_dir, songs, tmp_path):
    from helpers_classify import model_with_threshold

    never_sure = model_with_threshold(model_dir, tmp_path / "never_sure", threshold=1.0)
    always_sure = model_with_threshold(model_dir, tmp_path / "always_sure", threshold=0.0)
    text = run_classifier(songs["short"], "--model", never_sure)
    assert text.returncode == 0, text.stderr
    record = json.loads(run_classifier(songs["short"], "--model", never_sure, "--json").stdout)
    assert record["uncertain"] is True
    (first, p1), (second, p2) = sorted(record["probabilities"].items(), key=lambda item: -item[1])[:2]
    headline = text.stdout.splitlines()[0]
    assert headline.startswith(f"{songs['short']}: uncertain: {first} {p1 * 100:.0f} % or {second} {p2 * 100:.0f} %")
    assert headline.count(" % ") == 2 and "[1 window" in headline
    sure = run_classifier(songs["short"], "--model", always_sure, "--json")
    sure_record = json.loads(sure.stdout)
    assert sure_record["uncertain"] is False and sure_record["probabilities"] == record["probabilities"]
    sure_text = run_classifier(songs["short"], "--model", always_sure).stdout.splitlines()[0]
    assert "uncertain" not in sure_text and f": {first} ({p1 * 100:.1f} %)" in sure_text


def test_a_temperature_in_model_json_calibrates_every_probability_shown(model_dir, songs, tmp_path):
    from helpers_classify import model_with_threshold

    plain = json.loads(run_classifier(songs["long"], "--model", model_dir, "--json").stdout)
    hot = model_with_threshold(model_dir, tmp_path / "hot", threshold=0.0, temperature=2.5)
    tempered = json.loads(run_classifier(songs["long"], "--model", hot, "--json").stdout)
    classifier = functions_nn.load_classifier(hot)
    assert classifier.temperature == 2.5
    # same answers, softer probabilities, for the song and for each window of its timeline
    assert tempered["genre"] == plain["genre"]
    assert max(tempered["probabilities"].values()) < max(plain["probabilities"].values())
    for window, plain_window in zip(tempered["windows"], plain["windows"], strict=True):
        assert window["genre"] == plain_window["genre"]
        assert max(window["probabilities"].values()) < max(plain_window["probabilities"].values())
