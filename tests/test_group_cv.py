"""Artist-grouped cross-validation inside train (the musicnn protocol, where valid has no rows): the folds, and 01
and 02 with --split --artists end to end on a small synthetic CSV with musicnn columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_script

import functions_audio as audio
import functions_calibration as calibration
import functions_candidates as candidates
import functions_evaluation as evaluation
import functions_gridsearch as gridsearch
import functions_nn as nn
import functions_training as training

GENRES4 = ("blues", "classical", "metal", "pop")


def make_musicnn_data(folder: Path, train_per_genre: int = 12, test_per_genre: int = 3, seed: int = 0
                      ) -> tuple[Path, Path, Path, dict[str, list[str]]]:
    """A CSV with the classic and the musicnn columns of train and test clips only (the valid list names clips the
    CSV lacks, as in the musicnn reference CSV), its split folder and an artists TSV (two train clips per artist,
    the last train clip of each genre of unknown artist; test artists of their own). Returns (csv, split folder,
    artists TSV, the lists)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    records, artists = [], []
    n_classic, n_musicnn = len(audio.CLASSIC_COLUMNS), len(audio.MUSICNN_COLUMNS)
    for g, genre in enumerate(GENRES4):
        classic_centre = rng.normal(0, 2, n_classic) + g
        tag_centre = rng.uniform(0.05, 0.6, n_musicnn // 2)
        tag_centre[g] = 0.9  # one tag per genre speaks for it
        n = train_per_genre + test_per_genre + 2
        for i in range(n):
            name = f"{genre}/{genre}.{i:05d}.wav"
            part = "train" if i < train_per_genre else "test" if i < train_per_genre + test_per_genre else "valid"
            parts[part].append(name)
            artist = "" if i == train_per_genre - 1 else f"{genre} artist {i // 2}" if part == "train" else \
                f"{genre} {part} artist {i}"
            artists.append((name, artist, f"song {i}"))
            if part == "valid":
                continue  # valid clips have no musicnn rows: the CSV lacks them
            tags = np.clip(tag_centre + rng.normal(0, 0.08, tag_centre.size), 0, 1)
            spread = rng.uniform(0.01, 0.2, tag_centre.size)
            records.append([name, genre, *(classic_centre + rng.normal(0, 1, n_classic)), *tags, *spread])
    csv_path = folder / "reference.csv"
    pd.DataFrame(records, columns=["file", "genre", *audio.CLASSIC_COLUMNS, *audio.MUSICNN_COLUMNS]).to_csv(
        csv_path, index=False)
    split_dir = folder / "split"
    split_dir.mkdir(exist_ok=True)
    for part, names in parts.items():
        (split_dir / f"{part}.txt").write_text("\n".join(names) + "\n")
    tsv = folder / "artists.tsv"
    tsv.write_text("file\tartist\ttitle\n" + "".join(f"{f}\t{a}\t{t}\n" for f, a, t in artists))
    return csv_path, split_dir, tsv, parts


@pytest.fixture(scope="module")
def musicnn_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, dict[str, list[str]]]:
    return make_musicnn_data(tmp_path_factory.mktemp("groupcv"))


def test_artist_grouped_folds_never_split_an_artist_and_hold_out_every_clip_once(musicnn_data) -> None:
    csv_path, split_dir, tsv, parts = musicnn_data
    files = parts["train"]
    groups = evaluation.read_artist_groups(tsv, files)
    # two clips per artist; a clip of unknown artist is a group of its own
    unknown = [f for f, g in zip(files, groups, strict=True) if g.startswith("unknown artist:")]
    assert len(unknown) == len(GENRES4) and len(set(groups)) == 4 * (6 + 1)  # 6 artists and 1 unknown per genre
    y = np.array([GENRES4.index(f.split("/")[0]) for f in files])
    for seed in (0, 1, 2):
        masks = evaluation.group_cv_masks(y, groups, 4, seed)
        held_out = ~masks
        assert (held_out.sum(axis=0) == 1).all()  # every train clip out of fold exactly once
        for group in set(groups):
            rows = groups == group
            assert (held_out[:, rows].all(axis=1) | ~held_out[:, rows].any(axis=1)).all(), group
        assert (evaluation.group_cv_masks(y, groups, 4, seed) == masks).all()  # seeded
    # artist names are compared without case and surrounding spaces
    tsv_case = tsv.with_name("case.tsv")
    text = tsv.read_text().replace("blues artist 0\t", " BLUES Artist 0 \t", 1)
    tsv_case.write_text(text)
    assert (evaluation.read_artist_groups(tsv_case, files) == groups).all()
    with pytest.raises(evaluation.DataError, match="3 folds but only 2 artist group"):
        evaluation.group_cv_masks(y[:4], ["a", "a", "b", "b"], 3, 0, "x")


def test_artist_tsv_mistakes_are_one_line_errors(musicnn_data, tmp_path: Path) -> None:
    csv_path, split_dir, tsv, parts = musicnn_data
    lacking = tmp_path / "lacking.tsv"
    lacking.write_text("\n".join(tsv.read_text().splitlines()[:-30]) + "\n")
    no_column = tmp_path / "nocol.tsv"
    no_column.write_text(tsv.read_text().replace("artist\t", "singer\t", 1))
    for path, needle in ((tmp_path / "none.tsv", "artists TSV not found"), (no_column, "missing column(s) artist"),
                         (lacking, "no artist row for")):
        with pytest.raises(evaluation.DataError) as caught:
            evaluation.read_artist_groups(path, parts["train"])
        assert needle in str(caught.value)
    result = run_script("01_nn_hyperparam.py", csv_path, "-o", tmp_path / "hp", "--split", split_dir, "--artists",
                        lacking, "--candidates", "logreg-musicnn100", "--no-plots")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "lacking.tsv: no artist row for" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    # without --artists a split whose valid list is not in the CSV stays an error
    plain = run_script("01_nn_hyperparam.py", csv_path, "-o", tmp_path / "hp", "--split", split_dir,
                       "--candidates", "logreg-musicnn100", "--no-plots")
    assert plain.returncode == 2 and "valid.txt: 8 listed clip(s) match no row" in plain.stderr
    wrong = run_script("01_nn_hyperparam.py", csv_path, "--artists", tsv)
    assert wrong.returncode == 2 and "--artists goes with --split" in wrong.stderr


def test_group_cv_search_reads_only_train_rows(musicnn_data, tmp_path: Path) -> None:
    csv_path, split_dir, tsv, parts = musicnn_data
    search = gridsearch.GridSearch.prepare(csv_path, tmp_path / "hp", candidates=["musicnn185+reg",
                                                                                  "logreg-musicnn100"],
                                           epochs=[2], batches=[8], n_folds=3, split_dir=split_dir, artists=tsv)
    assert search.df["file"].tolist() == parts["train"]  # test rows dropped when the CSV is read
    for job in search.jobs:
        assert len(job.X) == len(parts["train"]) and job.scored is None and len(job.train_masks) == 3
        assert (job.train_masks.sum(axis=0) == 2).all()  # each clip trains 2 of the 3 folds, scored by the third
    assert job.X.shape[1] == 100 and search.jobs[0].X.shape[1] == 185
    assert search.settings["protocol"] == "group-cv" and search.settings["split"]["not_in_csv"] == {"valid": 8}
    assert search.scheme == "3-fold artist-grouped CV inside train"


GROUP_CV_ARGS = ["--group-folds", "3", "--candidates", "musicnn100+reg,musicnn185-linear+wd,logreg-musicnn100",
                 "--epochs", "3,6", "--batches", "8", "--workers", "1", "--no-plots"]


@pytest.fixture(scope="module")
def group_cv_run(musicnn_data, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """01 with --split --artists on the small CSV: (its output folder, its stdout)."""
    csv_path, split_dir, tsv, _ = musicnn_data
    out = tmp_path_factory.mktemp("groupcv_run") / "hp"
    result = run_script("01_nn_hyperparam.py", csv_path, "-o", out, "--split", split_dir, "--artists", tsv,
                        *GROUP_CV_ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result.stdout


def test_01_with_artist_grouped_cv_scores_out_of_fold_and_resumes(musicnn_data, group_cv_run) -> None:
    csv_path, split_dir, tsv, _ = musicnn_data
    out, stdout = group_cv_run
    assert "3-fold artist-grouped CV inside the 48 train clips" in stdout
    assert "the 12 test clips are never read here" in stdout
    assert "every one of the 48 train clips is scored once, out of fold" in stdout
    run = json.loads((out / "run.json").read_text())
    assert run["protocol"] == "group-cv" and run["n_rows"] == 48 and run["folds"] == 3
    assert run["artists_sha256"] == evaluation.file_sha256(tsv) and run["split"]["n_valid"] == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 2 + 2 + 1 and (results["folds"] == 3).all()
    folds = pd.read_csv(out / "folds.csv")
    assert sorted(set(folds["fold"])) == [0, 1, 2]
    again = run_script("01_nn_hyperparam.py", csv_path, "-o", out, "--split", split_dir, "--artists", tsv,
                       *GROUP_CV_ARGS)  # resumes: nothing left to run
    assert again.returncode == 0 and "resuming: 3 of 3 jobs already" in again.stdout
    assert len(pd.read_csv(out / "results.csv")) == 5


def test_02_with_artist_grouped_cv_calibrates_out_of_fold_and_reports_on_test(musicnn_data, group_cv_run,
                                                                              tmp_path: Path) -> None:
    csv_path, split_dir, tsv, parts = musicnn_data
    out, _ = group_cv_run
    # 02: the cell from this run, calibration on the out-of-fold predictions inside train, report on test
    model = tmp_path / "model"
    trained = run_script("02_train_model.py", csv_path, "-o", model, "--split", split_dir, "--artists", tsv,
                         "--group-folds", "3", "--candidate", "musicnn100+reg", "--hyperparam", out)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "fitted on the out-of-fold predictions of 48 train clips (3-fold artist-grouped CV" in trained.stdout
    assert "held-out accuracy" in trained.stdout and "95 % interval" in trained.stdout
    meta = json.loads((model / "model.json").read_text())
    training_info = meta["training"]
    assert "artist-grouped CV accuracy" in training_info["cell_source"] and str(out) in training_info["cell_source"]
    held_out = training_info["held_out"]
    assert held_out["protocol"].startswith("artist-grouped 3-fold CV inside train") and held_out["group_folds"] == 3
    assert held_out["artists_sha256"] == evaluation.file_sha256(tsv) and held_out["not_in_csv"] == {"valid": 8}
    assert training_info["train_files"] == parts["train"]
    assert sorted((model / "test_files.txt").read_text().split()) == sorted(parts["test"])
    assert meta["feature_set"] == "musicnn" and meta["feature_columns"] == list(audio.MUSICNN_COLUMNS)
    assert meta["musicnn_extraction"] == json.loads(json.dumps(audio.MUSICNN_SETTINGS))
    metrics = meta["metrics"]
    assert metrics["n_test"] == 12 and len(metrics["accuracy_interval_95"]) == 2
    assert metrics["ece_if_calibrated"]["n_clips"] == 12 and "uncertain_share" in metrics
    cal = meta["calibration"]
    assert "out-of-fold predictions of artist-grouped 3-fold CV inside train (48 clips" in cal["fitted_on"]
    assert cal["out_of_fold"]["n_clips"] == 48 and "valid" not in cal
    # the temperature and threshold are those of the out-of-fold logits of the same folds and training
    df = pd.read_csv(csv_path)
    train = df[df["file"].isin(parts["train"])]
    genres = evaluation.genres_in_order(train["genre"])
    y = np.array([genres.index(g) for g in train["genre"]])
    masks = evaluation.group_cv_masks(y, evaluation.read_artist_groups(tsv, train["file"].tolist()), 3, 0)
    arch = candidates.ARCHITECTURES["musicnn100"]
    logits = training.out_of_fold_logits(train[list(arch.feature_columns)].to_numpy(), y, masks, len(genres), arch,
                                         candidates.RECIPES["regularised"], training_info["batch_size"],
                                         training_info["epochs"], 1, 0)
    assert calibration.fit_temperature(logits, y) == cal["temperature"]
    assert abs(float((logits[0].argmax(axis=1) == y).mean()) - cal["out_of_fold"]["accuracy"]) < 1e-12
    classifier = nn.load_classifier(model)
    assert classifier.temperature == cal["temperature"] and classifier.uncertain_threshold == cal["uncertain_threshold"]


def test_out_of_fold_logits_need_every_row_held_out_once() -> None:
    X, y = np.zeros((6, 100)), np.array([0, 1, 0, 1, 0, 1])
    masks = np.array([[True, True, True, True, False, False], [True, True, False, False, True, True]])
    with pytest.raises(ValueError, match="exactly one fold"):
        training.out_of_fold_logits(X, y, masks, 2, candidates.ARCHITECTURES["musicnn100-linear"],
                                    candidates.RECIPES["linear-wd"], 4, 1)
