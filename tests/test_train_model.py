"""02_train_model.py: held-out split choices, defaults from the 01 run, bad input, the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_script
from test_nn_export import make_features_csv

import functions_audio as audio
import functions_calibration as calibration
import functions_evaluation as evaluation
import functions_nn as nn

pytestmark = pytest.mark.slow

GENRES4 = ("blues", "classical", "metal", "pop")


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_features_csv(tmp_path_factory.mktemp("train") / "features.csv", rows_per_genre=8, genres=GENRES4)


def test_match_test_files_by_path_or_file_name() -> None:
    files = ["blues/blues.00001.wav", "rock/rock.00001.wav", "pop/x.wav", "other/pop/x.wav"]
    mask, unknown = evaluation.match_test_files(files, ["blues/blues.00001.wav", "rock.00001.wav", "x.wav", "",
                                                        "nope.wav", "jazz/blues.00001.wav"])
    assert mask.tolist() == [True, True, True, True]
    assert unknown == ["nope.wav", "jazz/blues.00001.wav"]


def test_stratified_holdout_keeps_every_genre_in_training() -> None:
    labels = np.array(["a"] * 10 + ["b"] * 5 + ["c"] * 2 + ["d"])
    mask = evaluation.stratified_holdout(labels, 0.2, seed=0)
    assert [int(mask[labels == g].sum()) for g in "abcd"] == [2, 1, 1, 0]
    assert (evaluation.stratified_holdout(labels, 0.2, seed=0) == mask).all()


def test_test_files_list_is_held_out_and_unknown_names_reported(small_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(small_csv)
    chosen = [df["file"].iloc[0], Path(df["file"].iloc[9]).name, df["file"].iloc[17], df["file"].iloc[25]]
    listing = tmp_path / "test.txt"
    listing.write_text("\n".join([*chosen, "missing/clip.wav"]) + "\n")
    out = tmp_path / "model"
    result = run_script("02_train_model.py", small_csv, "-o", out, "--test-files", listing, "--epochs", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 listed clip(s) match no row: missing/clip.wav" in result.stdout
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["n_test"] == 4 and meta["training"]["n_train"] == len(df) - 4
    assert meta["training"]["held_out"]["unknown"] == ["missing/clip.wav"]
    held_out = (out / "test_files.txt").read_text().split()
    assert sorted(held_out) == sorted(df["file"].iloc[[0, 9, 17, 25]])
    assert sum(meta["metrics"]["per_genre"][g]["support"] for g in GENRES4) == 4
    # a new model in that folder: the user's notes are kept, the earlier model's own files are not
    (out / "notes.txt").write_text("mine\n")
    (out / "suspect_tags.csv").write_text("file,tagged\nold/song.mp3,rock\n")  # as a library model leaves it
    result = run_script("02_train_model.py", small_csv, "-o", out, "--epochs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "notes.txt").read_text() == "mine\n" and not (out / "suspect_tags.csv").exists()
    assert (out / "test_files.txt").read_text().split() != held_out  # the new model's own list


def test_defaults_come_from_the_01_run_of_the_same_csv(small_csv: Path, tmp_path: Path) -> None:
    # a results table as 01 writes it, for this very CSV (same SHA-256)
    run_dir = tmp_path / "hyperparam"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"features_sha256": evaluation.file_sha256(small_csv)}))
    rows = [("85col+reg", 7, 16, 0.61), ("85col+reg", 9, 8, 0.72), ("85col", 20, 8, 0.99),
            ("svm-rbf91", None, None, 0.95)]
    pd.DataFrame(rows, columns=["candidate", "epochs", "batch_size", "accuracy_mean"]).to_csv(
        run_dir / "results.csv", index=False)
    out = tmp_path / "model"
    result = run_script("02_train_model.py", small_csv, "-o", out, "--hyperparam", run_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    meta = json.loads((out / "model.json").read_text())
    assert (meta["training"]["epochs"], meta["training"]["batch_size"]) == (9, 8)
    assert "best cell of" in meta["training"]["cell_source"]
    # a run made from another CSV is not used
    (run_dir / "run.json").write_text(json.dumps({"features_sha256": "0" * 64}))
    other = run_script("02_train_model.py", small_csv, "-o", tmp_path / "m2", "--hyperparam", run_dir,
                       "--batch", "8", "--epochs", "2")
    assert other.returncode == 0
    meta = json.loads((tmp_path / "m2" / "model.json").read_text())
    assert meta["training"]["cell_source"] == "command line"
    assert meta["training"]["recipe"]["name"] == "regularised"


def test_bad_input_fails_with_one_line(small_csv: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    pd.read_csv(small_csv).drop(columns=["tempo"]).to_csv(broken, index=False)
    cases = [
        ((tmp_path / "none.csv", "-o", tmp_path / "a"), "none.csv"),
        ((broken, "-o", tmp_path / "b"), "tempo"),
        ((small_csv, "-o", tmp_path / "c", "--test-files", tmp_path / "nolist.txt"), "nolist.txt"),
    ]
    for args, needle in cases:
        result = run_script("02_train_model.py", *args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert needle in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    # a clip twice (two CSVs pasted together) would sit on both sides of the held-out split
    twice = tmp_path / "twice.csv"
    pd.concat([pd.read_csv(small_csv)] * 2).to_csv(twice, index=False)
    # a folder of other files (a mistaken -o ~/Music) is neither copied nor replaced
    music = tmp_path / "Music"
    music.mkdir()
    (music / "song.mp3").write_bytes(b"ID3 not really")
    lone = tmp_path / "lone.csv"  # one row relabelled by hand: a genre of one song
    pd.read_csv(small_csv).assign(genre=lambda d: d["genre"].where(d.index != 0, "Blues")).to_csv(lone, index=False)
    for args, needle in (((twice, "-o", tmp_path / "e"), "repeat the file of an earlier row"),
                         ((lone, "-o", tmp_path / "e"), "1 genre(s) with a single row, e.g. 'Blues'"),
                         ((small_csv, "-o", music), "holds files but no model")):
        result = run_script("02_train_model.py", *args, "--epochs", "1")
        assert result.returncode == 2 and needle in result.stderr, result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in music.iterdir()) == ["song.mp3"] and not (tmp_path / "e").exists()
    nothing = tmp_path / "nothing.txt"
    nothing.write_text("nope.wav\n")
    result = run_script("02_train_model.py", small_csv, "-o", tmp_path / "d", "--test-files", nothing)
    assert result.returncode == 2 and "no held-out rows" in result.stderr


@pytest.mark.parametrize("shipped", audio.SHIPPED_MODEL_DIRS, ids=lambda folder: folder.name)
def test_the_shipped_models_are_not_overwritten_by_accident(small_csv: Path, shipped: Path) -> None:
    assert (shipped / "model.json").is_file()
    before = (shipped / "model.json").read_bytes()
    result = run_script("02_train_model.py", small_csv, "-o", shipped, "--epochs", "1")
    assert result.returncode == 2 and "--replace-shipped" in result.stderr
    assert (shipped / "model.json").read_bytes() == before


def test_the_shipped_default_reads_musicnn_and_classic_features_and_its_test_figures_reproduce(tmp_path) -> None:
    """data/pretrained: the best model on the learned features, chosen by artist-grouped CV inside train."""
    shipped = audio.PRETRAINED_MODEL_DIR
    classifier = nn.load_classifier(shipped)
    meta = classifier.metadata
    assert classifier.feature_columns == list(audio.FEATURE_COLUMNS[:85]) + list(audio.MUSICNN_COLUMNS)
    assert classifier.genres == list(audio.GENRES) and meta["feature_set"] == "all"
    assert meta["musicnn_extraction"] == audio.MUSICNN_SETTINGS
    assert meta["architecture"] == "musicnn185" and classifier.members == meta["members"] == 10
    assert 0 < classifier.temperature and 0 < classifier.uncertain_threshold < 1
    assert "out-of-fold" in meta["calibration"]["fitted_on"]  # calibrated without a test clip
    held_out = set((shipped / "test_files.txt").read_text().split())
    train_files = meta["training"]["train_files"]
    assert len(held_out) == meta["metrics"]["n_test"] == 290 and not held_out & set(train_files)
    assert len(train_files) == meta["training"]["n_train"] == 443
    assert meta["metrics"]["accuracy"] >= 0.78  # the target, on music by artists it never heard
    shared = audio.shared_data_dir()
    if shared is None or not (shared / "gtzan_musicnn_msd_taggram.csv").is_file():
        pytest.skip("shared data absent: the test figures cannot be recomputed here")
    import functions_reference

    csv, _ = functions_reference.build_reference_features(shared, tmp_path / "reference.csv")
    assert meta["features_csv_sha256"] == evaluation.file_sha256(csv)
    df = pd.read_csv(csv)
    split = shared / "splits" / "gtzan_fault_filtered"
    assert held_out == set((split / "test.txt").read_text().split())
    assert set(train_files) == set((split / "train.txt").read_text().split())
    assert_test_figures_reproduce(classifier, df[df["file"].isin(held_out)])


def assert_test_figures_reproduce(classifier: nn.Classifier, test: pd.DataFrame) -> None:
    """The accuracy, ECE and uncertain share model.json records equal those of ``test`` (its held-out rows)."""
    metrics = classifier.metadata["metrics"]
    assert len(test) == metrics["n_test"]
    y = np.array([classifier.genres.index(g) for g in test["genre"]])
    proba = classifier.predict_proba(test[classifier.feature_columns].to_numpy())
    assert abs(float((proba.argmax(axis=1) == y).mean()) - metrics["accuracy"]) < 1e-9
    assert abs(calibration.expected_calibration_error(proba, y) - metrics["ece"]) < 1e-6
    uncertain = float((proba.max(axis=1) < classifier.uncertain_threshold).mean())
    assert abs(uncertain - metrics["uncertain_share"]) < 1e-9


def test_the_classic_model_loads_and_matches_its_metadata() -> None:
    """data/pretrained_classic: the seed's 85-input network (an ensemble of ten), kept beside the default."""
    shipped = audio.CLASSIC_MODEL_DIR
    classifier = nn.load_classifier(shipped)
    meta = classifier.metadata
    assert meta["architecture"] == "85col" and classifier.genres == list(audio.GENRES)
    assert classifier.feature_columns == list(audio.FEATURE_COLUMNS[:85])
    assert sum(map(sum, meta["confusion_matrix"])) == meta["metrics"]["n_test"]
    n_weights = sum(k.size + b.size for k, b in zip(classifier.kernels, classifier.biases, strict=True))
    assert 25_000 < n_weights / classifier.members < 40_000 and classifier.members == meta["members"]
    # calibrated on valid, and honest about its protocol and its training clips: none of them is a test clip
    assert 0 < classifier.temperature and 0 < classifier.uncertain_threshold < 1
    held_out = set((shipped / "test_files.txt").read_text().split())
    assert meta["training"]["held_out"]["protocol"] == "artist-filtered split"
    assert not held_out & set(meta["training"]["train_files"])
    assert len(meta["training"]["train_files"]) == meta["training"]["n_train"]
    shared = audio.shared_data_dir()
    if shared is not None and (shared / "gtzan_features.csv").is_file():
        # its test figures are reproducible from the listed test clips
        df = pd.read_csv(shared / "gtzan_features.csv")
        assert_test_figures_reproduce(classifier, df[df["file"].isin(held_out)])
        assert meta["features_csv_sha256"] == evaluation.file_sha256(shared / "gtzan_features.csv")
        split = shared / "splits" / "gtzan_fault_filtered"
        if split.is_dir():  # the test clips are exactly the split's test list, never a train or valid clip
            assert held_out == set((split / "test.txt").read_text().split())
