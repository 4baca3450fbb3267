"""Novelty scores read from the network, inside ``train`` only (issue 20): the shipped recipe
(musicnn185+reg-ens10) trained per left-out genre and fold, then top probability, entropy, energy, ensemble mutual
information, member disagreement, Mahalanobis distance on a hidden layer; and functions_novelty's score plus each
of them. The same leave-one-genre-out protocol as bench_novelty_cv.py --part cv (artist-grouped 5-fold inside the
train clips); the test clips are not read here. Trains networks: the slowest of the novelty benches.

    .venv/bin/python bench/bench_novelty_netcv.py [--quick] [--members M] [--json FILE]

--quick: 3 network members instead of 10 (the figures are then not the recipe's).

Measured (printed by bench/bench_novelty.py --part netcv at 8831f59, an earlier run with the same score, before
this part had a script of its own): top probability 0.704, entropy 0.700, energy 0.663, mutual information 0.738,
member disagreement 0.672, Mahalanobis on hidden layer 4 0.744 and on the penultimate layer 0.708; the chosen
score plus any of them at weight 0.25 or 0.5: 0.848-0.863 (alone 0.862): the network adds nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

import novelty_data as nd
import numpy as np
from novelty_data import BATCH, CANDIDATE, EPOCHS, GROUP_FOLDS, SEED, Data

import functions_calibration as calibration
import functions_candidates as candidates
import functions_evaluation as evaluation
import functions_novelty as fnov


def _hidden_and_logits(arrays_per_fold: dict, X: np.ndarray, members: int, fold: int) -> tuple[list, np.ndarray]:
    """Hidden layers [(M, N, units)] and logits (M, N, C) of fold ``fold``'s members on raw rows X."""
    from functions_nn import _ACTIVATIONS

    mean, variance, weights = arrays_per_fold["norm"][fold] + (arrays_per_fold["weights"],)
    h = np.repeat(((X - mean) / np.sqrt(variance))[None], members, axis=0)
    layers = []
    chosen = slice(fold * members, (fold + 1) * members)
    for kernel, bias, act in zip(weights.kernels, weights.biases, weights.activations, strict=True):
        h = h @ kernel[chosen].astype(np.float64) + bias[chosen, None, :].astype(np.float64)
        if act != "softmax":
            h = _ACTIVATIONS[act](h)
            layers.append(h)
    return layers, h


def _tied_mahalanobis(F: np.ndarray, y: np.ndarray, G: np.ndarray, shrinkage: float = 0.3) -> np.ndarray:
    """Min over classes of the squared Mahalanobis distance (tied, shrunk covariance) of rows G; fitted on F, y."""
    mu, sd = F.mean(axis=0), F.std(axis=0) + 1e-6
    A, B = (F - mu) / sd, (G - mu) / sd
    classes = np.unique(y)
    means = np.array([A[y == c].mean(axis=0) for c in classes])
    R = A - means[np.searchsorted(classes, y)]
    S = R.T @ R / len(R)
    S = (1 - shrinkage) * S + shrinkage * np.trace(S) / len(S) * np.eye(len(S))
    D = B[:, None, :] - means[None]
    return np.einsum("ncf,fg,ncg->nc", D, np.linalg.pinv(S), D).min(axis=1)


def part_netcv(data: Data, args: argparse.Namespace) -> dict:
    """Network-read scores by leave-one-genre-out with the artist-grouped folds inside train."""
    import functions_training as training

    members = args.members or (3 if args.quick else 10)

    training.configure_tf_threads(1)
    architecture, recipe = candidates.ARCHITECTURES[CANDIDATE.architecture], candidates.RECIPES[CANDIDATE.recipe]
    X, y = data.X_train, data.y_train
    masks = evaluation.group_cv_masks(y, data.groups, GROUP_FOLDS, SEED)
    default = fnov.NoveltySettings()
    names = ["top probability", "entropy", "energy", "mutual information", "member disagreement",
             "hidden layer 4 Mahalanobis", "penultimate layer Mahalanobis", "chosen score"]
    scores = {n: np.empty((len(data.genres), len(y))) for n in names}
    started = time.perf_counter()
    for g in range(len(data.genres)):
        keep = [c for c in range(len(data.genres)) if c != g]
        y9 = np.array([keep.index(c) if c != g else 0 for c in y])
        fit_masks = masks & (y != g)[None]
        X_folds = evaluation.standardise_per_fold(X, fit_masks)
        weights = training.train_members(np.repeat(X_folds, members, axis=0), y9,
                                         np.repeat(fit_masks, members, axis=0), architecture.hidden, len(keep),
                                         recipe, BATCH, [EPOCHS], seed=SEED)
        norm = [evaluation.standardisation(X[m]) for m in fit_masks]
        per_fold = {"norm": [(mean, np.where(var > 0, var, 1.0)) for mean, var in norm], "weights": weights}
        for k, train in enumerate(masks):
            held = ~train
            layers, logits = _hidden_and_logits(per_fold, X[held], members, k)
            fit_layers, _ = _hidden_and_logits(per_fold, X[fit_masks[k]], members, k)
            p = calibration.softmax(logits)
            mean_p = p.mean(axis=0)
            entropy = -(mean_p * np.log(np.maximum(mean_p, 1e-12))).sum(axis=1)
            member_entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=2).mean(axis=0)
            top = logits.max(axis=2, keepdims=True)
            energy = -(top[..., 0] + np.log(np.exp(logits - top).sum(axis=2))).mean(axis=0)
            scores["top probability"][g, held] = -mean_p.max(axis=1)
            scores["entropy"][g, held] = entropy
            scores["energy"][g, held] = energy
            scores["mutual information"][g, held] = entropy - member_entropy
            scores["member disagreement"][g, held] = 1 - (p.argmax(axis=2) == mean_p.argmax(axis=1)).mean(axis=0)
            y_fit = y[fit_masks[k]]
            for name, layer in (("hidden layer 4 Mahalanobis", 3), ("penultimate layer Mahalanobis", -1)):
                scores[name][g, held] = np.mean([_tied_mahalanobis(fit_layers[layer][m], y_fit, layers[layer][m])
                                                 for m in range(members)], axis=0)
            scorer = fnov.fit_scorer(X[fit_masks[k]], y_fit, data.columns, default)
            scores["chosen score"][g, held] = fnov.raw_scores(scorer, X[held])
        print(f"  left-out {data.genres[g]}: {time.perf_counter() - started:.0f} s", flush=True)

    def figures(values: np.ndarray) -> tuple[float, float, list[float]]:
        aucs, caught, known_all = [], [], []
        for g in range(len(data.genres)):
            known_all.append(values[g, y != g])
        threshold = np.quantile(np.concatenate(known_all), fnov.KEEP)
        for g in range(len(data.genres)):
            aucs.append(fnov.auroc(values[g, y != g], values[g, y == g]))
            caught.append(float((values[g, y == g] >= threshold).mean()))
        return float(np.mean(aucs)), float(np.mean(caught)), aucs

    def z(values: np.ndarray) -> np.ndarray:  # standardised per left-out genre by its known rows
        out = np.empty_like(values)
        for g in range(len(values)):
            known = values[g, y != g]
            out[g] = (values[g] - known.mean()) / known.std()
        return out

    rows = {}
    for name in names:
        rows[name] = figures(scores[name])
    for name in names[:-1]:
        for weight in (0.25, 0.5):
            rows[f"chosen + {weight:g} x {name}"] = figures(z(scores["chosen score"]) + weight * z(scores[name]))
    print(f"\n== netcv: network-read scores, leave-one-genre-out inside train ({members}-member ensembles, "
          f"{time.perf_counter() - started:.0f} s)")
    print(f"{'score':<52} {'AUROC':>6} {'caught@90':>9}  per left-out genre")
    for name, (auc, caught, aucs) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
        print(f"{name:<52} {auc:6.3f} {caught:9.3f}  " + " ".join(f"{a:5.2f}" for a in aucs))
    return {name: {"mean_auroc": a, "mean_caught": c, "per_genre_auroc": p} for name, (a, c, p) in rows.items()}

def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="3 network members instead of 10")
    parser.add_argument("--members", type=int, help="network members (default 10, --quick 3)")


def main(argv: list[str] | None = None) -> int:
    return nd.run_bench(__doc__, {"netcv": part_netcv}, "netcv", "bench_novelty_netcv", argv, options)


if __name__ == "__main__":
    sys.exit(main())
