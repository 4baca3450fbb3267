"""Training: the batched TensorFlow engine (M independent copies, "members", of one MLP trained side by side in
one graph), K-fold cross-validation of an MLP with it, and the scikit-learn baselines.

Only NumPy and the standard library at module level; TensorFlow and scikit-learn are imported where needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from functions_evaluation import fold_metrics, standardise_per_fold
from functions_nn import Architecture, Recipe, quiet_tensorflow

# --------------------------------------------------------------------------------------------------------
# Training engine: M independent copies ("members") of one MLP trained side by side in one TF graph
# --------------------------------------------------------------------------------------------------------


@dataclass
class StackedWeights:
    """Weights of M members: kernels[i] has shape (M, fan_in, fan_out), biases[i] (M, fan_out)."""

    kernels: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]

    def member(self, m: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [k[m] for k in self.kernels], [b[m] for b in self.biases]


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
    n_members, n_rows, n_features = X.shape
    train_mask = np.asarray(train_mask, dtype=bool)
    counts = train_mask.sum(axis=1)
    if counts.min() < 1:
        raise ValueError("every member needs at least one training row")
    width = int(counts.max())
    # per member: its training-row indices, padded to a common width (pads carry weight 0 and sort last)
    idx = np.zeros((n_members, width), dtype=np.int32)
    real = np.zeros((n_members, width), dtype=np.float32)
    for m in range(n_members):
        rows = np.flatnonzero(train_mask[m])
        idx[m, : rows.size] = rows
        real[m, : rows.size] = 1.0
    batch_size = int(min(batch_size, width))
    n_steps = -(-width // batch_size)
    padded = n_steps * batch_size
    if padded > width:  # fixed batch shapes: pad to whole batches with weight-0 rows
        idx = np.pad(idx, ((0, 0), (0, padded - width)))
        real = np.pad(real, ((0, 0), (0, padded - width)))

    rng = np.random.default_rng(seed)
    sizes = [n_features] + [units for units, _ in hidden] + [n_classes]
    activations = [act for _, act in hidden] + ["softmax"]
    # All parameters of a member live in one flat float32 row (kernel_0, bias_0, kernel_1, ...): one variable
    # for the weights and one per Adam moment keep the per-step cost of the XLA call low.
    layout, chunks, decay_mask = [], [], []
    offset = 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        limit = np.sqrt(6.0 / (fan_in + fan_out))  # Keras's glorot_uniform; biases start at zero
        if initial is None:
            chunks += [rng.uniform(-limit, limit, (n_members, fan_in * fan_out)), np.zeros((n_members, fan_out))]
        else:
            layer = len(layout)
            chunks += [np.reshape(initial.kernels[layer], (n_members, fan_in * fan_out)),
                       np.reshape(initial.biases[layer], (n_members, fan_out))]
        decay_mask += [np.ones(fan_in * fan_out), np.zeros(fan_out)]
        layout.append((offset, fan_in, fan_out))
        offset += fan_in * fan_out + fan_out
    flat = tf.Variable(np.concatenate(chunks, axis=1).astype(np.float32))
    adam_m = tf.Variable(tf.zeros_like(flat))
    adam_v = tf.Variable(tf.zeros_like(flat))
    adam_t = tf.Variable(tf.zeros((n_members,), tf.float32))  # Adam step count per member
    epoch_var = tf.Variable(0.0)
    kernel_entries = tf.constant(np.concatenate(decay_mask).astype(np.float32))
    gen = tf.random.Generator.from_seed(seed)

    Xt = tf.constant(X)
    onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(y)]
    smooth = recipe.label_smoothing
    targets = tf.constant(onehot * (1.0 - smooth) + smooth / n_classes)
    idx_t, real_t = tf.constant(idx), tf.constant(real)
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    # Dropout masks come from 16-bit random numbers (two per 32-bit draw): a unit is dropped when its number
    # is below round(rate * 65536), i.e. with probability rate to within 1e-5; kept units are scaled by 1/keep.
    drop_below = int(round(recipe.dropout * 65536))
    keep = 1.0 - drop_below / 65536
    regularised = recipe.input_noise > 0 or recipe.dropout > 0
    hidden_units = [units for units, _ in hidden]
    n_words = -(-sum(hidden_units) // 2)

    def dropout_masks(bits):
        """Per hidden layer, a (M, B, units) 0 or 1/keep mask from (M, B, n_words) uint32 random bits."""
        halves = tf.concat([tf.bitwise.bitwise_and(bits, 0xFFFF), tf.bitwise.right_shift(bits, 16)], axis=2)
        scaled = tf.cast(halves >= drop_below, tf.float32) / keep
        masks, start = [], 0
        for units in hidden_units:
            masks.append(scaled[:, :, start: start + units])
            start += units
        return masks

    def unpack(values):
        """[kernel (M, in, out), bias (M, 1, out), ...] views of the flat parameter rows."""
        pieces = []
        for o, i, n in layout:
            pieces += [tf.reshape(values[:, o: o + i * n], (n_members, i, n)),
                       tf.reshape(values[:, o + i * n: o + i * n + n], (n_members, 1, n))]
        return pieces

    def forward(pieces, h, noise=None, masks=None):
        """Logits; with ``noise``/``masks`` (training) the input noise and dropout are applied."""
        if noise is not None:
            h = h + noise
        for i, act in enumerate(activations):
            h = tf.matmul(h, pieces[2 * i]) + pieces[2 * i + 1]
            if act == "relu":
                h = tf.nn.relu(h)
            if masks is not None and i < len(layout) - 1:
                h = h * masks[i]
        return h  # logits (softmax applied by the loss / at inference)

    def step(rows, weights, noise, masks):
        xb = tf.gather(Xt, rows, batch_dims=1)  # (M, B, F)
        yb = tf.gather(targets, rows)  # (M, B, C)
        values = tf.convert_to_tensor(flat)
        pieces = unpack(values)
        with tf.GradientTape() as tape:
            tape.watch(pieces)
            logits = forward(pieces, xb, noise, masks)
            per_row = tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=logits)  # (M, B)
            n_real = tf.reduce_sum(weights, axis=1)
            loss = tf.reduce_sum(tf.reduce_sum(per_row * weights, axis=1) / tf.maximum(n_real, 1.0))
        # gradients of the pieces, concatenated back into the flat layout (cheaper than slice gradients)
        grad = tf.concat([tf.reshape(g, (n_members, -1)) for g in tape.gradient(loss, pieces)], axis=1)
        active = tf.cast(n_real > 0, tf.float32)  # a member with an empty batch does not step at all
        t = adam_t + active
        adam_t.assign(t)
        lr = recipe.learning_rate
        if recipe.lr_decay_epochs:
            lr = lr / (1.0 + epoch_var / recipe.lr_decay_epochs)
        t = tf.maximum(t, 1.0)
        alpha = lr * tf.sqrt(1.0 - tf.pow(beta2, t)) / (1.0 - tf.pow(beta1, t))  # (M,)
        on = active[:, None]
        m = adam_m + on * (1.0 - beta1) * (grad - adam_m)
        v = adam_v + on * (1.0 - beta2) * (tf.square(grad) - adam_v)
        update = on * alpha[:, None] * m / (tf.sqrt(v) + eps)
        if recipe.weight_decay > 0:  # decoupled, kernels only (as Keras's AdamW)
            update += on * lr * recipe.weight_decay * kernel_entries * values
        adam_m.assign(m)
        adam_v.assign(v)
        flat.assign(values - update)

    @tf.function(jit_compile=True)
    def train_step(rows, weights, noise, bits):
        step(rows, weights, noise if recipe.input_noise > 0 else None,
             dropout_masks(bits) if recipe.dropout > 0 else None)

    def random_inputs():
        """Input noise and dropout bits of one step, drawn by TF's native kernels (much faster than XLA's)."""
        noise = gen.normal((n_members, batch_size, n_features), stddev=recipe.input_noise) \
            if recipe.input_noise > 0 else tf.zeros((1,))
        bits = gen.uniform_full_int((n_members, batch_size, n_words), dtype=tf.uint32) \
            if recipe.dropout > 0 else tf.zeros((1,), tf.uint32)
        return noise, bits

    @tf.function
    def run_epochs(n_epochs):
        for _ in tf.range(n_epochs):
            keys = gen.uniform(idx_t.shape) + (1.0 - real_t) * 2.0  # shuffle real rows, pads last
            order = tf.argsort(keys, axis=1)
            rows_all = tf.gather(idx_t, order, batch_dims=1)
            weights_all = tf.gather(real_t, order, batch_dims=1)
            for s in tf.range(n_steps):
                start = s * batch_size
                noise, bits = random_inputs() if regularised else (tf.zeros((1,)), tf.zeros((1,), tf.uint32))
                train_step(rows_all[:, start : start + batch_size], weights_all[:, start : start + batch_size],
                           noise, bits)
            epoch_var.assign_add(1.0)

    @tf.function
    def probabilities():
        return tf.nn.softmax(forward(unpack(tf.convert_to_tensor(flat)), Xt))

    done = 0
    for target in sorted(set(int(c) for c in checkpoints)):
        if target > done:
            run_epochs(tf.constant(target - done))
            done = target
        if on_checkpoint is not None:
            on_checkpoint(done, probabilities().numpy())
    values = flat.numpy()
    return StackedWeights(
        kernels=[values[:, o: o + i * n].reshape(n_members, i, n) for o, i, n in layout],
        biases=[values[:, o + i * n: o + i * n + n] for o, i, n in layout],
        activations=activations,
    )


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
) -> dict[int, list[dict[str, float]]]:
    """Cross-validate one MLP at one batch size: all folds trained side by side (one member per fold), each
    epoch count in ``epochs`` read as a checkpoint of the same run. Returns {epochs: [per-fold metrics]}.

    ``on_checkpoint(epochs, fold_metrics, seconds_so_far)`` is called as each checkpoint is reached.
    """
    import time

    n_classes = int(y.max()) + 1
    X_folds = standardise_per_fold(X, train_masks)
    results: dict[int, list[dict[str, float]]] = {}
    started = time.perf_counter()

    def checkpoint(epoch: int, proba: np.ndarray) -> None:
        pred = proba.argmax(axis=2)
        results[epoch] = [fold_metrics(y, pred[k], train_masks[k], n_classes) for k in range(len(train_masks))]
        if on_checkpoint is not None:
            on_checkpoint(epoch, results[epoch], time.perf_counter() - started)

    train_members(X_folds, y, train_masks, architecture.hidden, n_classes, recipe, batch_size, epochs,
                  seed=seed, on_checkpoint=checkpoint)
    return results


def make_sklearn_model(kind: str, seed: int = 0):
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
