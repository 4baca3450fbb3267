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
import time
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import functions_audio

    shipped = functions_audio.PRETRAINED_MODEL_DIR.resolve()
    if args.output_dir.resolve() == shipped and (shipped / nn.METADATA_FILE).exists() and not args.replace_shipped:
        print(f"error: {args.output_dir}: that is the shipped model; write elsewhere (e.g. outputs/model) "
              "or pass --replace-shipped", file=sys.stderr)
        return 2
    architecture = nn.ARCHITECTURES[args.architecture]
    recipe = nn.RECIPES[args.recipe]
    columns = list(architecture.feature_columns)
    try:
        df = evaluation.load_features_csv(args.features_csv, columns)
        sha = evaluation.file_sha256(args.features_csv)
        if args.test_files is not None:
            try:
                names = args.test_files.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise evaluation.DataError(f"{args.test_files}: cannot read the test list ({exc})") from None
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
    except evaluation.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import numpy as np

    genres = evaluation.genres_in_order(df["genre"])
    y = np.array([genres.index(g) for g in df["genre"]])
    X = df[columns].to_numpy(dtype=np.float64)
    train, test = ~test_mask, test_mask
    missing_train = [g for i, g in enumerate(genres) if not (y[train] == i).any()]
    if missing_train:
        print(f"warning: no training rows for {', '.join(missing_train)} (held out entirely)")
    epochs, batch, source = choose_cell(args, sha)
    name = nn.candidate_name(args.architecture, args.recipe)
    print(f"{args.features_csv}: {len(df)} rows, {len(genres)} genres; training {name} "
          f"({architecture.describe()}) on {int(train.sum())} rows, holding out {int(test.sum())}")
    print(f"epochs {epochs}, batch {batch} ({source})")

    model = nn.build_keras_model(columns, genres, architecture.hidden, X[train], name=name.replace("+", "_"))
    arrays = nn.keras_model_arrays(model)
    X_std = evaluation.standardise(X[train], arrays["norm_mean"], arrays["norm_variance"])
    started = time.perf_counter()
    weights = training.train_members(X_std[None], y[train], np.ones((1, int(train.sum())), dtype=bool),
                                     architecture.hidden, len(genres), recipe, batch, [epochs], seed=args.seed)
    fit_seconds = time.perf_counter() - started
    kernels, biases = weights.member(0)
    for i, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
        model.get_layer(f"dense_{i}").set_weights([kernel, bias])

    # held-out figures from the exported Keras model itself
    proba = model.predict(X[test].astype(np.float32), verbose=0)
    metrics = evaluation.classification_metrics(y[test], proba.argmax(axis=1), genres)
    train_acc = float((model.predict(X[train].astype(np.float32), verbose=0).argmax(axis=1) == y[train]).mean())
    metrics["train_accuracy"] = train_acc
    confusion = metrics.pop("confusion_matrix")

    metadata = {
        "format_version": nn.MODEL_FORMAT_VERSION,
        "architecture": args.architecture,
        "candidate": name,
        "hidden_layers": architecture.describe(),
        "genres": genres,
        "feature_columns": columns,
        "activations": [act for _, act in architecture.hidden] + ["softmax"],
        "feature_extraction": functions_audio.EXTRACTION_SETTINGS,
        "training": {
            "features_csv": str(args.features_csv),
            "n_rows": len(df), "n_train": int(train.sum()), "n_test": int(test.sum()),
            "held_out": split,
            "epochs": epochs, "batch_size": batch, "cell_source": source,
            "recipe": nn.recipe_settings(recipe),
            "optimizer": "Adam (beta1 0.9, beta2 0.999, epsilon 1e-7)", "loss": "categorical cross-entropy",
            "seed": args.seed, "fit_seconds": round(fit_seconds, 1),
            "standardisation": "Normalization layer adapted on the training rows",
        },
        "metrics": metrics,
        "confusion_matrix": confusion,
        "versions": nn.library_versions(),
        "features_csv_sha256": sha,
    }
    out = args.output_dir
    try:
        nn.write_model_dir(out, model, metadata)
        (out / "test_files.txt").write_text("\n".join(df["file"][test]) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"error: {out}: cannot write the model ({exc})", file=sys.stderr)
        return 1
    import functions_dataviz

    functions_dataviz.plot_confusion_matrix(
        confusion, genres, out / "confusion_matrix.png",
        f"{name} on {int(test.sum())} held-out clips: accuracy {metrics['accuracy']:.1%}")

    # the light NumPy loader must reproduce the Keras model
    classifier = nn.load_classifier(out)
    gap = float(np.abs(classifier.predict_proba(X[test]) - proba).max())
    if gap > 1e-5:
        print(f"error: {out}: NumPy forward pass differs from Keras by {gap:.2e}", file=sys.stderr)
        return 1

    print(f"fit {fit_seconds:.1f} s; train accuracy {train_acc:.3f}")
    print(f"held-out accuracy {metrics['accuracy']:.3f} on {metrics['n_test']} clips "
          f"(macro F1 {metrics['macro_f1']:.3f})")
    print(f"{'genre':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}")
    for genre, m in metrics["per_genre"].items():
        print(f"{genre:<12} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:4d}")
    print(f"wrote {out}/ (model.keras, weights.npz, model.json, confusion_matrix.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
