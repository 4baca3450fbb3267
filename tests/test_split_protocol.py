"""The artist-filtered protocol end to end on a small CSV: 01 --split (scored on valid, test never read) and
02 --split (calibrated on valid, reported on test, reliability diagram)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_script
from test_nn_export import make_features_csv

import functions_nn as nn

pytestmark = pytest.mark.slow

GENRES4 = ("blues", "classical", "metal", "pop")


@pytest.fixture(scope="module")
def split_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, list[str]]]:
    """A 4-genre CSV of 8 rows per genre and a split of it: 4 train, 2 valid, 1 test per genre, 1 in no list."""
    folder = tmp_path_factory.mktemp("split")
    csv_path = make_features_csv(folder / "features.csv", rows_per_genre=8, genres=GENRES4)
    df = pd.read_csv(csv_path)
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for _, rows in df.groupby("genre"):
        files = rows["file"].tolist()
        parts["train"] += files[:4]
        parts["valid"] += files[4:6]
        parts["test"] += [Path(f).name for f in files[6:7]]  # file names work as well as file values
    split_dir = folder / "lists"
    split_dir.mkdir()
    for part, names in parts.items():
        (split_dir / f"{part}.txt").write_text("\n".join(names) + "\n")
    return csv_path, split_dir, parts


def test_01_split_scores_cells_on_valid_and_never_reads_test(split_data, tmp_path: Path) -> None:
    csv_path, split_dir, parts = split_data
    out = tmp_path / "hp"
    result = run_script("01_nn_hyperparam.py", csv_path, "-o", out, "--split", split_dir, "--repeats", "2",
                        "--candidates", "85col+reg,logreg91", "--epochs", "3,6", "--batches", "8", "--workers", "1",
                        "--no-plots")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid accuracy over 2 training repeats" in result.stdout
    assert "valid has 8 clips: on another draw of as many clips" in result.stdout  # what 8 clips can tell
    assert "the 4 test clips are never read here, 4 clips in no list are left out" in result.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["protocol"] == "split" and run["n_rows"] == len(parts["train"]) + len(parts["valid"])
    assert run["split"]["n_test"] == 4 and run["split"]["n_left_out"] == 4
    results = pd.read_csv(out / "results.csv")
    assert sorted(zip(results["candidate"], results["epochs"].fillna(0), strict=True)) == [
        ("85col+reg", 3), ("85col+reg", 6), ("logreg91", 0)]
    folds = pd.read_csv(out / "folds.csv")
    assert sorted(set(folds["fold"])) == [0, 1]
    # valid has 8 clips: every score is a multiple of 1/8
    assert ((folds["accuracy"] * 8).round(6) % 1 == 0).all()
    # 02 --split takes its default cell from this split run (by valid accuracy), not from a k-fold one
    model = tmp_path / "model"
    trained = run_script("02_train_model.py", csv_path, "-o", model, "--split", split_dir, "--hyperparam", out)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    source = json.loads((model / "model.json").read_text())["training"]["cell_source"]
    assert "valid accuracy" in source and str(out) in source


def test_02_split_calibrates_on_valid_and_reports_on_test(split_data, tmp_path: Path) -> None:
    csv_path, split_dir, parts = split_data
    out = tmp_path / "model"
    result = run_script("02_train_model.py", csv_path, "-o", out, "--split", split_dir, "--epochs", "20",
                        "--batch", "8", "--members", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "train 16, valid 8, test 4 clips; 4 rows in no list left out" in result.stdout
    assert "ECE " in result.stdout and "calibrated (temperature" in result.stdout
    assert "uncertain below" in result.stdout
    meta = json.loads((out / "model.json").read_text())
    assert meta["members"] == 2 and meta["candidate"] == "85col+reg-ens2"
    cal = meta["calibration"]
    assert cal["temperature"] > 0 and 0 <= cal["uncertain_threshold"] <= 1
    assert "valid (8 clips)" in cal["fitted_on"] and 0 <= cal["valid"]["ece"] <= 1
    training = meta["training"]
    assert training["held_out"]["protocol"] == "artist-filtered split" and training["held_out"]["n_left_out"] == 4
    assert sorted(training["train_files"]) == sorted(parts["train"])
    tested = (out / "test_files.txt").read_text().split()
    assert sorted(Path(f).name for f in tested) == sorted(parts["test"])
    metrics = meta["metrics"]
    assert metrics["n_test"] == 4 and sum(map(sum, meta["confusion_matrix"])) == 4
    for key in ("accuracy", "macro_f1", "ece", "ece_uncalibrated", "uncertain_share"):
        assert 0 <= metrics[key] <= 1, key
    # how far these figures could move with the draw of test clips: 4 clips say little
    low, high = metrics["accuracy_interval_95"]
    assert low <= metrics["accuracy"] <= high and high - low > 0.4
    assert "95 % interval" in result.stdout
    floor = metrics["ece_if_calibrated"]
    # mean and 95th percentile are each in (0, 1]; their order is not fixed: with near-certain answers on 4 clips
    # almost every draw gives a tiny ECE and a rare one a large one, so the mean can exceed the 95th percentile
    assert floor["n_clips"] == 4 and 0 < floor["mean"] <= 1 and 0 < floor["p95"] <= 1
    assert "a perfectly calibrated model with these probabilities would show on 4 clips" in result.stdout
    assert (out / "reliability.png").stat().st_size > 10_000
    classifier = nn.load_classifier(out)
    assert classifier.temperature == cal["temperature"] and classifier.members == 2

    # --train-on train+valid: the exported model also learns from valid; its calibration is the train-only one
    both = tmp_path / "both"
    again = run_script("02_train_model.py", csv_path, "-o", both, "--split", split_dir, "--epochs", "20",
                       "--batch", "8", "--members", "2", "--train-on", "train+valid")
    assert again.returncode == 0, again.stdout + again.stderr
    meta_both = json.loads((both / "model.json").read_text())
    assert sorted(meta_both["training"]["train_files"]) == sorted(parts["train"] + parts["valid"])
    assert meta_both["calibration"] == cal  # same seed, same train-only model, same temperature and threshold


def test_split_mistakes_are_one_line_errors(split_data, tmp_path: Path) -> None:
    csv_path, split_dir, parts = split_data
    bad = tmp_path / "bad"
    bad.mkdir()
    for part, names in parts.items():
        extra = ["jazz/jazz.00099.wav"] if part == "valid" else []
        (bad / f"{part}.txt").write_text("\n".join(names + extra) + "\n")
    for script in ("01_nn_hyperparam.py", "02_train_model.py"):
        result = run_script(script, csv_path, "-o", tmp_path / "out", "--split", bad, "--epochs", "2")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "valid.txt: 1 listed clip(s) match no row" in result.stderr and "jazz.00099.wav" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    wrong = run_script("02_train_model.py", csv_path, "-o", tmp_path / "out", "--train-on", "train+valid")
    assert wrong.returncode == 2 and "go with --split" in wrong.stderr


def test_a_learning_curve_trains_on_a_share_of_train_and_still_scores_only_valid(split_data, tmp_path: Path) -> None:
    """--train-share: the train clips left out of a repeat are not scored (they share artists with the rest)."""
    import functions_gridjobs as gridjobs
    import functions_gridsearch as gridsearch

    csv_path, split_dir, parts = split_data
    search = gridsearch.GridSearch.prepare(csv_path, tmp_path / "hp", candidates=["logreg91"], epochs=[1],
                                           batches=[8], n_folds=3, split_dir=split_dir, train_share=0.5)
    job = search.jobs[0]
    files = search.df["file"].to_numpy()
    assert sorted(files[job.scored]) == sorted(parts["valid"])
    for mask in job.train_masks:  # half of each genre's 4 train clips, another half per repeat
        assert mask.sum() == 8 and set(files[mask]) <= set(parts["train"])
    assert len({tuple(m) for m in job.train_masks}) > 1
    (row,) = gridjobs.run_grid_job(job)
    for fold in row["folds_detail"]:  # scored on the 8 valid clips only
        assert round(fold["accuracy"] * 8, 6) % 1 == 0
    assert search.settings["train_share"] == 0.5 and "a 0.5 share of the 16 train clips" in search.describe()
