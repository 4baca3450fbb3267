"""Train one candidate network (or an ensemble of it) on a features CSV, report held-out figures and export the
model folder.

    python 02_train_model.py FEATURES.csv -o MODEL_DIR [--architecture 85col] [--recipe RECIPE] [--members M]
        [--candidate NAME] [--epochs E] [--batch B]
        [--split DIR [--train-on train+valid | --artists TSV [--group-folds K]] | --test-files LIST | --test-size 0.2]

With --split (a folder of train.txt, valid.txt, test.txt, e.g. the artist-filtered GTZAN partition) the model
is trained on the train clips, its temperature and "uncertain" threshold are fitted on the valid clips (which
it never saw), and the test clips are used for the final report only: accuracy, macro F1, per-genre figures,
confusion matrix, ECE before/after calibration, a reliability diagram, the uncertain share and the accuracy of
the confident answers. --train-on train+valid then trains the exported model afresh on train and valid together
(same recipe and seed), keeping the temperature and threshold fitted with the train-only model.

With --split and --artists (a TSV of file, artist; for a CSV without valid rows, such as the musicnn reference
features of functions_reference.py) valid is not used: the temperature and the threshold are fitted on the
out-of-fold predictions of an artist-grouped K-fold CV inside train (default 5 folds, the folds 01 --artists
makes: each train clip predicted by the networks trained on the other folds, which saw none of its artist's
clips), the exported model is trained on all the train clips, and test is reported on as with --split alone.

With a CSV that has an artist column (00 --labels tags: a library labelled by its own genre tags) and no --split,
02 needs no flag: the exported model trains on every song, and the temperature, the "uncertain" threshold, the
novelty score's folds and every figure printed come from artist-grouped K-fold CV (default 5 folds, or fewer
artists): each song predicted by networks that saw none of its artist's songs. Per genre: accuracy, precision,
recall and the confusion matrix (a warning for a genre of one or two artists), then suspect_tags.csv in the model
folder: songs whose out-of-fold prediction is sure and disagrees with their tag, the tags it doubts most first
(every song's in out_of_fold.csv). model.json records each genre's own tag spelling (from FEATURES.settings.json)
for 03 --write-tags.

The shipped default model, data/pretrained/ (candidates.MUSICNN_CANDIDATE, chosen by artist-grouped CV inside
train before any test read; seed 0: two runs gave byte-identical weights.npz; 42-45 s on 2 cores; to write it
there, -o data/pretrained --replace-shipped):

    .venv/bin/python functions_reference.py   # outputs/gtzan_reference_features.csv from ../shared/data
    .venv/bin/python 02_train_model.py outputs/gtzan_reference_features.csv -o outputs/musicnn_model \
        --split ../shared/data/splits/gtzan_fault_filtered --artists ../shared/data/gtzan_artists.tsv \
        --group-folds 5 --candidate musicnn185+reg-ens10 --epochs 100 --batch 32

Epochs and batch size default to the best cell of the latest 01_nn_hyperparam.py run made from the same CSV
(same SHA-256; with --split a 01 --split run, with --artists a 01 --artists run, else a k-fold one; looked for
in --hyperparam DIR, <CSV folder>/hyperparam[_split|_groupcv] and outputs/hyperparam[_split|_groupcv]), else to
candidates.DEFAULT_EPOCHS / DEFAULT_BATCH. MODEL_DIR receives model.keras (standardisation inside: raw feature
rows in, calibrated genre probabilities out), weights.npz, model.json, test_files.txt, confusion_matrix.png and
reliability.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import functions_audio as audio
import functions_calibration as calibration
import functions_candidates as candidates
import functions_dataviz
import functions_evaluation as evaluation
import functions_gridsearch as gridsearch
import functions_labels as labels
import functions_nn as nn
import functions_training as training

nn.quiet_tensorflow()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("features_csv", nargs="?", type=Path, help="features CSV (file, genre, features)")
    parser.add_argument("--features", dest="features_opt", type=Path, help="same as the positional argument")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, help="model folder to write")
    parser.add_argument("--architecture", choices=sorted(candidates.ARCHITECTURES),
                        help=f"layer table row (default: {candidates.DEFAULT_ARCHITECTURE})")
    parser.add_argument("--recipe", choices=sorted(candidates.RECIPES),
                        help="training recipe (default: regularised; regularised-wide for wide91, linear-wd for a "
                             "softmax regression head)")
    parser.add_argument("--members", type=int,
                        help="networks in the ensemble (their mean probability is the answer; default 1)")
    parser.add_argument("--candidate", help="a network candidate of 01 by name (sets --architecture, --recipe and "
                                            "--members), e.g. musicnn185+reg-ens10")
    parser.add_argument("--epochs", type=int, help="training epochs (default: best cell of the 01 run)")
    parser.add_argument("--batch", type=int, help="batch size (default: best cell of the 01 run)")
    held_out = parser.add_mutually_exclusive_group()
    held_out.add_argument("--split", type=Path, metavar="DIR",
                          help="split folder (train.txt, valid.txt, test.txt): train, calibrate on valid, report "
                               "on test")
    held_out.add_argument("--test-files", type=Path, help="text file listing the held-out clips, one per line")
    held_out.add_argument("--test-size", type=float, help="stratified held-out share (default 0.2)")
    parser.add_argument("--train-on", choices=("train", "train+valid"), default="train",
                        help="with --split: the clips the exported model is trained on (default: train)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="with --split: leave out listed clips the CSV lacks instead of stopping")
    parser.add_argument("--artists", type=Path, metavar="TSV",
                        help="with --split: artists TSV (file, artist); calibrate on the out-of-fold predictions of "
                             "artist-grouped CV inside train instead of on valid")
    parser.add_argument("--group-folds", type=int,
                        help=f"with --artists, or a CSV with an artist column: artist-grouped folds (default "
                             f"{gridsearch.GROUP_FOLDS})")
    parser.add_argument("--hyperparam", type=Path, action="append", default=[],
                        help="01 output folder to take the best cell from (default: looked for)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and shuffling")
    parser.add_argument("--replace-shipped", action="store_true",
                        help="allow overwriting a shipped model (data/pretrained/, data/pretrained_classic/)")
    args = parser.parse_args(argv)
    if (args.features_csv is None) == (args.features_opt is None):
        parser.error("give the features CSV once (positional or --features)")
    args.features_csv = args.features_csv or args.features_opt
    if args.candidate is not None:
        candidate = candidates.CANDIDATES.get(args.candidate)
        if candidate is None or candidate.kind != "mlp":
            networks = [name for name, c in candidates.CANDIDATES.items() if c.kind == "mlp"]
            parser.error(f"--candidate {args.candidate}: not a network candidate; known: {', '.join(networks)}")
        if args.architecture or args.recipe or args.members:
            parser.error("--candidate sets --architecture, --recipe and --members: give one or the others")
        args.architecture, args.recipe, args.members = candidate.architecture, candidate.recipe, candidate.members
    args.architecture = args.architecture or candidates.DEFAULT_ARCHITECTURE
    args.members = 1 if args.members is None else args.members
    args.recipe = args.recipe or candidates.default_recipe(args.architecture)
    args.test_size_given = args.test_size is not None
    if args.test_size is None:
        args.test_size = 0.2
    elif not 0.0 < args.test_size < 1.0:
        parser.error("--test-size must be between 0 and 1")
    for name in ("epochs", "batch", "members"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer")
    if args.split is None and (args.train_on != "train" or args.allow_missing or args.artists):
        parser.error("--train-on, --allow-missing and --artists go with --split")
    if args.artists is None and args.group_folds is not None and args.split is not None:
        parser.error("--group-folds goes with --artists")
    if args.group_folds is not None and args.group_folds < 2:
        parser.error("--group-folds must be at least 2")
    if args.artists is not None:
        if args.train_on != "train":
            parser.error("--artists calibrates inside train and does not use valid: drop --train-on")
        args.group_folds = args.group_folds or gridsearch.GROUP_FOLDS
        if args.group_folds < 2:
            parser.error("--group-folds must be at least 2")
    return args


def choose_cell(args: argparse.Namespace, sha: str) -> tuple[int, int, str]:
    """Epochs, batch size and where they came from (with --split: a 01 --split run, scored on valid; with
    --artists: a 01 --artists run, scored by artist-grouped CV inside train)."""
    name = candidates.candidate_name(args.architecture, args.recipe, args.members)
    epochs, batch, source = args.epochs, args.batch, "command line"
    if epochs is None or batch is None:
        protocol = (gridsearch.GROUP_CV_PROTOCOL if args.artists else gridsearch.SPLIT_PROTOCOL if args.split
                    else "kfold")  # a library CSV's 01 run: k-fold, artist-grouped by its artist column
        run_dir = gridsearch.find_hyperparam_run(args.features_csv, sha, args.hyperparam, protocol)
        row = gridsearch.best_cell(run_dir / gridsearch.RESULTS_FILE, name) if run_dir else None
        if row is not None:
            score = ("artist-grouped CV accuracy" if args.artists else "valid accuracy" if args.split
                     else "CV accuracy")
            source = (f"best cell of {run_dir / gridsearch.RESULTS_FILE} for {name} "
                      f"({score} {float(row['accuracy_mean']):.3f})")
            epochs = epochs or int(float(row["epochs"]))
            batch = batch or int(float(row["batch_size"]))
        else:
            source = f"documented defaults (no 01 {protocol} run of {name} for this CSV)"
            epochs = epochs or candidates.DEFAULT_EPOCHS
            batch = batch or candidates.DEFAULT_BATCH
    return epochs, batch, source


@dataclass
class HeldOut:
    """Which rows train the exported model, which calibrate it (valid; --split only) and which report on it."""

    fit: np.ndarray
    test: np.ndarray
    valid: np.ndarray | None
    record: dict  # how the rows were chosen, for model.json
    note: str = ""  # one line for the user (e.g. rows left out)
    cv_masks: np.ndarray | None = None  # --artists: (K, n fit rows) training masks of the artist-grouped folds
    groups: np.ndarray | None = None  # --artists: the artist of each fit row (the novelty score's folds too)
    library: bool = False  # an artist column and no --split: every figure out of fold, no test rows


def held_out_rows(args: argparse.Namespace, files: list[str], labels: np.ndarray,
                  artists: list | None = None) -> HeldOut:
    """The split of the CSV's rows; DataError (one line) if unusable. A CSV with an artist column and no --split
    is a library of its own genres: artist-grouped folds over all its rows (library_rows)."""
    if args.split is None and artists is not None:
        return library_rows(args, files, labels, artists)
    if args.group_folds is not None and args.artists is None:
        raise evaluation.DataError(f"{args.features_csv}: --group-folds goes with --artists, or with a CSV that has "
                                   f"an artist column (this one has none)")
    return split_rows(args, files, labels)


def library_rows(args: argparse.Namespace, files: list[str], labels: np.ndarray, artists: list) -> HeldOut:
    """Every row trains the exported model; K artist-grouped folds (StratifiedGroupKFold; a song of unknown
    artist a group of its own) give each row's out-of-fold prediction, which calibrates and judges the model."""
    if args.test_files is not None or args.test_size_given:
        raise evaluation.DataError(f"{args.features_csv} has an artist column: 02 judges it by artist-grouped "
                                   f"out-of-fold predictions over all its songs; drop --test-size/--test-files")
    groups = evaluation.artist_groups(artists, files)
    genres = evaluation.genres_in_order(labels)
    y = np.array([genres.index(g) for g in labels])
    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise evaluation.DataError(f"{args.features_csv}: every song is by one artist ({artists[0]}): artist-grouped "
                                   "folds need songs of two or more artists")
    folds = min(args.group_folds or gridsearch.GROUP_FOLDS, n_groups)
    masks = evaluation.group_cv_masks(y, groups, folds, args.seed, f"{args.features_csv} (artist column)")
    record = {"method": "out-of-fold", "protocol": f"artist-grouped {folds}-fold CV over every row (calibration, "
              "threshold, novelty folds and figures); the exported model trains on every row",
              "group_folds": folds, "n_artist_groups": n_groups, "fold_seed": args.seed}
    note = (f"{args.features_csv} has an artist column: artist-grouped {folds}-fold CV over its {len(files)} songs "
            f"({n_groups} artist groups; a song without an artist tag is a group of its own). Every figure below is "
            f"out of fold: each song predicted by networks that saw none of its artist's songs.")
    every = np.ones(len(files), dtype=bool)
    return HeldOut(every, ~every, None, record, note, cv_masks=masks, groups=groups, library=True)


def split_rows(args: argparse.Namespace, files: list[str], labels: np.ndarray) -> HeldOut:
    """--split, --test-files or --test-size: the rows that train, calibrate and report."""
    if args.split is not None and args.artists is not None:
        return group_cv_rows(args, files, labels)
    if args.split is not None:
        split = evaluation.read_split(args.split, files, args.allow_missing)
        train, valid = split.masks["train"], split.masks["valid"]
        fit = train | valid if args.train_on == "train+valid" else train
        record = {"method": "split", "protocol": "artist-filtered split", **split.to_json(), "train_on": args.train_on}
        return HeldOut(fit, split.masks["test"], valid, record, f"split {args.split}: {split.describe()}")
    if args.test_files is not None:
        test, unknown = evaluation.match_test_files(files, evaluation.read_clip_list(args.test_files))
        note = ""
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else "")
            note = f"warning: {args.test_files}: {len(unknown)} listed clip(s) match no row: {shown}"
        record = {"method": "test-files", "test_files": str(args.test_files), "unknown": unknown}
    else:
        test = evaluation.stratified_holdout(labels, args.test_size, args.seed)
        note, record = "", {"method": "stratified", "test_size": args.test_size, "seed": args.seed}
    if not test.any():
        raise evaluation.DataError(f"{args.test_files or args.features_csv}: no held-out rows")
    if test.all():
        raise evaluation.DataError(f"{args.test_files}: every row is held out, nothing left to train on")
    return HeldOut(~test, test, None, record, note)


def group_cv_rows(args: argparse.Namespace, files: list[str], labels: np.ndarray) -> HeldOut:
    """--split with --artists: train on the train clips, report on the test clips, calibrate on artist-grouped
    folds inside train (the folds 01 --artists makes with the same seed); valid may be absent from the CSV."""
    split = evaluation.read_split(args.split, files, args.allow_missing, absent_ok=("valid",))
    train = split.masks["train"]
    train_files = [f for f, keep in zip(files, train, strict=True) if keep]
    groups = evaluation.read_artist_groups(args.artists, train_files)
    genres = evaluation.genres_in_order(labels[train])
    y_train = np.array([genres.index(g) for g in labels[train]])
    masks = evaluation.group_cv_masks(y_train, groups, args.group_folds, args.seed, str(args.split / "train.txt"))
    n_groups = len(set(groups.tolist()))
    record = {"method": "split",
              "protocol": f"artist-grouped {args.group_folds}-fold CV inside train (choices and calibration); test "
                          "for the final report only",
              **split.to_json(), "train_on": "train", "group_folds": args.group_folds,
              "artists": str(args.artists), "artists_sha256": evaluation.file_sha256(args.artists),
              "n_artist_groups": n_groups, "fold_seed": args.seed}
    note = (f"split {args.split}: {split.describe()}; calibration by {args.group_folds}-fold artist-grouped CV "
            f"inside the {int(train.sum())} train clips ({n_groups} artist groups)")
    return HeldOut(train, split.masks["test"], None, record, note, cv_masks=masks, groups=groups)


def calibrate_out_of_fold(X: np.ndarray, y: np.ndarray, rows: HeldOut, n_classes: int, args: argparse.Namespace,
                          epochs: int, batch: int) -> tuple[dict, np.ndarray]:
    """Temperature and uncertain threshold fitted on the out-of-fold predictions of the artist-grouped folds
    inside train: each train clip's logits come from the members trained on the other folds (same recipe,
    epochs, batch and members as the exported model). Returns the calibration record for model.json and the
    out-of-fold logits (members, n fit rows, classes)."""
    architecture, recipe = candidates.ARCHITECTURES[args.architecture], candidates.RECIPES[args.recipe]
    X_fit, y_fit = X[rows.fit], y[rows.fit]
    logits = training.out_of_fold_logits(X_fit, y_fit, rows.cv_masks, n_classes, architecture, recipe, batch, epochs,
                                         args.members, args.seed)
    temperature = calibration.fit_temperature(logits, y_fit)
    threshold = calibration.choose_uncertain_threshold(calibration.calibrated_probabilities(logits, temperature),
                                                       y_fit)
    k, n = len(rows.cv_masks), int(rows.fit.sum())
    inside = "" if rows.library else " inside train"
    return {
        "method": "temperature scaling: probabilities = mean over members of softmax(logits / temperature)",
        "temperature": temperature, "uncertain_threshold": threshold,
        "fitted_on": f"out-of-fold predictions of artist-grouped {k}-fold CV{inside} ({n} clips, each predicted "
                     f"by the networks trained on the other {k - 1} folds, which saw none of its artist's clips)",
        "threshold_rule": "the threshold of 0.00, 0.01, ..., 1.00 maximising (right - wrong) among the out-of-fold "
                          "train clips at or above it; below it the answer is reported as uncertain",
        "out_of_fold": {"accuracy": float((logits.mean(axis=0).argmax(axis=1) == y_fit).mean()),
                        "folds": k, "n_clips": n,
                        **calibration.calibration_report(logits, y_fit, temperature, threshold)},
    }, logits


def calibrate(X: np.ndarray, y: np.ndarray, rows: HeldOut, n_classes: int, args: argparse.Namespace,
              epochs: int, batch: int) -> tuple[dict, dict | None]:
    """Temperature and uncertain threshold fitted on the valid rows with a model trained on the train rows only.

    Returns (calibration record for model.json, the train-only model's arrays: reused when it is the export).
    """
    architecture, recipe = candidates.ARCHITECTURES[args.architecture], candidates.RECIPES[args.recipe]
    train = rows.fit & ~rows.valid
    arrays = training.fit_members(X[train], y[train], n_classes, architecture, recipe, batch, epochs, args.members,
                                  args.seed)
    activations = [act for _, act in architecture.hidden] + ["softmax"]
    logits = nn.Classifier.from_arrays(arrays, [], architecture.feature_columns, activations).member_logits(
        X[rows.valid])
    temperature = calibration.fit_temperature(logits, y[rows.valid])
    threshold = calibration.choose_uncertain_threshold(calibration.calibrated_probabilities(logits, temperature),
                                                       y[rows.valid])
    record = {
        "method": "temperature scaling: probabilities = mean over members of softmax(logits / temperature)",
        "temperature": temperature, "uncertain_threshold": threshold,
        "fitted_on": f"valid ({int(rows.valid.sum())} clips), with the model trained on train only",
        "threshold_rule": "the threshold of 0.00, 0.01, ..., 1.00 maximising (right - wrong) among the valid clips "
                          "at or above it; below it the answer is reported as uncertain",
        "valid": {"accuracy": float((logits.mean(axis=0).argmax(axis=1) == y[rows.valid]).mean()),
                  **calibration.calibration_report(logits, y[rows.valid], temperature, threshold)},
    }
    return record, (arrays if args.train_on == "train" else None)


def print_report(metrics: dict, cal: dict | None, rows: HeldOut, fit_seconds: float, out: Path) -> None:
    """Training time, held-out accuracy and macro F1, the per-genre table, calibration and uncertain figures."""
    print(f"fit {fit_seconds:.1f} s; train accuracy {metrics['train_accuracy']:.3f}")
    low, high = metrics["accuracy_interval_95"]
    print(f"held-out accuracy {metrics['accuracy']:.3f} on {metrics['n_test']} clips (95 % interval "
          f"{low:.3f}-{high:.3f}; macro F1 {metrics['macro_f1']:.3f})")
    print(f"{'genre':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for genre, m in metrics["per_genre"].items():
        print(f"{genre:<12} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:4d}")
    if cal is None:
        print(f"ECE {metrics['ece']:.3f} (uncalibrated: calibration needs --split)")
    else:
        print_calibration(metrics, cal, rows)
    if "novelty" in metrics:
        n = metrics["novelty"]
        print(f"unknown answers on the held-out clips: {n['unknown_share']:.1%} ({n['n_unknown']} of {n['n_clips']}; "
              f"{n['unknown_wrong_share']:.1%} of them were wrong genres); accuracy counting an unknown answer as "
              f"wrong {n['accuracy_unknown_wrong']:.3f}, on the known answers {n['known_accuracy']:.3f}")
    floor = metrics["ece_if_calibrated"]
    print(f"ECE a perfectly calibrated model with these probabilities would show on {floor['n_clips']} clips: "
          f"{floor['mean']:.3f} on average, up to {floor['p95']:.3f} (95th percentile)")
    print(f"wrote {out}/ (model.keras, weights.npz, model.json, test_files.txt, confusion_matrix.png, reliability.png)")


def print_library_report(metrics: dict, cal: dict, fit_seconds: float, out: Path, artists_per_genre: dict,
                         spellings: dict) -> None:
    """A library's figures, all out of fold: accuracy, per genre, calibration, uncertain answers, tag spellings."""
    low, high = metrics["accuracy_interval_95"]
    print(f"fit {fit_seconds:.1f} s (folds and the exported model); train accuracy {metrics['train_accuracy']:.3f}")
    print(f"out-of-fold accuracy {metrics['accuracy']:.3f} on {metrics['n_test']} songs (95 % interval "
          f"{low:.3f}-{high:.3f}; macro F1 {metrics['macro_f1']:.3f})")
    width = max(12, *(len(g) for g in metrics["per_genre"]))
    print(f"{'genre':<{width}} {'accuracy':>8} {'precision':>9} {'f1':>6} {'songs':>6} {'artists':>7}")
    for genre, m in metrics["per_genre"].items():
        flag = "  <- few artists: not to be trusted" if artists_per_genre.get(genre, 0) < \
            evaluation.TRUST_MIN_ARTISTS else ""
        print(f"{genre:<{width}} {m['recall']:8.3f} {m['precision']:9.3f} {m['f1']:6.3f} {m['support']:6d} "
              f"{artists_per_genre.get(genre, 0):7d}{flag}")
    print("(a genre's accuracy is its recall: the share of its songs predicted as it; precision: the share of the "
          "songs predicted as it that are tagged so)")
    fitted = cal["out_of_fold"]
    print(f"ECE {fitted['ece_uncalibrated']:.3f} uncalibrated -> {fitted['ece']:.3f} with the temperature "
          f"{cal['temperature']:.3f} fitted on these predictions; uncertain below {cal['uncertain_threshold']:.2f}: "
          f"{metrics['uncertain_share']:.1%} of the songs")
    if spellings:
        print("tags written by 03 --write-tags: " + ", ".join(f"{g} -> {v!r}" for g, v in spellings.items()))
    print(f"wrote {out}/ (model.keras, weights.npz, model.json, {labels.SUSPECT_FILE}, {labels.OUT_OF_FOLD_FILE}, "
          "confusion_matrix.png, reliability.png)")


def print_calibration(metrics: dict, cal: dict, rows: HeldOut) -> None:
    """ECE before and after the temperature, and what the uncertain rule does on the held-out clips."""
    if "out_of_fold" in cal:
        fitted = cal["out_of_fold"]
        where = (f"the out-of-fold predictions of {fitted['n_clips']} train clips ({fitted['folds']}-fold "
                 f"artist-grouped CV, accuracy {fitted['accuracy']:.3f})")
        chosen = "chosen on the out-of-fold predictions"
    else:
        fitted, where, chosen = cal["valid"], f"{int(rows.valid.sum())} valid clips", "chosen on valid"
    print(f"ECE {metrics['ece_uncalibrated']:.3f} uncalibrated -> {metrics['ece']:.3f} calibrated (temperature "
          f"{cal['temperature']:.3f} fitted on {where}; their ECE "
          f"{fitted['ece_uncalibrated']:.3f} -> {fitted['ece']:.3f})")
    confident = metrics["confident_accuracy"]
    print(f"uncertain below {cal['uncertain_threshold']:.2f} ({chosen}): {metrics['uncertain_share']:.1%} of "
          f"the held-out clips; the confident answers are "
          f"{'n/a' if confident is None else f'{confident:.1%}'} right")


def held_out_figures(model, X: np.ndarray, y: np.ndarray, rows, genres: list[str], columns: list[str],
                     architecture, temperature: float, cal: dict | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The model's held-out probabilities, its members' logits (NumPy, same weights: the uncalibrated ECE) and
    the metrics: accuracy, macro F1, per genre, confusion matrix, ECE (and with a calibration, uncertain answers)."""
    fit, test = rows.fit, rows.test
    proba = model.predict(X[test].astype(np.float32), verbose=0)
    metrics = evaluation.classification_metrics(y[test], proba.argmax(axis=1), genres)
    metrics["train_accuracy"] = float((model.predict(X[fit].astype(np.float32), verbose=0).argmax(axis=1)
                                       == y[fit]).mean())
    activations = [act for _, act in architecture.hidden] + ["softmax"]
    logits = nn.Classifier.from_arrays(nn.keras_model_arrays(model), genres, columns, activations).member_logits(
        X[test])
    figures = calibration.calibration_report(logits, y[test], temperature, cal["uncertain_threshold"] if cal else 0.0)
    metrics.update({k: figures[k] for k in ("ece", "ece_uncalibrated", "nll", "mean_confidence")})
    metrics["ece_if_calibrated"] = calibration.ece_if_calibrated(proba)
    if cal:
        metrics.update({k: figures[k] for k in ("uncertain_share", "n_uncertain", "confident_accuracy",
                                                "uncertain_accuracy")})
    return proba, logits, metrics


# what 02 writes into a model folder besides the model: an earlier model's are not kept beside a new one (its
# suspect tags or test list would pass for the new model's)
MODEL_FILES = (labels.SUSPECT_FILE, labels.OUT_OF_FOLD_FILE, "test_files.txt", "confusion_matrix.png",
               "reliability.png")


def draw_figures(out: Path, name: str, clips: str, genres: list[str], confusion: list, metrics: dict,
                 logits: np.ndarray, proba: np.ndarray, y_test: np.ndarray, temperature: float,
                 cal: dict | None) -> None:
    """confusion_matrix.png and reliability.png (before and, with a calibration, after it) in the model folder."""
    functions_dataviz.plot_confusion_matrix(confusion, genres, out / "confusion_matrix.png",
                                            f"{name} on {clips}: accuracy {metrics['accuracy']:.1%}")
    curves = {f"uncalibrated (ECE {metrics['ece_uncalibrated']:.3f})": calibration.reliability_bins(
        calibration.calibrated_probabilities(logits), y_test)}
    if cal:
        curves[f"calibrated, T = {temperature:.2f} (ECE {metrics['ece']:.3f})"] = calibration.reliability_bins(
            proba, y_test)
    functions_dataviz.plot_reliability(curves, out / "reliability.png", f"{name}: reliability on {clips}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Setup
    shipped = {folder.resolve() for folder in audio.SHIPPED_MODEL_DIRS}
    output = args.output_dir.resolve()
    if output in shipped and (output / nn.METADATA_FILE).exists() and not args.replace_shipped:
        print(f"error: {args.output_dir}: that is the shipped model; write elsewhere (e.g. outputs/model) "
              "or pass --replace-shipped", file=sys.stderr)
        return 2
    if output.is_dir() and any(output.iterdir()) and not (output / nn.METADATA_FILE).exists():
        print(f"error: {args.output_dir}: that folder holds files but no model ({nn.METADATA_FILE}): a model is "
              "written into a folder of its own (give a new one, e.g. outputs/model)", file=sys.stderr)
        return 2
    architecture, recipe = candidates.ARCHITECTURES[args.architecture], candidates.RECIPES[args.recipe]
    columns = list(architecture.feature_columns)
    # Data
    try:
        df = evaluation.load_features_csv(args.features_csv, columns)
        sha = evaluation.file_sha256(args.features_csv)
        present = df["genre"].value_counts()
        if len(present) < 2:
            raise evaluation.DataError(f"{args.features_csv}: only one genre ({present.index[0]}, {present.iloc[0]} "
                                       "rows): a model needs two or more genres")
        lone = present[present < 2]
        if len(lone):  # learnt from one song, judged on none (a hand-edited "Blues" beside "blues")
            raise evaluation.DataError(f"{args.features_csv}: {len(lone)} genre(s) with a single row, e.g. "
                                       f"'{lone.index[0]}': a genre needs two or more songs (merge it or drop it)")
        artists = df[evaluation.ARTIST_COLUMN].tolist() if evaluation.ARTIST_COLUMN in df.columns else None
        rows = held_out_rows(args, df["file"].tolist(), df["genre"].to_numpy(), artists)
    except evaluation.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if rows.note:
        print(rows.note)
    genres = evaluation.genres_in_order(df["genre"])
    y = np.array([genres.index(g) for g in df["genre"]])
    X = df[columns].to_numpy(dtype=np.float64)
    fit, test = rows.fit, rows.test
    missing_train = [g for i, g in enumerate(genres) if not (y[fit] == i).any()]
    if missing_train:
        print(f"warning: no training rows for {', '.join(missing_train)} (held out entirely)")
    epochs, batch, source = choose_cell(args, sha)
    name = candidates.candidate_name(args.architecture, args.recipe, args.members)
    print(f"{args.features_csv}: {len(df)} rows, {len(genres)} genres; training {name} "
          f"({architecture.describe()}) on {int(fit.sum())} rows, holding out {int(test.sum())}")
    for line in evaluation.untrusted_genre_lines(df["genre"].tolist(), artists) if rows.library else []:
        print(line)
    print(f"epochs {epochs}, batch {batch} ({source})")
    # Model and training (with --split: first the train-only model that calibrates on valid)
    started = time.perf_counter()
    oof_logits = None
    if rows.cv_masks is not None:
        (cal, oof_logits), arrays = calibrate_out_of_fold(X, y, rows, len(genres), args, epochs, batch), None
    else:
        cal, arrays = (None, None) if rows.valid is None else calibrate(X, y, rows, len(genres), args, epochs, batch)
    if arrays is None:
        arrays = training.fit_members(X[fit], y[fit], len(genres), architecture, recipe, batch, epochs, args.members,
                                      args.seed)
    fit_seconds = time.perf_counter() - started
    temperature = cal["temperature"] if cal else 1.0
    model = nn.keras_model_from_arrays(columns, genres, architecture.hidden, X[fit], arrays, temperature,
                                       name=name.replace("+", "_").replace("-", "_"))
    # Held-out figures, from the exported Keras model itself; a library's, from the out-of-fold predictions
    if rows.library:
        proba, metrics = evaluation.out_of_fold_metrics(oof_logits, y, genres, temperature, cal["uncertain_threshold"])
        metrics["train_accuracy"] = float((model.predict(X.astype(np.float32), verbose=0).argmax(axis=1) == y).mean())
        logits, y_report = oof_logits, y
        suspects = labels.suspect_tags(df["file"].tolist(), y, proba, genres, cal["uncertain_threshold"])
    else:
        proba, logits, metrics = held_out_figures(model, X, y, rows, genres, columns, architecture, temperature, cal)
        y_report = y[test]
    confusion = metrics.pop("confusion_matrix")
    # The novelty score: which songs are none of these genres (fitted on the same training rows)
    scorer, novelty_line = training.fit_model_novelty(X[fit], y[fit], rows.groups, columns, args.seed)
    print(novelty_line)
    if scorer is not None and not rows.library:
        metrics["novelty"] = evaluation.novelty_figures(scorer, X[test], y[test], proba)
    training_info = {
        "features_csv": str(args.features_csv), "n_rows": len(df), "n_train": int(fit.sum()),
        "n_test": int(test.sum()), "held_out": rows.record, "epochs": epochs, "batch_size": batch,
        "cell_source": source, "seed": args.seed, "fit_seconds": round(fit_seconds, 1),
        "train_files": df["file"][fit].tolist(),
    }
    metadata = nn.model_metadata(args.architecture, name, genres, columns, recipe, training_info, metrics, confusion,
                                 sha, members=args.members, calibration=cal)
    spellings = labels.label_spellings(args.features_csv)
    if spellings:  # 03 --write-tags writes each genre as the library spells it most often
        metadata["tag_spellings"] = {g: spellings[g] for g in genres if g in spellings}
    novelty_arrays: dict[str, np.ndarray] = {}
    if scorer is not None:
        import functions_novelty

        novelty_arrays, metadata["novelty"] = functions_novelty.to_arrays(scorer)
    # Export
    out = args.output_dir
    extra_files = ({labels.SUSPECT_FILE: labels.suspect_tags_csv(suspects), labels.OUT_OF_FOLD_FILE:
                    labels.suspect_tags_csv(labels.predictions(df["file"].tolist(), y, proba, genres))}
                   if rows.library else {"test_files.txt": "\n".join(df["file"][test]) + "\n"})
    try:
        nn.write_model_dir(out, model, metadata, extra_files=extra_files, extra_arrays=novelty_arrays,
                           not_kept=MODEL_FILES)
    except OSError as exc:
        print(f"error: {out}: cannot write the model ({exc})", file=sys.stderr)
        return 1
    clips = (f"{len(y)} songs, out of fold" if rows.library else
             f"{int(test.sum())} {'artist-filtered test' if args.split else 'held-out'} clips")
    draw_figures(out, name, clips, genres, confusion, metrics, logits, proba, y_report, temperature, cal)
    # Inference: the light NumPy loader must reproduce the Keras model
    check = X[test] if test.any() else X[:256]
    gap = float(np.abs(nn.load_classifier(out).predict_proba(check)
                       - model.predict(check.astype(np.float32), verbose=0)).max())
    if gap > 1e-5:
        print(f"error: {out}: NumPy forward pass differs from Keras by {gap:.2e}", file=sys.stderr)
        return 1
    if rows.library:
        print_library_report(metrics, cal, fit_seconds, out, artists_per_genre=evaluation.artists_per_genre(
            df["genre"].tolist(), artists), spellings=metadata.get("tag_spellings", {}))
        print("\n".join(labels.suspect_lines(suspects, out / labels.SUSPECT_FILE, len(y), cal["uncertain_threshold"])))
    else:
        print_report(metrics, cal, rows, fit_seconds, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
