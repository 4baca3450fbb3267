"""Novelty: how unlike the genres it was trained on a song (or one 30-s window of it) is, so that the classifier
can answer "unknown" instead of naming one of its genres.

The score reads the model's own feature rows (the same columns, per song or per window) through two Gaussian
models of the training rows, each a Gaussian per genre with one shared (tied) covariance, shrunk towards a
multiple of the identity, on standardised columns:

- the **genre part** reads the columns named ``NoveltySettings.column_prefix`` (default: the 50 musicnn tag
  means, square-rooted): ``d_min``, the squared Mahalanobis distance to the nearest genre mean (far from every
  genre), and ``H``, the entropy of softmax(-d / (2 * temperature)) over the genres (between several genres:
  GTZAN's left-out genres land between the known ones more often than away from all of them);
- the **guard part** reads the classic columns (``guard_prefix``: MFCC, chroma, tempo, ...) for what is not music
  at all (sine tones, noise, speech: their tags can look like a genre's, their spectra cannot): its nearest-genre
  distance ``g_min`` counts only above its ``guard_quantile`` over the training rows;
- the **not-music test** (``not_music``: a flag per row, not a distance) reads how much the sound changes over the
  window: the frame-to-frame standard deviations of the MFCCs (``still_prefix``, default ``mfcc_std_``), as the mean
  over those columns of z(log value), standardised by the training rows. Steady sounds (noise of any colour and
  level, rain, fans, hum, room tone, tones, a held chord, speech drowned in noise) sit far below every music clip
  (GTZAN train clips: -2.1 at the lowest, white/pink/brown noise about -4.6, a sine -11); a row below the training
  rows' lowest value minus ``still_margin`` times their standard deviation is not music, whatever its tags and
  spectrum look like (a low-cut brown noise's tags look like a quiet classical clip's). One-sided and beyond the
  training range, so it flags no training row and (bench_novelty_cv.py) no held-out one in the artist-grouped folds.

Raw score = z(d_min) + entropy_weight * z(H) + guard_weight * max(0, z(g_min) - margin), each component
standardised by its mean and std over the training rows (so that scorers fitted on different rows give comparable
scores), ``margin`` the ``guard_quantile`` of z(g_min) over them. Higher = more novel. A row the not-music test
flags scores +inf (unknown, novelty 1), as a row with a missing value does.

The threshold at or above which a row is unknown comes from ``choose_threshold``: leave-one-genre-out inside the
training rows with artist-grouped folds (each genre in turn plays the unknown one; scorers fitted on the other
folds' rows of the other genres score the held-out fold), the ``keep`` quantile of the held-out known rows'
scores, each artist (group) weighing the same within each left-out genre's rows (``WEIGHTING``; every row the same
before: on held-out artists that threshold flagged 6.8 % of known clips inside train and 3 % on test, for 10 %
asked; weighted, 9.3 % inside train, bench_novelty_cv.py --part threshold). The same weighted held-out scores
give the 0..1 novelty value (``novelty_values``: the share of them below a score) and the figures (AUROC, share of
the left-out genre caught). ``fit_novelty`` does both: the scorer a model ships.

A song cut into windows is unknown when more than half of its windows are (``song_score``), and not music when
more than half of them are (``song_not_music``). ``to_arrays`` / ``from_arrays`` store a scorer as plain arrays
(``novelty_*``, for weights.npz) and a JSON-able record (for model.json); a record written before the not-music test
(no ``not_music`` entry) loads as a scorer without it. NumPy and the standard library at module level;
``held_out_scores`` imports functions_folds (scikit-learn) for its folds. Scoring a song's rows takes well
under a millisecond (bench_nonmusic.py: 0.05-0.09 ms against 0.4-1.4 s for the analysis that makes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

FORMAT_VERSION = 1
ARRAY_PREFIX = "novelty_"
REFERENCE_POINTS = 201  # quantiles of the held-out known scores kept for novelty_values (every 0.5 %)
KEEP = 0.90  # share of known-genre rows the threshold keeps (on held-out rows of the leave-one-genre-out folds)
# How the held-out known rows count in the threshold's quantile: "group" (each group, i.e. artist, weighs the same
# within each left-out genre's rows, its rows sharing its weight) or "row" (every row the same; the rule before).
# Chosen by a nested protocol inside the training clips (bench/bench_novelty_cv.py --part threshold): the rule whose
# threshold flags the share closest to 1 - KEEP of known clips of artists held out of the whole choice.
WEIGHTING = "group"
WEIGHTINGS = ("group", "row")
FOLDS = 5  # artist-grouped folds of held_out_scores
CLASSIC_PREFIXES = ("mfcc_", "chroma_", "tempo", "zcr_", "rolloff_", "centroid_")  # functions_audio's classic columns


@dataclass(frozen=True)
class NoveltySettings:
    """What the score reads and how. The genre part's defaults were chosen by leave-one-genre-out inside the
    training clips (bench/bench_novelty_cv.py --part cv); the guard's to turn non-music away at a small cost there."""

    column_prefix: str | tuple[str, ...] = "musicnn_mean_"  # genre part: the columns whose names start with it
    transform: str = "sqrt"  # of the genre part's columns: "sqrt" (of values >= 0, e.g. probabilities) or "none"
    shrinkage: float = 0.6  # covariance -> (1 - s) * covariance + s * mean variance * identity
    temperature: float = 16.0  # of the genre softmax whose entropy is the second component
    entropy_weight: float = 2.0  # 0: the distance alone
    guard_prefix: str | tuple[str, ...] = CLASSIC_PREFIXES  # guard part's columns; () for no guard
    guard_shrinkage: float = 0.6
    guard_quantile: float = 0.99  # the guard counts above this quantile of its training-row values
    guard_weight: float = 1.0
    still_prefix: str | tuple[str, ...] = "mfcc_std_"  # the not-music test's columns; () for none
    still_margin: float = 0.5  # not music below the training rows' lowest value - still_margin * their std

    def __post_init__(self) -> None:
        for name in ("column_prefix", "guard_prefix", "still_prefix"):  # JSON gives lists back
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if self.transform not in ("sqrt", "none"):
            raise ValueError(f"transform must be 'sqrt' or 'none', not {self.transform!r}")
        if not (0.0 <= self.shrinkage <= 1.0 and 0.0 <= self.guard_shrinkage <= 1.0
                and 0.0 < self.guard_quantile <= 1.0):
            raise ValueError("shrinkages must be in [0, 1] and guard_quantile in (0, 1]")
        if self.temperature <= 0 or self.entropy_weight < 0 or self.guard_weight < 0:
            raise ValueError("temperature must be > 0, the weights >= 0")
        if not (self.still_margin >= 0 and np.isfinite(self.still_margin)):
            raise ValueError("still_margin must be a finite number >= 0")


# the distance to the nearest genre mean of the standardised tag means, nothing else: the baseline
NEAREST_MEAN = NoveltySettings(transform="none", shrinkage=1.0, entropy_weight=0.0, guard_prefix=(),
                               still_prefix=())
# for a model without musicnn columns (the classic 85col model): the same score on the classic columns, no guard;
# not chosen by any benchmark (its leave-one-genre-out AUROC inside train is far lower: bench_novelty_cv.py)
CLASSIC_ONLY = NoveltySettings(column_prefix=CLASSIC_PREFIXES, transform="none", guard_prefix=())


def settings_for_columns(columns: Sequence[str]) -> NoveltySettings:
    """The settings for a model reading ``columns``: the defaults where the musicnn tag means are among them,
    else CLASSIC_ONLY."""
    prefix = NoveltySettings().column_prefix
    return NoveltySettings() if any(c.startswith(prefix) for c in columns) else CLASSIC_ONLY


@dataclass(frozen=True)
class GenreGaussians:
    """One Gaussian per genre with a shared covariance over some columns of the rows."""

    used: np.ndarray  # (F,) indices of the columns read
    transform: str
    centre: np.ndarray  # (F,) standardisation of the transformed columns
    scale: np.ndarray  # (F,)
    whitener: np.ndarray  # (F, F): squared Mahalanobis distance = || (z - mean) @ whitener ||^2
    class_means: np.ndarray  # (C, F) genre means, already multiplied by the whitener

    def distances(self, X: np.ndarray) -> np.ndarray:
        """(n, C) squared Mahalanobis distances of raw rows X to each genre."""
        w = (_transformed(X, self.used, self.transform) - self.centre) / self.scale @ self.whitener
        return ((w[:, None, :] - self.class_means[None]) ** 2).sum(axis=2)


@dataclass(frozen=True)
class StillnessTest:
    """The not-music test: a row whose sound hardly changes over its window, judged against the training rows."""

    used: np.ndarray  # (F,) indices of the columns read (frame-to-frame standard deviations, > 0)
    centre: np.ndarray  # (F,) mean of log(value) over the training rows
    scale: np.ndarray  # (F,) its std
    floor: float  # a row whose variation is below it is not music
    train_min: float  # the lowest variation of the training rows
    train_std: float  # the std of their variations

    def variation(self, X: np.ndarray) -> np.ndarray:
        """(n,) how much each row's sound changes: the mean over the columns of z(log value); training rows average
        0 (GTZAN train clips: -2.1 to 4), steady noise about -4.6, a pure tone below -10."""
        rows = np.atleast_2d(np.asarray(X, dtype=np.float64))[:, self.used]
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((np.log(np.maximum(rows, 1e-12)) - self.centre) / self.scale).mean(axis=1)


@dataclass(frozen=True)
class NoveltyScorer:
    """A fitted score (``fit_scorer``), with its threshold and reference scores once chosen (``fit_novelty``)."""

    settings: NoveltySettings
    columns: tuple[str, ...]  # the columns of the rows it scores (e.g. the model's feature columns), in order
    genre: GenreGaussians
    guard: GenreGaussians | None
    component_centre: np.ndarray  # (3,) mean of d_min, H and g_min over the training rows
    component_scale: np.ndarray  # (3,) their std
    guard_margin: float  # the guard_quantile of z(g_min) over the training rows
    threshold: float = float("nan")  # raw score at or above which a row is unknown (nan: not chosen)
    reference: np.ndarray = field(default_factory=lambda: np.empty(0))  # sorted quantiles of held-out known scores
    figures: dict = field(default_factory=dict)  # how the threshold was chosen and what it did (JSON-able)
    still: StillnessTest | None = None  # the not-music test (None: none, e.g. a scorer stored before it existed)


def _transformed(X: np.ndarray, used: np.ndarray, transform: str) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(X, dtype=np.float64))[:, used]
    return np.sqrt(np.maximum(rows, 0.0)) if transform == "sqrt" else rows


def _columns_with(columns: tuple[str, ...], prefix: str | tuple[str, ...]) -> np.ndarray:
    prefix = (prefix,) if isinstance(prefix, str) else tuple(prefix)
    return np.array([i for i, c in enumerate(columns) if prefix and c.startswith(prefix)], dtype=np.intp)


def _fit_gaussians(X: np.ndarray, codes: np.ndarray, used: np.ndarray, transform: str,
                   shrinkage: float) -> GenreGaussians:
    T = _transformed(X, used, transform)
    if not np.isfinite(T).all():
        raise ValueError("the training rows have non-finite values in the columns read")
    centre, scale = T.mean(axis=0), T.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    Z = (T - centre) / scale
    means = np.array([Z[codes == c].mean(axis=0) for c in range(int(codes.max()) + 1)])
    R = Z - means[codes]
    n_features = Z.shape[1]
    cov = R.T @ R / len(R)
    cov = (1.0 - shrinkage) * cov + (shrinkage * np.trace(cov) / n_features + 1e-9) * np.eye(n_features)
    whitener = np.linalg.cholesky(np.linalg.inv(cov))  # inv(cov) = W W^T: (z - m) W has unit covariance
    return GenreGaussians(used, transform, centre, scale, whitener, means @ whitener)


def _fit_stillness(X: np.ndarray, used: np.ndarray, margin: float) -> StillnessTest:
    rows = X[:, used]
    if not np.isfinite(rows).all():
        raise ValueError("the training rows have non-finite values in the not-music test's columns")
    logs = np.log(np.maximum(rows, 1e-12))  # a value <= 0 (no such clip in GTZAN) only lowers the floor
    centre, scale = logs.mean(axis=0), logs.std(axis=0)
    test = StillnessTest(used, centre, np.where(scale > 1e-12, scale, 1.0), 0.0, 0.0, 0.0)
    variation = test.variation(X)
    low, spread = float(variation.min()), float(variation.std())
    return replace(test, floor=low - margin * spread, train_min=low, train_std=spread)


def _components(scorer: NoveltyScorer, X: np.ndarray) -> np.ndarray:
    """(n, 3): d_min, H and g_min (0 without a guard) of raw rows X."""
    d = scorer.genre.distances(X)
    logits = -(d - d.min(axis=1, keepdims=True)) / (2.0 * scorer.settings.temperature)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    entropy = -(p * np.log(np.maximum(p, 1e-300))).sum(axis=1)
    guard = scorer.guard.distances(X).min(axis=1) if scorer.guard is not None else np.zeros(len(d))
    return np.column_stack([d.min(axis=1), entropy, guard])


def _combine(scorer: NoveltyScorer, parts: np.ndarray) -> np.ndarray:
    z = (parts - scorer.component_centre) / scorer.component_scale
    s = scorer.settings
    return z[:, 0] + s.entropy_weight * z[:, 1] + s.guard_weight * np.maximum(z[:, 2] - scorer.guard_margin, 0.0)


def fit_scorer(X: np.ndarray, y: Sequence, columns: Sequence[str],
               settings: NoveltySettings = NoveltySettings()) -> NoveltyScorer:
    """Fit the score on training rows ``X`` (n, len(columns)) with genre labels ``y`` (any hashable labels; at least
    two genres with two rows each). No threshold yet (``fit_novelty`` adds it)."""
    columns = tuple(columns)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    y = np.asarray(y)
    if X.shape != (len(y), len(columns)):
        raise ValueError(f"expected rows of {len(columns)} columns and {len(y)} labels, got {X.shape}")
    genres, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(genres) < 2 or counts.min() < 2:
        raise ValueError("need at least two genres with two rows each")
    used, guard_used = _columns_with(columns, settings.column_prefix), _columns_with(columns, settings.guard_prefix)
    if used.size == 0:
        raise ValueError(f"no column starts with {settings.column_prefix!r}")
    genre = _fit_gaussians(X, codes, used, settings.transform, settings.shrinkage)
    guard = _fit_gaussians(X, codes, guard_used, "none", settings.guard_shrinkage) if guard_used.size else None
    still_used = _columns_with(columns, settings.still_prefix)
    still = _fit_stillness(X, still_used, settings.still_margin) if still_used.size else None
    scorer = NoveltyScorer(settings, columns, genre, guard, np.zeros(3), np.ones(3), 0.0, still=still)
    parts = _components(scorer, X)
    centre, spread = parts.mean(axis=0), parts.std(axis=0)
    spread = np.where(spread > 1e-12, spread, 1.0)
    margin = float(np.quantile((parts[:, 2] - centre[2]) / spread[2], settings.guard_quantile))
    return replace(scorer, component_centre=centre, component_scale=spread, guard_margin=margin)


def raw_scores(scorer: NoveltyScorer, X: np.ndarray) -> np.ndarray:
    """(n,) novelty scores of raw rows X (n, len(scorer.columns)), e.g. one per window; higher = more novel. A row
    with a missing (non-finite) value in a column read, or that the not-music test flags, scores +inf."""
    X = _checked_rows(scorer, X)
    scores = _combine(scorer, _components(scorer, X))
    return np.where(np.isfinite(scores) & ~not_music(scorer, X), scores, np.inf)


def _checked_rows(scorer: NoveltyScorer, X: np.ndarray) -> np.ndarray:
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.shape[1] != len(scorer.columns):
        raise ValueError(f"expected rows of {len(scorer.columns)} columns, got shape {X.shape}")
    return X


def not_music(scorer: NoveltyScorer, X: np.ndarray) -> np.ndarray:
    """(n,) True where a raw row (a song's or a window's) is not music: its sound changes less over the window than
    any training row's, by a margin (``NoveltySettings.still_margin``). All False when the scorer has no such test
    (a scorer stored before it, or settings with ``still_prefix=()``). Such rows score +inf in ``raw_scores``, so
    they are unknown too; this says why (the answer may say "not music" rather than "none of these genres")."""
    X = _checked_rows(scorer, X)
    if scorer.still is None:
        return np.zeros(len(X), dtype=bool)
    return scorer.still.variation(X) < scorer.still.floor


def song_not_music(window_flags: Sequence[bool] | np.ndarray) -> bool:
    """A song is not music when more than half of its windows are (``not_music`` of its window rows), the rule of
    ``song_score``."""
    flags = np.asarray(window_flags, dtype=bool).ravel()
    if flags.size == 0:
        raise ValueError("no window flags")
    return bool(flags.sum() * 2 > flags.size)


def novelty_values(scorer: NoveltyScorer, scores: np.ndarray | float) -> np.ndarray:
    """Raw scores as 0..1 novelty values: the share of the held-out known-genre rows of ``choose_threshold``
    scoring lower (interpolated; 1 above them all). The threshold sits at ``figures["keep"]`` (0.9 by default)."""
    if scorer.reference.size < 2:
        raise ValueError("the scorer has no reference scores: fit it with fit_novelty")
    levels = np.linspace(0.0, 1.0, scorer.reference.size)
    return np.interp(np.asarray(scores, dtype=np.float64), scorer.reference, levels, left=0.0, right=1.0)


def is_unknown(scorer: NoveltyScorer, scores: np.ndarray | float) -> np.ndarray:
    """True where a raw score (a row's, a window's or ``song_score``'s) is at or above the threshold."""
    if not np.isfinite(scorer.threshold):
        raise ValueError("the scorer has no threshold: fit it with fit_novelty")
    return np.asarray(scores, dtype=np.float64) >= scorer.threshold


def song_score(window_scores: Sequence[float] | np.ndarray) -> float:
    """A song's raw score from its windows' raw scores: the highest value that more than half of the windows
    reach, so the song is unknown (``is_unknown``) exactly when more than half of its windows are (one window: its
    own score; two: the lower one)."""
    scores = np.sort(np.asarray(window_scores, dtype=np.float64).ravel())[::-1]
    if scores.size == 0:
        raise ValueError("no window scores")
    return float(scores[scores.size // 2])


def auroc(known: np.ndarray, novel: np.ndarray) -> float:
    """Area under the ROC curve of a score separating ``novel`` (positives) from ``known`` rows (ties count
    half): the chance that a random novel row scores above a random known one."""
    known, novel = np.asarray(known, dtype=np.float64).ravel(), np.asarray(novel, dtype=np.float64).ravel()
    if known.size == 0 or novel.size == 0:
        return float("nan")
    ordered = np.sort(known)
    below = np.searchsorted(ordered, novel, side="left")
    not_above = np.searchsorted(ordered, novel, side="right")
    return float((below + not_above).sum() / (2.0 * known.size * novel.size))


# --------------------------------------------------------------------------------------------------------
# The threshold: leave-one-genre-out inside the training rows, artist-grouped folds
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdChoice:
    """What ``choose_threshold`` found: the threshold, the reference quantiles and the figures (JSON-able)."""

    threshold: float
    reference: np.ndarray
    figures: dict


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float | np.ndarray) -> np.ndarray | float:
    """The ``q`` quantile(s) of ``values`` where each counts ``weights`` (> 0): a value counts as weight / (the
    smallest weight) rows, and np.quantile's linear rule is applied to those rows (equal weights: np.quantile's
    figures; weight 3 where the others are 1: that value three times)."""
    values, weights = np.asarray(values, dtype=np.float64).ravel(), np.asarray(weights, dtype=np.float64).ravel()
    if values.size == 0 or values.shape != weights.shape or not (weights > 0).all():
        raise ValueError("weighted_quantile needs values and as many positive weights")
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order] / weights.min()
    if v.size == 1:
        return v[0] + 0.0 * np.asarray(q, dtype=np.float64)
    last = np.cumsum(w) - 1.0  # each value spans the positions of its rows, first (last - w + 1) to last
    positions = np.column_stack([last - w + 1.0, last]).ravel() / last[-1]
    return np.interp(q, positions, np.repeat(v, 2))


def group_weights(groups: np.ndarray) -> np.ndarray:
    """1 / (rows of the row's group) for each row: every group weighs 1 in all."""
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse.ravel()]


def held_out_scores(X: np.ndarray, y: Sequence, groups: Sequence, columns: Sequence[str],
                    settings: NoveltySettings = NoveltySettings(), folds: int = FOLDS,
                    seed: int = 0) -> dict[object, tuple[np.ndarray, np.ndarray]]:
    """Leave-one-genre-out with artist-grouped folds inside the training rows: for each genre g, every row is
    scored by the scorer fitted on the other folds' rows of the genres other than g (none of the row's group, e.g.
    its artist, among them). Returns {g: (scores of the rows of the other genres, scores of the rows of g)}."""
    from functions_folds import group_cv_masks

    y = np.asarray(y)
    X = np.asarray(X, dtype=np.float64)
    masks = group_cv_masks(y, np.asarray(groups), folds, seed, source="novelty threshold")
    held = {}
    for g in np.unique(y):
        out = np.empty(len(y))
        for train in masks:
            fit = train & (y != g)
            out[~train] = raw_scores(fit_scorer(X[fit], y[fit], columns, settings), X[~train])
        held[g] = (out[y != g], out[y == g])
    return held


def choose_threshold(X: np.ndarray, y: Sequence, groups: Sequence, columns: Sequence[str],
                     settings: NoveltySettings = NoveltySettings(), keep: float = KEEP, folds: int = FOLDS,
                     seed: int = 0, weighting: str = WEIGHTING) -> ThresholdChoice:
    """The threshold that keeps ``keep`` of the known-genre rows of ``held_out_scores`` (leave-one-genre-out,
    artist-grouped folds; ``groups``: one value per row, e.g. its artist), the reference quantiles of those rows'
    scores, and the figures per left-out genre (AUROC, share of its rows caught) with their means. ``weighting``
    "group": within each left-out genre's known rows every group (artist) weighs the same, so that an artist of
    many clips does not set the threshold alone (the held-out share of an artist's clips flagged varies by
    artist far more than by clip); "row": every row the same."""
    if not 0.0 < keep < 1.0:
        raise ValueError("keep must be between 0 and 1")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, not {weighting!r}")
    y, groups = np.asarray(y), np.asarray(groups)
    held = held_out_scores(X, y, groups, columns, settings, folds, seed)
    known = np.concatenate([k for k, _ in held.values()])
    weights = np.concatenate([group_weights(groups[y != g]) if weighting == "group" else np.ones((y != g).sum())
                              for g in held])
    finite = np.isfinite(known)  # +inf: rows the not-music test flagged (training rows have no missing value)
    if finite.sum() < 2:
        raise ValueError("the not-music test flagged almost every held-out known row")
    capped = np.minimum(known, known[finite].max() + 1.0)  # as with +inf, without inf - inf
    threshold = float(weighted_quantile(capped, weights, keep))
    reference = np.asarray(weighted_quantile(known[finite], weights[finite], np.linspace(0.0, 1.0, REFERENCE_POINTS)))
    per_genre = {str(g): {"auroc": auroc(k, n), "caught": float((n >= threshold).mean()),
                          "known_flagged": float((k >= threshold).mean()), "n_rows": int(n.size),
                          "not_music": float(np.isinf(n).mean())}
                 for g, (k, n) in held.items()}
    figures = {
        "method": "leave-one-genre-out inside the training rows with artist-grouped folds: each row scored by "
                  "scorers fitted on the other folds' rows of the other genres; threshold = the keep quantile of "
                  "the known rows' scores" + (", each artist weighing the same within each left-out genre's rows"
                                              if weighting == "group" else ""),
        "keep": keep, "weighting": weighting, "folds": folds, "seed": seed, "n_rows": int(len(y)),
        "n_groups": len(set(groups.tolist())),
        "mean_auroc": float(np.mean([f["auroc"] for f in per_genre.values()])),
        "mean_caught": float(np.mean([f["caught"] for f in per_genre.values()])),
        "known_flagged": float((known >= threshold).mean()),  # share of held-out known rows (each row the same)
        "known_flagged_weighted": float(weights[known >= threshold].sum() / weights.sum()),
        "known_not_music": float(np.isinf(known).mean()),  # held-out known rows the not-music test flagged
        "per_genre": per_genre,
    }
    return ThresholdChoice(threshold, reference, figures)


def fit_novelty(X: np.ndarray, y: Sequence, groups: Sequence, columns: Sequence[str],
                settings: NoveltySettings = NoveltySettings(), keep: float = KEEP, folds: int = FOLDS,
                seed: int = 0, weighting: str = WEIGHTING) -> NoveltyScorer:
    """The scorer a model ships: fitted on all the training rows, with the threshold, reference scores and
    figures of ``choose_threshold`` on the same rows."""
    choice = choose_threshold(X, y, groups, columns, settings, keep, folds, seed, weighting)
    return replace(fit_scorer(X, y, columns, settings), threshold=choice.threshold, reference=choice.reference,
                   figures=choice.figures)


# --------------------------------------------------------------------------------------------------------
# Storage: arrays for weights.npz, a record for model.json
# --------------------------------------------------------------------------------------------------------
_GAUSSIAN_ARRAYS = ("centre", "scale", "whitener", "class_means")


def to_arrays(scorer: NoveltyScorer) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays named ``novelty_*``, float64, for weights.npz; a JSON-able record for model.json)."""
    arrays = {f"{ARRAY_PREFIX}{name}": np.asarray(getattr(scorer, name), dtype=np.float64)
              for name in ("component_centre", "component_scale", "reference")}
    record = {"format_version": FORMAT_VERSION, "settings": asdict(scorer.settings),
              "threshold": float(scorer.threshold) if np.isfinite(scorer.threshold) else None,
              "guard_margin": scorer.guard_margin, "figures": scorer.figures}
    for part in ("genre", "guard"):
        gaussians = getattr(scorer, part)
        record[f"{part}_columns"] = [scorer.columns[i] for i in gaussians.used] if gaussians is not None else []
        if gaussians is not None:
            arrays.update({f"{ARRAY_PREFIX}{part}_{name}": np.asarray(getattr(gaussians, name), dtype=np.float64)
                           for name in _GAUSSIAN_ARRAYS})
    if scorer.still is not None:
        still = scorer.still
        record["not_music"] = {"columns": [scorer.columns[i] for i in still.used], "floor": still.floor,
                               "train_min": still.train_min, "train_std": still.train_std}
        arrays.update({f"{ARRAY_PREFIX}still_{name}": np.asarray(getattr(still, name), dtype=np.float64)
                       for name in ("centre", "scale")})
    return arrays, record


def _stored_stillness(arrays: dict, entry: dict, columns: tuple[str, ...]) -> StillnessTest:
    names = list(entry["columns"])
    missing = [c for c in names if c not in columns]
    if missing:
        raise ValueError(f"novelty not-music test reads {len(missing)} column(s) the rows lack, e.g. {missing[0]}")
    centre, scale = (np.asarray(arrays[f"{ARRAY_PREFIX}still_{name}"], dtype=np.float64)
                     for name in ("centre", "scale"))
    if not names or centre.shape != (len(names),) or scale.shape != (len(names),):
        raise ValueError(f"novelty not-music arrays do not match its {len(names)} columns")
    values = [float(entry[k]) for k in ("floor", "train_min", "train_std")]
    if not (np.isfinite(centre).all() and np.isfinite(scale).all() and (scale > 0).all() and np.isfinite(values).all()):
        raise ValueError("novelty not-music test has non-finite values")
    used = np.array([columns.index(c) for c in names], dtype=np.intp)
    return StillnessTest(used, centre, scale, *values)


def _stored_gaussians(arrays: dict, part: str, names: list[str], columns: tuple[str, ...],
                      transform: str) -> GenreGaussians:
    values = {name: np.asarray(arrays[f"{ARRAY_PREFIX}{part}_{name}"], dtype=np.float64) for name in _GAUSSIAN_ARRAYS}
    missing = [c for c in names if c not in columns]
    if missing:
        raise ValueError(f"novelty {part} part reads {len(missing)} column(s) the rows lack, e.g. {missing[0]}")
    n, means = len(names), values["class_means"]
    if not (values["centre"].shape == values["scale"].shape == (n,) and values["whitener"].shape == (n, n)
            and means.ndim == 2 and means.shape[1] == n and means.shape[0] >= 2):
        raise ValueError(f"novelty {part} arrays do not match its {n} columns")
    used = np.array([columns.index(c) for c in names], dtype=np.intp)
    return GenreGaussians(used, transform, values["centre"], values["scale"], values["whitener"], means)


def from_arrays(arrays: dict[str, np.ndarray], record: dict, columns: Sequence[str]) -> NoveltyScorer:
    """The scorer ``to_arrays`` stored, reading rows of ``columns`` (e.g. the model's feature columns, which must
    hold every column it reads); ValueError (one line) if the record and the arrays do not make one."""
    version = record.get("format_version") if isinstance(record, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"novelty record: unsupported format_version {version!r}")
    columns = tuple(columns)
    try:
        settings = NoveltySettings(**record["settings"])
        genre = _stored_gaussians(arrays, "genre", list(record["genre_columns"]), columns, settings.transform)
        guard_names = list(record["guard_columns"])
        guard = _stored_gaussians(arrays, "guard", guard_names, columns, "none") if guard_names else None
        centre, scale, reference = (np.asarray(arrays[f"{ARRAY_PREFIX}{name}"], dtype=np.float64)
                                    for name in ("component_centre", "component_scale", "reference"))
        threshold = float("nan") if record.get("threshold") is None else float(record["threshold"])
        margin = float(record["guard_margin"])
        entry = record.get("not_music")  # absent in records written before the not-music test: none
        still = _stored_stillness(arrays, entry, columns) if entry is not None else None
        if still is None:
            settings = replace(settings, still_prefix=())
    except (KeyError, TypeError) as exc:
        raise ValueError(f"novelty record or arrays incomplete (missing {exc})") from None
    if centre.shape != (3,) or scale.shape != (3,) or reference.ndim != 1:
        raise ValueError("novelty component arrays have the wrong shapes")
    parts = [centre, scale, reference, *(getattr(g, n) for g in (genre, guard) if g for n in _GAUSSIAN_ARRAYS)]
    if not all(np.isfinite(a).all() for a in parts) or not np.isfinite(margin):
        raise ValueError("novelty arrays contain non-finite values")
    return NoveltyScorer(settings, columns, genre, guard, centre, scale, margin, threshold, reference,
                         dict(record.get("figures") or {}), still)
