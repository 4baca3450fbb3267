"""Benchmark of 01_nn_hyperparam's grid search against the naive loop (one Keras fit per cell per fold).

    python bench/bench_grid.py [FEATURES.csv] [--folds 10] [--workers 2] [--naive-epochs 8] [-o DIR]

1. Runs the full grid of the original study (7 candidates x epochs {100, 500, 800} x batches {32, 200, 300})
   with 10-fold CV through functions_gridsearch.GridSearch, as 01_nn_hyperparam.py does, and times it.
2. Measures the naive loop on a slice of the same grid in the same run: for every candidate and batch size, a
   freshly built Keras model (Normalization + the candidate's layers, Adam, categorical cross-entropy) is
   fitted with ``model.fit`` on one fold's training rows; the steady-state time per epoch (compilation
   excluded, which favours the naive loop) is scaled to the full grid: folds x (100 + 500 + 800) epochs.
3. Prints both times, their ratio, the machine's load and each candidate's best cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

import functions_audio as audio  # noqa: E402
import functions_candidates as candidates  # noqa: E402
import functions_gridsearch as gridsearch  # noqa: E402
import functions_nn as nn  # noqa: E402

nn.quiet_tensorflow()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    shared = audio.shared_data_dir()
    default_csv = shared / "gtzan_features.csv" if shared else None
    parser.add_argument("features_csv", nargs="?", type=Path, default=default_csv,
                        help="features CSV (default: the shared gtzan_features.csv)")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--naive-epochs", type=int, default=8, help="epochs timed per naive slice fit")
    parser.add_argument("-o", "--output-dir", type=Path, help="grid output folder (default: a temporary one)")
    args = parser.parse_args()
    if args.features_csv is None or not args.features_csv.is_file():
        parser.error("no features CSV (the shared gtzan_features.csv was not found; pass one)")
    return args


def naive_epoch_seconds(X, y, train_mask, candidate: str, batch: int, epochs: int) -> float:
    """Steady-state seconds per epoch of ``model.fit`` for a fresh Keras model of ``candidate``."""
    import keras
    import numpy as np

    cand = candidates.CANDIDATES[candidate]
    arch = candidates.ARCHITECTURES[cand.architecture]
    genres = int(y.max()) + 1
    model = nn.build_keras_model(arch.feature_columns, list(range(genres)), arch.hidden, X[train_mask])
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    Xt, Yt = X[train_mask].astype(np.float32), np.eye(genres)[y[train_mask]]
    model.fit(Xt, Yt, batch_size=batch, epochs=1, verbose=0)  # compile/trace: not counted
    started = time.perf_counter()
    model.fit(Xt, Yt, batch_size=batch, epochs=epochs, verbose=0)
    return (time.perf_counter() - started) / epochs


def main() -> int:
    args = parse_args()
    import numpy as np

    load_start = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs; load average at start {load_start[0]:.2f} / {load_start[1]:.2f} "
          f"/ {load_start[2]:.2f} (1/5/15 min)")
    names = list(candidates.ORIGINAL_CANDIDATES)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.output_dir or Path(tmp) / "grid"
        search = gridsearch.GridSearch.prepare(args.features_csv, out, candidates=names,
                                               epochs=gridsearch.GRID_EPOCHS, batches=gridsearch.GRID_BATCHES,
                                               n_folds=args.folds, seed=0)
        if len(search.pending) != len(search.jobs):
            print(f"error: {out} already holds results of this grid; use an empty folder", file=sys.stderr)
            return 2
        print(search.describe())
        grid_seconds = search.run(workers=args.workers)
        table = search.ranked_table(top=5)
        load_grid = os.getloadavg()

        print(f"\nnaive loop slice: one fresh Keras model.fit per (candidate, batch), {args.naive_epochs} epochs "
              "timed after a warm-up epoch, fold 0 of the same split")
        job = search.jobs[0]
        masks = job.train_masks
        df = search.df
        y = job.y
        naive_total = 0.0
        slice_seconds = 0.0
        rows = []
        for name in names:
            X = df[list(candidates.CANDIDATES[name].feature_columns)].to_numpy(dtype=np.float64)
            for batch in gridsearch.GRID_BATCHES:
                started = time.perf_counter()
                per_epoch = naive_epoch_seconds(X, y, masks[0], name, batch, args.naive_epochs)
                slice_seconds += time.perf_counter() - started
                cell_total = per_epoch * args.folds * sum(gridsearch.GRID_EPOCHS)
                naive_total += cell_total
                rows.append((name, batch, per_epoch, cell_total))
        load_end = os.getloadavg()

    print(f"{'candidate':<15} {'batch':>5} {'s/epoch':>9} {'naive s (all folds, 100+500+800 ep)':>36}")
    for name, batch, per_epoch, cell_total in rows:
        print(f"{name:<15} {batch:>5} {per_epoch:9.4f} {cell_total:36.0f}")
    cells_per_candidate = len(gridsearch.GRID_EPOCHS) * len(gridsearch.GRID_BATCHES)
    n_cells = len(names) * cells_per_candidate
    print(table)
    print(f"\nfull grid: {len(names)} candidates x {cells_per_candidate} cells = {n_cells}"
          f" cells x {args.folds} folds = {n_cells * args.folds} fold-fits")
    print(f"grid search (01's engine, {args.workers} workers): {grid_seconds:8.1f} s  "
          f"({grid_seconds / 60:.1f} min; target <= 10 min)")
    print(f"naive loop, extrapolated from the slice:  {naive_total:8.1f} s  ({naive_total / 3600:.1f} h; "
          f"slice measured in {slice_seconds:.0f} s)")
    print(f"speed-up (naive / grid): {naive_total / grid_seconds:.1f}x")
    print(f"load average after the grid {load_grid[0]:.2f}, after the slice {load_end[0]:.2f} "
          "(the machine is shared; > CPU count means other work competed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
