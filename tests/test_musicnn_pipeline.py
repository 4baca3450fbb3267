"""The learned features in the pipeline: 00 --features, the analyser of a model that reads musicnn columns (its
window features, its patch budget, the song's tags), 03's text and JSON, and one-line errors for broken weights.

Runs on synthetic clips the tests make (no shared data needed) and the real musicnn weights, which the project's
set-up installs (``make`` installs the wheel and converts it into data/musicnn/).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_script
from helpers_classify import run_classifier, synthetic_song, write_wav

import functions_analysis as fa
import functions_audio as audio
import functions_dataset as dataset
import functions_musicnn as musicnn
import functions_musicnn_weights as fmw
import functions_song_result as song_result
import functions_synthetic

SR = audio.SAMPLE_RATE
GENRES = ("blues", "classical", "metal", "reggae")


@pytest.fixture(scope="module")
def musicnn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder (format 2, one softmax layer) reading the 100 musicnn columns, fitted on 16 synthetic clips."""
    from sklearn.linear_model import LogisticRegression

    rows, labels = [], []
    for genre in GENRES:
        for seed in range(4):
            y = functions_synthetic.synthesize_clip(genre, seed, seconds=6.0).astype(np.float32)
            rows.append(musicnn.clip_features(y))
            labels.append(genre)
    X = np.array(rows)
    mean, variance = X.mean(axis=0), X.var(axis=0)
    variance[variance <= 0] = 1.0
    fit = LogisticRegression(C=1.0, max_iter=2000).fit((X - mean) / np.sqrt(variance), labels)
    folder = tmp_path_factory.mktemp("musicnn_model")
    np.savez(folder / "weights.npz", norm_mean=mean.astype(np.float32), norm_variance=variance.astype(np.float32),
             dense_0_kernel=fit.coef_.T[None].astype(np.float32), dense_0_bias=fit.intercept_[None].astype(np.float32))
    meta = {"format_version": 2, "genres": list(fit.classes_), "feature_columns": list(audio.MUSICNN_COLUMNS),
            "activations": ["softmax"], "members": 1, "musicnn_extraction": audio.MUSICNN_SETTINGS}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


# --- 00 --features -------------------------------------------------------------------------------------------
def test_00_writes_the_feature_set_asked_for_and_resumes_only_rows_of_that_set(synthetic_dataset, tmp_path):
    out = tmp_path / "features.csv"
    run = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "musicnn",
                     "--workers", "2", "--no-progress")
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    assert tuple(table.columns) == audio.ID_COLUMNS + audio.MUSICNN_COLUMNS and len(table) == 12
    # the values are the network's tag statistics of each clip (4-s clips: two patches, at frames 0 and 61)
    first = audio.load_audio(synthetic_dataset / table.loc[0, "file"])
    assert list(musicnn.taggram_of(first).starts) == [0, musicnn.PATCH_HOP]
    np.testing.assert_allclose(table.loc[0, list(audio.MUSICNN_COLUMNS)].to_numpy(float),
                               musicnn.clip_features(first), atol=2e-6)
    # the same CSV asked for with another feature set: one line naming the set it holds, nothing changed
    before = out.read_bytes()
    run = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "classic",
                     "--no-progress")
    assert run.returncode == 1 and "holds the 'musicnn' features" in run.stderr and "Traceback" not in run.stderr
    assert out.read_bytes() == before
    # the same command again: every row kept, none extracted
    run = run_script("00_preprocess_music.py", synthetic_dataset, "-o", out, "--features", "musicnn",
                     "--no-progress")
    assert run.returncode == 0 and "0 extracted now, 12 kept" in run.stdout
    assert json.loads(out.with_name("features.settings.json").read_text())["feature_set"] == "musicnn"


def test_a_clip_shorter_than_a_patch_is_repeat_padded_and_one_under_a_second_refused(tmp_path):
    root = tmp_path / "dataset"
    y = functions_synthetic.synthesize_clip("metal", 0, seconds=2.0).astype(np.float32)
    write_wav(root / "metal" / "two_seconds.wav", y)
    write_wav(root / "metal" / "half_a_second.wav", y[: SR // 2])
    report = dataset.extract_dataset(root, tmp_path / "f.csv", workers=1, progress=False, feature_set="all")
    assert report.rows_extracted == 1 and [item.file for item in report.skipped] == ["metal/half_a_second.wav"]
    spectrogram = musicnn.spectrogram_of(audio.load_audio(root / "metal" / "two_seconds.wav"))  # 16-bit samples
    assert spectrogram.shape[0] < musicnn.PATCH_FRAMES
    padded = musicnn.pad_short(spectrogram)
    assert padded.shape == (musicnn.PATCH_FRAMES, musicnn.N_MELS)
    n = spectrogram.shape[0]
    np.testing.assert_array_equal(padded[:n], spectrogram)
    np.testing.assert_array_equal(padded[n:], np.tile(spectrogram, (2, 1))[:musicnn.PATCH_FRAMES - n])
    row = pd.read_csv(tmp_path / "f.csv").iloc[0]
    np.testing.assert_allclose(row[list(audio.MUSICNN_COLUMNS[:50])].to_numpy(float),
                               musicnn.load_network().taggram(spectrogram).tags[0], atol=2e-6)


# --- the analyser --------------------------------------------------------------------------------------------
def test_a_30_s_song_gets_every_patch_and_the_features_00_writes(musicnn_model):
    analyser = fa.SongAnalyser.from_model_dir(musicnn_model)
    assert analyser.musicnn is not None and not analyser.needs_classic
    y = synthetic_song([("metal", 30.0)])
    features = fa.WindowFeatures(None, lambda start_s: y, analyser.musicnn,
                                 fa.musicnn_patches_per_window(1, analyser.settings))
    row = features(0.0)
    assert np.isnan(row[:len(audio.CLASSIC_COLUMNS)]).all()
    np.testing.assert_allclose(row[len(audio.CLASSIC_COLUMNS):], musicnn.clip_features(y), atol=1e-6)
    result = analyser.analyse_samples(y)
    assert result.ok and len(result.tags) == song_result.TOP_TAGS
    taggram = musicnn.taggram_of(y)
    assert [tag for tag, _ in result.tags] == [tag for tag, _ in musicnn.top_tags(taggram.tags.mean(axis=0))]


def test_a_long_song_stays_within_the_patch_budget(musicnn_model):
    analyser = fa.SongAnalyser.from_model_dir(musicnn_model)
    y = synthetic_song([("metal", 60.0), ("blues", 60.0), ("reggae", 60.0), ("classical", 60.0)])
    seen: list[int] = []
    original = musicnn.MusicnnNetwork.taggram

    def counting(self, spectrogram, starts=None, batch=8):
        taggram = original(self, spectrogram, starts, batch)
        seen.append(len(taggram.starts))
        return taggram

    musicnn.MusicnnNetwork.taggram = counting
    try:
        result = analyser.analyse_samples(y)
    finally:
        musicnn.MusicnnNetwork.taggram = original
    assert result.ok and len(result.windows) == fa.MUSICNN_PATCH_BUDGET // fa.MUSICNN_MIN_PATCHES
    assert seen == [fa.MUSICNN_MIN_PATCHES] * len(result.windows)
    assert sum(seen) <= fa.MUSICNN_PATCH_BUDGET
    # every patch of every window (the dense reference) is asked for with musicnn_patches=None
    dense = fa.SongAnalyser.from_model_dir(musicnn_model, fa.AnalysisSettings(musicnn_patches=None))
    assert dense.window_settings().max_windows == fa.DEFAULT_MAX_WINDOWS
    assert fa.musicnn_patches_per_window(15, dense.settings) is None


# --- 03 -------------------------------------------------------------------------------------------------------
def test_03_shows_the_songs_tags_in_text_and_json(musicnn_model, tmp_path):
    song = write_wav(tmp_path / "song.wav", synthetic_song([("metal", 20.0), ("blues", 20.0)]))
    run = run_classifier(song, "--model", musicnn_model, "--json")
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    tags = record["tags"]
    assert [set(t) for t in tags] == [{"tag", "probability"}] * 3
    assert all(t["tag"] in audio.MUSICNN_TAGS for t in tags)
    assert [t["probability"] for t in tags] == sorted((t["probability"] for t in tags), reverse=True)
    run = run_classifier(song, "--model", musicnn_model)
    assert run.returncode == 0 and f"sounds like: {', '.join(t['tag'] for t in tags)}" in run.stdout


def test_03_patches_sets_the_songs_patch_budget(musicnn_model, tmp_path):
    """--patches 4: one window of 4 patches; --patches all: every window of the plan, every patch of each; the
    same record fields either way."""
    song = write_wav(tmp_path / "song.wav", synthetic_song([("metal", 35.0), ("blues", 35.0)]))
    records = {}
    for value in ("4", "all"):
        run = run_classifier(song, "--model", musicnn_model, "--json", "--patches", value)
        assert run.returncode == 0, run.stderr
        records[value] = json.loads(run.stdout)
    planned = fa.plan_windows(70.0)
    assert len(records["4"]["windows"]) == 1 and len(records["all"]["windows"]) == len(planned) == 4
    assert records["4"].keys() == records["all"].keys()
    assert all(record["genre"] in GENRES and len(record["tags"]) == 3 for record in records.values())


def test_damaged_weights_are_one_line_saying_what_to_run(musicnn_model, tmp_path, monkeypatch):
    song = write_wav(tmp_path / "song.wav", synthetic_song([("metal", 5.0)]))
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(fmw.ensure_weights(), weights / "MSD_musicnn.npz")
    data = (weights / "MSD_musicnn.npz").read_bytes()
    (weights / "MSD_musicnn.npz").write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("GENRE_MUSICNN_WEIGHTS", str(weights))
    run = run_classifier(song, "--model", musicnn_model)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    line = run.stderr.strip().splitlines()[-1]
    assert "damaged musicnn weights" in line and "--prepare-musicnn" in line and str(weights) in line
    run = run_script("00_preprocess_music.py", tmp_path, "-o", tmp_path / "f.csv", "--features", "all")
    assert run.returncode == 1 and "damaged musicnn weights" in run.stderr and "Traceback" not in run.stderr


def wrong_shape_cache(folder: Path) -> Path:
    """A weights cache whose arrays all exist, with a valid checksum, one of them of a wrong shape."""
    arrays = fmw.read_weights(fmw.ensure_weights())
    arrays["temporal_64/kernel"] = arrays["temporal_64/kernel"][:60]
    meta = {"format_version": fmw.WEIGHTS_FORMAT_VERSION, "model": musicnn.MUSICNN_MODEL,
            "arrays_sha256": fmw.arrays_sha256(arrays)}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "MSD_musicnn.npz", meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return folder


def only_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_wrong_weights_are_one_line_before_any_song_with_only_the_remedy_that_applies(tmp_path, monkeypatch):
    songs = tmp_path / "songs"
    for i, genre in enumerate(("metal", "blues")):
        write_wav(songs / genre / f"{genre}.wav", synthetic_song([(genre, 4.0)], seed=i))
    library = tmp_path / "library.jsonl"  # scanned with the right weights; the query song is not in it
    assert run_classifier(songs / "metal", "--results", library).returncode == 0
    monkeypatch.setenv("GENRE_MUSICNN_WEIGHTS", str(wrong_shape_cache(tmp_path / "weights")))
    expected = "temporal_64/kernel has shape (60, 1, 1, 51)"
    for args in ([songs / "metal" / "metal.wav"], [songs, "--workers", "2"],
                 ["--like", songs / "blues" / "blues.wav", "--results", library]):
        run = run_classifier(*args)  # the shipped model, which is there: no "shipped model is missing"
        line = only_line(run.stderr)
        assert run.returncode in (1, 2) and expected in line and "--prepare-musicnn" in line, args
        assert "shipped model is missing" not in line and run.stdout == "", args
    run = run_script("00_preprocess_music.py", songs, "-o", tmp_path / "f.csv", "--no-progress")
    assert run.returncode == 1 and expected in run.stderr.strip().splitlines()[-1] and "Traceback" not in run.stderr
    assert not (tmp_path / "f.csv").exists()


def test_a_read_only_weights_folder_is_one_line_naming_it(tmp_path):
    """The folder is a read-only bind mount (a mode is not enough: root writes through modes)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to make a read-only bind mount (util-linux)")
    song = write_wav(tmp_path / "song.wav", synthetic_song([("metal", 4.0)]))
    folder = tmp_path / "readonly"
    folder.mkdir()
    script = (f'mount -o bind,ro "{folder}" "{folder}" && exec "{sys.executable}" '
              f'"{audio.PROJECT_DIR / "03_launch_classifier.py"}" "{song}"')
    env = {**os.environ, "GENRE_MUSICNN_WEIGHTS": str(folder), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300,
                         cwd=audio.PROJECT_DIR)
    if "mount:" in run.stderr:
        pytest.skip(f"this machine allows no bind mount here: {run.stderr.strip()[:100]}")
    line = only_line(run.stderr)
    assert run.returncode == 2 and f"cannot write the musicnn weights to {folder} (Read-only file system)" in line
    assert "GENRE_MUSICNN_WEIGHTS" in line and not list(folder.iterdir())
