"""The candidates on the musicnn columns (functions_nn): names, inputs, the default sets, what model.json says
of their features, and the softmax regression head (no hidden layer) in NumPy and Keras."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import functions_audio as audio
import functions_candidates as candidates
import functions_nn as nn
import functions_training as training

CLASSIC_DEFAULTS = ("30col", "42col", "60col", "85col", "87col", "89col", "89col-centroid", "85col+reg", "89col+reg",
                    "wide91+reg", "logreg91", "svm-rbf91")


def test_musicnn_candidates_read_the_musicnn_columns_and_leave_the_classic_defaults_alone() -> None:
    assert candidates.DEFAULT_CANDIDATES == CLASSIC_DEFAULTS
    assert candidates.default_candidates(audio.CSV_COLUMNS) == CLASSIC_DEFAULTS  # a classic CSV: as before
    assert candidates.default_candidates([]) == CLASSIC_DEFAULTS  # unreadable header: reading the CSV says why
    musicnn_singles = ("musicnn100", "musicnn100+reg", "musicnn185", "musicnn185+reg", "musicnn100-linear+wd",
                       "musicnn185-linear+wd", "logreg-musicnn100", "logreg-musicnn185")
    assert (candidates.default_candidates(("file", "genre", *audio.ALL_FEATURE_COLUMNS))
            == CLASSIC_DEFAULTS + musicnn_singles)
    assert candidates.default_candidates(("file", "genre", *audio.MUSICNN_COLUMNS)) == tuple(
        c for c in musicnn_singles if "185" not in c)
    for name in ("musicnn100+reg-ens10", "musicnn185+reg-ens10", "musicnn100+reg-d30-ens10",
                 "musicnn185+reg-d30-ens10"):
        assert candidates.CANDIDATES[name].members == 10
    assert candidates.CANDIDATES["musicnn100+reg"].feature_columns == audio.MUSICNN_COLUMNS
    # 185 = the 85 inputs of 85col, then the 100 musicnn columns
    assert candidates.CANDIDATES["musicnn185+reg"].feature_columns == audio.FEATURE_COLUMNS[:85] + audio.MUSICNN_COLUMNS
    assert candidates.ARCHITECTURES["musicnn185"].describe() == "185R 75R 65L 55R 45L 35R 25R"
    assert candidates.ARCHITECTURES["musicnn100"].hidden[1:] == candidates.ARCHITECTURES["85col"].hidden[1:]
    assert candidates.default_recipe("musicnn100-linear") == "linear-wd"
    assert candidates.default_recipe("musicnn100") == "regularised"
    assert candidates.candidate_name("musicnn185-linear", "linear-wd") == "musicnn185-linear+wd"
    assert (candidates.feature_set(audio.FEATURE_COLUMNS[:85]), candidates.feature_set(audio.MUSICNN_COLUMNS),
            candidates.feature_set(candidates.CANDIDATES["musicnn185+reg"].feature_columns)) == (
        "classic", "musicnn", "all")


@pytest.mark.slow
def test_softmax_regression_head_numpy_equals_keras(tmp_path: Path) -> None:
    """A zero-hidden-layer head (activations just ["softmax"]) in the model format: NumPy == Keras to 1e-5, and
    model.json names the feature set and the musicnn extraction settings."""
    arch = candidates.ARCHITECTURES["musicnn185-linear"]
    assert arch.hidden == () and arch.describe() == "none"
    columns, genres = list(arch.feature_columns), ["blues", "classical", "metal", "pop"]
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2, (len(genres), len(columns)))
    y = np.repeat(np.arange(len(genres)), 12)
    X = (centres[y] + rng.normal(0, 1, (len(y), len(columns)))) * rng.uniform(0.01, 30, len(columns))
    arrays = training.fit_members(X, y, len(genres), arch, candidates.RECIPES["linear-wd"], 8, 20, members=2, seed=1)
    assert arrays["dense_0_kernel"].shape == (2, 185, 4) and "dense_1_kernel" not in arrays
    model = nn.keras_model_from_arrays(columns, genres, arch.hidden, X, arrays, temperature=0.7)
    training_info = {"features_csv": "x.csv", "n_rows": len(X), "n_train": len(X), "n_test": 0, "held_out": {},
                     "epochs": 20, "batch_size": 8, "cell_source": "test", "seed": 1, "fit_seconds": 0.0}
    meta = nn.model_metadata("musicnn185-linear", "musicnn185-linear+wd-ens2", genres, columns,
                             candidates.RECIPES["linear-wd"], training_info, {}, [], "0" * 64, members=2,
                             calibration={"temperature": 0.7, "uncertain_threshold": 0.3})
    assert meta["activations"] == ["softmax"] and meta["hidden_layers"] == "none"
    assert meta["feature_set"] == "all" and meta["feature_group"] == "musicnn + mfcc, chroma, tempo (185)"
    assert meta["musicnn_extraction"] == audio.MUSICNN_SETTINGS and meta["feature_extraction"]
    nn.write_model_dir(tmp_path / "linear", model, meta)
    assert json.loads((tmp_path / "linear" / "model.json").read_text())["musicnn_extraction"]["patch_frames"] == 187
    classifier = nn.load_classifier(tmp_path / "linear")
    assert classifier.members == 2 and classifier.temperature == 0.7
    expected = nn.load_keras_model(tmp_path / "linear").predict(X.astype(np.float32), verbose=0)
    got = classifier.predict_proba(X)
    assert np.abs(got - expected).max() <= 1e-5
    assert (got.argmax(axis=1) == y).mean() > 0.9  # it learnt something (the comparison is not trivial)
    # a classic model says so too, without musicnn settings
    classic = nn.model_metadata("85col", "85col+reg", genres, list(audio.FEATURE_COLUMNS[:85]),
                                candidates.RECIPES["regularised"], training_info, {}, [], "0" * 64)
    assert classic["feature_set"] == "classic" and "musicnn_extraction" not in classic
