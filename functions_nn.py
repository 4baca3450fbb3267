"""The networks: the candidate table, the model-folder format, the light NumPy classifier, Keras build/export/load.

Import cost matters: ``03_launch_classifier.py`` imports this module to classify songs and must start in
under 3 s, so only NumPy and the standard library are imported here. TensorFlow/Keras are imported inside the
functions that need them. Training lives in ``functions_training``, data/splits/metrics in
``functions_evaluation`` and 01's grid search in ``functions_gridsearch``.

The model folder (written by ``02_train_model.py``)::

    model.keras   Keras 3 model, Normalization layer first: raw feature rows in, calibrated genre probabilities out
    weights.npz   the same network(s) as plain arrays ("norm_mean", "norm_variance", "dense_0_kernel", ...); the
                  dense arrays have a leading member axis (M, fan_in, fan_out), M = 1 for a single network
    model.json    genres (output order), feature columns (input order), activations, members, calibration
                  (temperature, uncertain threshold), settings, metrics

Format 2 (this one): an ensemble of M members with one shared standardisation; the probabilities are the mean
over members of softmax(logits / temperature). Format 1 (a single network, 2-D arrays, no calibration) still
loads, as M = 1 and temperature 1.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from functions_audio import MUSICNN_COLUMNS, file_sha256
from functions_calibration import calibrated_probabilities
from functions_candidates import ARCHITECTURES, Recipe, feature_set

if TYPE_CHECKING:
    import keras

MODEL_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
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
# Light loader: NumPy only (used by the classifier at start-up)
# --------------------------------------------------------------------------------------------------------


class ModelLoadError(Exception):
    """A model folder cannot be used; the message is one line naming the folder/file and the problem."""


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
    "softmax": lambda z: z,  # the output layer: its logits go to calibrated_probabilities
}


@dataclass
class Classifier:
    """A trained genre classifier (one network or an ensemble) evaluated with NumPy (same numbers as the Keras
    model to ~1e-6). Dense arrays carry a leading member axis: kernels (M, fan_in, fan_out), biases (M, fan_out).
    """

    model_dir: Path
    genres: list[str]
    feature_columns: list[str]
    metadata: dict
    norm_mean: np.ndarray
    norm_std: np.ndarray
    kernels: list[np.ndarray] = field(repr=False)
    biases: list[np.ndarray] = field(repr=False)
    activations: list[str] = field(default_factory=list)
    temperature: float = 1.0  # fitted on validation clips (model.json "calibration"); 1 = uncalibrated
    uncertain_threshold: float | None = None  # calibrated top probability below which an answer is uncertain
    novelty: Any = None  # functions_novelty.NoveltyScorer of model.json "novelty" (None: it cannot tell unknown songs)

    @property
    def members(self) -> int:
        """Networks in the ensemble (1 for a single network)."""
        return int(self.kernels[0].shape[0])

    def check_columns(self, available: Sequence[str]) -> None:
        """Raise ModelLoadError naming the model's input columns missing from ``available``."""
        have = set(available)
        missing = [c for c in self.feature_columns if c not in have]
        if missing:
            shown = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
            raise ModelLoadError(
                f"{self.model_dir}: the model needs {len(missing)} feature column(s) the data lacks: {shown}"
            )

    def member_logits(self, X: np.ndarray) -> np.ndarray:
        """Each member's output logits (M, n, n_genres) for raw feature rows X (n, n_features)."""
        h = np.asarray(X, dtype=np.float64)
        if h.ndim == 1:
            h = h[None, :]
        if h.ndim != 2 or h.shape[1] != len(self.feature_columns):
            raise ValueError(f"expected rows of {len(self.feature_columns)} features, got shape {h.shape}")
        h = ((h - self.norm_mean) / self.norm_std)[None]
        for kernel, bias, act in zip(self.kernels, self.biases, self.activations, strict=True):
            h = _ACTIVATIONS[act](h @ kernel + bias[:, None, :])
        return h

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated genre probabilities (n, n_genres) for raw feature rows X (n, n_features) in
        feature_columns order: the mean over members of softmax(logits / temperature)."""
        return calibrated_probabilities(self.member_logits(X), self.temperature)

    def predict(self, X: np.ndarray) -> list[str]:
        """Most probable genre per row."""
        return [self.genres[i] for i in self.predict_proba(X).argmax(axis=1)]

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], genres: Sequence[str], feature_columns: Sequence[str],
                    activations: Sequence[str], model_dir: Path = Path("."), metadata: dict | None = None,
                    temperature: float = 1.0, uncertain_threshold: float | None = None) -> Classifier:
        """A classifier from weights.npz-style arrays (dense arrays with the member axis), checks left to the caller."""
        n_layers = len(activations)
        return cls(model_dir=model_dir, genres=list(genres), feature_columns=list(feature_columns),
                   metadata=metadata or {}, norm_mean=np.asarray(arrays["norm_mean"], dtype=np.float64),
                   norm_std=np.maximum(np.sqrt(np.asarray(arrays["norm_variance"], dtype=np.float64)),
                                       NORMALIZATION_EPSILON),
                   kernels=[np.asarray(arrays[f"dense_{i}_kernel"], dtype=np.float64) for i in range(n_layers)],
                   biases=[np.asarray(arrays[f"dense_{i}_bias"], dtype=np.float64) for i in range(n_layers)],
                   activations=list(activations), temperature=temperature, uncertain_threshold=uncertain_threshold)


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
    if meta.get("format_version") not in READABLE_FORMAT_VERSIONS:
        raise ModelLoadError(f"{meta_path}: unsupported format_version {meta.get('format_version')!r}")
    temperature, threshold = _calibration(meta, meta_path)
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
    if meta["format_version"] == 1:  # one network, arrays without the member axis
        arrays.update({name: a[None] for name, a in arrays.items() if name.startswith("dense_")})
    kernels = [arrays[f"dense_{i}_kernel"] for i in range(n_layers)]
    biases = [arrays[f"dense_{i}_bias"] for i in range(n_layers)]
    width, members = len(columns), meta.get("members", 1)
    shapes_ok = arrays["norm_mean"].shape == (width,) and arrays["norm_variance"].shape == (width,)
    for kernel, bias in zip(kernels, biases, strict=True):
        shapes_ok = (shapes_ok and kernel.ndim == 3 and kernel.shape[:2] == (members, width)
                     and bias.shape == (members, kernel.shape[2]))
        width = kernel.shape[2] if kernel.ndim == 3 else -1
    if not shapes_ok or width != len(genres):
        raise ModelLoadError(f"{weights_path}: array shapes do not match {members} member(s) of "
                             f"{len(columns)} feature columns -> {len(genres)} genres")
    if activations[-1] != "softmax":
        raise ModelLoadError(f"{meta_path}: the last activation must be softmax")
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ModelLoadError(f"{weights_path}: contains non-finite values")
    expected_sha = meta.get("weights_sha256")
    if expected_sha is not None and file_sha256(weights_path) != expected_sha:
        raise ModelLoadError(f"{weights_path}: not the weights model.json was written with (their SHA-256 "
                             "differs): copy the model folder whole, or train it again with 02_train_model.py")
    classifier = Classifier.from_arrays(arrays, genres, columns, activations, model_dir=model_dir, metadata=meta,
                                        temperature=temperature, uncertain_threshold=threshold)
    if meta.get("novelty") is not None:
        import functions_novelty

        try:
            classifier.novelty = functions_novelty.from_arrays(arrays, meta["novelty"], columns)
        except ValueError as exc:
            raise ModelLoadError(f"{meta_path}: unusable novelty score ({exc})") from None
    return classifier



def _calibration(meta: dict, meta_path: Path) -> tuple[float, float | None]:
    """Temperature and uncertain threshold recorded in model.json (1 and None when it has none)."""
    calibration = meta.get("calibration") or {}
    temperature, threshold = calibration.get("temperature", 1.0), calibration.get("uncertain_threshold")
    members = meta.get("members", 1)
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise ModelLoadError(f"{meta_path}: 'members' must be a positive whole number")
    if not isinstance(temperature, int | float) or not 0 < temperature < float("inf"):
        raise ModelLoadError(f"{meta_path}: the calibration temperature must be a positive number")
    if threshold is not None and (not isinstance(threshold, int | float) or not 0 <= threshold <= 1):
        raise ModelLoadError(f"{meta_path}: the uncertain threshold must be a number from 0 to 1")
    return float(temperature), None if threshold is None else float(threshold)


def load_keras_model(model_dir: str | os.PathLike) -> keras.Model:
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
# Keras model: build, export (used by 02_train_model.py)
# --------------------------------------------------------------------------------------------------------


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
    members: int = 1,
    temperature: float = 1.0,
    name: str = "genre_mlp",
) -> keras.Model:
    """The Keras model: Normalization adapted on ``X_train`` (raw rows), then ``members`` copies of the hidden
    Dense layers and an output layer over ``genres`` (layers ``member{m}_dense_{i}``), each member's logits
    divided by ``temperature`` and turned into probabilities, averaged over the members.

    A column that is constant in the training rows gets variance 1 instead of 0 (Keras would divide by 1e-7).
    Give the Dense layers their weights with ``set_member_weights``.
    """
    quiet_tensorflow()
    import keras

    inputs = keras.Input(shape=(len(feature_columns),), name="features")
    standardised = keras_standardisation(X_train)(inputs)
    outputs = []
    for m in range(members):
        h = standardised
        for i, (units, act) in enumerate(hidden):
            h = keras.layers.Dense(units, activation=act, name=_dense_name(m, i))(h)
        logits = keras.layers.Dense(len(genres), name=_dense_name(m, len(hidden)))(h)
        scaled = keras.layers.Rescaling(1.0 / temperature, name=f"member{m}_temperature")(logits)
        outputs.append(keras.layers.Softmax(name=f"member{m}_probabilities")(scaled))
    output = outputs[0] if members == 1 else keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, output, name=name)


def keras_standardisation(X_train: np.ndarray) -> keras.layers.Normalization:
    """Keras's Normalization layer adapted on ``X_train``; a constant column gets variance 1 (not 0)."""
    quiet_tensorflow()
    import keras

    norm = keras.layers.Normalization(name="standardise")
    norm.adapt(np.asarray(X_train, dtype=np.float32))
    variance = norm.adapt_variance.numpy()
    if (variance <= 0).any():
        norm.adapt_variance.assign(np.where(variance > 0, variance, 1.0).astype(np.float32))
        norm.finalize_state()
    return norm


def standardisation_arrays(norm: keras.layers.Normalization) -> dict[str, np.ndarray]:
    """weights.npz's "norm_mean" and "norm_variance" of an adapted Normalization layer (float32)."""
    return {"norm_mean": np.asarray(norm.adapt_mean.numpy(), dtype=np.float32),
            "norm_variance": np.asarray(norm.adapt_variance.numpy(), dtype=np.float32)}


def _dense_name(member: int, layer: int) -> str:
    return f"member{member}_dense_{layer}"


def _member_count(model: keras.Model) -> tuple[int, int]:
    """(members, dense layers per member) of a model made by build_keras_model."""
    names = {layer.name for layer in model.layers}
    members = sum(1 for m in range(len(names)) if _dense_name(m, 0) in names)
    layers = sum(1 for i in range(len(names)) if _dense_name(0, i) in names)
    return members, layers


def set_member_weights(model: keras.Model, kernels: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
    """Give the Dense layers of a build_keras_model model stacked weights: kernels[i] (M, fan_in, fan_out)."""
    for i, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
        for m in range(len(kernel)):
            model.get_layer(_dense_name(m, i)).set_weights([np.asarray(kernel[m], np.float32),
                                                            np.asarray(bias[m], np.float32)])


def keras_model_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """weights.npz content of a model made by build_keras_model: normalisation, then each dense layer's kernels
    and biases stacked over the members (M, fan_in, fan_out) and (M, fan_out)."""
    arrays = standardisation_arrays(model.get_layer("standardise"))
    members, layers = _member_count(model)
    for i in range(layers):
        weights = [model.get_layer(_dense_name(m, i)).get_weights() for m in range(members)]
        arrays[f"dense_{i}_kernel"] = np.stack([k for k, _ in weights]).astype(np.float32)
        arrays[f"dense_{i}_bias"] = np.stack([b for _, b in weights]).astype(np.float32)
    return arrays


def keras_model_from_arrays(columns: Sequence[str], genres: Sequence[str], hidden: Sequence[tuple[int, str]],
                            X_train: np.ndarray, arrays: dict[str, np.ndarray], temperature: float = 1.0,
                            name: str = "genre_mlp") -> keras.Model:
    """The Keras model of trained weights.npz-style ``arrays`` (as functions_training.fit_members returns them):
    as many members as the arrays hold, the standardisation adapted on ``X_train`` (the rows they were trained
    on, so it equals the arrays'), and ``temperature``."""
    n_layers = len(hidden) + 1
    model = build_keras_model(columns, genres, hidden, X_train, members=len(arrays["dense_0_kernel"]),
                              temperature=temperature, name=name)
    set_member_weights(model, [arrays[f"dense_{i}_kernel"] for i in range(n_layers)],
                       [arrays[f"dense_{i}_bias"] for i in range(n_layers)])
    return model


def write_model_dir(model_dir: Path, model: keras.Model, metadata: dict,
                    extra_files: Mapping[str, str] | None = None,
                    extra_arrays: Mapping[str, np.ndarray] | None = None, not_kept: Iterable[str] = ()) -> None:
    """Write model.keras, weights.npz (no pickle; the network's arrays and ``extra_arrays``, e.g. the novelty
    score's), model.json (with the SHA-256 of weights.npz, checked at load) and ``extra_files`` (name -> text) as
    the folder ``model_dir``; other files of an earlier folder there are kept, but for those named in
    ``not_kept`` (files of the earlier model that would pass for the new one's).

    Everything is written into a new sibling folder first, which then takes the place of ``model_dir`` in one
    atomic step: a crash at any moment leaves either the old folder or the new one whole, never a mix.
    """
    arrays = {**keras_model_arrays(model), **(extra_arrays or {})}
    with _replacing_folder(Path(os.path.realpath(model_dir)), not_kept) as folder:
        model.save(folder / MODEL_FILE)
        with open(folder / WEIGHTS_FILE, "wb") as fh:
            np.savez(fh, **arrays)
        metadata = {**metadata, "weights_sha256": file_sha256(folder / WEIGHTS_FILE)}
        (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        for name, text in (extra_files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def _replacing_folder(target: Path, not_kept: Iterable[str] = ()) -> Iterator[Path]:
    """An empty sibling of ``target`` to fill; when the block ends well it replaces ``target`` atomically (with
    the files of the old folder that were not written anew, but for those named in ``not_kept``), otherwise it is
    removed and ``target`` is as it was.
    """
    not_kept = set(not_kept)
    import shutil

    if target.exists() and not target.is_dir():
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.new-"
    for leftover in target.parent.glob(prefix + "*"):  # left by a writer that was killed
        if not _process_alive(leftover.name[len(prefix):]):
            shutil.rmtree(leftover, ignore_errors=True)
    new = target.with_name(f"{prefix}{os.getpid()}")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir()
    try:
        yield new
        for entry in target.iterdir() if target.is_dir() else ():
            if not (new / entry.name).exists() and entry.name not in not_kept:  # notes of the user's: kept
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, new / entry.name, symlinks=True)
                else:
                    shutil.copy2(entry, new / entry.name, follow_symlinks=False)
        for path in [*new.iterdir(), new]:  # on disk before the swap, so that a power cut cannot mix them either
            _fsync(path)
        _swap_folders(new, target)
        _fsync(target.parent)
    finally:
        shutil.rmtree(new, ignore_errors=True)  # the new folder on failure, the old one after the swap


def _swap_folders(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target`` in one step; the old ``target``, if any, ends up at ``new``."""
    if not target.exists():
        os.rename(new, target)
        return
    if sys.platform.startswith("linux"):  # renameat2(RENAME_EXCHANGE): both names swap atomically
        import ctypes

        at_fdcwd, rename_exchange = -100, 2
        libc = ctypes.CDLL(None, use_errno=True)
        if hasattr(libc, "renameat2"):
            if libc.renameat2(at_fdcwd, os.fsencode(new), at_fdcwd, os.fsencode(target), rename_exchange) == 0:
                return
            code = ctypes.get_errno()
            if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise OSError(code, os.strerror(code), str(target))
    old = target.with_name(f".{target.name}.old-{os.getpid()}")  # elsewhere: two renames, as close as they get
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    os.rename(old, new)


def _fsync(path: Path) -> None:
    if path.is_symlink():
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _process_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    return True


def recipe_settings(recipe: Recipe) -> dict:
    """JSON-serialisable recipe description."""
    return asdict(recipe)



def model_metadata(architecture: str, candidate: str, genres: Sequence[str], columns: Sequence[str], recipe: Recipe,
                   training: dict, metrics: dict, confusion: list, features_sha256: str, members: int = 1,
                   calibration: dict | None = None) -> dict:
    """model.json of a model folder: what the network (or ensemble of ``members``) is, how it was trained (with
    ``training["train_files"]`` when given), its calibration (temperature, uncertain threshold) and its held-out
    figures. Which features the run-time side must compute: ``feature_set`` (functions_audio.FEATURE_SETS name),
    ``feature_group``, ``feature_columns``, and the settings of each extraction: ``feature_extraction`` (the
    classic features) and, for a model reading musicnn columns, ``musicnn_extraction``."""
    from functions_audio import EXTRACTION_SETTINGS, MUSICNN_SETTINGS

    hidden = ARCHITECTURES[architecture].hidden
    meta = {
        "format_version": MODEL_FORMAT_VERSION,
        "architecture": architecture,
        "candidate": candidate,
        "members": members,
        "hidden_layers": ARCHITECTURES[architecture].describe(),
        "genres": list(genres),
        "feature_set": feature_set(columns),
        "feature_group": ARCHITECTURES[architecture].feature_group,
        "feature_columns": list(columns),
        "activations": [act for _, act in hidden] + ["softmax"],
        "feature_extraction": EXTRACTION_SETTINGS,
        "training": {
            **{k: training[k] for k in ("features_csv", "n_rows", "n_train", "n_test", "held_out", "epochs",
                                        "batch_size", "cell_source")},
            "recipe": recipe_settings(recipe),
            "optimizer": "Adam (beta1 0.9, beta2 0.999, epsilon 1e-7)", "loss": "categorical cross-entropy",
            **{k: training[k] for k in ("seed", "fit_seconds")},
            "standardisation": "Normalization layer adapted on the training rows",
            **{k: training[k] for k in ("train_files",) if k in training},
        },
        "metrics": metrics,
        "confusion_matrix": confusion,
        "versions": library_versions(),
        "features_csv_sha256": features_sha256,
    }
    if set(columns) & set(MUSICNN_COLUMNS):
        meta["musicnn_extraction"] = MUSICNN_SETTINGS
    if calibration is not None:
        meta["calibration"] = calibration
    return meta
