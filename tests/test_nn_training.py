"""The batched training engine of functions_training: same maths as Keras, members independent, checkpoints honest."""

from __future__ import annotations

import numpy as np
import pytest

import functions_candidates as candidates
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
    recipe = candidates.Recipe("t", learning_rate=0.01, lr_decay_epochs=4.0, label_smoothing=0.1)
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
    recipe = candidates.RECIPES["regularised"]  # with dropout and input noise, i.e. with random draws per member
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
    recipe = candidates.RECIPES["regularised"]  # decaying learning rate: must not depend on the planned total
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
    weights = training.train_members(X3, y, mask, HIDDEN, 3, candidates.RECIPES["original"], 16, [4],
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


def test_member_rows_hold_each_members_own_rows_in_whole_batches() -> None:
    mask = np.zeros((2, 10), bool)
    mask[0, :7] = True
    mask[1, [1, 4, 8]] = True
    rows = training.MemberRows.from_mask(mask, 4)
    assert (rows.batch_size, rows.n_steps, rows.idx.shape, rows.real.shape) == (4, 2, (2, 8), (2, 8))
    for m in range(2):
        assert sorted(rows.idx[m][rows.real[m] == 1]) == np.flatnonzero(mask[m]).tolist()
    assert training.MemberRows.from_mask(mask, 100).batch_size == 7  # capped at the largest member's rows
    with pytest.raises(ValueError, match="at least one training row"):
        training.MemberRows.from_mask(np.array([[True, False], [False, False]]), 2)


def test_parameter_layout_round_trips_and_initialises_as_keras() -> None:
    layout = training.ParameterLayout.for_layers(2, [3, 4, 2])
    rng = np.random.default_rng(0)
    weights = training.StackedWeights(kernels=[rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 2))],
                                      biases=[rng.normal(size=(2, 4)), rng.normal(size=(2, 2))], activations=[])
    flat = layout.initial_values(rng, weights)
    assert flat.shape == (2, 3 * 4 + 4 + 4 * 2 + 2) and flat.dtype == np.float32
    back = layout.stacked(flat, ["relu", "softmax"])
    for ours, theirs in zip(back.kernels + back.biases, weights.kernels + weights.biases, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert layout.kernel_entries().tolist() == [1.0] * 12 + [0.0] * 4 + [1.0] * 8 + [0.0] * 2
    fresh = layout.stacked(layout.initial_values(np.random.default_rng(1)), [])
    assert np.abs(fresh.kernels[0]).max() <= np.sqrt(6 / (3 + 4)) and np.abs(fresh.kernels[0]).max() > 0.1
    assert all((b == 0).all() for b in fresh.biases)


def test_dropout_masks_drop_at_the_rate_and_rescale_the_rest() -> None:
    nn.quiet_tensorflow()
    import tensorflow as tf

    dropout = training.DropoutMasks(0.2, (30, 20))
    bits = tf.random.Generator.from_seed(0).uniform_full_int((2, 500, dropout.n_words), dtype=tf.uint32)
    masks = dropout(bits)
    assert [tuple(m.shape) for m in masks] == [(2, 500, 30), (2, 500, 20)]
    values = np.concatenate([m.numpy().ravel() for m in masks])
    assert abs((values == 0).mean() - 0.2) < 0.01
    np.testing.assert_allclose(values[values != 0], 1 / dropout.keep, rtol=1e-6)
