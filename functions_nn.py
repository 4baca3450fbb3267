"""Neural-network helpers: the candidate table, the training engine, model export and the light model loader.

Import cost matters: ``03_launch_classifier.py`` imports this module to classify songs and must start in
under 3 s, so only NumPy and the standard library are imported here. TensorFlow/Keras, pandas and
scikit-learn are imported inside the functions that need them.

The model folder (written by ``02_train_model.py``)::

    model.keras   Keras 3 model, Normalization layer first: raw feature rows in, genre probabilities out
    weights.npz   the same network as plain arrays ("norm_mean", "norm_variance", "dense_0_kernel", ...)
    model.json    genres (output order), feature columns (input order), activations, settings, metrics
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from functions_audio import FEATURE_COLUMNS, GENRES

MODEL_FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "weights.npz"
METADATA_FILE = "model.json"
# Keras' Normalization layer divides by max(sqrt(variance), epsilon) with this epsilon (keras.backend.epsilon()).
NORMALIZATION_EPSILON = 1e-7


def quiet_tensorflow() -> None:
    """Silence TensorFlow's start-up chatter; call before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# --------------------------------------------------------------------------------------------------------
# The candidate table (the original study, plus our own clearly named extras)
# --------------------------------------------------------------------------------------------------------


def _columns(*prefixes: str) -> tuple[str, ...]:
    """Feature columns whose names start with any of ``prefixes``, in FEATURE_COLUMNS order."""
    return tuple(c for c in FEATURE_COLUMNS if c.startswith(prefixes))


FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "mfcc_mean (30)": _columns("mfcc_mean_"),
    "mfcc_mean + chroma_mean (42)": _columns("mfcc_mean_", "chroma_mean_"),
    "mfcc mean+std (60)": _columns("mfcc_mean_", "mfcc_std_"),
    "mfcc, chroma, tempo (85)": _columns("mfcc_", "chroma_", "tempo"),
    "85 + zcr (87)": _columns("mfcc_", "chroma_", "tempo", "zcr_"),
    "85 + zcr + rolloff (89)": _columns("mfcc_", "chroma_", "tempo", "zcr_", "rolloff_"),
    "85 + zcr + centroid (89)": _columns("mfcc_", "chroma_", "tempo", "zcr_", "centroid_"),
    "all features (91)": tuple(FEATURE_COLUMNS),
}


@dataclass(frozen=True)
class Architecture:
    """A Keras MLP: hidden layers as (units, activation), then a softmax over the genres."""

    name: str
    feature_group: str
    hidden: tuple[tuple[int, str], ...]
    original: bool = True  # part of the original study's table

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return FEATURE_GROUPS[self.feature_group]

    def describe(self) -> str:
        return " ".join(f"{units}{'R' if act == 'relu' else 'L'}" for units, act in self.hidden)


def _layers(spec: str) -> tuple[tuple[int, str], ...]:
    """'85R 75L' -> ((85, 'relu'), (75, 'linear'))."""
    names = {"R": "relu", "L": "linear"}
    return tuple((int(tok[:-1]), names[tok[-1]]) for tok in spec.split())


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("30col", "mfcc_mean (30)", _layers("30R 25R 20L 15L")),
        Architecture("42col", "mfcc_mean + chroma_mean (42)", _layers("42R 35L 24R 15L")),
        Architecture("60col", "mfcc mean+std (60)", _layers("60R 50L 40L 30R 20L")),
        Architecture("85col", "mfcc, chroma, tempo (85)", _layers("85R 75R 65L 55R 45L 35R 25R")),
        Architecture("87col", "85 + zcr (87)", _layers("87R 75R 65L 55R 45L 35R 25R")),
        Architecture("89col", "85 + zcr + rolloff (89)", _layers("89R 79R 69L 59R 49L 39R 29R")),
        Architecture("89col-centroid", "85 + zcr + centroid (89)", _layers("89R 79R 69L 59R 49L 39R 29R")),
        # our own extra: a wider, shallower MLP on all 91 features
        Architecture("wide91", "all features (91)", _layers("256R 128R"), original=False),
    )
}
SHIPPED_ARCHITECTURE = "85col"


@dataclass(frozen=True)
class Recipe:
    """How an MLP is trained (Adam + categorical cross-entropy, plus optional regularisation).

    The learning rate decays with the epoch number only (lr / (1 + epoch / lr_decay_epochs)), never with the
    planned total, so the model after 100 epochs of an 800-epoch run is the model a 100-epoch run gives.
    """

    name: str
    learning_rate: float = 1e-3
    lr_decay_epochs: float | None = None
    dropout: float = 0.0  # after every hidden layer
    input_noise: float = 0.0  # std of Gaussian noise added to the standardised inputs
    label_smoothing: float = 0.0
    weight_decay: float = 0.0  # decoupled (AdamW-style): w -= lr * weight_decay * w each step, kernels only


RECIPES: dict[str, Recipe] = {
    # the original study: plain Adam (Keras defaults), categorical cross-entropy
    "original": Recipe("original"),
    # ours: same layers, regularised training
    "regularised": Recipe(
        "regularised", learning_rate=1e-3, lr_decay_epochs=50.0, dropout=0.2, input_noise=0.2,
        label_smoothing=0.2,
    ),
    # ours, for the wide extra MLP: more units, more dropout
    "regularised-wide": Recipe(
        "regularised-wide", learning_rate=1e-3, lr_decay_epochs=50.0, dropout=0.5, input_noise=0.3,
        label_smoothing=0.1,
    ),
}


@dataclass(frozen=True)
class Candidate:
    """One row of the model comparison: an MLP (architecture + recipe) or a scikit-learn baseline."""

    name: str
    kind: str  # "mlp" or "sklearn"
    architecture: str | None = None
    recipe: str | None = None
    sklearn_model: str | None = None  # "logreg" or "svm-rbf"
    feature_group: str | None = None
    note: str = ""

    @property
    def feature_columns(self) -> tuple[str, ...]:
        if self.kind == "mlp":
            return ARCHITECTURES[self.architecture].feature_columns
        return FEATURE_GROUPS[self.feature_group]


def candidate_name(architecture: str, recipe: str) -> str:
    """Name of an MLP candidate in results tables: '85col' (original recipe), '85col+reg' (regularised)."""
    return architecture if recipe == "original" else f"{architecture}+reg"


def default_recipe(architecture: str) -> str:
    """The regularised recipe used with an architecture (the one its '+reg' candidate uses)."""
    return "regularised-wide" if architecture == "wide91" else "regularised"


def _mlp(arch: str, recipe: str, note: str = "") -> Candidate:
    return Candidate(candidate_name(arch, recipe), "mlp", architecture=arch, recipe=recipe, note=note)


ORIGINAL_CANDIDATES: tuple[str, ...] = tuple(a.name for a in ARCHITECTURES.values() if a.original)
CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        *(_mlp(a, "original", "original study") for a in ORIGINAL_CANDIDATES),
        _mlp("85col", "regularised", "shipped network, regularised training"),
        _mlp("89col", "regularised", "ours"),
        _mlp("wide91", "regularised-wide", "ours"),
        Candidate("logreg91", "sklearn", sklearn_model="logreg", feature_group="all features (91)",
                  note="baseline"),
        Candidate("svm-rbf91", "sklearn", sklearn_model="svm-rbf", feature_group="all features (91)",
                  note="baseline"),
    )
}
SHIPPED_CANDIDATE = candidate_name(SHIPPED_ARCHITECTURE, "regularised")
# documented fallbacks when there is no hyper-parameter run for the features CSV
DEFAULT_EPOCHS = 500
DEFAULT_BATCH = 32


# --------------------------------------------------------------------------------------------------------
# Light loader: NumPy only (used by the classifier at start-up)
# --------------------------------------------------------------------------------------------------------


class ModelLoadError(Exception):
    """A model folder cannot be used; the message is one line naming the folder/file and the problem."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
    "softmax": _softmax,
}


@dataclass
class Classifier:
    """A trained genre classifier evaluated with NumPy (same numbers as the Keras model to ~1e-6)."""

    model_dir: Path
    genres: list[str]
    feature_columns: list[str]
    metadata: dict
    norm_mean: np.ndarray
    norm_std: np.ndarray
    kernels: list[np.ndarray] = field(repr=False)
    biases: list[np.ndarray] = field(repr=False)
    activations: list[str] = field(default_factory=list)

    def check_columns(self, available: Sequence[str]) -> None:
        """Raise ModelLoadError naming the model's input columns missing from ``available``."""
        have = set(available)
        missing = [c for c in self.feature_columns if c not in have]
        if missing:
            shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
            raise ModelLoadError(
                f"{self.model_dir}: the model needs {len(missing)} feature column(s) the data lacks: {shown}"
            )

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Genre probabilities (n, n_genres) for raw feature rows X (n, n_features) in feature_columns order."""
        h = np.asarray(X, dtype=np.float64)
        if h.ndim == 1:
            h = h[None, :]
        if h.ndim != 2 or h.shape[1] != len(self.feature_columns):
            raise ValueError(f"expected rows of {len(self.feature_columns)} features, got shape {h.shape}")
        h = (h - self.norm_mean) / self.norm_std
        for kernel, bias, act in zip(self.kernels, self.biases, self.activations, strict=True):
            h = _ACTIVATIONS[act](h @ kernel + bias)
        return h

    def predict(self, X: np.ndarray) -> list[str]:
        """Most probable genre per row."""
        return [self.genres[i] for i in self.predict_proba(X).argmax(axis=1)]


def load_classifier(model_dir: str | os.PathLike) -> Classifier:
    """Read model.json + weights.npz of a model folder; raise ModelLoadError (one line) if unusable."""
    model_dir = Path(model_dir)
    meta_path, weights_path = model_dir / METADATA_FILE, model_dir / WEIGHTS_FILE
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: model folder not found")
    for path in (meta_path, weights_path):
        if not path.is_file():
            raise ModelLoadError(f"{path}: missing from the model folder")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{meta_path}: not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{meta_path}: expected a JSON object")
    for key in ("genres", "feature_columns", "activations"):
        value = meta.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ModelLoadError(f"{meta_path}: '{key}' must be a non-empty list of strings")
    if meta.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelLoadError(f"{meta_path}: unsupported format_version {meta.get('format_version')!r}")
    genres, columns, activations = meta["genres"], meta["feature_columns"], meta["activations"]
    unknown = sorted(set(activations) - set(_ACTIVATIONS))
    if unknown:
        raise ModelLoadError(f"{meta_path}: unsupported activation(s) {', '.join(unknown)}")
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            arrays = {name: np.asarray(npz[name], dtype=np.float64) for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelLoadError(f"{weights_path}: not a readable weights file ({exc})") from None
    n_layers = len(activations)
    expected = ["norm_mean", "norm_variance"] + [f"dense_{i}_{p}" for i in range(n_layers) for p in ("kernel", "bias")]
    missing = [name for name in expected if name not in arrays]
    if missing:
        raise ModelLoadError(f"{weights_path}: missing array(s) {', '.join(missing[:4])}")
    kernels = [arrays[f"dense_{i}_kernel"] for i in range(n_layers)]
    biases = [arrays[f"dense_{i}_bias"] for i in range(n_layers)]
    width = len(columns)
    shapes_ok = arrays["norm_mean"].shape == (width,) and arrays["norm_variance"].shape == (width,)
    for kernel, bias in zip(kernels, biases, strict=True):
        shapes_ok = shapes_ok and kernel.ndim == 2 and kernel.shape[0] == width and bias.shape == kernel.shape[1:]
        width = kernel.shape[1] if kernel.ndim == 2 else -1
    if not shapes_ok or width != len(genres):
        raise ModelLoadError(
            f"{weights_path}: array shapes do not match {len(columns)} feature columns -> {len(genres)} genres"
        )
    if activations[-1] != "softmax":
        raise ModelLoadError(f"{meta_path}: the last activation must be softmax")
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ModelLoadError(f"{weights_path}: contains non-finite values")
    norm_std = np.maximum(np.sqrt(arrays["norm_variance"]), NORMALIZATION_EPSILON)
    return Classifier(
        model_dir=model_dir, genres=list(genres), feature_columns=list(columns), metadata=meta,
        norm_mean=arrays["norm_mean"], norm_std=norm_std, kernels=kernels, biases=biases,
        activations=list(activations),
    )


def load_keras_model(model_dir: str | os.PathLike):
    """The model.keras of a model folder, loaded in Keras's safe mode; ModelLoadError (one line) if unusable."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing from the model folder")
    quiet_tensorflow()
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for damaged archives
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: cannot load the Keras model ({first[:200]})") from None


# --------------------------------------------------------------------------------------------------------
# Data helpers
# --------------------------------------------------------------------------------------------------------


class DataError(Exception):
    """A features CSV cannot be used; the message is one line naming the file."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def genres_in_order(labels: Sequence[str]) -> list[str]:
    """Genres present in ``labels``: the known GENRES in their order, then any others alphabetically."""
    present = set(labels)
    return [g for g in GENRES if g in present] + sorted(present - set(GENRES))


def load_features_csv(path: str | os.PathLike, columns: Sequence[str] = FEATURE_COLUMNS):
    """Read a features CSV (file, genre, features) as a DataFrame; DataError (one line) if unusable."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: features CSV not found")
    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("file", "genre", *columns) if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
        raise DataError(f"{path}: missing column(s) {shown}")
    if df.empty:
        raise DataError(f"{path}: no rows")
    values = df[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad_rows = ~np.isfinite(values).all(axis=1)
    if bad_rows.any():
        first = df["file"].iloc[int(np.flatnonzero(bad_rows)[0])]
        raise DataError(f"{path}: {int(bad_rows.sum())} row(s) with missing/non-numeric features, e.g. {first}")
    if df["genre"].isna().any():
        raise DataError(f"{path}: {int(df['genre'].isna().sum())} row(s) without a genre")
    df["genre"] = df["genre"].astype(str)
    return df


# --------------------------------------------------------------------------------------------------------
# Training engine: M independent copies ("members") of one MLP trained side by side in one TF graph
# --------------------------------------------------------------------------------------------------------


def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (ddof 0) per column, as Keras's Normalization.adapt computes them."""
    X = np.asarray(X, dtype=np.float64)
    return X.mean(axis=0), X.var(axis=0)


def standardise(X: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """(X - mean) / max(sqrt(variance), eps), exactly Keras's Normalization."""
    return (np.asarray(X, dtype=np.float64) - mean) / np.maximum(np.sqrt(variance), NORMALIZATION_EPSILON)


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
# Held-out split, metrics, export (used by 02_train_model.py)
# --------------------------------------------------------------------------------------------------------


def match_test_files(files: Sequence[str], names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Rows whose ``file`` equals a listed name or whose file name (last path part) equals it.

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
        hits = [i for i, (f, b) in enumerate(zip(files, base, strict=True)) if f == name or b == name]
        if not hits:
            unknown.append(name)
        mask[hits] = True
    return mask, unknown


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


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, genres: Sequence[str]) -> dict:
    """Accuracy, macro and per-genre precision/recall/F1 and the confusion matrix (rows = true genre)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(genres)))
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro",
                                                    zero_division=0)
    return {
        "n_test": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_precision": float(mp),
        "macro_recall": float(mr),
        "macro_f1": float(mf),
        "per_genre": {
            g: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(support[i])}
            for i, g in enumerate(genres)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a trained model (read from package metadata, nothing imported)."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("numpy", "tensorflow-cpu", "tensorflow", "keras", "scikit-learn", "pandas", "librosa"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def build_keras_model(
    feature_columns: Sequence[str],
    genres: Sequence[str],
    hidden: Sequence[tuple[int, str]],
    X_train: np.ndarray,
    kernels: Sequence[np.ndarray] | None = None,
    biases: Sequence[np.ndarray] | None = None,
    name: str = "genre_mlp",
):
    """The Keras model: Normalization adapted on ``X_train`` (raw rows), the hidden Dense layers and a softmax
    over ``genres``; with ``kernels``/``biases`` the Dense layers get those weights.

    A column that is constant in the training rows gets variance 1 instead of 0 (Keras would divide by 1e-7).
    """
    quiet_tensorflow()
    import keras

    inputs = keras.Input(shape=(len(feature_columns),), name="features")
    norm = keras.layers.Normalization(name="standardise")
    norm.adapt(np.asarray(X_train, dtype=np.float32))
    variance = norm.adapt_variance.numpy()
    if (variance <= 0).any():
        norm.adapt_variance.assign(np.where(variance > 0, variance, 1.0).astype(np.float32))
        norm.finalize_state()
    h = norm(inputs)
    for i, (units, act) in enumerate(hidden):
        h = keras.layers.Dense(units, activation=act, name=f"dense_{i}")(h)
    outputs = keras.layers.Dense(len(genres), activation="softmax", name=f"dense_{len(hidden)}")(h)
    model = keras.Model(inputs, outputs, name=name)
    if kernels is not None and biases is not None:
        for i, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
            model.get_layer(f"dense_{i}").set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
    return model


def keras_model_arrays(model) -> dict[str, np.ndarray]:
    """weights.npz content of a model made by build_keras_model: normalisation, then dense kernels/biases."""
    norm = model.get_layer("standardise")
    arrays = {
        "norm_mean": np.asarray(norm.adapt_mean.numpy(), dtype=np.float32),
        "norm_variance": np.asarray(norm.adapt_variance.numpy(), dtype=np.float32),
    }
    dense = [layer for layer in model.layers if layer.name.startswith("dense_")]
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        arrays[f"dense_{i}_kernel"] = np.asarray(kernel, dtype=np.float32)
        arrays[f"dense_{i}_bias"] = np.asarray(bias, dtype=np.float32)
    return arrays


def write_model_dir(model_dir: Path, model, metadata: dict) -> None:
    """Write model.keras, weights.npz (no pickle) and model.json into ``model_dir`` (created if needed).

    Files are written under temporary names and renamed, so a crash never leaves a half-written model.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    arrays = keras_model_arrays(model)
    tmp_keras = model_dir / "model.tmp.keras"
    model.save(tmp_keras)
    tmp_npz = model_dir / "weights.tmp.npz"
    with open(tmp_npz, "wb") as fh:
        np.savez(fh, **arrays)
    tmp_json = model_dir / "model.tmp.json"
    tmp_json.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_keras, model_dir / MODEL_FILE)
    os.replace(tmp_npz, model_dir / WEIGHTS_FILE)
    os.replace(tmp_json, model_dir / METADATA_FILE)


def recipe_settings(recipe: Recipe) -> dict:
    """JSON-serialisable recipe description."""
    return asdict(recipe)


# --------------------------------------------------------------------------------------------------------
# Reading a hyper-parameter run (written by 01_nn_hyperparam.py)
# --------------------------------------------------------------------------------------------------------

RESULTS_FILE = "results.csv"
RUN_FILE = "run.json"


def best_cell(results_csv: Path, candidate: str) -> dict | None:
    """The row of ``candidate`` with the best mean CV accuracy (ties: fewer epochs, then larger batch)."""
    import csv

    try:
        with open(results_csv, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("candidate") == candidate]
    except OSError:
        return None
    best = None
    for row in rows:
        try:
            key = (float(row["accuracy_mean"]), -float(row["epochs"]), float(row["batch_size"]))
        except (KeyError, TypeError, ValueError):
            continue
        if best is None or key > best[0]:
            best = (key, row)
    return None if best is None else best[1]


def find_hyperparam_run(features_csv: Path, features_sha256: str, extra: Sequence[Path] = ()) -> Path | None:
    """The most recent 01 run folder made from this very features CSV (same SHA-256), or None.

    Looked for in ``extra``, then ``<features folder>/hyperparam`` and ``outputs/hyperparam``.
    """
    from functions_audio import OUTPUTS_DIR

    found = []
    for folder in (*extra, Path(features_csv).parent / "hyperparam", OUTPUTS_DIR / "hyperparam"):
        run, results = Path(folder) / RUN_FILE, Path(folder) / RESULTS_FILE
        try:
            info = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("features_sha256") == features_sha256 and results.is_file():
            found.append((results.stat().st_mtime, Path(folder)))
    return max(found)[1] if found else None


# --------------------------------------------------------------------------------------------------------
# Cross-validation (used by 01_nn_hyperparam.py and the benchmark)
# --------------------------------------------------------------------------------------------------------


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
    masks = np.ones((n_folds, len(y)), dtype=bool)
    for k, (_, test_rows) in enumerate(splits):
        masks[k, test_rows] = False
    return masks


def fold_metrics(y: np.ndarray, pred: np.ndarray, train_mask: np.ndarray, n_classes: int) -> dict[str, float]:
    """Test accuracy, macro precision/recall/F1 (test rows) and train accuracy of one fold."""
    from sklearn.metrics import precision_recall_fscore_support

    test = ~train_mask
    p, r, f, _ = precision_recall_fscore_support(y[test], pred[test], labels=list(range(n_classes)),
                                                 average="macro", zero_division=0)
    return {
        "accuracy": float((pred[test] == y[test]).mean()),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "train_accuracy": float((pred[train_mask] == y[train_mask]).mean()),
    }


def standardise_per_fold(X: np.ndarray, train_masks: np.ndarray) -> np.ndarray:
    """(K, N, F): X standardised with each fold's own training-row mean/variance (no test row leaks)."""
    out = np.empty((len(train_masks), *X.shape), dtype=np.float32)
    for k, mask in enumerate(train_masks):
        mean, variance = standardisation(X[mask])
        out[k] = standardise(X, mean, np.where(variance > 0, variance, 1.0))
    return out


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


# --------------------------------------------------------------------------------------------------------
# Grid jobs: one job = one candidate at one batch size, all folds and all epoch checkpoints
# --------------------------------------------------------------------------------------------------------

GRID_EPOCHS = (100, 500, 800)
GRID_BATCHES = (32, 200, 300)
QUICK_EPOCHS = (20, 100)
QUICK_BATCHES = (32, 200)
METRICS = ("accuracy", "precision", "recall", "f1", "train_accuracy")


@dataclass
class GridJob:
    """Everything a worker (local process or Dask) needs; plain data, picklable."""

    candidate: str
    batch_size: int | None  # None for scikit-learn baselines (no epochs/batches)
    epochs: tuple[int, ...]
    X: np.ndarray  # (N, F) raw features of the candidate's columns
    y: np.ndarray  # (N,) integer labels
    train_masks: np.ndarray  # (K, N)
    seed: int = 0
    tf_threads: int | None = 1

    @property
    def key(self) -> str:
        return f"{self.candidate}|{self.batch_size}"

    @property
    def cost(self) -> float:
        """Rough relative cost, to start the longest jobs first."""
        cand = CANDIDATES[self.candidate]
        if cand.kind != "mlp":
            return 0.0
        arch = ARCHITECTURES[cand.architecture]
        sizes = [len(arch.feature_columns)] + [u for u, _ in arch.hidden] + [10]
        macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        steps = max(self.epochs) * -(-int(self.train_masks.sum(axis=1).max()) // (self.batch_size or 1))
        return steps * (2e-3 + macs * 1e-8 * (self.batch_size or 1))


def run_grid_job(job: GridJob, progress=None) -> list[dict]:
    """Train/evaluate one job; returns one result row per epochs value (or one row for a baseline), each
    with per-fold metrics under "folds". ``progress`` (optional, a queue) receives (key, n_fold_cells_done)."""
    import time

    cand = CANDIDATES[job.candidate]
    n_folds = len(job.train_masks)
    rows: list[dict] = []

    def summarise(epochs: int | None, per_fold: list[dict[str, float]], seconds: float) -> dict:
        row = {"candidate": job.candidate, "kind": cand.kind, "architecture": cand.architecture or "",
               "recipe": cand.recipe or cand.sklearn_model, "epochs": epochs, "batch_size": job.batch_size,
               "folds": n_folds, "n_features": job.X.shape[1]}
        for name in METRICS:
            values = np.array([m[name] for m in per_fold])
            row[f"{name}_mean"] = float(values.mean())
            row[f"{name}_std"] = float(values.std())
        row["fit_seconds"] = round(seconds, 2)
        row["folds_detail"] = per_fold
        return row

    if cand.kind == "sklearn":
        started = time.perf_counter()
        per_fold = []
        n_classes = int(job.y.max()) + 1
        for mask in job.train_masks:
            model = make_sklearn_model(cand.sklearn_model, job.seed).fit(job.X[mask], job.y[mask])
            per_fold.append(fold_metrics(job.y, model.predict(job.X), mask, n_classes))
            if progress is not None:
                progress.put((job.key, 1))
        return [summarise(None, per_fold, time.perf_counter() - started)]

    configure_tf_threads(job.tf_threads)

    def checkpoint(epochs: int, per_fold: list[dict[str, float]], seconds: float) -> None:
        rows.append(summarise(epochs, per_fold, seconds))
        if progress is not None:
            progress.put((job.key, n_folds))

    cv_mlp(job.X, job.y, job.train_masks, ARCHITECTURES[cand.architecture], RECIPES[cand.recipe],
           int(job.batch_size), job.epochs, seed=job.seed, on_checkpoint=checkpoint)
    return rows


_POOL_UPDATES = None


def _pool_worker_init(updates, parent_pid: int) -> None:
    """Local worker set-up: progress queue, Ctrl-C left to the parent, exit if the parent process dies."""
    import signal

    from functions_parallel import exit_with_parent

    global _POOL_UPDATES
    _POOL_UPDATES = updates
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent_pid)


def _pool_run_grid_job(job: GridJob) -> list[dict]:
    return run_grid_job(job, _POOL_UPDATES)


class GridError(Exception):
    """The grid search could not finish; finished cells stay on disk."""


def parse_int_list(text: str) -> tuple[int, ...]:
    """'100,500' -> (100, 500); ValueError naming the bad item."""
    values = []
    for item in text.split(","):
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"not a whole number: {item!r}") from None
        if value < 1:
            raise ValueError(f"must be positive: {item!r}")
        values.append(value)
    return tuple(sorted(set(values)))


FOLD_COLUMNS = ("candidate", "epochs", "batch_size", "fold", *METRICS)


def _cell_key(candidate: str, batch) -> str:
    batch = "" if batch is None or (isinstance(batch, float) and np.isnan(batch)) or batch == "" else int(float(batch))
    return f"{candidate}|{batch if batch != '' else None}"


@dataclass
class GridSearch:
    """A resumable grid search over candidates x epochs x batch sizes with K-fold CV (see 01_nn_hyperparam.py)."""

    features_csv: Path
    output_dir: Path
    jobs: list[GridJob]
    settings: dict
    genres: list[str]
    done_keys: set[str]
    df: object = field(repr=False, default=None)

    @property
    def results_csv(self) -> Path:
        return self.output_dir / RESULTS_FILE

    @property
    def folds_csv(self) -> Path:
        return self.output_dir / "folds.csv"

    @classmethod
    def prepare(cls, features_csv: Path, output_dir: Path, candidates: Sequence[str], epochs: Sequence[int],
                batches: Sequence[int], n_folds: int, seed: int = 0, groups_column: str | None = None
                ) -> GridSearch:
        """Read the CSV, make the folds, and work out which jobs a previous run already finished."""
        needed = sorted({c for name in candidates for c in CANDIDATES[name].feature_columns},
                        key=list(FEATURE_COLUMNS).index)
        df = load_features_csv(features_csv, needed)
        if groups_column is not None and groups_column not in df.columns:
            raise DataError(f"{features_csv}: no column {groups_column!r} for --groups")
        genres = genres_in_order(df["genre"])
        y = np.array([genres.index(g) for g in df["genre"]])
        counts = np.bincount(y)
        if counts.min() < 2 or len(genres) < 2:
            raise DataError(f"{features_csv}: need at least 2 genres with 2 rows each for cross-validation "
                            f"(smallest genre has {counts.min()})")
        if n_folds > counts.max():
            raise DataError(f"{features_csv}: {n_folds} folds but no genre has more than {counts.max()} rows")
        groups = df[groups_column].astype(str).to_numpy() if groups_column else None
        if groups is not None and len(set(groups)) < n_folds:
            raise DataError(f"{features_csv}: --groups {groups_column} has fewer than {n_folds} distinct values")
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class")
            masks = cv_train_masks(y, n_folds, seed, groups)
        settings = {
            "features_csv": str(features_csv), "features_sha256": file_sha256(features_csv),
            "n_rows": len(df), "genres": genres, "folds": n_folds, "seed": seed, "groups": groups_column,
            "epochs": list(epochs), "batches": list(batches),
            "recipes": {name: asdict(r) for name, r in RECIPES.items()},
        }
        output_dir.mkdir(parents=True, exist_ok=True)
        done = cls._resume(output_dir, settings)
        jobs = []
        for name in candidates:
            cand = CANDIDATES[name]
            X = df[list(cand.feature_columns)].to_numpy(dtype=np.float64)
            for batch in (batches if cand.kind == "mlp" else [None]):
                jobs.append(GridJob(name, batch, tuple(epochs), X, y, masks, seed=seed))
        run_info = dict(settings, candidates=list(candidates))
        (output_dir / RUN_FILE).write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
        return cls(Path(features_csv), output_dir, jobs, settings, genres, done, df)

    @staticmethod
    def _resume(output_dir: Path, settings: dict) -> set[str]:
        """Keys of jobs finished by an earlier run with the same settings; other runs' files are set aside."""
        import csv

        results, folds, run = output_dir / RESULTS_FILE, output_dir / "folds.csv", output_dir / RUN_FILE
        try:
            previous = json.loads(run.read_text(encoding="utf-8"))
            same = all(previous.get(k) == v for k, v in settings.items())
        except (OSError, ValueError, AttributeError):
            same = False
        if not same:
            for path in (results, folds):
                if path.exists():
                    os.replace(path, path.with_suffix(".previous.csv"))
            return set()
        done: dict[str, set] = {}
        try:
            with open(results, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    done.setdefault(_cell_key(row["candidate"], row["batch_size"]), set()).add(row["epochs"])
        except (OSError, KeyError):
            return set()
        want = {str(e) for e in settings["epochs"]}
        return {k for k, e in done.items() if k.endswith("|None") or want <= e}

    @property
    def pending(self) -> list[GridJob]:
        return sorted((j for j in self.jobs if _cell_key(j.candidate, j.batch_size) not in self.done_keys),
                      key=lambda j: -j.cost)

    def describe(self) -> str:
        s = self.settings
        n_cells = sum(len(j.epochs) if j.batch_size else 1 for j in self.jobs)
        resumed = len(self.jobs) - len(self.pending)
        n_candidates = len({j.candidate for j in self.jobs})
        text = (f"{self.features_csv}: {s['n_rows']} rows, {len(self.genres)} genres; {n_candidates}"
                f" candidates, {n_cells} cells, {s['folds']}-fold CV (seed {s['seed']}"
                f"{', groups ' + s['groups'] if s['groups'] else ''}); epochs {s['epochs']}, batches {s['batches']}")
        if resumed:
            text += f"\nresuming: {resumed} of {len(self.jobs)} jobs already in {self.results_csv}"
        return text

    def _units(self, job: GridJob) -> int:
        return len(job.train_masks) * (len(job.epochs) if job.batch_size else 1)

    def _write(self, rows: list[dict]) -> None:
        """Append finished rows to results.csv and folds.csv (header first if new)."""
        import csv

        result_columns = [k for k in rows[0] if k != "folds_detail"]
        for path, columns, records in (
            (self.results_csv, result_columns, [{k: r[k] for k in result_columns} for r in rows]),
            (self.folds_csv, list(FOLD_COLUMNS),
             [{"candidate": r["candidate"], "epochs": r["epochs"], "batch_size": r["batch_size"], "fold": k, **m}
              for r in rows for k, m in enumerate(r["folds_detail"])]),
        ):
            new = not path.exists() or path.stat().st_size == 0
            with open(path, "a", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerows(records)
                fh.flush()
                os.fsync(fh.fileno())

    def _finished(self, job: GridJob, rows: list[dict]) -> None:
        self._write(rows)
        self.done_keys.add(_cell_key(job.candidate, job.batch_size))

    def run(self, scheduler: str | None = None, workers: int | None = None, progress: bool = True) -> float:
        """Run the pending jobs (local processes, or a Dask cluster); returns the wall time in seconds."""
        import time

        from tqdm import tqdm

        pending = self.pending
        started = time.perf_counter()
        if not pending:
            return 0.0
        total = sum(self._units(j) for j in pending)
        bar = tqdm(total=total, unit="fold-cell", desc="grid", disable=not progress, dynamic_ncols=True)
        failures: list[str] = []
        try:
            if scheduler:
                self._run_dask(pending, scheduler, bar, failures)
            else:
                workers = workers or os.cpu_count() or 1
                self._run_local(pending, workers, bar, failures)
        finally:
            bar.close()
        if failures:
            raise GridError(f"{len(failures)} job(s) failed: " + "; ".join(failures[:3]))
        return time.perf_counter() - started

    def _run_local(self, pending: list[GridJob], workers: int, bar, failures: list[str]) -> None:
        import multiprocessing
        import queue as queue_module
        import time

        workers = min(workers, len(pending))
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no TensorFlow state is forked
        updates = context.Queue()
        pool = context.Pool(workers, initializer=_pool_worker_init, initargs=(updates, os.getpid()))
        try:
            running = {job.key: (job, pool.apply_async(_pool_run_grid_job, (job,))) for job in pending}
            shown: dict[str, int] = {}
            while running:
                time.sleep(0.2)
                while True:
                    try:
                        key, units = updates.get_nowait()
                    except queue_module.Empty:
                        break
                    shown[key] = shown.get(key, 0) + units
                    bar.update(units)
                for key in [k for k, (_, result) in running.items() if result.ready()]:
                    job, result = running.pop(key)
                    try:
                        rows = result.get()
                    except Exception as exc:  # one failed job must not lose the others
                        failures.append(f"{job.key}: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
                        continue
                    self._finished(job, rows)
                    bar.update(self._units(job) - shown.get(job.key, 0))
                    shown[job.key] = self._units(job)
            pool.close()
        finally:
            pool.terminate()  # on Ctrl-C or an error: stop the workers now, finished rows are on disk
            pool.join()

    def _run_dask(self, pending: list[GridJob], scheduler: str, bar, failures: list[str]) -> None:
        from distributed import as_completed

        import functions_audio
        from functions_parallel import connect_dask

        client = connect_dask(scheduler, [functions_audio, sys.modules[__name__]], GridError)
        try:
            futures = {client.submit(run_grid_job, job, pure=False, key=f"grid-{job.key}-{id(job)}"): job
                       for job in pending}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    rows = future.result()
                except Exception as exc:
                    failures.append(f"{job.key}: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
                    continue
                self._finished(job, rows)
                bar.update(self._units(job))
        finally:
            client.close()

    def results(self):
        """The results table (pandas DataFrame) of this run's candidates."""
        import pandas as pd

        df = pd.read_csv(self.results_csv)
        return df[df["candidate"].isin({j.candidate for j in self.jobs})]

    def ranked_table(self, top: int = 15) -> str:
        """The cells ranked by mean CV accuracy, and each candidate's best cell."""
        df = self.results().sort_values(["accuracy_mean", "epochs"], ascending=[False, True])

        def fmt(frame) -> str:
            lines = [f"{'#':>3} {'candidate':<15} {'epochs':>6} {'batch':>5}  {'accuracy':>13} {'macro F1':>13}"
                     f" {'train acc':>9} {'fit s':>7}"]
            for rank, (_, r) in enumerate(frame.iterrows(), 1):
                epochs = "-" if np.isnan(r["epochs"]) else f"{int(r['epochs'])}"
                batch = "-" if np.isnan(r["batch_size"]) else f"{int(r['batch_size'])}"
                lines.append(f"{rank:>3} {r['candidate']:<15} {epochs:>6} {batch:>5}  "
                             f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} "
                             f"{r['f1_mean']:.3f} ± {r['f1_std']:.3f}"
                             f" {r['train_accuracy_mean']:9.3f} {r['fit_seconds']:7.1f}")
            return "\n".join(lines)

        best = df.drop_duplicates("candidate")
        folds = self.settings["folds"]
        return (f"\nbest cell per candidate ({folds}-fold CV, mean ± std over folds):\n{fmt(best)}\n"
                f"\ntop {min(top, len(df))} of {len(df)} cells:\n{fmt(df.head(top))}\n"
                f"(fit s: wall time of the run up to that epoch count, all folds together)")

    def plot(self, example_clip: Path | None = None) -> list[Path]:
        """The PNG plots of the run (see functions_dataviz)."""
        import pandas as pd

        import functions_dataviz as viz

        folds = pd.read_csv(self.folds_csv)
        folds = folds[folds["candidate"].isin({j.candidate for j in self.jobs})]
        order = [c for c in CANDIDATES if c in set(folds["candidate"])]
        written = [viz.plot_all_models(folds, order, self.output_dir / "all_models.png")]
        for name in order:
            if CANDIDATES[name].kind == "mlp":
                written.append(viz.plot_candidate_metrics(folds[folds["candidate"] == name], name,
                                                          self.output_dir / f"candidate_{_safe(name)}.png"))
        written += viz.plot_feature_exploration(self.df, self.genres, self.output_dir, self.features_csv,
                                                example_clip)
        return written


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
