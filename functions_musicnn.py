"""The pre-trained musicnn network (``MSD_musicnn``, Pons & Serra 2019) in NumPy: its input, weights and forward pass.

What lives here, top-down:

- **Weights** from the registry, never from this repository (functions_musicnn_weights: the wheel's checkpoint
  converted once to a cache file of ours, read and checked with NumPy alone); ``load_network`` makes the network
  of them, every batch normalisation folded into a scale and a shift.
- **Input**, exactly as the original ``musicnn.extractor.batch_data`` computes it: audio at 16 kHz mono, mel power
  spectrogram (n_fft 512, hop 256, 96 Slaney bands, reflect-padded centred frames as librosa 0.7 padded them),
  cast to float16, ``log10(10000 * S + 1)`` computed in float32 (in float16 about 2 % of the values overflow to
  infinity), patches of 187 frames (3 s) every 61 frames (``librosa.time_to_frames(1 s)``). A clip shorter than
  one patch is repeat-padded, as musicnn's training padded short clips. Resampling is soxr's (librosa's default
  today); the original's resampy 0.2 ``kaiser_best`` would match its outputs to 1e-6 instead of 0.003, at ten
  times the cost (docs/learned-features.md, "Parity with the original").
- **Forward pass** (``MusicnnNetwork``): front end of vertical (timbral, 7x38 and 7x67) and horizontal (temporal,
  128/64/32x1) convolutions with max-pooling over frequency, a 1-D mid end of three 7-frame convolutions with
  residual connections, temporal max and mean pooling, dense 200 (the penultimate layer) and 50 sigmoid outputs.
  The timbral convolutions, 81 % of a patch's work, only see 3 frames either side, so patches that overlap share them:
  ``taggram`` computes them once over the spectrogram and recomputes only each patch's 3 edge frames, where the
  patch's own zero padding differs; the temporal layers 64 and 32 are shared alike, each patch recomputing its
  runs of frames near its ends (``SharedFronts``). The same network in Keras (for checking the NumPy pass against it) is
  functions_musicnn_keras.build_keras_model.

Import cost: NumPy and the standard library only (TensorFlow only inside
functions_musicnn_weights.convert_checkpoint and the Keras builder); the classifier (03) imports this module to
compute the learned features of a song.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions_audio import MUSICNN_MODEL, MUSICNN_SETTINGS, MUSICNN_TAGS, SAMPLE_RATE, AudioError
from functions_musicnn_weights import (
    MusicnnUnavailable,
    _StaleWeights,
    convert_checkpoint,
    ensure_weights,
    read_weights,
)

BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default, which the checkpoint was trained with

INPUT_SAMPLE_RATE = int(MUSICNN_SETTINGS["sample_rate"])
N_FFT = int(MUSICNN_SETTINGS["n_fft"])
HOP_LENGTH = int(MUSICNN_SETTINGS["hop_length"])
N_MELS = int(MUSICNN_SETTINGS["n_mels"])
PATCH_FRAMES = int(MUSICNN_SETTINGS["patch_frames"])
PATCH_HOP = int(MUSICNN_SETTINGS["patch_hop_frames"])

TIMBRAL_PAD = 3  # the timbral convolutions are 7 frames high, zero-padded by 3 frames at the patch's edges
MIDEND_PAD = 3
TIMBRAL_BLOCK_FRAMES = 128  # frames per matrix product of the shared front end (memory stays ~20 MB)
TEMPORAL_PHASES = 16  # output frames per row of a temporal convolution's product (MusicnnNetwork.temporal_features)
PATCH_RUNS = -(-PATCH_FRAMES // TEMPORAL_PHASES)  # runs of TEMPORAL_PHASES frames in a patch (12)
TEMPORAL_BLOCK_RUNS = PATCH_RUNS  # runs per product of MusicnnNetwork.temporal_layer (~4 MB)


# The network's layers, in the order models.build_musicnn creates them
_TIMBRAL = ("timbral_38", "timbral_67")
_TEMPORAL = ("temporal_128", "temporal_64", "temporal_32")
_MIDEND = ("midend_1", "midend_2", "midend_3")


# --------------------------------------------------------------------------------------------------------------
# The network from its weights (functions_musicnn_weights: the wheel's checkpoint -> our cache file -> arrays)
# --------------------------------------------------------------------------------------------------------------
def load_network(model: str = MUSICNN_MODEL, weights: str | os.PathLike | None = None) -> MusicnnNetwork:
    """The network of ``model`` from its cache file (converted from the wheel on first use, and again when the
    file is of an older format), or from the file ``weights`` (a Dask worker is given the path where the client
    has it); loaded once per process and file."""
    if weights is None:
        path = ensure_weights(model)
        try:
            return _network_from(str(path), model)
        except _StaleWeights:
            return _network_from(str(convert_checkpoint(model, path)), model)
    if not Path(weights).is_file():
        raise MusicnnUnavailable(f"{weights}: no musicnn weights there (a Dask worker must see the file at the "
                                 f"path the client has it)")
    return _network_from(str(weights), model)


@functools.lru_cache(maxsize=2)
def _network_from(path: str, model: str = MUSICNN_MODEL) -> MusicnnNetwork:
    return MusicnnNetwork(read_weights(Path(path), model))


def _bn_affine(arrays: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch normalisation at inference as ``x * scale + shift`` (float32)."""
    gamma, beta = arrays[f"{name}/gamma"], arrays[f"{name}/beta"]
    mean, variance = arrays[f"{name}/moving_mean"], arrays[f"{name}/moving_variance"]
    scale = gamma.astype(np.float64) / np.sqrt(variance.astype(np.float64) + BN_EPSILON)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------
# Input: 16 kHz audio -> log-mel spectrogram -> patches
# --------------------------------------------------------------------------------------------------------------
def resample_for_musicnn(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` (float32 mono at ``sr``) at the network's 16 kHz, with soxr's high-quality mode (librosa's default)."""
    if sr == INPUT_SAMPLE_RATE:
        return np.ascontiguousarray(y, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(y, dtype=np.float32), sr, INPUT_SAMPLE_RATE, quality="HQ").astype(np.float32)


def log_mel(y16k: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """The network's input for 16-kHz samples: (frames, 96) float32, as musicnn's ``batch_data`` computes it.

    ``librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256, n_mels=96)`` with the reflect-padded
    centred frames of librosa 0.7, cast to float16, then ``log10(10000 * S + 1)`` in float32. ``rows`` (frame
    numbers, ascending): only those frames are computed (each is a function of its own samples), the others are 0.
    """
    from functions_features import hann_window, mel_basis

    y = np.asarray(y16k, dtype=np.float32)
    if y.size <= N_FFT // 2:  # reflect padding needs more samples than half a frame
        y = np.pad(y, (0, N_FFT // 2 + 1 - y.size))
    padded = np.pad(y, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    window = hann_window(N_FFT)
    basis = mel_basis(INPUT_SAMPLE_RATE, N_FFT, N_MELS)
    mel = np.zeros((frames.shape[0], N_MELS), dtype=np.float32)
    wanted = np.arange(frames.shape[0]) if rows is None else np.asarray(rows, dtype=np.intp)
    for start in range(0, wanted.size, 256):
        block = wanted[start:start + 256]
        spectrum = np.fft.rfft(frames[block] * window, axis=-1).astype(np.complex64)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        mel[block] = power @ basis.T
    np.minimum(mel, np.float32(65504.0), out=mel)  # float16's largest: a damaged file's huge samples stay finite
    return np.log10(10000.0 * mel.astype(np.float16).astype(np.float32) + 1.0)


def patch_starts(n_frames: int, hop: int = PATCH_HOP) -> list[int]:
    """First frames of the patches of a spectrogram of ``n_frames`` frames (musicnn's ``range(0, last, hop)``)."""
    return list(range(0, max(n_frames - PATCH_FRAMES + 1, 1), hop))


def pad_short(spectrogram: np.ndarray) -> np.ndarray:
    """A spectrogram shorter than one patch repeated until it fills one (musicnn's training 'repeat-pad')."""
    n = spectrogram.shape[0]
    if n >= PATCH_FRAMES:
        return spectrogram
    if n == 0:
        raise AudioError("no audio frames for the musicnn network")
    return np.tile(spectrogram, (-(-PATCH_FRAMES // n), 1))[:PATCH_FRAMES]


# --------------------------------------------------------------------------------------------------------------
# The forward pass
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Taggram:
    """The network's outputs for the patches of one spectrogram: tag probabilities and the penultimate layer."""

    tags: np.ndarray  # (patches, 50) sigmoid outputs, MUSICNN_TAGS order
    penultimate: np.ndarray  # (patches, 200) the batch-normalised dense layer before the output
    starts: np.ndarray  # (patches,) first spectrogram frame of each patch

    def features(self, ddof: int = 0) -> np.ndarray:
        """The 100 values of MUSICNN_COLUMNS: the mean, then the standard deviation (``ddof``), of each tag."""
        ddof = ddof if len(self.tags) > ddof else 0
        return np.concatenate([self.tags.mean(axis=0), self.tags.std(axis=0, ddof=ddof)]).astype(np.float64)


def _relu_bn(conv: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A layer's output in place: ``conv`` + bias, ReLU, then its batch normalisation as ``* scale + shift``."""
    conv += bias
    np.maximum(conv, 0.0, out=conv)
    conv *= scale
    conv += shift
    return conv


def _sign_sorted(kernel: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray
                 ) -> tuple[tuple[np.ndarray, ...], tuple[int, np.ndarray]]:
    """A front-end layer with its filters reordered, those whose bn scale is >= 0 first, and the kernel columns of
    the others negated: ((kernel, bias, scale, shift), (how many have scale >= 0, the indices restoring the
    original order)). A negated column's products are the original's negated exactly (rounding is symmetric)."""
    order = np.argsort(scale < 0, kind="stable")
    positive = int((scale >= 0).sum())
    signed = np.ascontiguousarray(kernel[:, order])
    signed[:, positive:] *= -1
    return (signed, bias[order], scale[order], shift[order]), (positive, np.argsort(order))


def _pool_relu_bn(conv: np.ndarray, pool: tuple[int, np.ndarray], bias: np.ndarray, scale: np.ndarray,
                  shift: np.ndarray) -> np.ndarray:
    """Max over axis 1 of ``_relu_bn`` of the convolution (``conv``: rows, positions, ..., filters, by a
    ``_sign_sorted`` layer's kernel), in the original filter order: ``_relu_bn`` is monotone per filter (rounding
    included), so it is applied to the max where the scale is >= 0 and to the min where it is negative (minus
    the max of the negated columns), the same values for less element-wise work and one contiguous max."""
    pooled = np.max(conv, axis=1)
    pooled[..., pool[0]:] *= -1
    return _relu_bn(pooled, bias, scale, shift)[..., pool[1]]


def _front_end_layer(arrays: dict[str, np.ndarray], name: str, size_axis: int
                     ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], tuple[int, np.ndarray]]:
    """Front-end layer ``name`` as ((kernel rows, bias, bn scale, bn shift, its size along ``size_axis`` of the
    kernel), its pooling) with the filters ordered by the sign of their bn scale (``_sign_sorted``)."""
    kernel = arrays[f"{name}/kernel"]  # timbral (7, k, 1, 204), temporal (k, 1, 1, 51)
    layer, pool = _sign_sorted(kernel.reshape(-1, kernel.shape[-1]), arrays[f"{name}/bias"],
                               *_bn_affine(arrays, f"{name}_bn"))
    return (*layer, kernel.shape[size_axis]), pool


def _phase_kernel(kernel: np.ndarray, phases: int = TEMPORAL_PHASES) -> np.ndarray:
    """A (height, filters) time kernel as (phases + height - 1, phases * filters): column block r is the kernel
    shifted down by r rows, so one row of phases + height - 1 consecutive frames times it gives the convolution
    at ``phases`` consecutive frames (the zeros add nothing, the products and sums are the kernel's own)."""
    height, filters = kernel.shape
    shifted = np.zeros((phases + height - 1, phases, filters), dtype=np.float32)
    for phase in range(phases):
        shifted[phase:phase + height, phase] = kernel
    return shifted.reshape(phases + height - 1, phases * filters)


def _same_padding(height: int) -> tuple[int, int]:
    """The frames a 'same' convolution of ``height`` frames pads before and after (TensorFlow's: the odd one
    after): a frame's window runs from ``before`` frames back to ``after`` frames on."""
    return (height - 1) // 2, height - 1 - (height - 1) // 2


def _phase_rows(patch: np.ndarray, height: int, phases: int = TEMPORAL_PHASES) -> np.ndarray:
    """The rows a ``_phase_kernel`` multiplies, not yet copied: (runs of ``phases`` frames, bands, phases + height
    - 1 frames), each band's frames of ``patch`` (frames, bands) zero-padded as a 'same' convolution pads them."""
    frames, bands = patch.shape
    runs, width = -(-frames // phases), phases + height - 1
    padded = np.zeros((bands, runs * phases + height - 1), dtype=np.float32)  # band-major
    before = _same_padding(height)[0]
    padded[:, before:before + frames] = patch.T
    return np.lib.stride_tricks.as_strided(padded, (runs, bands, width),
                                           (phases * padded.itemsize, padded.strides[0], padded.itemsize))


def _windows(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """The (height x width) windows of a (T + height - 1, F) array as rows: (T * (F - width + 1), height * width)."""
    view = np.lib.stride_tricks.sliding_window_view(x, (height, width))  # (T, F', height, width)
    return view.reshape(-1, height * width)


class MusicnnNetwork:
    """MSD_musicnn with its batch normalisations folded into scales and shifts, evaluated with NumPy (float32)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.raw = arrays
        self.input_scale, self.input_shift = (float(v[0]) for v in _bn_affine(arrays, "input_bn"))
        # front-end layers (``_front_end_layer``) and how each pools: timbral kernel rows (7*k, 204), k bands wide;
        # temporal kernels (k, 51), k frames high, also as ``_phase_kernel`` makes them for their products
        timbral = [_front_end_layer(arrays, name, 1) for name in _TIMBRAL]
        temporal = [_front_end_layer(arrays, name, 0) for name in _TEMPORAL]
        self.timbral, self.timbral_pool = [layer for layer, _ in timbral], [pool for _, pool in timbral]
        self.temporal, self.temporal_pool = [layer for layer, _ in temporal], [pool for _, pool in temporal]
        self.temporal_phased = [_phase_kernel(layer[0]) for layer in self.temporal]
        self.midend = []  # (kernel rows (7*channels, 64), bias, scale, shift)
        for name in _MIDEND:
            kernel = arrays[f"{name}/kernel"]  # (7, channels, 1, 64)
            self.midend.append((np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1])), arrays[f"{name}/bias"],
                                *_bn_affine(arrays, f"{name}_bn")))
        # the pooled vector is [max_0, mean_0, max_1, mean_1, ...] (TensorFlow flattens (753, 2)); its batch
        # normalisation is folded into the dense layer after it
        pool_scale, pool_shift = _bn_affine(arrays, "pool_bn")
        dense = arrays["dense/kernel"].astype(np.float64)
        self.dense_kernel = (dense * pool_scale[:, None]).astype(np.float32)
        self.dense_bias = (arrays["dense/bias"] + pool_shift.astype(np.float64) @ dense).astype(np.float32)
        self.dense_scale, self.dense_shift = _bn_affine(arrays, "dense_bn")
        self.output_kernel, self.output_bias = arrays["output/kernel"], arrays["output/bias"]

    # -- pieces ---------------------------------------------------------------------------------------------
    def normalise_input(self, spectrogram: np.ndarray) -> np.ndarray:
        """The input batch normalisation (one channel)."""
        return (spectrogram * np.float32(self.input_scale) + np.float32(self.input_shift)).astype(np.float32)

    def timbral_features(self, padded: np.ndarray) -> np.ndarray:
        """Timbral front end of ``padded`` (T + 6, 96) normalised input rows: (T, 408), both filter shapes."""
        frames = padded.shape[0] - 2 * TIMBRAL_PAD
        out = np.empty((frames, sum(t[0].shape[1] for t in self.timbral)), dtype=np.float32)
        column = 0
        for (kernel, bias, scale, shift, width), pool in zip(self.timbral, self.timbral_pool, strict=True):
            filters, positions = kernel.shape[1], N_MELS - width + 1
            for first in range(0, frames, TIMBRAL_BLOCK_FRAMES):
                block = padded[first:first + min(TIMBRAL_BLOCK_FRAMES, frames - first) + 2 * TIMBRAL_PAD]
                count = block.shape[0] - 2 * TIMBRAL_PAD
                conv = (_windows(block, 2 * TIMBRAL_PAD + 1, width) @ kernel).reshape(count, positions, filters)
                out[first:first + count, column:column + filters] = _pool_relu_bn(conv, pool, bias, scale, shift)
            column += filters
        return out

    def temporal_features(self, patch: np.ndarray) -> np.ndarray:
        """Temporal front end of one normalised patch (187, 96): (187, 153), 'same' zero padding in time.

        Each convolution is one matrix product whose rows are a band's runs of TEMPORAL_PHASES + height - 1
        padded frames (one row per band and TEMPORAL_PHASES output frames) against ``_phase_kernel``: rows about
        height / TEMPORAL_PHASES times fewer to copy than one of ``height`` frames per output frame, and a wider
        product, for the same values (about half the time)."""
        return np.concatenate([self.temporal_layer(index, patch) for index in range(len(self.temporal))], axis=1)

    def temporal_layer(self, index: int, x: np.ndarray, runs: Sequence[int] | None = None) -> np.ndarray:
        """Temporal layer ``index`` of ``x`` (frames, 96), zero-padded at its ends as a patch is: (frames, 51)
        after pooling; with ``runs``, only those runs of TEMPORAL_PHASES output frames: (len(runs), phases, 51)."""
        (_, bias, scale, shift, height), pool = self.temporal[index], self.temporal_pool[index]
        rows = _phase_rows(x, height)
        if runs is not None:
            rows = rows[np.asarray(runs, dtype=np.intp)]
        out = np.empty((rows.shape[0], TEMPORAL_PHASES, bias.size), dtype=np.float32)
        for first in range(0, rows.shape[0], TEMPORAL_BLOCK_RUNS):  # products of ~4 MB
            block = rows[first:first + TEMPORAL_BLOCK_RUNS]
            conv = (block.reshape(-1, block.shape[2]) @ self.temporal_phased[index]).reshape(
                *block.shape[:2], TEMPORAL_PHASES, -1)
            out[first:first + block.shape[0]] = _pool_relu_bn(conv, pool, bias, scale, shift)
        return out if runs is not None else out.reshape(-1, bias.size)[:x.shape[0]]

    def back(self, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mid end and back end of a batch of front-end outputs (P, 187, 561): tags (P, 50), penultimate (P, 200)."""
        count, frames, _ = front.shape
        maps = [front]
        h = front
        for number, (kernel, bias, scale, shift) in enumerate(self.midend):
            padded = np.pad(h, ((0, 0), (MIDEND_PAD, MIDEND_PAD), (0, 0)))
            view = np.lib.stride_tricks.sliding_window_view(padded, 2 * MIDEND_PAD + 1, axis=1)  # (P, T, C, 7)
            rows = view.transpose(0, 1, 3, 2).reshape(count * frames, -1)
            conv = _relu_bn(rows @ kernel, bias, scale, shift).reshape(count, frames, -1)
            h = conv if number == 0 else conv + h
            maps.append(h)
        features = np.concatenate(maps, axis=2)  # (P, T, 753)
        pooled = np.stack([features.max(axis=1), features.mean(axis=1, dtype=np.float64).astype(np.float32)],
                          axis=2).reshape(count, -1)  # interleaved max/mean, as TensorFlow flattens them
        dense = np.maximum(pooled @ self.dense_kernel + self.dense_bias, 0.0)
        penultimate = dense * self.dense_scale + self.dense_shift
        logits = penultimate @ self.output_kernel + self.output_bias
        return 1.0 / (1.0 + np.exp(-logits)), penultimate

    # -- whole spectrograms ---------------------------------------------------------------------------------
    def patch_outputs(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tags and penultimate layer of each (187, 96) log-mel patch on its own (the original's computation)."""
        fronts = []
        for patch in np.asarray(patches, dtype=np.float32):
            x = self.normalise_input(patch)
            padded = np.pad(x, ((TIMBRAL_PAD, TIMBRAL_PAD), (0, 0)))
            fronts.append(np.concatenate([self.timbral_features(padded), self.temporal_features(x)], axis=1))
        return self.back(np.stack(fronts))

    def taggram(self, spectrogram: np.ndarray, starts: Sequence[int] | None = None, batch: int = 8) -> Taggram:
        """The outputs for the patches of ``spectrogram`` (frames, 96) starting at ``starts`` (default: every
        PATCH_HOP frames), equal to ``patch_outputs`` of each patch to float rounding: the frames that
        overlapping patches have in common go through the front end once (``SharedFronts``)."""
        spectrogram = pad_short(np.asarray(spectrogram, dtype=np.float32))
        starts = patch_starts(spectrogram.shape[0]) if starts is None else [int(s) for s in starts]
        if not starts or min(starts) < 0 or max(starts) + PATCH_FRAMES > spectrogram.shape[0]:
            raise ValueError(f"patch starts must lie in 0..{spectrogram.shape[0] - PATCH_FRAMES}")
        fronts = SharedFronts(self, self.normalise_input(spectrogram), starts)
        tags, penultimate = [], []
        for first in range(0, len(starts), batch):
            t, p = self.back(np.stack([fronts.front(start) for start in starts[first:first + batch]]))
            tags.append(t)
            penultimate.append(p)
        return Taggram(tags=np.concatenate(tags), penultimate=np.concatenate(penultimate),
                       starts=np.asarray(starts, dtype=np.int64))


class SharedFronts:
    """The front ends of the patches at ``starts`` of one normalised spectrogram ``x`` (frames, 96), the frames
    that overlapping patches have in common computed once (``MusicnnNetwork.taggram``):

    - timbral: every frame at least 3 frames inside some patch; each patch computes its own 3 edge frames;
    - temporal, per layer: every frame whose window (its height) lies inside some patch; each patch computes the
      runs of TEMPORAL_PHASES frames nearer its ends. A layer is computed whole per patch where the patches
      overlap too little for that to pay (layer 128 at one patch a second; 03's windows of spread patches).
    The same values as each patch alone: the temporal ones bit for bit, the timbral ones to float rounding. For
    finite input only (the audio is checked before): a row of 16 + height - 1 frames multiplies zeros against
    frames just outside a patch, and 0 x NaN is NaN, so a NaN frame would also spoil a neighbouring patch.
    """

    def __init__(self, network: MusicnnNetwork, x: np.ndarray, starts: Sequence[int]) -> None:
        self.network, self.x = network, x
        self.timbral = self._shared_timbral(starts)
        self.temporal = [self._shared_temporal(index, starts) for index in range(len(network.temporal))]

    def _shared_timbral(self, starts: Sequence[int]) -> dict[int, np.ndarray]:
        """Timbral features of every frame at least 3 frames inside some patch, by frame: {first frame: rows}."""
        return {first: self.network.timbral_features(self.x[first - TIMBRAL_PAD:end + TIMBRAL_PAD])
                for first, end in _inside_spans(self.x.shape[0], starts, TIMBRAL_PAD, TIMBRAL_PAD)}

    def _shared_temporal(self, index: int, starts: Sequence[int]) -> dict[int, np.ndarray] | None:
        """Temporal layer ``index`` of every frame whose window lies inside some patch, by frame: {first frame:
        rows}; None where that costs as much as each patch computing its own frames (runs of frames counted)."""
        height = self.network.temporal[index][4]
        before, after = _same_padding(height)
        spans = _inside_spans(self.x.shape[0], starts, before, after)
        shared_runs = sum(-(-(end - first) // TEMPORAL_PHASES) for first, end in spans)
        if shared_runs + len(starts) * len(_edge_runs(height)) >= len(starts) * PATCH_RUNS:
            return None
        return {first: self.network.temporal_layer(index, self.x[first - before:end + after])[
            before:before + end - first] for first, end in spans}

    def _patch_temporal(self, index: int, start: int) -> np.ndarray:
        """Temporal layer ``index`` of the patch at ``start``: its frames whose window lies inside it from the
        shared rows, the runs of frames nearer its ends (whose windows reach its zero padding) computed here."""
        patch, shared = self.x[start:start + PATCH_FRAMES], self.temporal[index]
        if shared is None:
            return self.network.temporal_layer(index, patch)
        height = self.network.temporal[index][4]
        before, after = _same_padding(height)
        out = np.empty((PATCH_FRAMES, self.network.temporal[index][1].size), dtype=np.float32)
        out[before:PATCH_FRAMES - after] = _rows_from(shared, start + before, start + PATCH_FRAMES - after)
        runs = _edge_runs(height)
        for run, rows in zip(runs, self.network.temporal_layer(index, patch, runs), strict=True):
            frame = run * TEMPORAL_PHASES
            out[frame:frame + TEMPORAL_PHASES] = rows[:PATCH_FRAMES - frame]
        return out

    def front(self, start: int) -> np.ndarray:
        """The front end (187, 561) of the patch at ``start``."""
        patch = self.x[start:start + PATCH_FRAMES]
        interior = _rows_from(self.timbral, start + TIMBRAL_PAD, start + PATCH_FRAMES - TIMBRAL_PAD)
        zeros = np.zeros((TIMBRAL_PAD, N_MELS), dtype=np.float32)
        left = self.network.timbral_features(np.concatenate([zeros, patch[:2 * TIMBRAL_PAD]]))
        right = self.network.timbral_features(np.concatenate([patch[-2 * TIMBRAL_PAD:], zeros]))
        temporal = [self._patch_temporal(index, start) for index in range(len(self.temporal))]
        return np.concatenate([np.concatenate([left, interior, right]), *temporal], axis=1)


def _inside_spans(n_frames: int, starts: Sequence[int], before: int, after: int) -> list[tuple[int, int]]:
    """The runs [first, end) of frames that are ``before`` frames or more after some patch's first frame and
    ``after`` frames or more before its last, merged."""
    inside = np.zeros(n_frames, dtype=bool)
    for start in starts:
        inside[start + before:start + PATCH_FRAMES - after] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _rows_from(shared: dict[int, np.ndarray], first: int, end: int) -> np.ndarray:
    """Frames [first, end) of the shared rows ({first frame of a run: its rows}) of the run that holds them."""
    run_first = max(start for start in shared if start <= first)
    return shared[run_first][first - run_first:end - run_first]


def _edge_runs(height: int) -> list[int]:
    """The runs of TEMPORAL_PHASES frames of a patch holding a frame whose window of ``height`` frames (centred as
    'same' padding centres it) reaches past the patch's first or last frame."""
    before, after = _same_padding(height)
    first_runs = range(-(-before // TEMPORAL_PHASES))  # those holding frames 0 .. before - 1
    last_runs = range((PATCH_FRAMES - after) // TEMPORAL_PHASES, PATCH_RUNS)  # frames PATCH_FRAMES - after ..
    return sorted(set(first_runs) | set(last_runs))


# --------------------------------------------------------------------------------------------------------------
# One call per job
# --------------------------------------------------------------------------------------------------------------
def spectrogram_of(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The network's log-mel input (frames, 96) for float32 mono samples at ``sr``."""
    return log_mel(resample_for_musicnn(y, sr))


def taggram_of(y: np.ndarray, sr: int = SAMPLE_RATE, network: MusicnnNetwork | None = None) -> Taggram:
    """The taggram of a clip (every patch, as the original extractor cuts them)."""
    return (network or load_network()).taggram(spectrogram_of(y, sr))


def clip_features(y: np.ndarray, sr: int = SAMPLE_RATE, network: MusicnnNetwork | None = None) -> np.ndarray:
    """The 100 values of MUSICNN_COLUMNS for a clip: tag means then tag standard deviations over its patches."""
    return taggram_of(y, sr, network).features()


def window_taggram(y: np.ndarray, patches: int | None = None, network: MusicnnNetwork | None = None,
                   sr: int = SAMPLE_RATE) -> Taggram:
    """The taggram of one analysis window: every patch (``patches`` None, as ``taggram_of``), or ``patches``
    patches spread evenly from its start to its end (``window_patch_starts``; only their frames computed)."""
    network = network or load_network()
    y16k = resample_for_musicnn(y, sr)
    n_frames = 1 + max(y16k.size, N_FFT // 2 + 1) // HOP_LENGTH  # log_mel's frame count
    if patches is None or n_frames < PATCH_FRAMES:
        spectrogram = pad_short(log_mel(y16k))
        return network.taggram(spectrogram, None if patches is None else
                               window_patch_starts(spectrogram.shape[0], patches))
    starts = window_patch_starts(n_frames, patches)
    rows = np.unique(np.concatenate([np.arange(s, s + PATCH_FRAMES) for s in starts]))
    return network.taggram(log_mel(y16k, rows), starts)  # only the frames of its patches


def window_patch_starts(n_frames: int, patches: int) -> list[int]:
    """First frames of ``patches`` patches spread evenly over ``n_frames`` frames (one in the middle if 1)."""
    last = n_frames - PATCH_FRAMES
    return sorted({int(round(s)) for s in np.linspace(0, last, patches)}) if patches > 1 else [last // 2]


def top_tags(tag_means: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` strongest tags of a tag-probability vector, strongest first: [("rock", 0.61), ...]."""
    order = np.argsort(-np.asarray(tag_means), kind="stable")[:k]
    return [(MUSICNN_TAGS[i], float(tag_means[i])) for i in order]
