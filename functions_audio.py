"""Audio loading, feature extraction and dataset handling, shared by 00_preprocess_music.py and the classifier.

This module is the one source of truth for the project's paths, the genre list, the feature columns and the
extraction settings. Heavy libraries (librosa, soundfile, scipy) are imported inside the functions that need
them, so that importing this module stays cheap for the command-line classifier.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------------------
PROJECT_DIR = Path(__file__).resolve().parent
DATA_DIR = PROJECT_DIR / "data"
OUTPUTS_DIR = PROJECT_DIR / "outputs"
PRETRAINED_MODEL_DIR = DATA_DIR / "pretrained"
DEMO_DATASET_DIR = DATA_DIR / "synthetic_demo"
GTZAN_DIR = DATA_DIR / "genres"  # where genres.tar.gz unpacks
GTZAN_URL = "http://opihi.cs.uvic.ca/sound/genres.tar.gz"
GTZAN_MD5 = "5b3d6dddb579ab49814ab86dba69e7c7"


def shared_data_dir() -> Path | None:
    """The team's shared real data (GTZAN clips and reference features), or None where it is absent."""
    candidate = os.environ.get("GENRE_SHARED_DATA")
    path = Path(candidate) if candidate else PROJECT_DIR.parent / "shared" / "data"
    return path if path.is_dir() else None


# --------------------------------------------------------------------------------------------------------------
# Genres, feature columns and extraction settings
# --------------------------------------------------------------------------------------------------------------
GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)

SAMPLE_RATE = 22050
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 30
N_CHROMA = 12
ROLLOFF_PERCENT = 0.85
CLIP_SECONDS = 30.0  # GTZAN clip length: features use at most this much audio per clip
LIMIT_TOLERANCE = 0.05  # a file at most 5 % longer than the limit is read whole (GTZAN clips: 29.98-30.37 s)
MIN_SECONDS = 1.0  # shorter clips are refused
SILENCE_PEAK = 1e-4  # a clip whose peak amplitude stays below this is "silent"


def _numbered(prefix: str, count: int) -> list[str]:
    return [f"{prefix}_{i:02d}" for i in range(1, count + 1)]


ID_COLUMNS: tuple[str, ...] = ("file", "genre")
FEATURE_COLUMNS: tuple[str, ...] = (
    *_numbered("mfcc_mean", N_MFCC),
    *_numbered("mfcc_std", N_MFCC),
    *_numbered("chroma_mean", N_CHROMA),
    *_numbered("chroma_std", N_CHROMA),
    "tempo",
    "zcr_mean", "zcr_std",
    "rolloff_mean", "rolloff_std",
    "centroid_mean", "centroid_std",
)
CSV_COLUMNS: tuple[str, ...] = ID_COLUMNS + FEATURE_COLUMNS

EXTRACTION_SETTINGS: dict[str, object] = {
    "sample_rate": SAMPLE_RATE,
    "mono": True,
    "n_fft": N_FFT,
    "hop_length": HOP_LENGTH,
    "n_mels": N_MELS,
    "n_mfcc": N_MFCC,
    "n_chroma": N_CHROMA,
    "rolloff_percent": ROLLOFF_PERCENT,
    "clip_seconds": CLIP_SECONDS,
    "statistics": "mean and std (ddof 0) over STFT frames",
}

AUDIO_EXTENSIONS: frozenset[str] = frozenset({
    ".wav", ".au", ".snd", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
    ".m4a", ".mp4", ".aac", ".webm", ".mka", ".wma",
})


class AudioError(Exception):
    """A clip that cannot be used; the message is a one-line reason."""


# --------------------------------------------------------------------------------------------------------------
# Loading audio
# --------------------------------------------------------------------------------------------------------------
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped in the imageio-ffmpeg wheel (no system ffmpeg needed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _load_with_soundfile(path: Path, max_seconds: float | None, offset_s: float) -> tuple[np.ndarray, int]:
    import soundfile

    with soundfile.SoundFile(str(path)) as audio:
        native_sr = audio.samplerate
        start = int(round(offset_s * native_sr))
        if start:
            audio.seek(min(start, audio.frames))
        frames = -1 if max_seconds is None else int(round(max_seconds * native_sr))
        data = audio.read(frames=frames, dtype="float32", always_2d=True)
    return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0], native_sr


def _load_with_ffmpeg(path: Path, max_seconds: float | None, offset_s: float) -> np.ndarray:
    command = [ffmpeg_exe(), "-nostdin", "-v", "error"]
    if offset_s:
        command += ["-ss", f"{offset_s:.3f}"]
    command += ["-i", str(path)]
    if max_seconds is not None:
        command += ["-t", f"{max_seconds:.3f}"]
    command += ["-map", "0:a:0", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"]
    try:
        result = subprocess.run(command, capture_output=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as error:
        raise AudioError("ffmpeg took longer than 10 minutes to decode it") from error
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"ffmpeg exit code {result.returncode}"
        raise AudioError(f"cannot decode audio ({reason})")
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)


def load_audio(path: str | Path, max_seconds: float | None = CLIP_SECONDS, offset_s: float = 0.0) -> np.ndarray:
    """Decode `path` to float32 mono at SAMPLE_RATE, reading at most `max_seconds` from `offset_s` on.

    A file that is at most LIMIT_TOLERANCE longer than `max_seconds` is read whole, so that a collection of
    "30-s" clips is never cut a few frames short; a longer one is cut at exactly `max_seconds`, which bounds
    memory for long recordings. soundfile (libsndfile) reads WAV, AU, FLAC, OGG and MP3 directly; anything
    else goes through ffmpeg. Resampling uses soxr's high-quality mode, librosa's default.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError("no such file")
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)")
    read_seconds = None if max_seconds is None else max_seconds * (1 + LIMIT_TOLERANCE)
    try:
        y, native_sr = _load_with_soundfile(path, read_seconds, offset_s)
    except Exception:  # libsndfile can't read it (m4a, webm, broken header, ...): let ffmpeg try
        y = _load_with_ffmpeg(path, read_seconds, offset_s)
        native_sr = SAMPLE_RATE
    if read_seconds is not None and y.size >= int(round(read_seconds * native_sr)):
        y = y[: int(round(max_seconds * native_sr))]  # longer than the tolerance allows: cut at the limit
    if native_sr != SAMPLE_RATE and y.size:
        import soxr

        y = soxr.resample(y, native_sr, SAMPLE_RATE, quality="HQ").astype(np.float32)
    if y.size == 0:
        raise AudioError("no audio samples (empty or truncated file)")
    return np.ascontiguousarray(y, dtype=np.float32)


def header_duration(path: str | Path) -> float | None:
    """Duration in seconds from the file header (libsndfile), or None where only a full decode would tell."""
    try:
        import soundfile

        info = soundfile.info(str(path))
    except Exception:
        return None
    return info.frames / info.samplerate if info.frames > 0 else None


def audio_duration(path: str | Path) -> float:
    """Duration in seconds: from the file header where libsndfile reads it, else by decoding with ffmpeg."""
    duration = header_duration(path)
    return duration if duration is not None else load_audio(path, max_seconds=None).size / SAMPLE_RATE


# --------------------------------------------------------------------------------------------------------------
# Features: one STFT per clip, every feature derived from it
# --------------------------------------------------------------------------------------------------------------
# librosa's feature functions re-implemented with NumPy alone, line for line: `import librosa` pulls in
# scipy.signal, scipy.ndimage and numba (~2 s of start-up, far more than the 0.2 s of computing the features of
# a clip), which the classifier (03) cannot afford. tests/test_preprocess_features.py checks every one of them
# against librosa itself; on the 100 shared GTZAN clips the 91 features agree to 1e-6 of each column's spread,
# tempo and tuning exactly.
def _hann(length: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window("hann", length, fftbins=True))."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


STFT_BLOCK_FRAMES = 128


def _stft_magnitude(y: np.ndarray) -> np.ndarray:
    """|librosa.stft(y, n_fft=2048, hop_length=512)|: centred frames, zero padding, periodic Hann window;
    windowed in float64 and stored as complex64 as librosa does."""
    padded = np.pad(y, N_FFT // 2, mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]  # (n_frames, n_fft), a view
    window = _hann(N_FFT)
    magnitude = np.empty((frames.shape[0], N_FFT // 2 + 1), dtype=np.float32)
    for start in range(0, frames.shape[0], STFT_BLOCK_FRAMES):  # blocks that stay in cache: 2x faster
        block = slice(start, start + STFT_BLOCK_FRAMES)
        magnitude[block] = np.abs(np.fft.rfft(frames[block] * window, axis=-1).astype(np.complex64))
    return magnitude.T  # (1 + n_fft/2, n_frames), librosa's orientation


def _hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa.hz_to_mel, htk=False)."""
    frequencies = np.asanyarray(frequencies, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = frequencies / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_region = frequencies >= min_log_hz
    return np.where(log_region, min_log_mel + np.log(np.maximum(frequencies, min_log_hz) / min_log_hz) / logstep,
                    mels)


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_region = mels >= min_log_mel
    freqs[log_region] = min_log_hz * np.exp(logstep * (mels[log_region] - min_log_mel))
    return freqs


@functools.lru_cache(maxsize=4)
def _mel_basis(sr: int) -> np.ndarray:
    """librosa.filters.mel(sr=sr, n_fft=2048, n_mels=128): Slaney scale and area normalisation, float32."""
    fft_freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((N_MELS, fft_freqs.size), dtype=np.float32)
    for i in range(N_MELS):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS]))[:, np.newaxis]
    return weights


def _power_to_db(power: np.ndarray) -> np.ndarray:
    """librosa.power_to_db(S) with its defaults (ref 1, amin 1e-10, top_db 80)."""
    log_spec = 10.0 * np.log10(np.maximum(1e-10, power))
    return np.maximum(log_spec, log_spec.max() - 80.0)


@functools.lru_cache(maxsize=4)
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix (scipy.fft.dct(type=2, norm="ortho"), first n_out coefficients)."""
    k = np.arange(n_out)[:, np.newaxis]
    n = np.arange(n_in)[np.newaxis, :]
    matrix = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def _mfcc(mel_db: np.ndarray) -> np.ndarray:
    """librosa.feature.mfcc(S=mel_db, n_mfcc=30)."""
    return (_dct_matrix(N_MFCC, mel_db.shape[0]) @ mel_db.astype(np.float64)).astype(np.float32)


def _parabolic_shift(x: np.ndarray) -> np.ndarray:
    """librosa's parabolic interpolation along the frequency axis (0 at the edges and where unstable)."""
    shift = np.zeros_like(x)
    before, centre, after = x[:-2].astype(np.float64), x[1:-1], x[2:].astype(np.float64)
    a = (x[2:] + x[:-2]).astype(np.float64) - 2 * centre.astype(np.float64)
    b = (after - before) / 2
    stable = np.abs(b) < np.abs(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift[1:-1] = np.where(stable, -b / np.where(stable, a, 1.0), 0.0)
    return shift


def _local_max(x: np.ndarray) -> np.ndarray:
    """librosa.util.localmax along axis 0."""
    peaks = np.zeros(x.shape, dtype=bool)
    peaks[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    peaks[-1] = x[-1] > x[-2]
    return peaks


def _estimate_tuning(power: np.ndarray, sr: int) -> float:
    """librosa.estimate_tuning(S=power, sr=sr, bins_per_octave=12) (piptrack 150-4000 Hz, threshold 0.1).

    Peaks are only kept between 150 and 4000 Hz, so the interpolation is computed on those rows (and one
    neighbour each side) only: the same numbers as librosa's full-spectrum computation, a third of the work.
    """
    S = np.abs(power)
    fft_freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    rows = np.flatnonzero((150.0 <= fft_freqs) & (fft_freqs < min(4000.0, sr / 2.0)))
    lo, hi = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, S.shape[0])
    block = S[lo:hi]
    avg = np.gradient(block, axis=0)
    shift = _parabolic_shift(block)
    dskew = 0.5 * avg * shift
    ref_value = (0.1 * np.max(S, axis=0))[np.newaxis, :]
    peaks = _local_max(S[lo:hi] * (S[lo:hi] > ref_value))
    if lo == 0:
        peaks[0] = False  # librosa's localmax never marks the first bin
    in_range = np.zeros(hi - lo, dtype=bool)
    in_range[rows - lo] = True
    idx = np.nonzero(in_range[:, np.newaxis] & peaks)
    pitches = np.zeros_like(block)
    mags = np.zeros_like(block)
    pitches[idx] = (idx[0] + lo + shift[idx]) * float(sr) / N_FFT
    mags[idx] = block[idx] + dskew[idx]
    pitch_mask = pitches > 0
    threshold = np.median(mags[pitch_mask]) if pitch_mask.any() else 0.0
    frequencies = pitches[(mags >= threshold) & pitch_mask]
    frequencies = frequencies[frequencies > 0]
    if not frequencies.size:
        return 0.0
    residual = np.mod(12 * np.log2(frequencies / (440.0 / 16)), 1.0)
    residual[residual >= 0.5] -= 1.0
    bins = np.linspace(-0.5, 0.5, 101)
    counts, edges = np.histogram(residual, bins)
    return float(edges[np.argmax(counts)])


@functools.lru_cache(maxsize=16)
def _chroma_basis(sr: int, tuning: float) -> np.ndarray:
    """librosa.filters.chroma(sr=sr, n_fft=2048, tuning=tuning, n_chroma=12), float32."""
    n_chroma = N_CHROMA
    frequencies = np.linspace(0, sr, N_FFT, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    frqbins = n_chroma * np.log2(frequencies / (a440 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    D = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    n_chroma2 = np.round(float(n_chroma) / 2)
    D = np.remainder(D + n_chroma2 + 10 * n_chroma, n_chroma) - n_chroma2
    wts = np.exp(-0.5 * (2 * D / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    length = np.sum(np.abs(wts) ** 2, axis=0, keepdims=True) ** 0.5
    length[length < np.finfo(np.float64).tiny] = 1.0
    wts = wts / length
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - 5.0) / 2) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : int(1 + N_FFT / 2)], dtype=np.float32)


def _normalize_max(S: np.ndarray) -> np.ndarray:
    """librosa.util.normalize(S, norm=inf, axis=0)."""
    length = np.max(np.abs(S).astype(float), axis=0, keepdims=True)
    length[length < np.finfo(S.dtype).tiny] = 1.0
    out = np.empty_like(S)
    out[:] = S / length
    return out


def _chroma_stft(power: np.ndarray, sr: int) -> np.ndarray:
    """librosa.feature.chroma_stft(S=power, sr=sr, n_chroma=12)."""
    tuning = _estimate_tuning(power, sr)
    raw = np.einsum("cf,...ft->...ct", _chroma_basis(sr, tuning), power, optimize=True)
    return _normalize_max(raw)


def _onset_strength(mel_db: np.ndarray) -> np.ndarray:
    """librosa.onset.onset_strength(S=mel_db) with its defaults (lag 1, no max filter, mean, centred)."""
    onset = np.maximum(0.0, mel_db[:, 1:] - mel_db[:, :-1])
    envelope = np.empty(onset.shape[1], dtype=onset.dtype)
    envelope[:] = np.mean(onset, axis=0)
    pad = 1 + N_FFT // (2 * HOP_LENGTH)
    return np.pad(envelope, (pad, 0), mode="constant")[: mel_db.shape[1]]


def _next_fast_len_real(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (scipy.fft.next_fast_len(n, real=True))."""
    best = 2 * n
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _tempo(onset_envelope: np.ndarray, sr: int) -> float:
    """librosa.feature.tempo(onset_envelope=..., sr=sr, hop_length=512) with its defaults."""
    win_length = int(8.0 * sr // HOP_LENGTH)  # ac_size 8 s in frames
    n = onset_envelope.shape[-1]
    half = win_length // 2
    padded = np.pad(onset_envelope, (half, half), mode="linear_ramp", end_values=(0, 0))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win_length).T[:, :n]  # (win_length, n)
    windowed = frames * _hann(win_length)[:, np.newaxis]
    n_pad = _next_fast_len_real(2 * win_length - 1)
    spectrum = np.fft.rfft(windowed, n=n_pad, axis=0)
    autocorrelation = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad, axis=0)[:win_length]
    length = np.max(np.abs(autocorrelation), axis=0, keepdims=True)
    length[length < np.finfo(autocorrelation.dtype).tiny] = 1.0
    tempogram = autocorrelation / length
    mean = np.mean(tempogram, axis=1)
    bpms = np.zeros(win_length)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sr / (HOP_LENGTH * np.arange(1.0, win_length))
    with np.errstate(divide="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(120.0)) / 1.0) ** 2
    logprior[: int(np.argmax(bpms < 320.0))] = -np.inf
    return float(bpms[np.argmax(np.log1p(1e6 * mean) + logprior)])


def _zero_crossing_rate(y: np.ndarray) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y) with its defaults (centred frames, edge padding, |y| <= 1e-10
    counts as zero, zero counts as positive), from one pass over the signal instead of a framed copy."""
    padded = np.pad(y, N_FFT // 2, mode="edge")
    negative = np.signbit(np.where(np.abs(padded) <= 1e-10, 0.0, padded))
    crossings = np.concatenate([[0], np.cumsum(negative[1:] != negative[:-1])])
    starts = np.arange(0, padded.size - N_FFT + 1, HOP_LENGTH)
    # crossings inside frame [s, s + N_FFT): between samples s..s+N_FFT-1
    return ((crossings[starts + N_FFT - 1] - crossings[starts]) / N_FFT)[np.newaxis, :]


def _spectral_centroid_and_rolloff(magnitude: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """librosa.feature.spectral_centroid and spectral_rolloff (85 %) of a magnitude spectrogram, computed
    together as a matrix-vector product and one cumulative sum."""
    freq = np.linspace(0, sr / 2, magnitude.shape[0])  # librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    total = magnitude.sum(axis=0, dtype=np.float64)
    centroid = (freq @ magnitude) / np.where(total < np.finfo(magnitude.dtype).tiny, 1.0, total)
    cumulative = np.cumsum(magnitude, axis=0)
    rolloff = freq[np.argmax(cumulative >= ROLLOFF_PERCENT * cumulative[-1], axis=0)]
    return centroid[np.newaxis, :], rolloff[np.newaxis, :]


def _mean_std(frames: np.ndarray) -> list[np.ndarray]:
    """Per-row mean and standard deviation (ddof 0) over the frame axis."""
    return [np.mean(frames, axis=-1), np.std(frames, axis=-1)]


def compute_features(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The 91 features of FEATURE_COLUMNS for one clip, as librosa's defaults compute them.

    The STFT is computed once; the mel spectrogram (MFCC, onset envelope for the tempo), the chroma and the
    spectral rolloff and centroid all derive from it. Everything is NumPy (no librosa import: the classifier
    starts in well under a second); tests/test_preprocess_features.py checks each part against librosa's own.
    Raises AudioError for short, silent or degenerate audio.
    """
    seconds = y.size / sr
    if seconds < MIN_SECONDS:
        raise AudioError(f"too short ({seconds:.2f} s < {MIN_SECONDS:g} s)")
    if not np.all(np.isfinite(y)):
        raise AudioError("audio contains NaN or infinite samples")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError("silent (no signal above -80 dBFS)")

    magnitude = _stft_magnitude(y)
    power = magnitude**2
    mel_db = _power_to_db(_mel_basis(sr) @ power)

    mfcc = _mfcc(mel_db)
    chroma = _chroma_stft(power, sr)
    tempo = _tempo(_onset_strength(mel_db), sr)
    zcr = _zero_crossing_rate(y)
    centroid, rolloff = _spectral_centroid_and_rolloff(magnitude, sr)

    values = np.concatenate([
        *_mean_std(mfcc), *_mean_std(chroma), [tempo],
        *_mean_std(zcr), *_mean_std(rolloff), *_mean_std(centroid),
    ]).astype(np.float64)
    if values.shape != (len(FEATURE_COLUMNS),):
        raise AssertionError(f"feature vector has shape {values.shape}, expected ({len(FEATURE_COLUMNS)},)")
    if not np.all(np.isfinite(values)):
        bad = [name for name, value in zip(FEATURE_COLUMNS, values, strict=True) if not np.isfinite(value)]
        raise AudioError(f"features not finite ({', '.join(bad[:3])})")
    return values


def extract_clip_features(path: str | Path, max_seconds: float | None = CLIP_SECONDS) -> np.ndarray:
    """Load one file and compute its features; raises AudioError with a one-line reason."""
    return compute_features(load_audio(path, max_seconds=max_seconds))


def format_feature(value: float) -> str:
    """Feature values are written as float32, the precision librosa computes them in (as the reference CSV)."""
    return str(np.float32(value))


# --------------------------------------------------------------------------------------------------------------
# Datasets: one sub-folder per genre
# --------------------------------------------------------------------------------------------------------------
class DatasetError(Exception):
    """A dataset that cannot be processed at all (missing, empty, not a folder)."""


@dataclass(frozen=True)
class Clip:
    """One audio file of a labelled collection."""

    file: str  # path relative to the dataset root, forward slashes
    genre: str
    path: Path  # absolute path


@dataclass(frozen=True)
class SkippedItem:
    """A file or folder that could not be used, with a one-line reason."""

    file: str
    error: str


def is_audio_file(path: Path) -> bool:
    """An audio file by its suffix; hidden files (macOS '._x.wav' resource forks, ...) are not audio."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def iter_audio_files(folder: Path, problems: list[SkippedItem] | None = None, root: Path | None = None
                     ) -> Iterator[Path]:
    """Audio files below `folder`, recursively, sorted; hidden sub-folders (".Trash", ".git", ...) are not
    searched, and unreadable ones go to `problems`."""
    root = root or folder

    def report(error: OSError) -> None:
        if problems is not None:
            name = Path(error.filename).resolve() if error.filename else folder
            where = name.relative_to(root).as_posix() if name.is_relative_to(root) else str(name)
            problems.append(SkippedItem(where + "/", f"unreadable folder ({error.strerror or error})"))

    for directory, subdirs, files in os.walk(folder, onerror=report, followlinks=True):
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if is_audio_file(path):
                yield path


def scan_dataset(dataset_dir: str | Path) -> tuple[list[Clip], list[SkippedItem]]:
    """Every audio file below `dataset_dir`, labelled by its top-level sub-folder (the genre).

    Raises DatasetError when the folder is missing or holds no audio at all; unreadable folders and genre
    folders without audio are returned as skipped items, so that the rest of the collection still runs.
    """
    root = Path(dataset_dir).resolve()
    if not root.exists():
        raise DatasetError(f"dataset folder not found: {dataset_dir}")
    if not root.is_dir():
        raise DatasetError(f"dataset is not a folder: {dataset_dir}")
    try:
        genre_dirs = sorted(entry for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    except OSError as error:
        raise DatasetError(f"cannot read dataset folder {dataset_dir}: {error.strerror or error}") from error
    clips: list[Clip] = []
    skipped: list[SkippedItem] = []
    for genre_dir in genre_dirs:
        found = [Clip(path.relative_to(root).as_posix(), genre_dir.name, path)
                 for path in iter_audio_files(genre_dir, skipped, root)]
        if not found and not any(item.file.startswith(genre_dir.name + "/") for item in skipped):
            skipped.append(SkippedItem(genre_dir.name + "/", "genre folder holds no audio files"))
        clips.extend(found)
    if not clips:
        raise DatasetError(
            f"no audio files in {dataset_dir}: expected one sub-folder per genre holding audio files "
            f"({', '.join(sorted(AUDIO_EXTENSIONS))})")
    return clips, skipped


# --------------------------------------------------------------------------------------------------------------
# The real GTZAN collection
# --------------------------------------------------------------------------------------------------------------
def file_md5(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def download_gtzan(dest_dir: Path = DATA_DIR, url: str = GTZAN_URL, md5: str | None = GTZAN_MD5,
                   timeout_s: float = 60.0) -> Path:
    """Fetch and unpack genres.tar.gz under `dest_dir`; returns the folder with one sub-folder per genre.

    The download resumes from a partial `.part` file (HTTP Range), shows a progress bar, and is checked
    against `md5` before it is unpacked. Raises DatasetError with a one-line reason on failure.
    """
    import tarfile

    import requests
    from tqdm import tqdm

    dest_dir.mkdir(parents=True, exist_ok=True)
    archive = dest_dir / Path(url.split("?")[0]).name
    partial = archive.with_name(archive.name + ".part")
    if not archive.exists():
        offset = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
                if response.status_code == 416:  # the partial file is already complete
                    response.close()
                elif response.status_code not in (200, 206):
                    raise DatasetError(f"download of {url} failed: HTTP {response.status_code}")
                else:
                    if response.status_code == 200:
                        offset = 0  # the server ignored the range: start again
                    length = response.headers.get("Content-Length")
                    total = offset + int(length) if length else None
                    with open(partial, "ab" if offset else "wb") as out, tqdm(
                            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                            desc=f"Downloading {archive.name}") as bar:
                        for chunk in response.iter_content(chunk_size=1 << 16):
                            out.write(chunk)
                            bar.update(len(chunk))
        except requests.RequestException as error:
            raise DatasetError(f"download of {url} failed ({type(error).__name__}); "
                               f"run the same command again to resume") from error
        if md5:
            actual = file_md5(partial)
            if actual != md5:
                partial.unlink()
                raise DatasetError(f"download of {url} is corrupt: MD5 {actual}, expected {md5}; "
                                   f"the partial file was removed, run again to retry")
        partial.replace(archive)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            tar.extractall(dest_dir, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise DatasetError(f"cannot unpack {archive}: {error}") from error
    top_levels = sorted({Path(member.name).parts[0] for member in members if member.name.strip("./")})
    return dest_dir / top_levels[0] if len(top_levels) == 1 else dest_dir


# --------------------------------------------------------------------------------------------------------------
# Synthetic demo collection (deterministic, clearly not GTZAN)
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenreRecipe:
    """How the synthetic generator renders one genre: tempo, drum pattern, timbre and harmony."""

    bpm: tuple[float, float]
    kick: str  # 16 steps, "x" = hit
    snare: str
    hat: str
    harmonics: int  # brightness of the chord instrument
    distortion: float  # 0 = clean, larger = harder clipping
    chord: tuple[int, ...]  # semitones above the root
    pluck: bool  # short decaying notes instead of sustained pads
    swing: float  # 0 = straight 16ths, 0.33 = triplet feel
    noise: float  # background noise level
    bass: bool


GENRE_RECIPES: dict[str, GenreRecipe] = {
    "blues": GenreRecipe((70, 95), "x.....x.x.....x.", "....x.......x...", "x.x.x.x.x.x.x.x.", 6, 0.3,
                         (0, 4, 7, 10), True, 0.33, 0.01, True),
    "classical": GenreRecipe((60, 90), "." * 16, "." * 16, "." * 16, 4, 0.0, (0, 4, 7, 12), False, 0.0, 0.003,
                             False),
    "country": GenreRecipe((100, 130), "x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 10, 0.0,
                           (0, 4, 7), True, 0.0, 0.01, True),
    "disco": GenreRecipe((115, 128), "x...x...x...x...", "....x.......x...", "..x...x...x...x.", 8, 0.0,
                         (0, 3, 7, 10), False, 0.0, 0.01, True),
    "hiphop": GenreRecipe((80, 98), "x......x..x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", 3, 0.0,
                          (0, 3, 7), False, 0.2, 0.02, True),
    "jazz": GenreRecipe((110, 170), "x.........x.....", "......x.......x.", "x..xx..xx..xx..x", 5, 0.0,
                        (0, 4, 7, 11, 14), True, 0.33, 0.008, True),
    "metal": GenreRecipe((150, 200), "xxxxxxxxxxxxxxxx", "....x.......x...", "x.x.x.x.x.x.x.x.", 16, 4.0,
                         (0, 7, 12), False, 0.0, 0.03, True),
    "pop": GenreRecipe((100, 125), "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.", 7, 0.0,
                       (0, 4, 7, 11), False, 0.0, 0.008, True),
    "reggae": GenreRecipe((65, 85), "........x.......", "........x.......", "x.x.x.x.x.x.x.x.", 6, 0.0,
                          (0, 4, 7), True, 0.1, 0.01, True),
    "rock": GenreRecipe((110, 145), "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 12, 1.5,
                        (0, 7, 12), False, 0.0, 0.02, True),
}


def _drum_hit(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    if kind == "snare":
        return (rng.standard_normal(t.size) * 0.7 + np.sin(2 * np.pi * 190 * t) * 0.4) * np.exp(-t * 22)
    return rng.standard_normal(t.size) * np.exp(-t * 90) * 0.35  # closed hi-hat


def synthesize_clip(genre: str, seed: int, seconds: float = 10.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic synthetic audio in the style of `genre`: its tempo range, drum pattern, chord timbre
    and harmony, with random key, tempo, levels and small pattern mutations so that clips differ."""
    recipe = GENRE_RECIPES[genre]
    rng = np.random.default_rng([GENRES.index(genre), seed])
    n = int(seconds * sr)
    out = np.zeros(n + sr, dtype=np.float64)
    bpm = rng.uniform(*recipe.bpm)
    step = 60.0 / bpm / 4  # a 16th note
    root_hz = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    levels = {"kick": rng.uniform(0.6, 1.0), "snare": rng.uniform(0.3, 0.6), "hat": rng.uniform(0.1, 0.3)}
    patterns = {"kick": recipe.kick, "snare": recipe.snare, "hat": recipe.hat}
    hits = {kind: _drum_hit(kind, sr, rng) for kind in patterns}
    progression = rng.choice([0, 5, 7, 9, 3], size=4, replace=True)
    progression[0] = 0
    t_chord = np.arange(int(step * 16 * sr)) / sr
    step_index = 0
    time_s = 0.0
    while time_s < seconds:
        position = step_index % 16
        bar = step_index // 16
        for kind, pattern in patterns.items():
            if pattern[position] == "x" and rng.random() > 0.05:
                start = int(time_s * sr)
                hit = hits[kind] * levels[kind] * rng.uniform(0.8, 1.0)
                out[start:start + hit.size] += hit[: out.size - start]
        if position == 0:  # one chord per bar
            chord_root = root_hz * 2 ** (progression[bar % 4] / 12)
            tone = np.zeros_like(t_chord)
            vibrato = 1 + (0.004 * np.sin(2 * np.pi * 5 * t_chord) if not recipe.pluck else 0)
            for interval in recipe.chord:
                f0 = chord_root * 2 ** (interval / 12) * 2
                for k in range(1, recipe.harmonics + 1):
                    if f0 * k < sr / 2.2:
                        tone += np.sin(2 * np.pi * f0 * k * t_chord * vibrato + rng.uniform(0, 6.28)) / k**1.2
            if recipe.pluck:
                beat = int(step * 4 * sr)
                envelope = np.exp(-(np.arange(t_chord.size) % beat) / sr * 6.0)
                if genre == "reggae":  # off-beat skank
                    envelope *= ((np.arange(t_chord.size) // (beat // 2)) % 2 == 1)
            else:
                envelope = np.minimum(1.0, t_chord * 8) * np.minimum(1.0, (t_chord[-1] - t_chord) * 8 + 0.05)
            tone *= envelope / max(1.0, np.max(np.abs(tone)))
            if recipe.distortion:
                tone = np.tanh(tone * (1 + recipe.distortion)) / np.tanh(1 + recipe.distortion)
            if recipe.bass:
                tone += 0.5 * np.sin(2 * np.pi * chord_root / 2 * t_chord) * envelope
            start = int(time_s * sr)
            out[start:start + tone.size] += 0.35 * tone[: out.size - start]
        swing_shift = recipe.swing * step if step_index % 2 == 0 else -recipe.swing * step
        time_s += step + swing_shift
        step_index += 1
    out = out[:n] + recipe.noise * rng.standard_normal(n)
    out *= rng.uniform(0.3, 0.8) / max(1e-9, float(np.max(np.abs(out))))
    return out.astype(np.float32)


SYNTHETIC_README = """SYNTHETIC DEMO COLLECTION - NOT GTZAN

Every clip below this folder was generated by functions_audio.synthesize_clip (numpy only, deterministic):
drum patterns, tempo ranges, chord timbres and harmony differ by genre, with random variation per clip.
It exists so that a fresh clone can run the whole pipeline end to end. Accuracy on it says nothing about
real music. For real data, run `00_preprocess_music.py --download-gtzan` or point it at a GTZAN copy.
"""


def make_synthetic_collection(out_dir: Path = DEMO_DATASET_DIR, clips_per_genre: int = 10,
                              seconds: float = 10.0, genres: Sequence[str] = GENRES) -> Path:
    """Write the synthetic demo collection (<genre>/synthetic_<genre>.NNN.wav); existing files are kept."""
    import soundfile

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "README.txt").write_text(SYNTHETIC_README)
    for genre in genres:
        (out_dir / genre).mkdir(exist_ok=True)
        for index in range(clips_per_genre):
            path = out_dir / genre / f"synthetic_{genre}.{index:03d}.wav"
            if not path.exists():
                tmp = path.with_name(path.name + ".part")  # not an audio suffix: never scanned half-written
                soundfile.write(str(tmp), synthesize_clip(genre, index, seconds), SAMPLE_RATE,
                                format="WAV", subtype="PCM_16")
                tmp.replace(path)
    return out_dir


# --------------------------------------------------------------------------------------------------------------
# Extracting a whole collection: parallel, resumable, never losing finished rows
# --------------------------------------------------------------------------------------------------------------
@dataclass
class ExtractionReport:
    """What one run of `extract_dataset` did."""

    output_csv: Path
    errors_csv: Path
    clips_total: int
    rows_from_earlier_run: int = 0
    rows_extracted: int = 0
    stale_rows_dropped: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)
    seconds: float = 0.0


def errors_csv_for(output_csv: Path) -> Path:
    """FEATURES.csv -> FEATURES.errors.csv, beside it."""
    return output_csv.with_name(output_csv.stem + ".errors.csv")


def _csv_line(fields: Sequence[str]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _read_finished_rows(output_csv: Path) -> dict[str, str]:
    """Complete rows of an earlier (possibly killed) run, keyed by `file`, as their original text lines.

    A last line cut short by a kill has too few fields or no newline and is dropped, to be extracted again.
    """
    import csv

    if not output_csv.exists() or output_csv.stat().st_size == 0:
        return {}
    with open(output_csv, newline="", encoding="utf-8") as stream:
        lines = stream.readlines()
    header = next(csv.reader(lines[:1]), [])
    if tuple(header) != CSV_COLUMNS:
        raise DatasetError(f"{output_csv} exists but is not a features CSV of this project (other columns); "
                           f"use --overwrite to replace it or choose another -o")
    rows: dict[str, str] = {}
    for line in lines[1:]:
        fields = next(csv.reader([line]), [])
        if line.endswith("\n") and len(fields) == len(CSV_COLUMNS):
            rows[fields[0]] = line
    return rows


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def extract_row_fields(path: str, max_seconds: float | None) -> tuple[list[str] | None, str | None]:
    """(formatted feature values, None) or (None, one-line reason). Never raises: runs in worker processes."""
    try:
        return [format_feature(value) for value in extract_clip_features(path, max_seconds)], None
    except AudioError as error:
        return None, str(error)
    except MemoryError:
        return None, "out of memory while decoding (lower --max-seconds)"
    except Exception as error:  # a decoder's own exception: report it in one line and go on
        message = " ".join(str(error).split()) or type(error).__name__
        return None, f"cannot process ({type(error).__name__}: {message[:200]})"


def _results_local(clips: Sequence[Clip], max_seconds: float | None, workers: int
                   ) -> Iterator[tuple[Clip, tuple[list[str] | None, str | None]]]:
    if workers <= 1:
        for clip in clips:
            yield clip, extract_row_fields(str(clip.path), max_seconds)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from functions_parallel import limit_worker_threads

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                             initializer=limit_worker_threads) as pool:
        futures = {pool.submit(extract_row_fields, str(clip.path), max_seconds): clip for clip in clips}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _results_dask(clips: Sequence[Clip], max_seconds: float | None, scheduler: str
                  ) -> Iterator[tuple[Clip, tuple[list[str] | None, str | None]]]:
    import sys

    from distributed import as_completed

    from functions_parallel import connect_dask

    with connect_dask(scheduler, [sys.modules[__name__]], DatasetError) as client:
        paths = [str(clip.path) for clip in clips]
        futures = client.map(extract_row_fields, paths, max_seconds=max_seconds, pure=False)
        by_key = {future.key: clip for future, clip in zip(futures, clips, strict=True)}
        try:
            for future in as_completed(futures):
                yield by_key[future.key], future.result()
        finally:
            client.cancel(futures)


def extract_dataset(dataset_dir: str | Path, output_csv: str | Path, workers: int | None = None,
                    scheduler: str | None = None, max_seconds: float | None = CLIP_SECONDS,
                    overwrite: bool = False, progress: bool = True,
                    on_skip: Callable[[SkippedItem], None] | None = None) -> ExtractionReport:
    """Write the features of every clip of `dataset_dir` to `output_csv` (schema CSV_COLUMNS).

    Rows are appended as clips finish; clips already in `output_csv` (an earlier, interrupted run) are not
    extracted again. At the end the file is rewritten sorted by `file`, so the result does not depend on the
    order in which workers finished. Files that cannot be used are reported through `on_skip` and listed in
    `errors_csv_for(output_csv)`. Work runs on local processes, or on a Dask cluster given by `scheduler`.
    """
    import time

    from tqdm import tqdm

    started = time.perf_counter()
    output_csv = Path(output_csv)
    errors_csv = errors_csv_for(output_csv)
    clips, skipped = scan_dataset(dataset_dir)
    finished = {} if overwrite else _read_finished_rows(output_csv)
    wanted = {clip.file for clip in clips}
    report = ExtractionReport(output_csv, errors_csv, len(clips))
    report.stale_rows_dropped = sum(1 for file in finished if file not in wanted)
    finished = {file: line for file, line in finished.items() if file in wanted}
    report.rows_from_earlier_run = len(finished)
    try:
        output_csv.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(output_csv, _csv_line(CSV_COLUMNS) + "".join(finished.values()))
        _write_atomically(errors_csv, _csv_line(["file", "error"]))
    except OSError as error:
        raise DatasetError(f"cannot write {output_csv}: {error.strerror or error}") from error

    def skip(item: SkippedItem, errors_out) -> None:
        report.skipped.append(item)
        errors_out.write(_csv_line([item.file, item.error]))
        errors_out.flush()
        if on_skip:
            on_skip(item)

    todo = [clip for clip in clips if clip.file not in finished]
    workers = workers or os.cpu_count() or 1
    results = (_results_dask(todo, max_seconds, scheduler) if scheduler
               else _results_local(todo, max_seconds, min(workers, max(1, len(todo)))))
    with open(output_csv, "a", encoding="utf-8", newline="") as rows_out, \
            open(errors_csv, "a", encoding="utf-8", newline="") as errors_out, \
            tqdm(total=len(clips), initial=len(finished), unit="clip", desc="Extracting features",
                 disable=not progress, dynamic_ncols=True) as bar:
        for item in skipped:
            skip(item, errors_out)
        for clip, (values, error) in results:
            if values is None:
                skip(SkippedItem(clip.file, error or "unknown error"), errors_out)
            else:
                line = _csv_line([clip.file, clip.genre, *values])
                rows_out.write(line)
                rows_out.flush()  # one write per finished clip: a kill loses at most the clip in flight
                finished[clip.file] = line
                report.rows_extracted += 1
            bar.update(1)
    _write_atomically(output_csv, _csv_line(CSV_COLUMNS) + "".join(finished[f] for f in sorted(finished)))
    report.seconds = time.perf_counter() - started
    return report
