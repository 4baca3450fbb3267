"""Calibrated confidence: how honest a model's top probability is (ECE, reliability bins), a temperature that
makes it honest, and the confidence below which an answer is reported as uncertain.

Every function takes member logits ``(M, N, C)`` (M ensemble members; M = 1 for a single network) or the
probabilities they give, so the same code serves one network and an ensemble. The calibrated probabilities of
an ensemble are the mean over its members of ``softmax(logits / T)`` (what ``functions_nn.Classifier`` and the
exported Keras model compute). NumPy only.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 10  # equal-width bins of the top probability
TEMPERATURE_RANGE = (0.05, 20.0)  # searched on a log scale
THRESHOLD_GRID = np.round(np.arange(0.0, 1.0001, 0.01), 2)  # candidate uncertain thresholds


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (numerically safe)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def calibrated_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N, C): the mean over members of softmax(logits / temperature); ``logits`` is (M, N, C) or (N, C)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 2:
        logits = logits[None]
    return softmax(logits / temperature).mean(axis=0)


def negative_log_likelihood(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean -log p(true genre)."""
    picked = np.asarray(proba)[np.arange(len(y)), np.asarray(y)]
    return float(-np.log(np.maximum(picked, 1e-12)).mean())


def confidence_bins(confidence: np.ndarray, n_bins: int = ECE_BINS) -> np.ndarray:
    """The equal-width bin (0 .. n_bins - 1) of each top probability; a confidence of 1.0 is in the last bin."""
    return np.minimum((np.asarray(confidence) * n_bins).astype(int), n_bins - 1)


def reliability_bins(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width bin of the top probability: its edges, clip count, mean confidence and accuracy."""
    proba, y = np.asarray(proba), np.asarray(y)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    index = confidence_bins(confidence, n_bins)
    bins = []
    for b in range(n_bins):
        rows = index == b
        count = int(rows.sum())
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "count": count,
                     "confidence": float(confidence[rows].mean()) if count else None,
                     "accuracy": float(correct[rows].mean()) if count else None})
    return bins


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE: the clip-weighted mean gap |accuracy - mean confidence| over equal-width bins of the top probability."""
    bins = reliability_bins(proba, y, n_bins)
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) / total)


def ece_if_calibrated(proba: np.ndarray, n_draws: int = 2000, seed: int = 0, n_bins: int = ECE_BINS) -> dict:
    """The ECE a perfectly calibrated model with these very probabilities would show on this many clips.

    ECE has a floor set by the number of clips: even when every top probability is exactly right, the accuracy
    of a bin of a few dozen clips wanders from its mean confidence. Here each draw gives every clip a genre
    drawn from its own probabilities (so the probabilities are, by construction, perfectly calibrated) and
    computes the ECE of ``proba`` against those genres. Returns the mean and 95th percentile over ``n_draws``
    (seeded, so deterministic): an observed ECE below the 95th percentile is indistinguishable from perfect
    calibration on this many clips.
    """
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)
    n = len(proba)
    rng = np.random.default_rng(seed)
    predicted = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    index = confidence_bins(confidence, n_bins)
    # a clip's drawn genre is its predicted one with probability = its top probability: only that matters here
    correct = rng.random((n_draws, n)) < proba[np.arange(n), predicted]
    gaps = np.zeros(n_draws)
    for b in range(n_bins):
        rows = index == b
        if rows.any():
            gaps += rows.sum() * np.abs(correct[:, rows].mean(axis=1) - confidence[rows].mean())
    eces = gaps / n
    return {"mean": float(eces.mean()), "p95": float(np.percentile(eces, 95)), "n_draws": n_draws, "n_clips": n}


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of ``calibrated_probabilities(logits, T)``.

    A grid of 241 values over TEMPERATURE_RANGE on a log scale, then a golden-section refinement around the
    best one (the likelihood is smooth in log T); deterministic, rounded to 4 decimals.
    """
    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])

    def loss(log_t: float) -> float:
        return negative_log_likelihood(calibrated_probabilities(logits, float(np.exp(log_t))), y)

    grid = np.linspace(low, high, 241)
    best = int(np.argmin([loss(t) for t in grid]))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(40):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if loss(c) <= loss(d):
            b = d
        else:
            a = c
    return round(float(np.exp((a + b) / 2.0)), 4)


def choose_uncertain_threshold(proba: np.ndarray, y: np.ndarray) -> float:
    """The top-probability threshold below which an answer is reported as uncertain.

    Rule: among THRESHOLD_GRID (0.00, 0.01, ..., 1.00), the one that maximises (right answers - wrong answers)
    over the clips at or above it: a wrong answer costs as much as a right one gains and "uncertain" counts
    zero, so an answer is withheld where it is more often wrong than right. Ties go to the lowest threshold.
    """
    proba, y = np.asarray(proba), np.asarray(y)
    confidence = proba.max(axis=1)
    score = np.where(proba.argmax(axis=1) == y, 1, -1)
    gains = [int(score[confidence >= t].sum()) for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.argmax(gains))])


def uncertain_figures(proba: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """What the uncertain rule does on labelled clips: share flagged, accuracy of the confident and the rest."""
    proba, y = np.asarray(proba), np.asarray(y)
    confident = proba.max(axis=1) >= threshold
    correct = proba.argmax(axis=1) == y

    def share(mask: np.ndarray) -> float | None:
        return float(correct[mask].mean()) if mask.any() else None

    return {"threshold": threshold, "uncertain_share": float((~confident).mean()),
            "n_uncertain": int((~confident).sum()), "confident_accuracy": share(confident),
            "uncertain_accuracy": share(~confident)}


def calibration_report(logits: np.ndarray, y: np.ndarray, temperature: float, threshold: float) -> dict:
    """Calibration figures of labelled clips: ECE and NLL before (T = 1) and after, and the uncertain rule's."""
    raw = calibrated_probabilities(logits, 1.0)
    calibrated = calibrated_probabilities(logits, temperature)
    return {"ece_uncalibrated": expected_calibration_error(raw, y), "ece": expected_calibration_error(calibrated, y),
            "nll_uncalibrated": negative_log_likelihood(raw, y), "nll": negative_log_likelihood(calibrated, y),
            "mean_confidence": float(calibrated.max(axis=1).mean()),
            **uncertain_figures(calibrated, y, threshold)}
