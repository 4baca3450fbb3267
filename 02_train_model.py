"""Train one candidate network on a features CSV, report held-out figures and export the model folder.

    python 02_train_model.py FEATURES.csv -o MODEL_DIR [--architecture 85col] [--recipe RECIPE]
        [--epochs E] [--batch B] [--test-files LIST | --test-size 0.2] [--seed 0]

Epochs and batch size default to the best cell of the latest 01_nn_hyperparam.py run made from the same CSV
(same SHA-256; looked for in --hyperparam DIR, <CSV folder>/hyperparam and outputs/hyperparam), else to
functions_nn.DEFAULT_EPOCHS / DEFAULT_BATCH. MODEL_DIR receives model.keras (standardisation inside: raw
feature rows in, genre probabilities out), weights.npz, model.json and confusion_matrix.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import functions_audio as audio
import functions_dataviz
import functions_evaluation as evaluation
import functions_gridsearch as gridsearch
import functions_nn as nn
import functions_training as training

nn.quiet_tensorflow()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("features_csv", nargs="?", type=Path, help="features CSV (file, genre, features)")
    parser.add_argument("--features", dest="features_opt", type=Path, help="same as the positional argument")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, help="model folder to write")
    parser.add_argument("--architecture", default=nn.SHIPPED_ARCHITECTURE, choices=sorted(nn.ARCHITECTURES),
                        help="layer table row (default: %(default)s)")
    parser.add_argument("--recipe", choices=sorted(nn.RECIPES),
                        help="training recipe (default: regularised; regularised-wide for wide91)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: best cell of the 01 run)")
    parser.add_argument("--batch", type=int, help="batch size (default: best cell of the 01 run)")
    held_out = parser.add_mutually_exclusive_group()
    held_out.add_argument("--test-files", type=Path, help="text file listing the held-out clips, one per line")
    held_out.add_argument("--test-size", type=float, default=0.2, help="stratified held-out share (default 0.2)")
    parser.add_argument("--hyperparam", type=Path, action="append", default=[],
                        help="01 output folder to take the best cell from (default: looked for)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and shuffling")
    parser.add_argument("--replace-shipped", action="store_true",
                        help="allow overwriting the shipped model in data/pretrained/")
    args = parser.parse_args(argv)
    if (args.features_csv is None) == (args.features_opt is None):
        parser.error("give the features CSV once (positional or --features)")
    args.features_csv = args.features_csv or args.features_opt
    args.recipe = args.recipe or nn.default_recipe(args.architecture)
    if not 0.0 < args.test_size < 1.0:
        parser.error("--test-size must be between 0 and 1")
    for name in ("epochs", "batch"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer")
    return args


def choose_cell(args: argparse.Namespace, sha: str) -> tuple[int, int, str]:
    """Epochs, batch size and where they came from."""
    name = nn.candidate_name(args.architecture, args.recipe)
    epochs, batch, source = args.epochs, args.batch, "command line"
    if epochs is None or batch is None:
        run_dir = gridsearch.find_hyperparam_run(args.features_csv, sha, args.hyperparam)
        row = gridsearch.best_cell(run_dir / gridsearch.RESULTS_FILE, name) if run_dir else None
        if row is not None:
            source = (f"best cell of {run_dir / gridsearch.RESULTS_FILE} for {name} "
                      f"(CV accuracy {float(row['accuracy_mean']):.3f})")
            epochs = epochs or int(float(row["epochs"]))
            batch = batch or int(float(row["batch_size"]))
        else:
            source = "documented defaults (no 01 run for this CSV)"
            epochs = epochs or nn.DEFAULT_EPOCHS
            batch = batch or nn.DEFAULT_BATCH
    return epochs, batch, source


def held_out_rows(args: argparse.Namespace, df) -> tuple[np.ndarray, dict]:
    """The held-out mask (from --test-files, else a stratified --test-size share) and how it was chosen."""
    if args.test_files is not None:
        names = evaluation.read_clip_list(args.test_files)
        test_mask, unknown = evaluation.match_test_files(df["file"].tolist(), names)
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else "")
            print(f"warning: {args.test_files}: {len(unknown)} listed clip(s) match no row: {shown}")
        split = {"method": "test-files", "test_files": str(args.test_files), "unknown": unknown}
    else:
        test_mask = evaluation.stratified_holdout(df["genre"].to_numpy(), args.test_size, args.seed)
        split = {"method": "stratified", "test_size": args.test_size, "seed": args.seed}
    if not test_mask.any():
        raise evaluation.DataError(f"{args.test_files or args.features_csv}: no held-out rows")
    if test_mask.all():
        raise evaluation.DataError(f"{args.test_files}: every row is held out, nothing left to train on")
    return test_mask, split


def print_report(metrics: dict, fit_seconds: float, out: Path) -> None:
    """Training time, held-out accuracy and macro F1, and the per-genre table."""
    print(f"fit {fit_seconds:.1f} s; train accuracy {metrics['train_accuracy']:.3f}")
    print(f"held-out accuracy {metrics['accuracy']:.3f} on {metrics['n_test']} clips "
          f"(macro F1 {metrics['macro_f1']:.3f})")
    print(f"{'genre':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for genre, m in metrics["per_genre"].items():
        print(f"{genre:<12} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:4d}")
    print(f"wrote {out}/ (model.keras, weights.npz, model.json, confusion_matrix.png)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Setup
    shipped = audio.PRETRAINED_MODEL_DIR.resolve()
    if args.output_dir.resolve() == shipped and (shipped / nn.METADATA_FILE).exists() and not args.replace_shipped:
        print(f"error: {args.output_dir}: that is the shipped model; write elsewhere (e.g. outputs/model) "
              "or pass --replace-shipped", file=sys.stderr)
        return 2
    architecture, recipe = nn.ARCHITECTURES[args.architecture], nn.RECIPES[args.recipe]
    columns = list(architecture.feature_columns)
    # Data
    try:
        df = evaluation.load_features_csv(args.features_csv, columns)
        sha = evaluation.file_sha256(args.features_csv)
        test, split = held_out_rows(args, df)
    except evaluation.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    genres = evaluation.genres_in_order(df["genre"])
    y = np.array([genres.index(g) for g in df["genre"]])
    X = df[columns].to_numpy(dtype=np.float64)
    train = ~test
    missing_train = [g for i, g in enumerate(genres) if not (y[train] == i).any()]
    if missing_train:
        print(f"warning: no training rows for {', '.join(missing_train)} (held out entirely)")
    epochs, batch, source = choose_cell(args, sha)
    name = nn.candidate_name(args.architecture, args.recipe)
    print(f"{args.features_csv}: {len(df)} rows, {len(genres)} genres; training {name} "
          f"({architecture.describe()}) on {int(train.sum())} rows, holding out {int(test.sum())}")
    print(f"epochs {epochs}, batch {batch} ({source})")
    # Model and training
    model, fit_seconds = training.fit_keras_model(name, architecture, recipe, columns, genres, X[train], y[train],
                                                  epochs, batch, args.seed)
    # Held-out figures, from the exported Keras model itself
    proba = model.predict(X[test].astype(np.float32), verbose=0)
    metrics = evaluation.classification_metrics(y[test], proba.argmax(axis=1), genres)
    metrics["train_accuracy"] = float((model.predict(X[train].astype(np.float32), verbose=0).argmax(axis=1)
                                       == y[train]).mean())
    confusion = metrics.pop("confusion_matrix")
    training_info = {
        "features_csv": str(args.features_csv), "n_rows": len(df), "n_train": int(train.sum()),
        "n_test": int(test.sum()), "held_out": split, "epochs": epochs, "batch_size": batch,
        "cell_source": source, "seed": args.seed, "fit_seconds": round(fit_seconds, 1),
    }
    metadata = nn.model_metadata(args.architecture, name, genres, columns, recipe, training_info, metrics, confusion,
                                 sha)
    # Export
    out = args.output_dir
    try:
        nn.write_model_dir(out, model, metadata, extra_files={"test_files.txt": "\n".join(df["file"][test]) + "\n"})
    except OSError as exc:
        print(f"error: {out}: cannot write the model ({exc})", file=sys.stderr)
        return 1
    functions_dataviz.plot_confusion_matrix(
        confusion, genres, out / "confusion_matrix.png",
        f"{name} on {int(test.sum())} held-out clips: accuracy {metrics['accuracy']:.1%}")
    # Inference: the light NumPy loader must reproduce the Keras model
    gap = float(np.abs(nn.load_classifier(out).predict_proba(X[test]) - proba).max())
    if gap > 1e-5:
        print(f"error: {out}: NumPy forward pass differs from Keras by {gap:.2e}", file=sys.stderr)
        return 1
    print_report(metrics, fit_seconds, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
