"""Cross-validation folds: seeded stratified K-fold training masks, and artist-grouped ones where no artist is on
both sides of a fold (an artist's clips are scored together, by models that saw none of them). Used by model
selection (01), training and calibration (02), and the novelty threshold (functions_novelty); functions_evaluation
names them too. NumPy at module level; scikit-learn where the folds are made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class DataError(Exception):
    """Data that cannot be used as asked (a features CSV, a split, an artists file, too few artists for the
    folds); the message is one line naming the file."""


def cv_train_masks(y: np.ndarray, n_folds: int, seed: int, groups: Sequence | None = None) -> np.ndarray:
    """(n_folds, N) boolean training masks of a seeded stratified K-fold split (group-aware with ``groups``)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y)
    if groups is None:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(y)), y)
    else:
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(y)), y, groups=np.asarray(groups))
    import warnings

    masks = np.ones((n_folds, len(y)), dtype=bool)
    with warnings.catch_warnings():  # a genre with fewer rows than folds: some folds score none of it, as meant
        warnings.filterwarnings("ignore", message="The least populated class")
        for k, (_, test_rows) in enumerate(splits):
            masks[k, test_rows] = False
    return masks


def group_cv_masks(y: np.ndarray, groups: Sequence[str], n_folds: int, seed: int, source: str = "") -> np.ndarray:
    """(n_folds, N) training masks of a seeded stratified group K-fold (sklearn's StratifiedGroupKFold): every
    row is held out by exactly one fold and no group has rows held out by two folds (an artist's clips are
    scored together, by a model that saw none of them). DataError (one line) if there are fewer groups than
    folds or fewer than 2 folds."""
    import warnings

    groups = np.asarray(groups)
    n_groups = len(set(groups.tolist()))
    if n_folds < 2:
        raise DataError(f"{source}: artist-grouped CV needs at least 2 folds")
    if n_groups < n_folds:
        raise DataError(f"{source}: {n_folds} folds but only {n_groups} artist group(s) among the {len(y)} clips")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        return cv_train_masks(y, n_folds, seed, groups)
