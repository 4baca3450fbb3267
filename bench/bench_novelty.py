"""Benchmark of the novelty score (functions_novelty, issue 20: "knows what it doesn't know") on the test clips:
the leave-one-genre-out test protocol with the whole shipped recipe refitted, and the shipped model.

Data: bench/novelty_data.py (the 443 ``train`` and 290 ``test`` reference rows of the artist-filtered split and
the artists TSV). Every choice is made inside ``train`` (how: bench_novelty_cv.py, bench_novelty_alternatives.py,
bench_novelty_netcv.py); ``test`` is only read to report. Non-music: bench_nonmusic.py.

Parts (``--part``, comma-separated; default ``test,shipped``):

- ``test``: for each of the 10 genres, the whole recipe fitted on the train clips of the other 9 (the network
  ensemble by functions_training, its temperature and uncertain threshold on its artist-grouped out-of-fold
  predictions as 02 fits them, the novelty scorer and its threshold by functions_novelty.fit_novelty), then the
  test clips read: AUROC (left-out vs known test clips), share of the left-out genre's clips answered with a
  confident known genre (neither unknown nor uncertain), share of its clips flagged unknown, share of known
  clips flagged unknown, accuracy on the known clips (plain, and counting unknown as wrong). Scores: the chosen
  one (module defaults), the same family with its settings chosen again by leave-one-genre-out inside the 9
  genres' train clips ("nested", the grid of bench_novelty_cv.py --part cv), and the baselines: top probability
  (unknown below the 10th percentile of the out-of-fold top probabilities) and distance to the nearest genre mean
  (functions_novelty.NEAREST_MEAN).
- ``tradeoff``: the score alone (no network, seconds): the share of known test clips flagged when the
  threshold is put, after the fact, where it catches 60 / 70 / 80 % of each left-out genre (the best case of the
  "<= 20 % confident" target).
- ``shipped``: the shipped model (data/pretrained, all 10 genres) with the scorer fitted on all 443 train clips:
  test accuracy over the 290 clips counting unknown as wrong, share flagged.

    .venv/bin/python bench/bench_novelty.py [--part test,shipped] [--quick] [--members M] [--json FILE]
    .venv/bin/python bench/bench_novelty.py --refit-shipped   # data/pretrained's novelty part as 02 fits it

--quick: 3 network members instead of 10 and a smaller nested grid (the figures are then not the recipe's).

Measured, last full run (at 9bfa595, 10 members; the whole run of the parts now split over the novelty benches
took 45 min on this 2-core machine at load average 4-12 from other work, 18 min on a quiet one), the threshold
rule "group":
- test (1532 s), means over the ten left-out genres, chosen / nested / top probability / nearest mean: AUROC
  0.892 / 0.891 / 0.728 / 0.864; left-out clips answered with a confident known genre 0.387 / 0.376 / 0.769 /
  0.328; flagged unknown 0.568 / 0.568 / 0.188 / 0.609; known clips flagged unknown 0.044 / 0.059 / 0.073 /
  0.120; known accuracy 0.807 (counting unknown as wrong 0.791 / 0.779 / 0.782 / 0.733). With the rule before
  (previous run): 0.892 AUROC, 0.431 confident, 0.509 flagged, 0.030 known flagged, 0.795.
- shipped: test accuracy 0.786, counting unknown as wrong 0.779 (10 clips unknown, 8 of them wrong answers;
  before: 0.783, 7 and 6); the not-music test flags none of the 290 test clips.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import novelty_data as nd
import numpy as np
from novelty_data import BATCH, CANDIDATE, EPOCHS, GROUP_FOLDS, SEED, Data

import functions_audio as audio
import functions_calibration as calibration
import functions_candidates as candidates
import functions_evaluation as evaluation
import functions_nn as nn
import functions_novelty as fnov


def fit_recipe(X: np.ndarray, y: np.ndarray, groups: np.ndarray, genres: list[str], columns: list[str],
               members: int) -> tuple[nn.Classifier, float, np.ndarray]:
    """The shipped recipe on these rows, as 02 --artists fits it: (classifier with its temperature, uncertain
    threshold, out-of-fold calibrated probabilities of the rows)."""
    import functions_training as training

    architecture, recipe = candidates.ARCHITECTURES[CANDIDATE.architecture], candidates.RECIPES[CANDIDATE.recipe]
    masks = evaluation.group_cv_masks(y, groups, GROUP_FOLDS, SEED)
    logits = training.out_of_fold_logits(X, y, masks, len(genres), architecture, recipe, BATCH, EPOCHS, members,
                                         SEED)
    temperature = calibration.fit_temperature(logits, y)
    oof = calibration.calibrated_probabilities(logits, temperature)
    uncertain = calibration.choose_uncertain_threshold(oof, y)
    arrays = training.fit_members(X, y, len(genres), architecture, recipe, BATCH, EPOCHS, members, SEED)
    activations = [act for _, act in architecture.hidden] + ["softmax"]
    classifier = nn.Classifier.from_arrays(arrays, genres, columns, activations, temperature=temperature,
                                           uncertain_threshold=uncertain)
    return classifier, uncertain, oof


def nested_settings(X: np.ndarray, y: np.ndarray, groups: np.ndarray, columns: list[str],
                    grid: dict) -> fnov.NoveltySettings:
    """The grid's best mean AUROC by leave-one-genre-out inside these rows only."""
    return max(nd.grid_settings(grid),
               key=lambda s: fnov.choose_threshold(X, y, groups, columns, s).figures["mean_auroc"])


def outcome(scores_known: np.ndarray, scores_novel: np.ndarray, unknown_known: np.ndarray,
            unknown_novel: np.ndarray, proba_known: np.ndarray, proba_novel: np.ndarray, y_known: np.ndarray,
            uncertain: float) -> dict:
    """The figures of one score for one left-out genre on the test clips."""
    right = proba_known.argmax(axis=1) == y_known
    confident_novel = ~unknown_novel & (proba_novel.max(axis=1) >= uncertain)
    return {"auroc": fnov.auroc(scores_known, scores_novel),
            "novel_confident_known": float(confident_novel.mean()),
            "novel_unknown": float(unknown_novel.mean()),
            "known_unknown": float(unknown_known.mean()),
            "known_accuracy": float(right.mean()),
            "known_accuracy_unknown_wrong": float((right & ~unknown_known).mean())}


def part_test(data: Data, args: argparse.Namespace) -> dict:
    """The leave-one-genre-out test protocol: ten rows per score and their means."""
    import functions_training as training

    members = args.members or (3 if args.quick else 10)
    grid = nd.QUICK_GRID if args.quick else nd.GRID

    training.configure_tf_threads(1)
    default = fnov.NoveltySettings()
    results: dict[str, list[dict]] = {"chosen": [], "nested": [], "top probability": [], "nearest genre mean": []}
    chosen_settings = []
    started = time.perf_counter()
    for g, genre in enumerate(data.genres):
        keep = [c for c in range(len(data.genres)) if c != g]
        train = data.y_train != g
        X9, y9, groups9 = data.X_train[train], np.searchsorted(keep, data.y_train[train]), data.groups[train]
        genres9 = [data.genres[c] for c in keep]
        classifier, uncertain, oof = fit_recipe(X9, y9, groups9, genres9, data.columns, members)
        novel = data.y_test == g
        y_known = np.searchsorted(keep, data.y_test[~novel])
        proba = classifier.predict_proba(data.X_test)
        pk, pn = proba[~novel], proba[novel]
        nested = nested_settings(X9, y9, groups9, data.columns, grid)
        chosen_settings.append(asdict(nested))
        for name, settings in (("chosen", default), ("nested", nested), ("nearest genre mean", fnov.NEAREST_MEAN)):
            scorer = fnov.fit_novelty(X9, y9, groups9, data.columns, settings)
            s = fnov.raw_scores(scorer, data.X_test)
            flags = fnov.is_unknown(scorer, s)
            results[name].append(outcome(s[~novel], s[novel], flags[~novel], flags[novel], pk, pn, y_known,
                                         uncertain))
        top_threshold = float(np.quantile(oof.max(axis=1), 1 - fnov.KEEP))
        top = -proba.max(axis=1)
        flags = -top < top_threshold
        results["top probability"].append(outcome(top[~novel], top[novel], flags[~novel], flags[novel], pk, pn,
                                                  y_known, uncertain))
        print(f"  left-out {genre}: {time.perf_counter() - started:.0f} s (nested: {nd.describe(nested)})",
              flush=True)
    seconds = time.perf_counter() - started
    keys = ("auroc", "novel_confident_known", "novel_unknown", "known_unknown", "known_accuracy",
            "known_accuracy_unknown_wrong")
    heads = ("AUROC", "novel->confident", "novel->unknown", "known->unknown", "known acc", "known acc (unk=wrong)")
    print(f"\n== test: leave-one-genre-out on the {len(data.y_test)} artist-filtered test clips; recipe fitted on the "
          f"other 9 genres' train clips ({members}-member ensembles, {EPOCHS} epochs, batch {BATCH}; {seconds:.0f} s)")
    means = {}
    for name, rows in results.items():
        print(f"\n-- {name}" + (f": {nd.describe(default)}" if name == "chosen" else ""))
        print(f"{'left-out genre':<15}" + "".join(f"{h:>22}" for h in heads))
        for genre, row in zip(data.genres, rows, strict=True):
            print(f"{genre:<15}" + "".join(f"{row[k]:22.3f}" for k in keys))
        means[name] = {k: float(np.mean([row[k] for row in rows])) for k in keys}
        print(f"{'mean':<15}" + "".join(f"{means[name][k]:22.3f}" for k in keys))
    print("\nmeans side by side:")
    print(f"{'score':<22}" + "".join(f"{h:>22}" for h in heads))
    for name, m in means.items():
        print(f"{name:<22}" + "".join(f"{m[k]:22.3f}" for k in keys))
    return {"per_genre": results, "means": means, "nested_settings": chosen_settings, "seconds": seconds,
            "members": members}


def part_shipped(data: Data, args: argparse.Namespace) -> dict:
    """The shipped model with the scorer as 02 fits it, on the test clips."""
    classifier = nn.load_classifier(audio.PRETRAINED_MODEL_DIR)
    if list(classifier.feature_columns) != data.columns or list(classifier.genres) != data.genres:
        sys.exit(f"error: {audio.PRETRAINED_MODEL_DIR} does not read {CANDIDATE.name}'s columns and genres")
    started = time.perf_counter()
    scorer = nd.shipped_scorer(data)
    fit_seconds = time.perf_counter() - started
    proba = classifier.predict_proba(data.X_test)
    right = proba.argmax(axis=1) == data.y_test
    flags = fnov.is_unknown(scorer, fnov.raw_scores(scorer, data.X_test))
    not_music = fnov.not_music(scorer, data.X_test)
    uncertain = proba.max(axis=1) < classifier.uncertain_threshold
    f = scorer.figures
    out = {"accuracy": float(right.mean()), "accuracy_unknown_wrong": float((right & ~flags).mean()),
           "unknown_share": float(flags.mean()), "unknown_right": int((flags & right).sum()),
           "unknown_wrong": int((flags & ~right).sum()), "uncertain_share": float(uncertain.mean()),
           "uncertain_or_unknown_share": float((uncertain | flags).mean()),
           "not_music": int(not_music.sum()), "threshold": scorer.threshold, "fit_seconds": fit_seconds,
           "train_cv": {k: f[k] for k in ("mean_auroc", "mean_caught", "known_flagged", "known_not_music")}}
    print(f"\n== shipped: data/pretrained (10 genres) + the scorer fitted on the {len(data.y_train)} train clips "
          f"({fit_seconds:.2f} s, threshold {scorer.threshold:.3f}; its train-CV leave-one-genre-out: AUROC "
          f"{f['mean_auroc']:.3f}, caught {f['mean_caught']:.3f})")
    print(f"test ({len(data.y_test)} clips): accuracy {out['accuracy']:.3f}; counting unknown as wrong "
          f"{out['accuracy_unknown_wrong']:.3f}; unknown {out['unknown_share']:.3f} ({out['unknown_right']} of them "
          f"right, {out['unknown_wrong']} wrong); uncertain {out['uncertain_share']:.3f}; either "
          f"{out['uncertain_or_unknown_share']:.3f}; not music (the not-music test) {out['not_music']}")
    return out


def part_tradeoff(data: Data, args: argparse.Namespace) -> dict:
    """What the "confident <= 20 %" target would cost (the score alone, no network; seconds): for each left-out
    genre the module's scorer fitted on the other 9 genres' train clips reads the test clips, and the threshold is
    put, after the fact, where it catches 60 / 70 / 80 % of the left-out genre's test clips; printed: the share of
    known test clips it then flags. A threshold chosen on test for each genre: the best case, not a result."""
    catches = (0.6, 0.7, 0.8)
    flagged = {c: [] for c in catches}
    aurocs = []
    for g in range(len(data.genres)):
        train = data.y_train != g
        scorer = fnov.fit_scorer(data.X_train[train], data.y_train[train], data.columns)
        s = fnov.raw_scores(scorer, data.X_test)
        known, novel = s[data.y_test != g], s[data.y_test == g]
        aurocs.append(fnov.auroc(known, novel))
        for c in catches:
            flagged[c].append(float((known >= np.quantile(novel, 1.0 - c)).mean()))
    print(f"\n== tradeoff: the score alone, each genre left out of the train clips in turn (test AUROC "
          f"{np.mean(aurocs):.3f}); the threshold set on each left-out genre's test clips after the fact (best case)")
    print(f"{'left-out caught':<16}{'known flagged':>14}  per left-out genre: " + " ".join(g[:5] for g in data.genres))
    for c in catches:
        print(f"{c:<16.0%}{np.mean(flagged[c]):>14.1%}  " + " ".join(f"{f:5.0%}" for f in flagged[c]))
    return {"mean_auroc": float(np.mean(aurocs)), "known_flagged": {str(c): flagged[c] for c in catches}}


def refit_shipped(data: Data, model_dir: Path = audio.PRETRAINED_MODEL_DIR) -> dict:
    """Refit the novelty part of the shipped model folder as 02 fits it (functions_training.fit_model_novelty on
    the 443 train clips with their artists, seed 0), leaving the network's arrays byte for byte: weights.npz gets
    the new ``novelty_*`` arrays beside the old network arrays, model.json its "novelty" record, metrics.novelty
    (what 02 reports on the test clips) and the new weights_sha256. Written to temporary files first, then renamed."""
    import functions_training as training

    meta_path, weights_path = model_dir / "model.json", model_dir / "weights.npz"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with np.load(weights_path, allow_pickle=False) as stored:
        old = {name: stored[name] for name in stored.files}
    classifier = nn.load_classifier(model_dir)
    if list(classifier.feature_columns) != data.columns or list(classifier.genres) != data.genres:
        sys.exit(f"error: {model_dir} does not read {CANDIDATE.name}'s columns and genres")
    scorer, line = training.fit_model_novelty(data.X_train, data.y_train, data.groups, data.columns, seed=SEED)
    if scorer is None:
        sys.exit(f"error: {line}")
    arrays, record = fnov.to_arrays(scorer)
    network = {k: v for k, v in old.items() if not k.startswith(fnov.ARRAY_PREFIX)}
    new_arrays = {**network, **arrays}
    tmp_weights, tmp_meta = weights_path.with_suffix(".npz.tmp"), meta_path.with_suffix(".json.tmp")
    with open(tmp_weights, "wb") as fh:
        np.savez(fh, **new_arrays)
    with np.load(tmp_weights, allow_pickle=False) as check:  # the network's arrays as they were, byte for byte
        same = all(check[k].dtype == v.dtype and check[k].shape == v.shape and check[k].tobytes() == v.tobytes()
                   for k, v in network.items())
    if not same:
        tmp_weights.unlink()
        sys.exit("error: the network's arrays would change; nothing written")
    proba = classifier.predict_proba(data.X_test)
    meta["novelty"] = record
    meta.setdefault("metrics", {})["novelty"] = evaluation.novelty_figures(scorer, data.X_test, data.y_test, proba)
    meta["weights_sha256"] = audio.file_sha256(tmp_weights)
    tmp_meta.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_weights, weights_path)
    os.replace(tmp_meta, meta_path)
    nn.load_classifier(model_dir)  # loads, checksum and novelty record included
    print(f"\n== refit: {model_dir}: {line}; test {meta['metrics']['novelty']}; network arrays unchanged "
          f"({len(network)} arrays)")
    return {"line": line, "metrics_novelty": meta["metrics"]["novelty"], "threshold": scorer.threshold}


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="3 network members and a small nested grid")
    parser.add_argument("--members", type=int, help="network members (default 10, --quick 3)")
    parser.add_argument("--refit-shipped", action="store_true",
                        help="refit data/pretrained's novelty part as 02 fits it (network arrays unchanged), then stop")


def refit_first(data: Data, args: argparse.Namespace) -> bool:
    """With --refit-shipped: refit data/pretrained's novelty part, and the bench stops there."""
    if args.refit_shipped:
        refit_shipped(data)
    return args.refit_shipped


def main(argv: list[str] | None = None) -> int:
    parts = {"test": part_test, "shipped": part_shipped, "tradeoff": part_tradeoff}
    return nd.run_bench(__doc__, parts, "test,shipped", "bench_novelty", argv, options, refit_first)


if __name__ == "__main__":
    sys.exit(main())
