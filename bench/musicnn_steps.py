"""The musicnn network's input computed step by step, with a variant of each step, and a variant's taggrams compared
with the original musicnn code's reference rows: what bench_musicnn_parity.py and bench_musicnn_ablation.py share
(a module of theirs, no benchmark of its own).

A ``Variant`` holds how each step is computed (int16 scaling, resampler, STFT padding, power, mel basis precision,
float16 cast, patch hop, batch-norm epsilon); its defaults are functions_musicnn's pipeline. ``run_variant`` gives
the taggram of every clip under a variant, ``summary`` its differences to the reference rows, ``format_row`` one
line of the benches' table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import bench_common  # noqa: F401 (puts the project on the import path)
import numpy as np

import functions_musicnn as musicnn

F16_MAX_LOG = float(np.log10(np.float32(np.finfo(np.float16).max) + 1))  # log10(10000 S + 1) where float16 overflows
Resampler = Callable[[np.ndarray, int], np.ndarray]  # (samples, their rate) -> samples at 16 kHz


@dataclass(frozen=True)
class Variant:
    """How each step of the network's input is computed; the defaults are functions_musicnn's pipeline."""

    name: str = "functions_musicnn (soxr HQ)"
    scaling: str = "32768"  # int16 -> float: / 32768 or / 32767
    resampler: Resampler | None = None  # None: functions_musicnn.resample_for_musicnn (soxr HQ)
    resample_dtype: str = "float32"  # the samples handed to the resampler
    spectrogram: str = "module"  # functions_musicnn.log_mel, or "custom" (the steps below), or "librosa"
    pad_mode: str = "reflect"
    power: str = "re2+im2"  # re2+im2 of complex64 (module), abs2 (|z|**2, librosa), float64 (no complex64 rounding)
    basis_dtype: str = "float32"
    cast: str = "float16"  # float16 (module), none, float16-overflow-clipped (10000 S saturating at 65504)
    hop: int = musicnn.PATCH_HOP
    epsilon: float = musicnn.BN_EPSILON


def kaiser_best_v02(y: np.ndarray, sr: int, sr_new: int = musicnn.INPUT_SAMPLE_RATE) -> np.ndarray:
    """resampy 0.2's ``kaiser_best`` (librosa 0.7's default resampler) in NumPy alone, as a polyphase filter: the
    same table of filter taps with resampy's linear interpolation between them (and its integer tap step), the
    output fixed to ceil(n * ratio) samples as librosa.resample does. Equal to resampy's output to ~1e-6."""
    from math import gcd

    num_zeros, bits, rolloff, beta = 64, 512, 0.9475937167399596, 14.769656459379492
    n = bits * num_zeros
    win = rolloff * np.sinc(rolloff * np.linspace(0, num_zeros, n + 1)) * np.kaiser(2 * n + 1, beta)[n:]
    ratio = sr_new / sr
    scale = min(1.0, ratio)
    if ratio < 1:
        win = ratio * win
    delta = np.diff(win, append=win[-1])
    step = int(scale * bits)
    g = gcd(sr, sr_new)
    up, down = sr_new // g, sr // g
    n_out = int(y.shape[-1] * ratio)
    taps = (win.size + step - 1) // step + 1
    phases = np.zeros((up, 2 * taps))  # weights of x[base - taps + 1 .. base + taps] for each output phase
    first = np.empty(up, dtype=np.int64)
    for p in range(up):
        time = p * down / up
        first[p] = int(time)
        frac = scale * (time - first[p])
        for left, f in ((True, frac), (False, scale - frac)):
            offset = int(f * bits)
            eta = f * bits - offset
            at = offset + np.arange((win.size - offset) // step) * step
            weights = win[at] + eta * delta[at]
            index = taps - 1 - np.arange(at.size) if left else taps + np.arange(at.size)
            phases[p, index] += weights  # left wing: x[base - i]; right wing: x[base + 1 + k]
    x = np.pad(np.asarray(y, dtype=np.float64), (taps - 1, taps + down))  # zeros = resampy's cut wings
    view = np.lib.stride_tricks.sliding_window_view(x, 2 * taps)
    out = np.empty(n_out)
    for p in range(min(up, n_out)):
        starts = first[p] + down * np.arange(len(range(p, n_out, up)))
        for block in range(0, starts.size, 4096):  # gathered rows of at most 4096 x 2 taps (~13 MB)
            out[p + up * block:p + up * (block + 4096):up] = view[starts[block:block + 4096]] @ phases[p]
    m = int(np.ceil(y.shape[-1] * ratio))
    return (out[:m] if out.size >= m else np.pad(out, (0, m - out.size))).astype(np.float32)


# the pipeline with the original's resampler: equal to the reference rows to ~1e-6
EXACT = Variant(name="resampy 0.2 kaiser_best, NumPy port", spectrogram="custom", resampler=kaiser_best_v02)


def resample(y: np.ndarray, sr: int, variant: Variant) -> np.ndarray:
    """The samples at 16 kHz, with the variant's resampler (float32 out)."""
    if variant.resampler is None:
        return musicnn.resample_for_musicnn(y, sr)
    x = y.astype(np.float64) if variant.resample_dtype == "float64" else y
    return np.asarray(variant.resampler(x, sr), dtype=np.float32)


def mel_power(y16k: np.ndarray, variant: Variant) -> np.ndarray:
    """The mel power spectrogram (frames, 96) float32, step by step as functions_musicnn.log_mel, with options."""
    from functions_features import hann_window, mel_basis

    if variant.spectrogram == "librosa":
        import librosa

        return librosa.feature.melspectrogram(y=y16k, sr=musicnn.INPUT_SAMPLE_RATE, n_fft=musicnn.N_FFT,
                                              hop_length=musicnn.HOP_LENGTH, n_mels=musicnn.N_MELS,
                                              pad_mode=variant.pad_mode).T
    n_fft, hop = musicnn.N_FFT, musicnn.HOP_LENGTH
    padded = np.pad(y16k, n_fft // 2, mode=variant.pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * hann_window(n_fft), axis=-1)
    if variant.power == "float64":
        power = spectrum.real ** 2 + spectrum.imag ** 2
    else:
        spectrum = spectrum.astype(np.complex64)
        power = np.abs(spectrum) ** 2 if variant.power == "abs2" else spectrum.real ** 2 + spectrum.imag ** 2
    basis = mel_basis(musicnn.INPUT_SAMPLE_RATE, n_fft, musicnn.N_MELS)
    if variant.basis_dtype == "float64":
        from functions_features import hz_to_mel, mel_to_hz

        sr = musicnn.INPUT_SAMPLE_RATE
        fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), musicnn.N_MELS + 2))
        ramps = np.subtract.outer(mel_f, fft_freqs)
        fdiff = np.diff(mel_f)
        basis = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
        basis *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
        return (power.astype(np.float64) @ basis.T).astype(np.float32)
    return (power @ basis.T).astype(np.float32)


def log_mel(y16k: np.ndarray, variant: Variant) -> np.ndarray:
    """The network's input, log10(10000 S + 1) of the mel power S, with the variant's float16 cast."""
    if variant.spectrogram == "module":
        return musicnn.log_mel(y16k)
    mel = mel_power(y16k, variant)
    if variant.cast == "none":
        return np.log10(10000.0 * mel.astype(np.float64) + 1.0).astype(np.float32)
    stored = mel.astype(np.float16).astype(np.float32)
    out = np.log10(10000.0 * stored + 1.0)
    if variant.cast == "float16-overflow-clipped":
        out = np.minimum(out, np.float32(F16_MAX_LOG))
    return out


# --------------------------------------------------------------------------------------------------------------
# Comparison with the reference rows
# --------------------------------------------------------------------------------------------------------------
@dataclass
class ClipResult:
    file: str
    ours: np.ndarray  # (patches, 50)
    reference: np.ndarray  # (patches, 50)
    loud: np.ndarray  # (patches,) bool: the patch holds a value that overflows 10000 S in float16

    @property
    def n(self) -> int:
        return min(len(self.ours), len(self.reference))

    def patch_diff(self) -> np.ndarray:
        return np.abs(self.ours[:self.n] - self.reference[:self.n])

    def clip_diff(self) -> np.ndarray:
        return np.abs(self.ours.mean(axis=0) - self.reference.mean(axis=0))


def frame_overflow(y16k: np.ndarray) -> np.ndarray:
    """Per frame: does some mel value overflow float16 once multiplied by 10000 (the original's trap)?"""
    mel = mel_power(y16k, Variant(spectrogram="custom")).astype(np.float16).astype(np.float32)
    return (10000.0 * mel > np.finfo(np.float16).max).any(axis=1)


def run_variant(variant: Variant, clips: list[tuple[str, np.ndarray, int]], reference: dict[str, np.ndarray],
                arrays: dict[str, np.ndarray], cache: dict) -> list[ClipResult]:
    """The taggram of every clip (name, samples, rate) under ``variant`` beside its reference rows; ``cache``
    keeps the resampled samples and the networks between variants."""
    network = network_for(variant.epsilon, arrays, cache)
    results = []
    for name, y, sr in clips:
        if ("overflow", name) not in cache:
            cache[("overflow", name)] = frame_overflow(musicnn.resample_for_musicnn(y, sr))
        if variant.scaling != "32768":
            y = y * np.float32(32768 / 32767)
        key = (name, variant.scaling, variant.resampler, variant.resample_dtype)
        if key not in cache:
            cache[key] = resample(y, sr, variant)
        spectrogram = log_mel(cache[key], variant)
        starts = musicnn.patch_starts(spectrogram.shape[0], variant.hop)
        tags = network.taggram(spectrogram, starts).tags.astype(np.float64)
        overflow = cache[("overflow", name)]
        loud = np.array([overflow[s:s + musicnn.PATCH_FRAMES].any() for s in starts])
        results.append(ClipResult(name, tags, reference[name], loud))
    return results


def network_for(epsilon: float, arrays: dict[str, np.ndarray], cache: dict) -> musicnn.MusicnnNetwork:
    key = ("network", epsilon)
    if key not in cache:
        saved = musicnn.BN_EPSILON
        musicnn.BN_EPSILON = epsilon  # the folded batch norms read it at construction
        try:
            cache[key] = musicnn.MusicnnNetwork(arrays)
        finally:
            musicnn.BN_EPSILON = saved
    return cache[key]


def summary(results: list[ClipResult]) -> dict[str, float]:
    """The differences of the clips' taggrams to the reference rows (per clip mean and per patch), and how many
    clips keep the same top tag and top five."""
    clip = np.concatenate([r.clip_diff() for r in results])
    patch = np.concatenate([r.patch_diff().ravel() for r in results])
    per_patch = [r.patch_diff().mean(axis=1) for r in results]
    loud = np.concatenate([p[r.loud[:r.n]] for p, r in zip(per_patch, results, strict=True)])
    quiet = np.concatenate([p[~r.loud[:r.n]] for p, r in zip(per_patch, results, strict=True)])
    top1 = sum(int(np.argmax(r.ours.mean(0)) == np.argmax(r.reference.mean(0))) for r in results)
    top5 = sum(int(set(np.argsort(-r.ours.mean(0))[:5]) == set(np.argsort(-r.reference.mean(0))[:5]))
               for r in results)
    return {"clips": len(results), "clip_mean": clip.mean(), "clip_p99": np.percentile(clip, 99),
            "clip_max": clip.max(), "patch_mean": patch.mean(), "patch_p99": np.percentile(patch, 99),
            "patch_max": patch.max(), "loud_patch_mean": loud.mean() if loud.size else np.nan,
            "quiet_patch_mean": quiet.mean() if quiet.size else np.nan, "loud_patches": int(loud.size),
            "quiet_patches": int(quiet.size), "same_top1": top1, "same_top5": top5,
            "patch_count_equal": sum(int(len(r.ours) == len(r.reference)) for r in results)}


def format_row(name: str, s: dict[str, float], extra: str = "") -> str:
    """One line of the table under ``HEADER``."""
    return (f"{name:<46} {s['clip_mean']:>9.6f} {s['clip_p99']:>8.5f} {s['clip_max']:>8.5f}  {s['patch_mean']:>9.6f} "
            f"{s['patch_p99']:>8.5f} {s['patch_max']:>8.5f}  {s['loud_patch_mean']:>9.6f} {s['quiet_patch_mean']:>9.6f}"
            f"  {s['same_top1']:>3}/{s['clips']:<3} {s['same_top5']:>3}/{s['clips']:<3}{extra}")


HEADER = (f"{'':<46} {'clip-mean tag |diff|':^27}  {'per-patch tag |diff|':^27}  {'per patch, mean':^19}"
          f"  {'same':>7} {'same':>7}\n"
          f"{'variant':<46} {'mean':>9} {'p99':>8} {'max':>8}  {'mean':>9} {'p99':>8} {'max':>8}  {'loud':>9} "
          f"{'quiet':>9}  {'top1':>7} {'top5':>7}")
