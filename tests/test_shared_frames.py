"""The shared-frame analysis of a song (functions_analysis.SongFrames) against each window analysed on its own:
the same features and probabilities, on synthetic songs and on long songs built from the real GTZAN clips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers_classify import SR, synthetic_song

import functions_analysis as fa
import functions_audio as audio
import functions_features as ff


@pytest.mark.parametrize("first, count", [(0, 5), (3, 40), (100, 300), (560, 31), (590, 1)])
def test_frames_of_any_stretch_equal_those_of_the_whole_signal(first, count):
    y = synthetic_song([("metal", 10.0), ("blues", 3.7)])
    whole = ff.frame_features(y)
    part = ff.frame_features(y, first, count)
    expected = whole[first:first + count]
    assert len(whole) == ff.frame_count(y.size) and len(part) == count
    for name in ("power", "log_mel", "zcr", "centroid", "rolloff", "peak_frame", "peak_pitch", "peak_mag"):
        np.testing.assert_allclose(getattr(part, name), getattr(expected, name), rtol=1e-6, atol=1e-6, err_msg=name)
    joined = ff.Frames.join(whole[:first], whole[first:])
    assert np.array_equal(joined.peak_frame, whole.peak_frame) and np.array_equal(joined.power, whole.power)


def test_compute_features_is_the_statistics_of_the_clips_own_frames():
    y = synthetic_song([("reggae", 12.0)], seed=4)
    assert np.array_equal(ff.compute_features(y), ff.features_from_frames(ff.frame_features(y)))


def compare(y: np.ndarray, analyser: fa.SongAnalyser) -> tuple[float, fa.SongResult]:
    """Largest probability difference (song and windows) between the two paths; both must agree on genres."""
    alone = fa.SongAnalyser(analyser.classifier, dataclasses.replace(analyser.settings, shared_frames=False))
    shared, own = analyser.analyse_samples(y), alone.analyse_samples(y)
    assert shared.genre == own.genre
    assert [w.genre for w in shared.windows] == [w.genre for w in own.windows]
    assert [w.start_s for w in shared.windows] == [w.start_s for w in own.windows]
    pairs = [(shared.probabilities, own.probabilities)] + [(a.probabilities, b.probabilities)
                                                            for a, b in zip(shared.windows, own.windows, strict=True)]
    return max(abs(a[g] - b[g]) for a, b in pairs for g in a), shared


@pytest.fixture(scope="module")
def analyser(model_dir) -> fa.SongAnalyser:
    return fa.SongAnalyser.from_model_dir(model_dir)


def test_synthetic_songs_get_the_same_result_from_shared_frames(analyser):
    silence = np.zeros(int(40 * SR), dtype=np.float32)
    songs = {
        "4 minutes": synthetic_song([(g, 30.0) for g in ["metal", "blues", "classical", "reggae"] * 2]),
        "odd length": synthetic_song([("metal", 47.3), ("reggae", 33.1)], seed=2),
        "silent stretch": np.concatenate([synthetic_song([("blues", 50)]), silence, synthetic_song([("metal", 50)])]),
        "one window": synthetic_song([("classical", 21.0)], seed=6),
        "just over a window": synthetic_song([("classical", 30.05)], seed=6),
    }
    for name, y in songs.items():
        difference, result = compare(y, analyser)
        assert difference <= 1e-6, name
        assert result.ok, name
    spread = fa.SongAnalyser(analyser.classifier, fa.AnalysisSettings(max_windows=5))  # windows far apart
    assert compare(songs["4 minutes"], spread)[0] <= 1e-6


@pytest.mark.slow
def test_gtzan_clips_and_long_songs_built_from_them_get_the_same_result(shared_data):
    """The classic model on real music: every gtzan_mini clip, and 3 songs of 8 clips (4 minutes, 15 windows)."""
    analyser = fa.SongAnalyser.from_model_dir(audio.CLASSIC_MODEL_DIR)
    clips = sorted((shared_data / "gtzan_mini").glob("*/*.wav"))
    if len(clips) < 24:
        pytest.skip("gtzan_mini is not complete in the shared data")
    decoded = [audio.load_audio(clip, max_seconds=None) for clip in clips]
    largest = 0.0
    for y in decoded:
        largest = max(largest, compare(y, analyser)[0])
    for first in range(3):
        song = np.concatenate(decoded[first::len(decoded) // 8][:8])
        difference, result = compare(song, analyser)
        assert len(result.windows) == 15
        largest = max(largest, difference)
    assert largest <= 1e-6, largest  # the target is 0.01; the paths compute the same frames
