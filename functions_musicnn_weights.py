"""The musicnn weights (``MSD_musicnn``): the wheel's TensorFlow checkpoint -> our cache file -> checked arrays.

The ``musicnn`` 0.1.0 wheel on PyPI ships the checkpoint (``pip install --no-deps musicnn==0.1.0``; its metadata
pins numpy<1.17 and TensorFlow 1, and none of its code is imported). ``convert_checkpoint`` reads it once with
TensorFlow's checkpoint reader and writes the arrays to a cache file of ours (``data/musicnn/MSD_musicnn.npz``, not
committed); ``read_weights`` reads that file with NumPy alone and checks it (format, model, shapes, checksums). The
network made of the arrays is functions_musicnn.MusicnnNetwork (``functions_musicnn.load_network``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from functions_audio import DATA_DIR, MUSICNN_MODEL, MUSICNN_TAGS, file_sha256

MUSICNN_WHEEL = "musicnn==0.1.0"
INSTALL_COMMAND = f"pip install --no-deps {MUSICNN_WHEEL}"
WEIGHTS_DIR = DATA_DIR / "musicnn"  # converted weights (not committed): made from the wheel's checkpoint
WEIGHTS_FORMAT_VERSION = 2  # 2: the model's name is checked and the arrays' SHA-256 recorded
N_TAGS = len(MUSICNN_TAGS)
PENULTIMATE_UNITS = 200


class MusicnnUnavailable(Exception):
    """The musicnn weights cannot be had (wheel not installed, cache damaged); the message says what to run."""


# --------------------------------------------------------------------------------------------------------------
# The checkpoint's arrays
# --------------------------------------------------------------------------------------------------------------
# checkpoint variable -> our name; the order of the layers is the order models.build_musicnn creates them
_CHECKPOINT_LAYERS: dict[str, str] = {
    "batch_normalization": "input_bn",
    "conv2d": "timbral_38", "batch_normalization_1": "timbral_38_bn",
    "conv2d_1": "timbral_67", "batch_normalization_2": "timbral_67_bn",
    "conv2d_2": "temporal_128", "batch_normalization_3": "temporal_128_bn",
    "conv2d_3": "temporal_64", "batch_normalization_4": "temporal_64_bn",
    "conv2d_4": "temporal_32", "batch_normalization_5": "temporal_32_bn",
    "conv2d_5": "midend_1", "batch_normalization_6": "midend_1_bn",
    "conv2d_6": "midend_2", "batch_normalization_7": "midend_2_bn",
    "conv2d_7": "midend_3", "batch_normalization_8": "midend_3_bn",
    "batch_normalization_9": "pool_bn",
    "dense": "dense", "batch_normalization_10": "dense_bn",
    "dense_1": "output",
}


_BN_PARTS = ("gamma", "beta", "moving_mean", "moving_variance")


def _array_names() -> list[tuple[str, str]]:
    """(checkpoint variable, our array name) of every array the network keeps: a kernel and a bias per
    convolution or dense layer, gamma, beta, moving mean and variance per batch normalisation."""
    return [(f"{scope}/{part}", f"{name}/{part}") for scope, name in _CHECKPOINT_LAYERS.items()
            for part in (_BN_PARTS if scope.startswith("batch_normalization") else ("kernel", "bias"))]


def checkpoint_dir(model: str = MUSICNN_MODEL) -> Path:
    """The wheel's checkpoint folder of ``model`` (found without importing the musicnn package)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MusicnnUnavailable(f"the musicnn weights are not installed: run `{INSTALL_COMMAND}`")
    folder = Path(next(iter(spec.submodule_search_locations))) / model
    if not (folder / ".index").is_file():
        raise MusicnnUnavailable(f"{folder}: no {model} checkpoint in the musicnn package: run "
                                 f"`pip install --force-reinstall {INSTALL_COMMAND.removeprefix('pip install ')}`")
    return folder


WEIGHTS_ENV = "GENRE_MUSICNN_WEIGHTS"
PREPARE_COMMAND = "python 00_preprocess_music.py --prepare-musicnn"


def weights_path(model: str = MUSICNN_MODEL) -> Path:
    """Where the converted weights of ``model`` are cached ($GENRE_MUSICNN_WEIGHTS overrides the folder)."""
    setting = os.environ.get(WEIGHTS_ENV)
    folder = Path(setting or WEIGHTS_DIR)
    if setting and folder.exists() and not folder.is_dir():
        raise MusicnnUnavailable(f"{WEIGHTS_ENV}={setting} is a file, not a folder: point it at a folder (the "
                                 f"weights are kept there as {model}.npz), or unset it to use {WEIGHTS_DIR}")
    return folder / f"{model}.npz"


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the network's arrays (names, dtypes, shapes and bytes, in ``_array_names`` order)."""
    digest = hashlib.sha256()
    for _, name in _array_names():
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """The shape of every array of MSD_musicnn / MTT_musicnn (models.build_musicnn with 96 mel bands, 50 tags)."""
    timbral = {"timbral_38": (7, 38, 1, 204), "timbral_67": (7, 67, 1, 204)}
    temporal = {f"temporal_{n}": (n, 1, 1, 51) for n in (128, 64, 32)}
    midend = {"midend_1": (7, 561, 1, 64), "midend_2": (7, 64, 1, 64), "midend_3": (7, 64, 1, 64)}
    kernels = {**timbral, **temporal, **midend, "dense": (1506, PENULTIMATE_UNITS),
               "output": (PENULTIMATE_UNITS, N_TAGS)}
    bn_width = {"input_bn": 1, "pool_bn": 1506, "dense_bn": PENULTIMATE_UNITS,
                **{f"{name}_bn": shape[-1] for name, shape in kernels.items() if name not in ("dense", "output")}}
    shapes: dict[str, tuple[int, ...]] = {}
    for _, name in _array_names():
        layer, part = name.split("/")
        if part in _BN_PARTS:
            shapes[name] = (bn_width[layer],)
        else:
            shapes[name] = kernels[layer] if part == "kernel" else (kernels[layer][-1],)
    return shapes


# The arrays of the wheel's checkpoints as convert_checkpoint writes them (a cache made from another checkpoint,
# say MTT_musicnn's, has the same shapes but other weights: it is refused by this, not only by its metadata)
KNOWN_ARRAYS_SHA256: dict[str, str] = {
    "MSD_musicnn": "792a806dd416000fbae4dcd833a92fe12f719657072b4289b675f5cc008b9a75",
}


def convert_checkpoint(model: str = MUSICNN_MODEL, output: Path | None = None) -> Path:
    """Read the wheel's TensorFlow checkpoint of ``model`` and write its inference arrays to our cache file.

    Kernels, biases and the four arrays of every batch normalisation (gamma, beta, moving mean and variance) are
    kept as they are (Adam's slots are dropped); the file also records the model's name, the checkpoint's and the
    arrays' SHA-256. Written atomically: a crash leaves the old file or none. A folder that cannot be written (a
    read-only mount, say) is one line naming it and the setting that moves it.
    """
    folder = checkpoint_dir(model)
    output = output or weights_path(model)
    from functions_nn import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    arrays: dict[str, np.ndarray] = {}
    try:  # the checkpoint's files are named ".index" and ".data-00000-of-00001": the prefix is the folder itself
        reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + os.sep)
        for variable, name in _array_names():
            arrays[name] = np.asarray(reader.get_tensor(variable), dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - TensorFlow raises its own error types for damaged files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise MusicnnUnavailable(f"{folder}: cannot read the musicnn checkpoint ({first}): reinstall it with "
                                 f"`pip install --force-reinstall {INSTALL_COMMAND.removeprefix('pip install ')}`"
                                 ) from None
    meta = {"format_version": WEIGHTS_FORMAT_VERSION, "model": model, "wheel": MUSICNN_WHEEL,
            "checkpoint_sha256": file_sha256(folder / ".data-00000-of-00001"),
            "arrays_sha256": arrays_sha256(arrays)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise MusicnnUnavailable(
            f"cannot write the musicnn weights to {output.parent} ({exc.strerror or exc}): make that folder "
            f"writable, or set {WEIGHTS_ENV} to a writable folder, then run `{PREPARE_COMMAND}`") from None
    return output


class _StaleWeights(MusicnnUnavailable):
    """A cache file of ours in an older format (converting again makes it current)."""


def read_weights(path: Path, model: str = MUSICNN_MODEL) -> dict[str, np.ndarray]:
    """The raw arrays of a cache file, checked before use: its format, the model named in it, every array's
    name and shape, the checksum written with them, and (for a model whose weights are known) that they are the
    wheel's. MusicnnUnavailable (one line, with the command to run) if unusable."""
    remedy = f"delete it and run `{PREPARE_COMMAND}` (needs `{INSTALL_COMMAND}`)"
    if not Path(path).is_file():
        raise MusicnnUnavailable(f"{path}: no musicnn weights there: run `{PREPARE_COMMAND}` "
                                 f"(needs `{INSTALL_COMMAND}`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: np.asarray(npz[name]) for name in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise MusicnnUnavailable(f"{path}: damaged musicnn weights ({type(exc).__name__}): {remedy}") from None
    if meta.get("model") not in (None, model):
        raise MusicnnUnavailable(f"{path}: holds the weights of {meta.get('model')!s:.40}, not {model}: {remedy}")
    shapes = expected_shapes()
    if meta.get("format_version") != WEIGHTS_FORMAT_VERSION or set(arrays) != set(shapes):
        stale = meta.get("format_version") in range(1, WEIGHTS_FORMAT_VERSION) and meta.get("model") == model
        raise (_StaleWeights if stale else MusicnnUnavailable)(
            f"{path}: not a musicnn weights file of this version: {remedy}")
    wrong = [name for name, shape in shapes.items() if arrays[name].shape != shape or arrays[name].dtype != np.float32]
    if wrong:
        name = wrong[0]
        raise MusicnnUnavailable(f"{path}: damaged musicnn weights ({name} has shape {arrays[name].shape} "
                                 f"{arrays[name].dtype}, {model} has {shapes[name]} float32): {remedy}")
    checksum = arrays_sha256(arrays)
    if checksum != meta.get("arrays_sha256"):
        raise MusicnnUnavailable(f"{path}: damaged musicnn weights (their checksum is not the one written with "
                                 f"them): {remedy}")
    if KNOWN_ARRAYS_SHA256.get(model, checksum) != checksum:
        raise MusicnnUnavailable(f"{path}: these are not the {model} weights of {MUSICNN_WHEEL} (another "
                                 f"checkpoint converted under its name): {remedy}")
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise MusicnnUnavailable(f"{path}: damaged musicnn weights (non-finite values): {remedy}")
    return arrays


def ensure_weights(model: str = MUSICNN_MODEL) -> Path:
    """The cache file of ``model``, converted from the installed wheel first if it is not there yet."""
    path = weights_path(model)
    if not path.is_file():
        convert_checkpoint(model, path)
    return path
