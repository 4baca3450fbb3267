"""Model selection: every candidate network over the epochs x batch-size grid, with stratified K-fold CV or on
an artist-filtered split.

    python 01_nn_hyperparam.py FEATURES.csv [-o DIR] [--folds K] [--quick] [--scheduler ADDRESS]
        [--groups COLUMN] [--candidates 85col,85col+reg,...] [--workers N] [--seed S] [--no-plots]
    python 01_nn_hyperparam.py FEATURES.csv --split SPLIT_DIR [--repeats R] ...
    python 01_nn_hyperparam.py FEATURES.csv --split SPLIT_DIR --artists ARTISTS.tsv [--group-folds K] ...

A CSV with an artist column (00 --labels tags) gets artist-grouped folds without a flag (as --groups artist).

Each cell (candidate x epochs x batch size) is a freshly initialised model per fold, with the scaler fitted on
that fold's training rows only. With --split (a folder of train.txt, valid.txt, test.txt) every cell is trained
R times (different initialisations) on the train clips and scored on the valid clips; the test clips are
dropped when the CSV is read and never reach a job (test is for 02's final report only). With --split and
--artists (a TSV of file, artist: e.g. for a CSV without valid rows, such as the musicnn reference features)
every cell is scored by artist-grouped K-fold CV inside the train clips instead (sklearn's StratifiedGroupKFold;
a clip of unknown artist is a group of its own): no artist has clips on both sides of a fold, every train clip
is scored once, out of fold, and the test and valid rows are dropped when the CSV is read.

Without --candidates, 01 runs every single network and baseline whose input columns the CSV has (the ensembles
cost their members' trainings: name them to run them); for a CSV of the 91 classic features that is
candidates.DEFAULT_CANDIDATES.

The folds (or repeats) of a (candidate, batch size) pair are trained side by side in one TensorFlow graph and
the epoch counts are read as checkpoints of one run (the learning rate never depends on the planned total, so
the model after 100 epochs is the one a 100-epoch run gives). Independent jobs run in parallel processes, or on
a Dask cluster with --scheduler tcp://HOST:PORT.

Writes DIR/results.csv (one row per cell, appended as jobs finish; a rerun resumes), DIR/folds.csv (per-fold
figures), DIR/run.json (settings and the features CSV's SHA-256) and PNG plots.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import functions_candidates as candidates
import functions_evaluation as evaluation
import functions_gridsearch as gridsearch
import functions_nn as nn
from functions_audio import OUTPUTS_DIR

nn.quiet_tensorflow()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("features_csv", type=Path, help="features CSV (file, genre, features)")
    parser.add_argument("-o", "--output-dir", type=Path,
                        help="results folder (default: outputs/hyperparam, with --split outputs/hyperparam_split)")
    parser.add_argument("--folds", type=int, help="cross-validation folds (default 10; 2 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny grid for demos/tests: epochs {gridsearch.QUICK_EPOCHS}, "
                             f"batches {gridsearch.QUICK_BATCHES}, 2 folds")
    parser.add_argument("--epochs", help="comma-separated epoch counts (default 100,500,800)")
    parser.add_argument("--batches", help="comma-separated batch sizes (default 32,200,300)")
    parser.add_argument("--candidates", help="comma-separated candidate names (default: all but the ensembles, of "
                                             "those the CSV has the columns for); known: "
                                             f"{', '.join(candidates.CANDIDATES)}")
    parser.add_argument("--groups", help="column whose equal values stay in one fold (e.g. an artist column)")
    parser.add_argument("--split", type=Path, metavar="DIR",
                        help="split folder (train.txt, valid.txt, test.txt): train on train, score on valid")
    parser.add_argument("--repeats", type=int,
                        help=f"with --split: trainings per cell (default {gridsearch.SPLIT_REPEATS})")
    parser.add_argument("--artists", type=Path, metavar="TSV",
                        help="with --split: artists TSV (file, artist); score cells by artist-grouped CV inside train "
                             "instead of on valid")
    parser.add_argument("--group-folds", type=int,
                        help=f"with --artists: artist-grouped folds inside train (default {gridsearch.GROUP_FOLDS})")
    parser.add_argument("--train-share", type=float, default=1.0,
                        help="with --split: train each repeat on a seeded stratified share of train (a learning "
                             "curve; default 1)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="with --split: leave out listed clips the CSV lacks instead of stopping")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:port)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: number of CPUs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds, initialisation and shuffling")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--example-clip", type=Path, help="audio clip for the feature-exploration page")
    args = parser.parse_args(argv)
    try:
        args.epochs = gridsearch.parse_int_list(args.epochs) if args.epochs else (
            gridsearch.QUICK_EPOCHS if args.quick else gridsearch.GRID_EPOCHS)
        args.batches = gridsearch.parse_int_list(args.batches) if args.batches else (
            gridsearch.QUICK_BATCHES if args.quick else gridsearch.GRID_BATCHES)
    except ValueError as exc:
        parser.error(str(exc))
    if args.artists is None and args.group_folds is not None:
        parser.error("--group-folds goes with --artists (and --split)")
    if args.artists is not None:
        if args.split is None:
            parser.error("--artists goes with --split (the folds are made inside its train list)")
        if args.folds or args.groups:
            parser.error("--artists makes the folds inside train: drop --folds/--groups (use --group-folds)")
        if args.repeats is not None or args.train_share != 1.0:
            parser.error("--repeats and --train-share go with --split alone, not with --artists")
        args.group_folds = args.group_folds or gridsearch.GROUP_FOLDS
        if args.group_folds < 2:
            parser.error("--group-folds must be at least 2")
    if args.repeats is None:
        args.repeats = gridsearch.SPLIT_REPEATS
    if args.split is not None:
        if args.folds or args.groups:
            parser.error("--split replaces cross-validation: drop --folds/--groups")
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
        if not 0.0 < args.train_share <= 1.0:
            parser.error("--train-share must be in (0, 1]")
        args.folds = args.group_folds if args.artists else args.repeats
    elif args.train_share != 1.0:
        parser.error("--train-share goes with --split")
    args.folds = args.folds or (2 if args.quick else 10)
    if args.folds < 2 and args.split is None:
        parser.error("--folds must be at least 2")
    default_dir = "hyperparam_groupcv" if args.artists else "hyperparam_split" if args.split else "hyperparam"
    args.output_dir = args.output_dir or OUTPUTS_DIR / default_dir
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    header = csv_header(args.features_csv)
    names = ([c.strip() for c in args.candidates.split(",")] if args.candidates
             else list(candidates.default_candidates(header)))
    unknown = [c for c in names if c not in candidates.CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate(s) {', '.join(unknown)}; known: {', '.join(candidates.CANDIDATES)}")
    args.candidates = names
    args.auto_groups = (args.split is None and args.groups is None
                        and evaluation.ARTIST_COLUMN in header)
    if args.auto_groups:  # a CSV of 00 --labels tags: an artist's songs never on both sides of a fold
        args.groups = evaluation.ARTIST_COLUMN
    return args


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV's first line ([] if it cannot be read: GridSearch.prepare then says why)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.auto_groups:
        print(f"{args.features_csv} has an artist column: artist-grouped folds (no artist's songs on both sides of a "
              "fold; a song of unknown artist is a group of its own)")
    try:
        search = gridsearch.GridSearch.prepare(
            args.features_csv, args.output_dir, candidates=args.candidates, epochs=args.epochs,
            batches=args.batches, n_folds=args.folds, seed=args.seed, groups_column=args.groups,
            split_dir=args.split, allow_missing=args.allow_missing, train_share=args.train_share,
            artists=args.artists)
    except evaluation.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(search.describe())
    try:
        search.run(scheduler=args.scheduler, workers=args.workers)
    except gridsearch.GridError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"finished cells are kept in {search.results_csv}; rerun to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished cells are kept in {search.results_csv}; rerun to resume", file=sys.stderr)
        return 130
    print(search.ranked_table())
    if not args.no_plots:
        written = search.plot(example_clip=args.example_clip)
        print("plots: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
