"""The batched training engine of functions_training: same maths as Keras, members independent, checkpoints honest."""

from __future__ import annotations

import numpy as np
import pytest

import functions_evaluation as evaluation
import functions_nn as nn
import functions_training as training

pytestmark = pytest.mark.slow

HIDDEN = ((12, "relu"), (8, "linear"))


def _data(n: int = 60, features: int = 6, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = rng.normal(0, 1, (n, features)) + y[:, None] * 0.8
    return X, y


def test_full_batch_training_equals_keras_fit() -> None:
    """With the whole training set as one batch (no shuffling effect), the engine and Keras's own fit
    (Adam, inverse-time learning-rate decay, label smoothing, categorical cross-entropy) agree."""
    nn.quiet_tensorflow()
    import keras

    X, y = _data()
    n_classes = 3
    recipe = nn.Recipe("t", learning_rate=0.01, lr_decay_epochs=4.0, label_smoothing=0.1)
    rng = np.random.default_rng(1)
    sizes = [X.shape[1], 12, 8, n_classes]
    init = training.StackedWeights(
        kernels=[rng.uniform(-0.5, 0.5, (1, a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)],
        biases=[rng.uniform(-0.1, 0.1, (1, b)) for b in sizes[1:]], activations=[])
    epochs = 6
    ours = training.train_members(X[None].astype(np.float32), y, np.ones((1, len(y)), bool), HIDDEN, n_classes,
                                  recipe, batch_size=len(y), checkpoints=[epochs], initial=init)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(12, activation="relu"),
                              keras.layers.Dense(8), keras.layers.Dense(n_classes, activation="softmax")])
    model.set_weights([w for k, b in zip(init.kernels, init.biases, strict=True) for w in (k[0], b[0])])
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=4.0, decay_rate=1.0)
    model.compile(optimizer=keras.optimizers.Adam(schedule, epsilon=1e-7),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    model.fit(X.astype(np.float32), np.eye(n_classes)[y], batch_size=len(y), epochs=epochs, shuffle=False,
              verbose=0)
    theirs = model.get_weights()
    for i in range(3):
        np.testing.assert_allclose(ours.kernels[i][0], theirs[2 * i], atol=2e-5)
        np.testing.assert_allclose(ours.biases[i][0], theirs[2 * i + 1], atol=2e-5)
    # and the weights really moved (the comparison is not between two untouched initialisations)
    assert np.abs(ours.kernels[0][0] - init.kernels[0][0]).max() > 1e-3


def test_members_do_not_influence_each_other() -> None:
    """Member 0's training is the same whatever member 1 trains on (no gradient or data crosses members)."""
    X, y = _data(n=50)
    recipe = nn.RECIPES["regularised"]  # with dropout and input noise, i.e. with random draws per member
    mask = np.ones((2, len(y)), bool)
    mask[0, :10] = False
    mask[1, 40:] = False
    first = np.stack([X, X]).astype(np.float32)
    other = first.copy()
    other[1] = np.random.default_rng(9).normal(0, 5, X.shape)  # member 1 sees other data ...
    other_y = y.copy()
    other_mask = mask.copy()
    other_mask[1] = np.roll(mask[1], 7)  # ... and other rows (same count)
    a = training.train_members(first, y, mask, HIDDEN, 3, recipe, 8, [5], seed=4)
    b = training.train_members(other, other_y, other_mask, HIDDEN, 3, recipe, 8, [5], seed=4)
    for ka, kb in zip(a.kernels, b.kernels, strict=True):
        np.testing.assert_allclose(ka[0], kb[0], rtol=0, atol=1e-6)
        assert np.abs(ka[1] - kb[1]).max() > 1e-4


def test_checkpoint_equals_a_fresh_run_of_that_length() -> None:
    """The 100-epoch cell read from an 800-epoch run is the model a 100-epoch run gives (scaled down)."""
    X, y = _data(n=40)
    mask = np.ones((1, len(y)), bool)
    mask[0, ::5] = False
    recipe = nn.RECIPES["regularised"]  # decaying learning rate: must not depend on the planned total
    seen: dict[int, np.ndarray] = {}
    training.train_members(X[None].astype(np.float32), y, mask, HIDDEN, 3, recipe, 8, [3, 9],
                           on_checkpoint=lambda e, p: seen.setdefault(e, p), seed=2)
    fresh: dict[int, np.ndarray] = {}
    training.train_members(X[None].astype(np.float32), y, mask, HIDDEN, 3, recipe, 8, [3],
                           on_checkpoint=lambda e, p: fresh.setdefault(e, p), seed=2)
    np.testing.assert_allclose(seen[3], fresh[3], atol=1e-6)
    assert np.abs(seen[9] - seen[3]).max() > 1e-4


def test_uneven_folds_and_partial_last_batch() -> None:
    """Members with different training-set sizes train on exactly their own rows; probabilities are valid."""
    X, y = _data(n=23)
    mask = np.ones((3, len(y)), bool)
    mask[0, :3] = False
    mask[1, :8] = False
    mask[2, 5:7] = False
    X3 = np.stack([X, X, X]).astype(np.float32)
    out = {}
    weights = training.train_members(X3, y, mask, HIDDEN, 3, nn.RECIPES["original"], 16, [4],
                                     on_checkpoint=lambda e, p: out.setdefault(e, p))
    assert out[4].shape == (3, len(y), 3)
    np.testing.assert_allclose(out[4].sum(axis=2), 1.0, atol=1e-5)
    assert [k.shape for k in weights.kernels] == [(3, 6, 12), (3, 12, 8), (3, 8, 3)]
    assert all(np.isfinite(k).all() for k in weights.kernels)


def test_cv_masks_are_stratified_and_group_aware() -> None:
    y = np.repeat(np.arange(4), 10)
    masks = evaluation.cv_train_masks(y, 5, seed=0)
    assert masks.shape == (5, 40)
    assert (~masks).sum(axis=0).tolist() == [1] * 40  # every row is tested exactly once
    for k in range(5):
        assert np.bincount(y[~masks[k]]).tolist() == [2, 2, 2, 2]
    groups = np.repeat(np.arange(20), 2)  # pairs of rows share an "artist"
    masks = evaluation.cv_train_masks(y, 5, seed=0, groups=groups)
    for k in range(5):
        test_groups, train_groups = set(groups[~masks[k]]), set(groups[masks[k]])
        assert not test_groups & train_groups
