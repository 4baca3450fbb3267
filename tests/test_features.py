"""functions_features: each NumPy function against the librosa function it mirrors, and the whole 91-feature
vector against the original loop of librosa calls; computing features must not import librosa."""

from __future__ import annotations

import numpy as np
import pytest

import functions_features as features
from functions_audio import PROJECT_DIR, SAMPLE_RATE
from functions_synthetic import synthesize_clip

SR = SAMPLE_RATE


@pytest.fixture(scope="module")
def rock_clip() -> np.ndarray:
    return synthesize_clip("rock", seed=3, seconds=8.0)


def test_features_equal_librosa_called_one_function_at_a_time(rock_clip):
    """The one-STFT extraction gives what the original loop of librosa calls gives (librosa defaults)."""
    import librosa

    y = rock_clip
    mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=30)
    chroma = librosa.feature.chroma_stft(y=y, sr=SR)
    zcr = librosa.feature.zero_crossing_rate(y)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=SR)
    centroid = librosa.feature.spectral_centroid(y=y, sr=SR)
    expected = np.concatenate([
        mfcc.mean(1), mfcc.std(1), chroma.mean(1), chroma.std(1), librosa.feature.tempo(y=y, sr=SR),
        [zcr.mean(), zcr.std(), rolloff.mean(), rolloff.std(), centroid.mean(), centroid.std()]])
    actual = features.compute_features(y)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("genre", ["classical", "metal"])
def test_vectorised_zcr_centroid_rolloff_equal_librosa(genre):
    import librosa

    y = synthesize_clip(genre, seed=1, seconds=5.0)
    y[1000:3000] = 0.0  # exact zeros and a silent stretch: the edge cases of both functions
    magnitude = np.abs(librosa.stft(y))
    np.testing.assert_array_equal(features.zero_crossing_rate(y), librosa.feature.zero_crossing_rate(y))
    centroid, rolloff = features.spectral_centroid_and_rolloff(magnitude, SR)
    np.testing.assert_allclose(centroid, librosa.feature.spectral_centroid(S=magnitude, sr=SR), rtol=1e-6)
    np.testing.assert_array_equal(rolloff, librosa.feature.spectral_rolloff(S=magnitude, sr=SR))


@pytest.mark.parametrize("genre", ["classical", "metal", "reggae"])
def test_numpy_feature_parts_equal_librosa(genre):
    """Each NumPy re-implementation against the librosa function it replaces (librosa only imported here)."""
    import librosa

    y = synthesize_clip(genre, seed=2, seconds=8.0)
    magnitude = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    np.testing.assert_allclose(features.stft_magnitude(y), magnitude, rtol=0, atol=1e-6 * magnitude.max())
    power = magnitude**2
    np.testing.assert_array_equal(features.mel_basis(SR), librosa.filters.mel(sr=SR, n_fft=2048, n_mels=128))
    mel_db = librosa.power_to_db(features.mel_basis(SR) @ power)
    np.testing.assert_array_equal(features.power_to_db(features.mel_basis(SR) @ power), mel_db)
    np.testing.assert_allclose(features.mfcc(mel_db), librosa.feature.mfcc(S=mel_db, n_mfcc=30), atol=1e-3)
    tuning = librosa.estimate_tuning(S=power, sr=SR, bins_per_octave=12)
    assert features.estimate_tuning(power, SR) == tuning
    np.testing.assert_array_equal(features.chroma_basis(SR, tuning), librosa.filters.chroma(sr=SR, n_fft=2048,
                                                                                           tuning=tuning))
    np.testing.assert_allclose(features.chroma_stft(power, SR), librosa.feature.chroma_stft(S=power, sr=SR),
                               rtol=1e-6, atol=1e-7)
    onset = librosa.onset.onset_strength(S=mel_db, sr=SR, hop_length=512)
    np.testing.assert_array_equal(features.onset_strength(mel_db), onset)
    assert features.tempo(onset, SR) == librosa.feature.tempo(onset_envelope=onset, sr=SR, hop_length=512)[0]


def test_features_do_not_import_librosa_scipy_or_numba():
    """The classifier's start-up depends on it: compute_features is NumPy alone."""
    import subprocess
    import sys

    probe = ("import sys, functions_features as f, functions_synthetic as s\n"
             "f.compute_features(s.synthesize_clip('rock', 0, seconds=5.0))\n"
             "print(sorted(m for m in ('librosa', 'scipy', 'numba') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True,
                         timeout=120, check=True)
    assert run.stdout.strip() == "[]"

