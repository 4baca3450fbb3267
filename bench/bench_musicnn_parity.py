"""Parity of functions_musicnn with the original musicnn code, on the shared GTZAN clips that have reference rows.

``../shared/data/gtzan_musicnn_msd_taggram.csv`` holds the outputs of the original ``musicnn`` extractor
(MSD_musicnn, 3-s patches every second) for the ``train`` and ``test`` clips of the artist-filtered split; the
``gtzan_mini/`` clips among them are computed here with functions_musicnn and compared:

(a) the absolute difference of the 50 tag probabilities, per clip (mean over the clip's patches: mean, p99, max
    over clips x tags) and per patch (mean, p99, max over patches x tags); how many clips keep the same top tag
    and the same set of 5 top tags;
(b) the genre read from our features and from the reference rows: a logistic regression on standardised clip
    features (mean and std of each tag over the clip's patches, the 100 musicnn columns), trained on the
    reference rows of the ``train`` clips that are NOT compared here; the count of compared clips where both
    read the same genre (and how many each gets right). ``--model DIR`` reads the genre with a project model
    folder instead (its musicnn columns from the taggrams, classic columns from gtzan_features.csv);
(c) ``--ablation``: the same comparison for variants of each step of the input computation (resampler, STFT
    padding, power, mel basis precision, float16 cast, int16 scaling, patch hop, batch-norm epsilon), each one
    changed alone from the module's pipeline, to see which step accounts for the remaining difference.

    python bench/bench_musicnn_parity.py [--clips N] [--ablation] [--model DIR]

Measured (44 clips, 1232 patches): functions_musicnn with soxr HQ differs per patch by 0.0026 on average (max
0.110), clip means by 0.0023 (max 0.068), same top-5 on 32/44 clips, same genre on 42/44. The difference is the
resampler: with resampy 0.2's kaiser_best (what librosa 0.7 used; resampy 0.3+ ships a different kaiser_best)
it falls to 1e-6 (max 1e-4), 44/44 on every count; every other step (padding, power, mel basis, float16 cast)
moves the outputs by 2e-5 or less.

Needs the converted musicnn weights (``pip install --no-deps musicnn==0.1.0``) and the shared data. The
ablation's resampy variants need ``resampy`` (not a project dependency: they are skipped without it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import functions_audio as audio  # noqa: E402
import functions_musicnn as musicnn  # noqa: E402

TAG_COLUMNS = [f"tag_{i:02d}" for i in range(1, musicnn.N_TAGS + 1)]
REFERENCE_FILE = "gtzan_musicnn_msd_taggram.csv"
F16_MAX_LOG = float(np.log10(np.float32(np.finfo(np.float16).max) + 1))  # log10(10000 S + 1) where float16 overflows


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------
def shared_folder(path: str | None) -> Path:
    folder = Path(path) if path else audio.shared_data_dir()
    if folder is None or not (folder / REFERENCE_FILE).is_file() or not (folder / "gtzan_mini").is_dir():
        raise SystemExit(f"bench_musicnn_parity: no {REFERENCE_FILE} and gtzan_mini/ in "
                         f"{folder or '../shared/data'} (set GENRE_SHARED_DATA or --shared)")
    return folder


def reference_taggrams(shared: Path) -> dict[str, np.ndarray]:
    """{file: (patches, 50) reference tag probabilities in patch order}."""
    rows = pd.read_csv(shared / REFERENCE_FILE).sort_values(["file", "patch"])
    return {name: group[TAG_COLUMNS].to_numpy(np.float64) for name, group in rows.groupby("file", sort=True)}


def split_of(shared: Path) -> dict[str, str]:
    split = {}
    for name in ("train", "valid", "test"):
        path = shared / "splits" / "gtzan_fault_filtered" / f"{name}.txt"
        if path.is_file():
            split.update({line.strip(): name for line in path.read_text().splitlines() if line.strip()})
    return split


def clip_features(tags: np.ndarray) -> np.ndarray:
    """The 100 musicnn columns of a clip: mean then std (ddof 0) of each tag over its patches."""
    return np.concatenate([tags.mean(axis=0), tags.std(axis=0)])


def load_clip(path: Path, scaling: str = "32768") -> tuple[np.ndarray, int]:
    """Mono float32 samples of a 16-bit WAV: int16 / 32768 (soundfile's and audioread's scaling) or / 32767."""
    import soundfile

    if scaling == "32768":
        y, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    else:
        raw, sr = soundfile.read(str(path), dtype="int16", always_2d=True)
        y = raw.astype(np.float32) / np.float32(32767)
    return np.ascontiguousarray(y.mean(axis=1) if y.shape[1] > 1 else y[:, 0], dtype=np.float32), sr


# --------------------------------------------------------------------------------------------------------------
# The input computation, step by step, with the variants of each step
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """How each step of the network's input is computed; the defaults are functions_musicnn's pipeline."""

    name: str = "functions_musicnn (soxr HQ)"
    scaling: str = "32768"  # int16 -> float: / 32768 or / 32767
    resampler: str = "module"  # functions_musicnn.resample_for_musicnn (soxr HQ) or a name in RESAMPLERS
    resample_dtype: str = "float32"  # the samples handed to the resampler
    spectrogram: str = "module"  # functions_musicnn.log_mel, or "custom" (the steps below), or "librosa"
    pad_mode: str = "reflect"
    power: str = "re2+im2"  # re2+im2 of complex64 (module), abs2 (|z|**2, librosa), float64 (no complex64 rounding)
    basis_dtype: str = "float32"
    cast: str = "float16"  # float16 (module), none, float16-overflow-clipped (10000 S saturating at 65504)
    hop: int = musicnn.PATCH_HOP
    epsilon: float = musicnn.BN_EPSILON
    note: str = ""
    extra: dict = field(default_factory=dict, compare=False)


def _resampy(y: np.ndarray, sr: int, kind) -> np.ndarray:
    import resampy  # experiments only: not a project dependency

    out = resampy.resample(y, sr, musicnn.INPUT_SAMPLE_RATE, filter=kind)
    n = int(np.ceil(y.size * musicnn.INPUT_SAMPLE_RATE / sr))  # librosa.resample(fix=True): fix_length
    return out[:n] if out.size >= n else np.pad(out, (0, n - out.size))


def _resampy_02_kaiser_best() -> tuple[np.ndarray, int, float]:
    """resampy 0.2's ``kaiser_best`` (librosa 0.7's default): 64 zero crossings, 512 taps per crossing, Kaiser beta
    14.7697, roll-off 0.9476 of Nyquist. resampy 0.3 replaced it (50 crossings, roll-off 0.9173, beta 12.98)."""
    import resampy
    from scipy.signal import get_window

    return resampy.filters.sinc_window(num_zeros=64, precision=9, rolloff=0.9475937167399596,
                                       window=lambda n: get_window(("kaiser", 14.769656459379492), n, fftbins=False))


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


def _soxr(quality: str) -> Callable[[np.ndarray, int], np.ndarray]:
    def run(y: np.ndarray, sr: int) -> np.ndarray:
        import soxr

        return soxr.resample(y, sr, musicnn.INPUT_SAMPLE_RATE, quality=quality)
    return run


def _poly(y: np.ndarray, sr: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr, musicnn.INPUT_SAMPLE_RATE)
    return resample_poly(y, musicnn.INPUT_SAMPLE_RATE // g, sr // g)


def _fft(y: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import resample

    return resample(y, int(np.ceil(y.size * musicnn.INPUT_SAMPLE_RATE / sr)))


RESAMPLERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "soxr_hq": _soxr("HQ"),
    "soxr_vhq": _soxr("VHQ"),
    "soxr_mq": _soxr("MQ"),
    "kaiser_best": lambda y, sr: _resampy(y, sr, "kaiser_best"),
    "kaiser_fast": lambda y, sr: _resampy(y, sr, "kaiser_fast"),
    "kaiser_best_v02": lambda y, sr: _resampy(y, sr, _resampy_02_kaiser_best),
    "kaiser_best_v02_numpy": kaiser_best_v02,
    "resample_poly": _poly,
    "scipy_fft": _fft,
}


def resample(y: np.ndarray, sr: int, variant: Variant) -> np.ndarray:
    if variant.resampler == "module":
        return musicnn.resample_for_musicnn(y, sr)
    x = y.astype(np.float64) if variant.resample_dtype == "float64" else y
    return np.asarray(RESAMPLERS[variant.resampler](x, sr), dtype=np.float32)


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
# Comparison
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


# --------------------------------------------------------------------------------------------------------------
# Genre read from the features
# --------------------------------------------------------------------------------------------------------------
def genre_reader(reference: dict[str, np.ndarray], split: dict[str, str], exclude: set[str]):
    """A logistic regression on standardised musicnn clip features of the reference ``train`` clips not in
    ``exclude``; returns (predict function, number of training clips)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = [f for f in sorted(reference) if split.get(f) == "train" and f not in exclude]
    X = np.stack([clip_features(reference[f]) for f in names])
    y = [f.split("/")[0] for f in names]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, y)
    return (lambda features: list(model.predict(np.atleast_2d(features)))), len(names)


def model_reader(model_dir: str, shared: Path):
    """A project model folder's genre reader: musicnn columns from the taggram, classic ones from the shared CSV."""
    import functions_nn

    classifier = functions_nn.load_classifier(model_dir)
    known = set(audio.MUSICNN_COLUMNS) | set(audio.CLASSIC_COLUMNS)
    unknown = [c for c in classifier.feature_columns if c not in known]
    if unknown:
        raise SystemExit(f"bench_musicnn_parity: {model_dir}: columns neither musicnn nor classic: {unknown[:5]}")
    classic = pd.read_csv(shared / "gtzan_features.csv").set_index("file")

    def predict(files: list[str], taggrams: list[np.ndarray]) -> list[str]:
        rows = []
        for name, tags in zip(files, taggrams, strict=True):
            values = dict(zip(audio.MUSICNN_COLUMNS, clip_features(tags), strict=True))
            values.update({c: float(classic.at[name, c]) for c in classifier.feature_columns if c not in values})
            rows.append([values[c] for c in classifier.feature_columns])
        return classifier.predict(np.asarray(rows))
    return predict


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------
EXACT = Variant(name="resampy 0.2 kaiser_best, NumPy port", spectrogram="custom", resampler="kaiser_best_v02_numpy")


def ablation_variants() -> list[tuple[str, Variant, list[Variant]]]:
    """(title, the variant the others are compared with, variants): the resampler changed from the module's
    pipeline, then every other step changed from the pipeline with the original's resampler."""
    module = Variant(name="custom steps (= module: soxr HQ)", spectrogram="custom")
    resamplers = [
        module,
        replace(module, name="resampler soxr VHQ", resampler="soxr_vhq"),
        replace(module, name="resampler soxr MQ", resampler="soxr_mq"),
        replace(module, name="resampler resampy 0.4 kaiser_best", resampler="kaiser_best"),
        replace(module, name="resampler resampy 0.4 kaiser_fast", resampler="kaiser_fast"),
        replace(module, name="resampler scipy resample_poly 320/441", resampler="resample_poly"),
        replace(module, name="resampler scipy FFT resample", resampler="scipy_fft"),
        replace(module, name="resampler resampy 0.2 kaiser_best (resampy)", resampler="kaiser_best_v02"),
        replace(module, name="resampler resampy 0.2 kaiser_best (NumPy)", resampler="kaiser_best_v02_numpy"),
    ]
    steps = [
        EXACT,
        replace(EXACT, name="resampy 0.2 filter, resampy, float64 in", resampler="kaiser_best_v02",
                resample_dtype="float64"),
        replace(EXACT, name="int16 / 32767 (not / 32768)", scaling="32767"),
        replace(EXACT, name="STFT padding constant (librosa >= 0.10)", pad_mode="constant"),
        replace(EXACT, name="power |z|**2 (complex64)", power="abs2"),
        replace(EXACT, name="power in float64 (no complex64)", power="float64"),
        replace(EXACT, name="mel basis float64", basis_dtype="float64"),
        replace(EXACT, name="librosa 0.11 melspectrogram (reflect)", spectrogram="librosa"),
        replace(EXACT, name="no float16 cast", cast="none"),
        replace(EXACT, name="float16 cast, 10000 S saturating at 65504", cast="float16-overflow-clipped"),
        replace(EXACT, name="patch hop 62 frames (data README)", hop=62),
        replace(EXACT, name="batch-norm epsilon 1e-5 (not 1e-3)", epsilon=1e-5),
    ]
    try:
        import resampy  # noqa: F401
    except ImportError:
        print("(resampy not installed: its variants are skipped)")
        resamplers = [v for v in resamplers if v.resampler not in ("kaiser_best", "kaiser_fast", "kaiser_best_v02")]
        steps = [v for v in steps if v.resampler != "kaiser_best_v02"]
    return [("the resampler, all else as the module", module, resamplers),
            ("every other step, from the pipeline with resampy 0.2's kaiser_best (NumPy port)", EXACT, steps)]


def format_row(name: str, s: dict[str, float], extra: str = "") -> str:
    return (f"{name:<46} {s['clip_mean']:>9.6f} {s['clip_p99']:>8.5f} {s['clip_max']:>8.5f}  {s['patch_mean']:>9.6f} "
            f"{s['patch_p99']:>8.5f} {s['patch_max']:>8.5f}  {s['loud_patch_mean']:>9.6f} {s['quiet_patch_mean']:>9.6f}"
            f"  {s['same_top1']:>3}/{s['clips']:<3} {s['same_top5']:>3}/{s['clips']:<3}{extra}")


HEADER = (f"{'':<46} {'clip-mean tag |diff|':^27}  {'per-patch tag |diff|':^27}  {'per patch, mean':^19}"
          f"  {'same':>7} {'same':>7}\n"
          f"{'variant':<46} {'mean':>9} {'p99':>8} {'max':>8}  {'mean':>9} {'p99':>8} {'max':>8}  {'loud':>9} "
          f"{'quiet':>9}  {'top1':>7} {'top5':>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--shared", help="the shared data folder (default ../shared/data or $GENRE_SHARED_DATA)")
    parser.add_argument("--clips", type=int, default=0, help="compare only the first N clips (default all)")
    parser.add_argument("--ablation", action="store_true", help="also run the variants of each input step")
    parser.add_argument("--model", help="read the genre with this project model folder (musicnn [+classic] "
                                        "columns) instead of a logistic regression")
    args = parser.parse_args(argv)

    shared = shared_folder(args.shared)
    reference = reference_taggrams(shared)
    split = split_of(shared)
    files = [f for f in sorted(reference) if (shared / "gtzan_mini" / f).is_file()]
    if args.clips:
        files = files[:args.clips]
    if not files:
        raise SystemExit("bench_musicnn_parity: no gtzan_mini clip has reference rows")
    try:
        arrays = musicnn.read_weights(musicnn.ensure_weights())
    except musicnn.MusicnnUnavailable as exc:
        raise SystemExit(f"bench_musicnn_parity: {exc}") from None
    genres = {f: f.split("/")[0] for f in files}
    counts = pd.Series([split.get(f, "none") for f in files]).value_counts().to_dict()
    print(f"{len(files)} gtzan_mini clips with reference rows ({', '.join(f'{v} {k}' for k, v in counts.items())}; "
          f"{', '.join(f'{g} {n}' for g, n in pd.Series(list(genres.values())).value_counts().items())})")
    clips = []
    for name in files:
        y, sr = load_clip(shared / "gtzan_mini" / name)
        clips.append((name, y, sr))

    cache: dict = {}
    started = time.perf_counter()
    base = run_variant(Variant(), clips, reference, arrays, cache)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    exact = run_variant(EXACT, clips, reference, arrays, cache)
    exact_seconds = time.perf_counter() - started
    print(f"\nfunctions_musicnn as it is (spectrogram_of + taggram, patch hop {musicnn.PATCH_HOP}): "
          f"{seconds:.1f} s for {len(files)} clips; with the resampler of the original (resampy 0.2's kaiser_best, "
          f"NumPy port, the rest as the module): {exact_seconds:.1f} s")
    print("|diff| of the 50 tag probabilities against the reference rows; 'loud' patches hold a mel value whose "
          "10000*S overflows float16")
    print(HEADER)
    print(format_row("functions_musicnn (soxr HQ)", summary(base)))
    print(format_row("with resampy 0.2 kaiser_best (NumPy port)", summary(exact)))
    s = summary(base)
    print(f"patches: {s['loud_patches']} loud, {s['quiet_patches']} quiet; patch count equal to the reference's "
          f"in {s['patch_count_equal']}/{s['clips']} clips")
    worst = sorted(base, key=lambda r: -r.clip_diff().mean())[:5]
    print("functions_musicnn, largest clip-mean differences: "
          + ", ".join(f"{r.file} {r.clip_diff().mean():.4f}" for r in worst))
    by_genre = pd.Series({r.file: r.patch_diff().mean() for r in base}).groupby(lambda f: f.split("/")[0]).mean()
    print("functions_musicnn, per-patch mean |diff| by genre: "
          + ", ".join(f"{g} {v:.4f}" for g, v in by_genre.items()))

    # the genre read from the features
    if args.model:
        read = model_reader(args.model, shared)
        how = f"model {args.model}"
    else:
        predict, n_train = genre_reader(reference, split, set(files))
        how = (f"logistic regression on standardised musicnn clip mean+std (100 columns), trained on the reference "
               f"rows of the {n_train} train clips not compared here")

        def read(names: list[str], taggrams: list[np.ndarray]) -> list[str]:
            return predict(np.stack([clip_features(t) for t in taggrams]))
    names = [r.file for r in base]
    ref_genre = read(names, [r.reference for r in base])
    right_ref = sum(g == genres[f] for g, f in zip(ref_genre, names, strict=True))
    print(f"\ngenre read ({how}); the reference rows read {right_ref}/{len(names)} right")
    for label, results in (("functions_musicnn", base), ("with resampy 0.2 kaiser_best", exact)):
        ours_genre = read(names, [r.ours for r in results])
        same = sum(a == b for a, b in zip(ours_genre, ref_genre, strict=True))
        right = sum(g == genres[f] for g, f in zip(ours_genre, names, strict=True))
        differs = [f"{f} (ours {a}, reference {b})" for f, a, b in zip(names, ours_genre, ref_genre, strict=True)
                   if a != b]
        print(f"  {label}: same genre as from the reference rows on {same}/{len(names)} clips, right on {right}"
              + (f"; differs: {', '.join(differs)}" if differs else ""))

    if args.ablation:
        for title, anchor, variants in ablation_variants():
            print(f"\nAblation: {title}; 'moved' is the per-patch mean |diff| to the outputs of "
                  f"'{anchor.name}' (how much the step alone moves them)")
            print(HEADER + f"  {'moved':>9}")
            anchor_results = run_variant(anchor, clips, reference, arrays, cache)
            for variant in variants:
                started = time.perf_counter()
                results = run_variant(variant, clips, reference, arrays, cache)
                if variant.hop == anchor.hop:  # the same patches
                    moved = np.mean([np.abs(r.ours - a.ours).mean()
                                     for r, a in zip(results, anchor_results, strict=True)])
                    moved_text = f"{moved:>9.6f}"
                else:
                    moved_text = f"{'-':>9}"
                took = time.perf_counter() - started
                print(format_row(variant.name, summary(results), f"  {moved_text}  ({took:.0f} s)"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
