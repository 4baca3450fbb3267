"""Training: the batched TensorFlow engine (M independent copies, "members", of one MLP trained side by side in
one graph), K-fold cross-validation of an MLP with it, and the scikit-learn baselines.

Only NumPy and the standard library at module level; TensorFlow and scikit-learn are imported where needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from functions_candidates import Architecture, Recipe
from functions_evaluation import fold_metrics, standardise, standardise_per_fold
from functions_nn import keras_standardisation, quiet_tensorflow, standardisation_arrays

if TYPE_CHECKING:
    import tensorflow as tf
    from sklearn.pipeline import Pipeline

# --------------------------------------------------------------------------------------------------------
# Training engine: M independent copies ("members") of one MLP trained side by side in one TF graph
# --------------------------------------------------------------------------------------------------------

ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-7  # Keras's Adam defaults


@dataclass
class StackedWeights:
    """Weights of M members: kernels[i] has shape (M, fan_in, fan_out), biases[i] (M, fan_out)."""

    kernels: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]

    def member(self, m: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Member ``m``'s kernels and biases, as a single network has them."""
        return [k[m] for k in self.kernels], [b[m] for b in self.biases]

    def arrays(self) -> dict[str, np.ndarray]:
        """The dense arrays of weights.npz (float32, member axis first): dense_0_kernel, dense_0_bias, ..."""
        return {f"dense_{i}_{part}": np.asarray(values, dtype=np.float32)
                for i, pair in enumerate(zip(self.kernels, self.biases, strict=True))
                for part, values in zip(("kernel", "bias"), pair, strict=True)}


def configure_tf_threads(threads: int | None) -> None:
    """Limit TensorFlow's thread pools (call before TF runs any op); None leaves TF's default."""
    if not threads:
        return
    quiet_tensorflow()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised in this process: keep what is there
        pass


def train_members(
    X: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    hidden: Sequence[tuple[int, str]],
    n_classes: int,
    recipe: Recipe,
    batch_size: int,
    checkpoints: Sequence[int],
    seed: int = 0,
    on_checkpoint: Callable[[int, np.ndarray], None] | None = None,
    initial: StackedWeights | None = None,
) -> StackedWeights:
    """Train M independent MLPs, one per row of ``train_mask``, in one TensorFlow graph.

    X: (M, N, F) inputs, already standardised per member (each member's scaler fitted on its own training
    rows); y: (N,) integer labels; train_mask: (M, N) bool, the rows each member trains on. Every member is
    freshly initialised (Glorot-uniform kernels, zero biases, as Keras's Dense) and trained with its own
    Adam state, its own shuffling each epoch and mini-batches of ``batch_size`` rows (the last one smaller),
    the procedure of separate ``model.fit(..., shuffle=True)`` runs (only the random draws differ), without
    Keras's per-step overhead.
    The members only share the graph: the loss is a sum of per-member losses, so no gradient crosses them.

    ``on_checkpoint(epoch, probabilities)`` is called after each epoch count in ``checkpoints`` with the
    softmax outputs (M, N, n_classes) for all N rows (inference mode). ``initial`` replaces the random
    initial weights (for tests against Keras). Returns the final weights.
    """
    quiet_tensorflow()
    import tensorflow as tf

    # each call builds its own tf.functions on purpose (new shapes, new variables): no retracing warnings
    tf.get_logger().setLevel("ERROR")
    X = np.asarray(X, dtype=np.float32)
    n_members, _, n_features = X.shape
    rows = MemberRows.from_mask(train_mask, batch_size)
    layout = ParameterLayout.for_layers(n_members, [n_features] + [units for units, _ in hidden] + [n_classes])
    activations = [act for _, act in hidden] + ["softmax"]
    start = layout.initial_values(np.random.default_rng(seed), initial)
    trainer = MemberTrainer(X, y, n_classes, rows, layout, activations, recipe, start, seed)
    done = 0
    for target in sorted(set(int(c) for c in checkpoints)):
        if target > done:
            trainer.run_epochs(tf.constant(target - done))
            done = target
        if on_checkpoint is not None:
            on_checkpoint(done, trainer.probabilities().numpy())
    return layout.stacked(trainer.flat.numpy(), activations)


@dataclass(frozen=True)
class MemberRows:
    """Each member's training-row indices, padded to one common width of whole batches.

    Pads carry weight 0 in ``real`` and are shuffled to the end every epoch, so each member trains on exactly
    its own rows in mini-batches of ``batch_size`` (its last one smaller) while all batches share one shape.
    """

    idx: np.ndarray  # (M, n_steps * batch_size) int32 row indices into X
    real: np.ndarray  # (M, n_steps * batch_size) float32: 1 for a real row, 0 for a pad
    batch_size: int
    n_steps: int  # mini-batch steps per epoch

    @classmethod
    def from_mask(cls, train_mask: np.ndarray, batch_size: int) -> MemberRows:
        """The rows of ``train_mask`` (M, N); ValueError if a member has none. The batch size is capped at the
        largest member's row count."""
        train_mask = np.asarray(train_mask, dtype=bool)
        counts = train_mask.sum(axis=1)
        if counts.min() < 1:
            raise ValueError("every member needs at least one training row")
        width = int(counts.max())
        idx = np.zeros((len(train_mask), width), dtype=np.int32)
        real = np.zeros((len(train_mask), width), dtype=np.float32)
        for m, member_mask in enumerate(train_mask):
            rows = np.flatnonzero(member_mask)
            idx[m, : rows.size] = rows
            real[m, : rows.size] = 1.0
        batch_size = int(min(batch_size, width))
        n_steps = -(-width // batch_size)
        padded = n_steps * batch_size
        if padded > width:  # fixed batch shapes: pad to whole batches with weight-0 rows
            idx = np.pad(idx, ((0, 0), (0, padded - width)))
            real = np.pad(real, ((0, 0), (0, padded - width)))
        return cls(idx, real, batch_size, n_steps)


@dataclass(frozen=True)
class ParameterLayout:
    """Where each layer's kernel and bias sit in a member's flat float32 parameter row (kernel_0, bias_0, ...).

    All parameters of a member in one row: one variable for the weights and one per Adam moment keep the
    per-step cost of the XLA call low.
    """

    n_members: int
    slots: tuple[tuple[int, int, int], ...]  # per layer: (offset, fan_in, fan_out)

    @classmethod
    def for_layers(cls, n_members: int, sizes: Sequence[int]) -> ParameterLayout:
        """Layout of an MLP with layer widths ``sizes`` (inputs first, outputs last)."""
        slots, offset = [], 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            slots.append((offset, fan_in, fan_out))
            offset += fan_in * fan_out + fan_out
        return cls(n_members, tuple(slots))

    def initial_values(self, rng: np.random.Generator, initial: StackedWeights | None = None) -> np.ndarray:
        """(M, P) float32 starting rows: Keras's Dense initialisation (Glorot-uniform kernels drawn from ``rng``,
        zero biases), or the weights of ``initial``."""
        chunks = []
        for layer, (_, fan_in, fan_out) in enumerate(self.slots):
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # Keras's glorot_uniform; biases start at zero
            if initial is None:
                chunks += [rng.uniform(-limit, limit, (self.n_members, fan_in * fan_out)),
                           np.zeros((self.n_members, fan_out))]
            else:
                chunks += [np.reshape(initial.kernels[layer], (self.n_members, fan_in * fan_out)),
                           np.reshape(initial.biases[layer], (self.n_members, fan_out))]
        return np.concatenate(chunks, axis=1).astype(np.float32)

    def kernel_entries(self) -> np.ndarray:
        """(P,) float32: 1 on kernel entries, 0 on biases (weight decay applies to kernels only)."""
        parts = [part for _, fan_in, fan_out in self.slots for part in (np.ones(fan_in * fan_out), np.zeros(fan_out))]
        return np.concatenate(parts).astype(np.float32)

    def unpack(self, values: tf.Tensor) -> list[tf.Tensor]:
        """[kernel (M, in, out), bias (M, 1, out), ...] views of the flat parameter rows ``values`` (M, P)."""
        import tensorflow as tf

        pieces = []
        for o, i, n in self.slots:
            pieces += [tf.reshape(values[:, o: o + i * n], (self.n_members, i, n)),
                       tf.reshape(values[:, o + i * n: o + i * n + n], (self.n_members, 1, n))]
        return pieces

    def stacked(self, values: np.ndarray, activations: list[str]) -> StackedWeights:
        """The flat rows ``values`` (M, P) as per-layer kernels and biases."""
        return StackedWeights(
            kernels=[values[:, o: o + i * n].reshape(self.n_members, i, n) for o, i, n in self.slots],
            biases=[values[:, o + i * n: o + i * n + n] for o, i, n in self.slots],
            activations=activations,
        )


@dataclass(frozen=True)
class DropoutMasks:
    """Dropout after every hidden layer, with masks made from 16-bit random numbers (two per 32-bit draw).

    A unit is dropped when its number is below round(rate * 65536), i.e. with probability ``rate`` to within
    1e-5; kept units are scaled by 1/keep.
    """

    rate: float
    hidden_units: tuple[int, ...]

    @property
    def drop_below(self) -> int:
        """A unit whose 16-bit number is below this is dropped."""
        return int(round(self.rate * 65536))

    @property
    def keep(self) -> float:
        """The share of units kept (1 - rate, to within 1e-5)."""
        return 1.0 - self.drop_below / 65536

    @property
    def n_words(self) -> int:
        """32-bit random words needed per row (one 16-bit number per hidden unit)."""
        return -(-sum(self.hidden_units) // 2)

    def __call__(self, bits: tf.Tensor) -> list[tf.Tensor]:
        """Per hidden layer, a (M, B, units) 0 or 1/keep mask from (M, B, n_words) uint32 random bits."""
        import tensorflow as tf

        halves = tf.concat([tf.bitwise.bitwise_and(bits, 0xFFFF), tf.bitwise.right_shift(bits, 16)], axis=2)
        scaled = tf.cast(halves >= self.drop_below, tf.float32) / self.keep
        masks, start = [], 0
        for units in self.hidden_units:
            masks.append(scaled[:, :, start: start + units])
            start += units
        return masks


def forward(pieces: Sequence[tf.Tensor], h: tf.Tensor, activations: Sequence[str], noise: tf.Tensor | None = None,
            masks: Sequence[tf.Tensor] | None = None) -> tf.Tensor:
    """Logits of the stacked MLP (softmax applied by the loss / at inference) for inputs ``h`` (M, B, F).

    With ``noise``/``masks`` (training) the input noise is added and each hidden layer's dropout mask applied.
    """
    import tensorflow as tf

    if noise is not None:
        h = h + noise
    for i, act in enumerate(activations):
        h = tf.matmul(h, pieces[2 * i]) + pieces[2 * i + 1]
        if act == "relu":
            h = tf.nn.relu(h)
        if masks is not None and i < len(activations) - 1:
            h = h * masks[i]
    return h


class MemberTrainer:
    """The TensorFlow side of one train_members call: the data, the members' flat weights with their Adam state,
    the random generator, and the functions compiled for exactly these shapes.

    ``run_epochs(n)`` trains every member ``n`` more epochs (each mini-batch step one XLA call);
    ``probabilities()`` gives the softmax outputs (M, N, n_classes) for all rows (inference mode).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, rows: MemberRows, layout: ParameterLayout,
                 activations: list[str], recipe: Recipe, initial_values: np.ndarray, seed: int) -> None:
        import tensorflow as tf

        self.rows, self.layout, self.activations, self.recipe = rows, layout, activations, recipe
        self.dropout = DropoutMasks(recipe.dropout, tuple(fan_out for _, _, fan_out in layout.slots[:-1]))
        self.flat = tf.Variable(initial_values)
        self.adam_m = tf.Variable(tf.zeros_like(self.flat))
        self.adam_v = tf.Variable(tf.zeros_like(self.flat))
        self.adam_t = tf.Variable(tf.zeros((layout.n_members,), tf.float32))  # Adam step count per member
        self.epoch = tf.Variable(0.0)
        self.kernel_entries = tf.constant(layout.kernel_entries())
        self.gen = tf.random.Generator.from_seed(seed)
        self.X = tf.constant(X)
        onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(y)]
        smooth = recipe.label_smoothing
        self.targets = tf.constant(onehot * (1.0 - smooth) + smooth / n_classes)
        self.idx, self.real = tf.constant(rows.idx), tf.constant(rows.real)
        self.train_step = tf.function(self._train_step, jit_compile=True)
        self.run_epochs = tf.function(self._run_epochs)
        self.probabilities = tf.function(self._probabilities)

    def _run_epochs(self, n_epochs: tf.Tensor) -> None:
        """Each epoch: a fresh shuffle of every member's rows (pads last), then its mini-batch steps."""
        import tensorflow as tf

        batch_size = self.rows.batch_size
        for _ in tf.range(n_epochs):
            keys = self.gen.uniform(self.idx.shape) + (1.0 - self.real) * 2.0  # shuffle real rows, pads last
            order = tf.argsort(keys, axis=1)
            rows_all = tf.gather(self.idx, order, batch_dims=1)
            weights_all = tf.gather(self.real, order, batch_dims=1)
            for s in tf.range(self.rows.n_steps):
                start = s * batch_size
                noise, bits = self._random_inputs()
                self.train_step(rows_all[:, start: start + batch_size], weights_all[:, start: start + batch_size],
                                noise, bits)
            self.epoch.assign_add(1.0)

    def _random_inputs(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Input noise and dropout bits of one step, drawn by TF's native kernels (much faster than XLA's);
        a placeholder for what the recipe does not use."""
        import tensorflow as tf

        recipe, shape = self.recipe, (self.layout.n_members, self.rows.batch_size)
        noise = self.gen.normal((*shape, self.X.shape[2]), stddev=recipe.input_noise) \
            if recipe.input_noise > 0 else tf.zeros((1,))
        bits = self.gen.uniform_full_int((*shape, self.dropout.n_words), dtype=tf.uint32) \
            if recipe.dropout > 0 else tf.zeros((1,), tf.uint32)
        return noise, bits

    def _train_step(self, rows: tf.Tensor, weights: tf.Tensor, noise: tf.Tensor, bits: tf.Tensor) -> None:
        """One mini-batch step of every member (compiled by XLA into one call)."""
        recipe = self.recipe
        values, grad, n_real = self._gradient(rows, weights, noise if recipe.input_noise > 0 else None,
                                              self.dropout(bits) if recipe.dropout > 0 else None)
        self._adam_update(values, grad, n_real)

    def _gradient(self, rows: tf.Tensor, weights: tf.Tensor, noise: tf.Tensor | None,
                  masks: list[tf.Tensor] | None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The current flat weights, the flat gradient of the sum of per-member mean losses over the batch, and
        each member's count of real rows in the batch."""
        import tensorflow as tf

        xb = tf.gather(self.X, rows, batch_dims=1)  # (M, B, F)
        yb = tf.gather(self.targets, rows)  # (M, B, C)
        values = tf.convert_to_tensor(self.flat)
        pieces = self.layout.unpack(values)
        with tf.GradientTape() as tape:
            tape.watch(pieces)
            logits = forward(pieces, xb, self.activations, noise, masks)
            per_row = tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=logits)  # (M, B)
            n_real = tf.reduce_sum(weights, axis=1)
            loss = tf.reduce_sum(tf.reduce_sum(per_row * weights, axis=1) / tf.maximum(n_real, 1.0))
        # gradients of the pieces, concatenated back into the flat layout (cheaper than slice gradients)
        n_members = self.layout.n_members
        grad = tf.concat([tf.reshape(g, (n_members, -1)) for g in tape.gradient(loss, pieces)], axis=1)
        return values, grad, n_real

    def _adam_update(self, values: tf.Tensor, grad: tf.Tensor, n_real: tf.Tensor) -> None:
        """One Adam step per member (learning rate decayed by epoch; decoupled weight decay on kernels)."""
        import tensorflow as tf

        recipe = self.recipe
        active = tf.cast(n_real > 0, tf.float32)  # a member with an empty batch does not step at all
        t = self.adam_t + active
        self.adam_t.assign(t)
        lr = recipe.learning_rate
        if recipe.lr_decay_epochs:
            lr = lr / (1.0 + self.epoch / recipe.lr_decay_epochs)
        t = tf.maximum(t, 1.0)
        alpha = lr * tf.sqrt(1.0 - tf.pow(ADAM_BETA2, t)) / (1.0 - tf.pow(ADAM_BETA1, t))  # (M,)
        on = active[:, None]
        m = self.adam_m + on * (1.0 - ADAM_BETA1) * (grad - self.adam_m)
        v = self.adam_v + on * (1.0 - ADAM_BETA2) * (tf.square(grad) - self.adam_v)
        update = on * alpha[:, None] * m / (tf.sqrt(v) + ADAM_EPSILON)
        if recipe.weight_decay > 0:  # decoupled, kernels only (as Keras's AdamW)
            update += on * lr * recipe.weight_decay * self.kernel_entries * values
        self.adam_m.assign(m)
        self.adam_v.assign(v)
        self.flat.assign(values - update)

    def _probabilities(self) -> tf.Tensor:
        import tensorflow as tf

        return tf.nn.softmax(forward(self.layout.unpack(tf.convert_to_tensor(self.flat)), self.X, self.activations))


def fit_members(
    X_train: np.ndarray,
    y_train: np.ndarray,
    n_classes: int,
    architecture: Architecture,
    recipe: Recipe,
    batch_size: int,
    epochs: int,
    members: int = 1,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train ``members`` networks (different initialisations and shuffles) on raw feature rows X_train; returns the
    arrays of weights.npz: the standardisation Keras's Normalization adapts on X_train, then the stacked dense
    kernels and biases (``functions_nn.keras_model_from_arrays`` and ``Classifier.from_arrays`` take them)."""
    arrays = standardisation_arrays(keras_standardisation(X_train))
    X_std = standardise(X_train, arrays["norm_mean"], arrays["norm_variance"])
    weights = train_members(np.repeat(X_std[None], members, axis=0), y_train,
                            np.ones((members, len(y_train)), dtype=bool), architecture.hidden, n_classes, recipe,
                            batch_size, [epochs], seed=seed)
    return {**arrays, **weights.arrays()}


def out_of_fold_logits(
    X: np.ndarray,
    y: np.ndarray,
    train_masks: np.ndarray,
    n_classes: int,
    architecture: Architecture,
    recipe: Recipe,
    batch_size: int,
    epochs: int,
    members: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """(members, N, n_classes): each row's logits from the ``members`` networks of the fold that holds it out.

    ``train_masks`` (K, N) are the folds' training masks, every row held out by exactly one fold (as
    functions_evaluation.group_cv_masks makes them; ValueError otherwise). Fold k's members are trained like
    fit_members's (raw rows standardised with the mean and variance of the fold's own training rows, each member
    from its own initialisation and shuffles), all K x members side by side in one graph, then read (NumPy) on
    the rows the fold held out: what a model that never saw those clips (nor, with artist-grouped folds, their
    artists) says of them. 02 fits the temperature and the uncertain threshold on them.
    """
    from functions_nn import _ACTIVATIONS

    train_masks = np.asarray(train_masks, dtype=bool)
    held_out = ~train_masks
    if not (held_out.sum(axis=0) == 1).all():
        raise ValueError("every row must be held out by exactly one fold")
    n_folds = len(train_masks)
    X_folds = standardise_per_fold(np.asarray(X, dtype=np.float64), train_masks)  # (K, N, F) float32
    weights = train_members(np.repeat(X_folds, members, axis=0), y, np.repeat(train_masks, members, axis=0),
                            architecture.hidden, n_classes, recipe, batch_size, [epochs], seed=seed)
    logits = np.empty((members, len(y), n_classes))
    for k in range(n_folds):
        for m in range(members):
            kernels, biases = weights.member(k * members + m)
            h = X_folds[k][held_out[k]].astype(np.float64)
            for kernel, bias, act in zip(kernels, biases, weights.activations, strict=True):
                h = _ACTIVATIONS[act](h @ kernel.astype(np.float64) + bias.astype(np.float64))
            logits[m, held_out[k]] = h
    return logits


# --------------------------------------------------------------------------------------------------------
# Cross-validation of one MLP, and the scikit-learn baselines
# --------------------------------------------------------------------------------------------------------


def cv_mlp(
    X: np.ndarray,
    y: np.ndarray,
    train_masks: np.ndarray,
    architecture: Architecture,
    recipe: Recipe,
    batch_size: int,
    epochs: Sequence[int],
    seed: int = 0,
    on_checkpoint: Callable[[int, list[dict[str, float]], float], None] | None = None,
    members: int = 1,
    scored: np.ndarray | None = None,
) -> dict[int, list[dict[str, float]]]:
    """Cross-validate one MLP (or an ensemble of ``members`` copies, whose mean probability is its answer) at one
    batch size: all folds' members trained side by side, each epoch count in ``epochs`` read as a checkpoint of
    the same run. Returns {epochs: [per-fold metrics]}; a fold scores the ``scored`` rows (default: the rows
    outside its training mask).

    ``on_checkpoint(epochs, fold_metrics, seconds_so_far)`` is called as each checkpoint is reached.
    """
    import time

    n_classes = int(y.max()) + 1
    n_folds = len(train_masks)
    X_folds = np.repeat(standardise_per_fold(X, train_masks), members, axis=0)  # fold-major: fold k's members
    member_masks = np.repeat(train_masks, members, axis=0)
    results: dict[int, list[dict[str, float]]] = {}
    started = time.perf_counter()

    def checkpoint(epoch: int, proba: np.ndarray) -> None:
        pred = proba.reshape(n_folds, members, *proba.shape[1:]).mean(axis=1).argmax(axis=2)
        results[epoch] = [fold_metrics(y, pred[k], train_masks[k], n_classes, scored) for k in range(n_folds)]
        if on_checkpoint is not None:
            on_checkpoint(epoch, results[epoch], time.perf_counter() - started)

    train_members(X_folds, y, member_masks, architecture.hidden, n_classes, recipe, batch_size, epochs,
                  seed=seed, on_checkpoint=checkpoint)
    return results


def make_sklearn_model(kind: str, seed: int = 0) -> Pipeline:
    """A scikit-learn baseline with the scaler inside (fitted on the training rows only)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if kind == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    if kind == "svm-rbf":
        return make_pipeline(StandardScaler(), SVC(C=3.0, gamma="scale", random_state=seed))
    raise ValueError(f"unknown scikit-learn baseline {kind!r}")


# ---------------------------------------------------------------------------------------------------------
# The model's novelty score (functions_novelty), fitted on the same training rows
# ---------------------------------------------------------------------------------------------------------
def fit_model_novelty(X: np.ndarray, y: np.ndarray, groups: Sequence | None, columns: Sequence[str],
                      seed: int = 0) -> tuple[Any, str]:
    """The novelty score of a model trained on rows ``X`` (labels ``y``), its threshold chosen by leave-one-genre-
    out inside them with folds grouped by ``groups`` (artists; None: each row its own group). Returns (scorer, a
    line saying how it was chosen), or (None, why there is none) when the rows are too few for it (it needs 3
    genres, and folds of each)."""
    import functions_novelty as fnov
    from functions_evaluation import DataError

    y = np.asarray(y)
    groups = np.arange(len(y)).astype(str) if groups is None else np.asarray(groups)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 3:
        return None, f"no novelty score: it needs at least 3 genres to leave one out ({len(labels)} here)"
    folds = int(min(fnov.FOLDS, len(set(groups.tolist())), counts.min()))
    if folds < 2:
        return None, "no novelty score: too few training rows per genre for its folds"
    try:
        scorer = fnov.fit_novelty(X, y, groups, columns, fnov.settings_for_columns(columns), folds=folds,
                                 seed=seed)
    except (ValueError, DataError, np.linalg.LinAlgError) as exc:
        return None, (f"no novelty score: its leave-one-genre-out folds ({folds} folds over "
                      f"{len(set(groups.tolist()))} artist groups) left too little to fit it "
                      f"({str(exc).splitlines()[0][:120]}); more songs of more artists per genre would")
    f = scorer.figures
    return scorer, (f"novelty score: threshold chosen by leave-one-genre-out inside the {f['n_rows']} training rows "
                    f"({folds} folds of {f['n_groups']} groups): keeps {1 - f['known_flagged']:.1%} of known-genre "
                    f"rows, catches {f['mean_caught']:.1%} of the left-out genre's, AUROC {f['mean_auroc']:.3f}")
