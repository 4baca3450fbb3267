"""Data, splits and metrics: reading a features CSV, standardisation, held-out and cross-validation splits, and
the figures a trained model is judged by (used by 01, 02 and the training engine).

Only NumPy and the standard library at module level; pandas and scikit-learn are imported where needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from functions_audio import FEATURE_COLUMNS, GENRES, file_sha256  # noqa: F401 - evaluation.file_sha256 for 01/02
from functions_folds import DataError, cv_train_masks, group_cv_masks  # noqa: F401 - evaluation.X for 01/02
from functions_nn import NORMALIZATION_EPSILON

if TYPE_CHECKING:
    import pandas as pd

# --------------------------------------------------------------------------------------------------------
# Reading a features CSV
# --------------------------------------------------------------------------------------------------------


def genres_in_order(labels: Sequence[str]) -> list[str]:
    """Genres present in ``labels``: the known GENRES in their order, then any others alphabetically."""
    present = set(labels)
    return [g for g in GENRES if g in present] + sorted(present - set(GENRES))


def read_csv_with_columns(path: Path, required: Sequence[str], what: str,
                          text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A CSV that exists, parses, has the ``required`` columns and at least one row; DataError (one line) if not.
    The ``text_columns`` it has are read as written ("" for an empty cell: an artist called "None" stays one)."""
    import pandas as pd
    from pandas._libs.parsers import STR_NA_VALUES

    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        header = pd.read_csv(path, nrows=0).columns if text_columns else []
        as_text = [c for c in text_columns if c in header]
        df = pd.read_csv(path, keep_default_na=False, dtype={c: str for c in as_text},
                         na_values={c: sorted(STR_NA_VALUES) for c in header if c not in as_text}) \
            if as_text else pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
        raise DataError(f"{path}: missing column(s) {shown}")
    if df.empty:
        raise DataError(f"{path}: no rows")
    return df


def load_features_csv(path: str | os.PathLike, columns: Sequence[str] = FEATURE_COLUMNS) -> pd.DataFrame:
    """Read a features CSV (file, genre, features) as a DataFrame; DataError (one line) if unusable."""
    import pandas as pd

    path = Path(path)
    df = read_csv_with_columns(path, ("file", "genre", *columns), "features CSV", text_columns=(ARTIST_COLUMN,))
    values = df[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad_rows = ~np.isfinite(values).all(axis=1)
    if bad_rows.any():
        first = df["file"].iloc[int(np.flatnonzero(bad_rows)[0])]
        raise DataError(f"{path}: {int(bad_rows.sum())} row(s) with missing/non-numeric features, e.g. {first}")
    if df["genre"].isna().any():
        raise DataError(f"{path}: {int(df['genre'].isna().sum())} row(s) without a genre")
    repeated = df["file"].astype(str).duplicated()
    if repeated.any():  # a clip twice can sit on both sides of a split: a held-out figure of clips trained on
        raise DataError(f"{path}: {int(repeated.sum())} row(s) repeat the file of an earlier row, e.g. "
                        f"{df['file'].astype(str)[repeated].iloc[0]}: keep one row per clip (00 writes each once)")
    df["genre"] = df["genre"].astype(str)
    return df


# --------------------------------------------------------------------------------------------------------
# Standardisation (as Keras's Normalization layer)
# --------------------------------------------------------------------------------------------------------


def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (ddof 0) per column, as Keras's Normalization.adapt computes them."""
    X = np.asarray(X, dtype=np.float64)
    return X.mean(axis=0), X.var(axis=0)


def standardise(X: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """(X - mean) / max(sqrt(variance), eps), exactly Keras's Normalization."""
    return (np.asarray(X, dtype=np.float64) - mean) / np.maximum(np.sqrt(variance), NORMALIZATION_EPSILON)


def standardise_per_fold(X: np.ndarray, train_masks: np.ndarray) -> np.ndarray:
    """(K, N, F): X standardised with each fold's own training-row mean/variance (no test row leaks)."""
    out = np.empty((len(train_masks), *X.shape), dtype=np.float32)
    for k, mask in enumerate(train_masks):
        mean, variance = standardisation(X[mask])
        out[k] = standardise(X, mean, np.where(variance > 0, variance, 1.0))
    return out


# --------------------------------------------------------------------------------------------------------
# Held-out split and metrics (used by 02_train_model.py)
# --------------------------------------------------------------------------------------------------------


def match_test_files(files: Sequence[str], names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Rows whose ``file`` equals a listed name, whose file name (last path part) equals it, or whose ``file``
    ends the listed path (``/data/gtzan/blues/blues.00012.wav`` names ``blues/blues.00012.wav``).

    Returns (boolean mask over ``files``, listed names that matched no row).
    """
    files = [str(f).replace("\\", "/") for f in files]
    base = [f.rsplit("/", 1)[-1] for f in files]
    mask = np.zeros(len(files), dtype=bool)
    unknown = []
    for raw in names:
        name = raw.strip().replace("\\", "/")
        if not name:
            continue
        hits = [i for i, (f, b) in enumerate(zip(files, base, strict=True))
                if f == name or b == name or name.endswith("/" + f)]
        if not hits:
            unknown.append(name)
        mask[hits] = True
    return mask, unknown


def read_clip_list(path: str | os.PathLike) -> list[str]:
    """The non-empty lines of a clip list (one ``file`` value, file name or path a line); DataError if unreadable."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataError(f"{path}: cannot read the clip list ({reason})") from None
    return [line.strip() for line in lines if line.strip()]


def _shown(names: Sequence[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


SPLIT_PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    """A split folder (train.txt, valid.txt, test.txt) read against the rows of a features CSV."""

    folder: Path
    masks: dict[str, np.ndarray]  # part -> boolean mask over the CSV rows
    missing: dict[str, list[str]]  # part -> listed clips that match no row (kept only with allow_missing)
    absent: dict[str, int] = field(default_factory=dict)  # part -> listed clips not in the CSV, for a part
    # the CSV may lack (read_split's absent_ok: e.g. valid, in artist-grouped CV inside train)

    @property
    def left_out(self) -> np.ndarray:
        """Rows in none of the lists (in the standard GTZAN split: its known faults)."""
        return ~np.logical_or.reduce([self.masks[part] for part in SPLIT_PARTS])

    def describe(self) -> str:
        """'train 443, valid 197, test 290 clips; 70 rows in no list left out' (and missing clips, if any)."""
        text = ", ".join(f"{part} {int(self.masks[part].sum())}" for part in SPLIT_PARTS)
        text += f" clips; {int(self.left_out.sum())} rows in no list left out"
        n_missing = sum(len(v) for v in self.missing.values())
        text += "".join(f"; {part}.txt: none of its {n} clips in the CSV" if not self.masks[part].any() else
                        f"; {part}.txt: {n} of its clips not in the CSV" for part, n in self.absent.items() if n)
        return text + (f"; {n_missing} listed clip(s) not in the CSV" if n_missing else "")

    def to_json(self) -> dict:
        """What model.json and run.json record of the split."""
        record = {"folder": str(self.folder), **{f"n_{part}": int(self.masks[part].sum()) for part in SPLIT_PARTS},
                  "n_left_out": int(self.left_out.sum()), "missing": self.missing}
        if any(self.absent.values()):  # only then: the records of plain split runs stay as they were
            record["not_in_csv"] = {part: n for part, n in self.absent.items() if n}
        return record


def read_split(folder: str | os.PathLike, files: Sequence[str], allow_missing: bool = False,
               absent_ok: Sequence[str] = ()) -> Split:
    """Read ``folder``/{train,valid,test}.txt against the CSV's ``file`` values (see match_test_files).

    DataError (one line, naming the file) for a missing folder or list, an empty list, listed clips that match
    no row (unless ``allow_missing``: then they are left out and counted) and a clip in two lists. The parts in
    ``absent_ok`` may have some or all of their clips missing from the CSV (e.g. valid, when the model is chosen
    by artist-grouped CV inside train and the CSV has no valid rows): they are only counted (Split.absent).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: split folder not found (it holds train.txt, valid.txt and test.txt)")
    masks, missing, absent = {}, {}, {}
    for part in SPLIT_PARTS:
        path = folder / f"{part}.txt"
        if not path.is_file():
            raise DataError(f"{path}: missing (a split folder holds train.txt, valid.txt and test.txt)")
        names = read_clip_list(path)
        if not names:
            raise DataError(f"{path}: lists no clips")
        masks[part], unknown = match_test_files(files, names)
        if part in absent_ok:
            absent[part], unknown = len(unknown), []
        if unknown and not allow_missing:
            raise DataError(f"{path}: {len(unknown)} listed clip(s) match no row of the features CSV: "
                            f"{_shown(unknown)} (--allow-missing leaves them out)")
        missing[part] = unknown
    for i, first in enumerate(SPLIT_PARTS):
        for second in SPLIT_PARTS[i + 1:]:
            both = np.flatnonzero(masks[first] & masks[second])
            if both.size:
                raise DataError(f"{folder}: {both.size} clip(s) in both {first}.txt and {second}.txt, e.g. "
                                f"{files[int(both[0])]}")
    for part in SPLIT_PARTS:
        if not masks[part].any() and part not in absent_ok:
            raise DataError(f"{folder / f'{part}.txt'}: no listed clip is in the features CSV")
    return Split(folder, masks, missing, absent)


ARTIST_COLUMN = "artist"  # 00 --labels tags writes it: artist-grouped folds in 01 and 02 without a flag


def artist_groups(artists: Sequence, files: Sequence[str]) -> np.ndarray:
    """One group per artist (its name without case and surrounding spaces); a song of unknown (empty or missing)
    artist is a group of its own."""
    names = ["" if not isinstance(a, str) else a.strip().casefold() for a in artists]
    return np.array([f"artist:{a}" if a else f"unknown artist:{f}" for a, f in zip(names, files, strict=True)],
                    dtype=object)


def column_groups(df: pd.DataFrame, column: str) -> np.ndarray:
    """The fold groups of 01 --groups COLUMN: artist_groups for the artist column, else the values as text."""
    if column == ARTIST_COLUMN:
        return artist_groups(df[column].tolist(), df["file"].astype(str).tolist())
    return df[column].astype(str).to_numpy()


def read_artist_groups(path: str | os.PathLike, files: Sequence[str]) -> np.ndarray:
    """The artist group of each of ``files`` (the CSV's ``file`` values) from an artists TSV (tab-separated, a
    header with ``file`` and ``artist``; other columns such as ``title`` are ignored): the artist's name (case and
    surrounding spaces ignored), or for a clip of unknown (empty) artist a group of its own.

    DataError (one line, naming the TSV) if it is missing or unreadable, lacks a column, lists a clip twice, or
    lacks one of ``files``.
    """
    import csv

    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: artists TSV not found")
    try:
        table = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable TSV ({str(exc).splitlines()[0]})") from None
    lacking = [c for c in ("file", "artist") if c not in table.columns]
    if lacking:
        raise DataError(f"{path}: missing column(s) {', '.join(lacking)} (a tab-separated header: file, artist)")
    twice = table["file"][table["file"].duplicated()]
    if len(twice):
        raise DataError(f"{path}: {len(twice)} clip(s) listed twice, e.g. {twice.iloc[0]}")
    artist = dict(zip(table["file"], table["artist"], strict=True))
    unknown = [f for f in files if f not in artist]
    if unknown:
        raise DataError(f"{path}: no artist row for {len(unknown)} clip(s) of the features CSV: {_shown(unknown)}")
    return artist_groups([artist[f] for f in files], files)


def stratified_holdout(labels: Sequence[str], test_size: float, seed: int) -> np.ndarray:
    """Boolean test mask: a stratified random ``test_size`` share of the rows (at least one per genre where
    a genre has two or more rows; a genre with a single row stays in training)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for genre in sorted(set(labels)):
        rows = np.flatnonzero(labels == genre)
        if rows.size < 2:
            continue
        n_test = int(min(max(round(rows.size * test_size), 1), rows.size - 1))
        mask[rng.choice(rows, n_test, replace=False)] = True
    return mask


def accuracy_interval(n_correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of an accuracy of ``n_correct`` out of ``n`` clips (95 % by default): the range of
    true accuracies this count is plausible under, i.e. how far the figure could move on another draw of clips."""
    if n <= 0:
        return (0.0, 1.0)
    p = n_correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # the interval holds p itself (at p = 1 the upper end is 1 exactly, which rounding made 0.9999999999999999)
    return (float(min(max(centre - half, 0.0), p)), float(max(min(centre + half, 1.0), p)))


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, genres: Sequence[str]) -> dict:
    """Accuracy (with its 95 % Wilson interval), macro and per-genre precision/recall/F1 and the confusion matrix
    (rows = true genre)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(genres)))
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro",
                                                    zero_division=0)
    return {
        "n_test": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "accuracy_interval_95": list(accuracy_interval(int((np.asarray(y_true) == np.asarray(y_pred)).sum()),
                                                       len(y_true))),
        "macro_precision": float(mp),
        "macro_recall": float(mr),
        "macro_f1": float(mf),
        "per_genre": {
            g: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
            for i, g in enumerate(genres)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


# --------------------------------------------------------------------------------------------------------
# Cross-validation folds and per-fold figures (used by 01_nn_hyperparam.py and the training engine)
# --------------------------------------------------------------------------------------------------------


def fold_metrics(y: np.ndarray, pred: np.ndarray, train_mask: np.ndarray, n_classes: int,
                 scored: np.ndarray | None = None) -> dict[str, float]:
    """Test accuracy, macro precision/recall/F1 (the ``scored`` rows, by default every row outside the training
    mask) and train accuracy of one fold."""
    from sklearn.metrics import precision_recall_fscore_support

    test = ~train_mask if scored is None else scored
    p, r, f, _ = precision_recall_fscore_support(y[test], pred[test], labels=list(range(n_classes)),
                                                 average="macro", zero_division=0)
    return {
        "accuracy": float((pred[test] == y[test]).mean()),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "train_accuracy": float((pred[train_mask] == y[train_mask]).mean()),
    }


def novelty_figures(scorer: Any, X_test: np.ndarray, y_test: np.ndarray, proba: np.ndarray) -> dict:
    """What a model's novelty score does on held-out clips of its own genres: the share it calls unknown, how many
    of those the network had wrong anyway, and the accuracy with an unknown answer counted as wrong."""
    import functions_novelty

    unknown = functions_novelty.is_unknown(scorer, functions_novelty.raw_scores(scorer, X_test))
    right = proba.argmax(axis=1) == np.asarray(y_test)
    n = len(right)
    return {"n_clips": n, "n_unknown": int(unknown.sum()), "unknown_share": float(unknown.mean()) if n else 0.0,
            "unknown_wrong_share": float((~right[unknown]).mean()) if unknown.any() else 0.0,
            "accuracy_unknown_wrong": float((right & ~unknown).mean()) if n else 0.0,
            "known_accuracy": float(right[~unknown].mean()) if (~unknown).any() else 0.0}


# --------------------------------------------------------------------------------------------------------
# A library's own genres (02 on a CSV with an artist column): figures from out-of-fold predictions
# --------------------------------------------------------------------------------------------------------
TRUST_MIN_ARTISTS = 3  # a genre whose songs come from fewer artists gets a warning: its figure says little


def out_of_fold_metrics(logits: np.ndarray, y: np.ndarray, genres: Sequence[str], temperature: float,
                        threshold: float) -> tuple[np.ndarray, dict]:
    """(calibrated probabilities, metrics) of out-of-fold logits (members, N, classes): each song predicted by
    networks that never trained on it. Accuracy with its interval, per genre, confusion matrix, ECE before and
    after the temperature (fitted on these same predictions: the calibrated ECE is a fit, not a test), uncertain
    answers below ``threshold``."""
    from functions_calibration import calibrated_probabilities, calibration_report, ece_if_calibrated

    proba = calibrated_probabilities(logits, temperature)
    metrics = classification_metrics(y, proba.argmax(axis=1), genres)
    figures = calibration_report(logits, y, temperature, threshold)
    metrics.update({k: figures[k] for k in ("ece", "ece_uncalibrated", "nll", "mean_confidence", "uncertain_share",
                                            "n_uncertain", "confident_accuracy", "uncertain_accuracy")})
    metrics["ece_if_calibrated"] = ece_if_calibrated(proba)
    metrics["figures"] = ("out of fold: every song predicted by the networks of the artist-grouped fold that held "
                          "it out (they saw none of its artist's songs)")
    return proba, metrics


def artists_per_genre(labels: Sequence[str], artists: Sequence) -> dict[str, int]:
    """Named artists (case and surrounding spaces ignored) among each genre's songs."""
    named: dict[str, set[str]] = {}
    for label, artist in zip(labels, artists, strict=True):
        name = artist.strip().casefold() if isinstance(artist, str) else ""
        named.setdefault(str(label), set()).update([name] if name else [])
    return {label: len(names) for label, names in named.items()}


def untrusted_genre_lines(labels: Sequence[str], artists: Sequence) -> list[str]:
    """One warning line per genre whose songs come from fewer than TRUST_MIN_ARTISTS named artists."""
    counts = artists_per_genre(labels, artists)
    songs = {g: int(np.sum(np.asarray(labels) == g)) for g in counts}
    return [f"warning: {genre}: its {songs[genre]} songs come from {n} named artist{'s' * (n != 1)}: its figure "
            f"cannot be trusted (the model may have learned the artist's sound, not the genre; tag songs of more "
            f"artists)" for genre, n in sorted(counts.items()) if n < TRUST_MIN_ARTISTS]
