"""Audio features: librosa's feature functions re-implemented with NumPy alone, and the 91 features of a clip.

One function per librosa function it mirrors (its name and docstring say which), in the order a clip needs
them: the STFT once, then the mel spectrogram, MFCC, tuning and chroma, onset envelope and tempo, zero-crossing
rate, spectral centroid and rolloff; `compute_features` derives all 91 values of FEATURE_COLUMNS from one STFT.
Why not librosa itself: `import librosa` pulls in scipy.signal, scipy.ndimage and numba (~2 s of start-up, far
more than the 0.2 s of computing a clip's features), which the classifier (03) cannot afford.
tests/test_features.py checks every function here against the librosa function it mirrors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions_audio import (
    CLIP_SECONDS,
    FEATURE_COLUMNS,
    HOP_LENGTH,
    MIN_SECONDS,
    N_CHROMA,
    N_FFT,
    N_MELS,
    N_MFCC,
    ROLLOFF_PERCENT,
    SAMPLE_RATE,
    SILENCE_PEAK,
    AudioError,
    load_audio,
)

# The version of the extraction code: raise it whenever a change here (or in how audio is loaded) changes any
# feature value, so that 00 extracts again the rows an earlier version wrote instead of mixing the two.
EXTRACTOR_VERSION = 1


def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window("hann", length, fftbins=True))."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


STFT_BLOCK_FRAMES = 128


def stft_magnitude(y: np.ndarray) -> np.ndarray:
    """|librosa.stft(y, n_fft=2048, hop_length=512)|: centred frames, zero padding, periodic Hann window;
    windowed in float64 and stored as complex64 as librosa does."""
    return _stft_magnitude_of_padded(np.pad(y, N_FFT // 2, mode="constant"))


def _stft_magnitude_of_padded(padded: np.ndarray) -> np.ndarray:
    """The STFT magnitude of frames ``padded[i*hop : i*hop + n_fft]`` (the signal already padded)."""
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]  # (n_frames, n_fft), a view
    window = hann_window(N_FFT)
    magnitude = np.empty((frames.shape[0], N_FFT // 2 + 1), dtype=np.float32)
    for start in range(0, frames.shape[0], STFT_BLOCK_FRAMES):  # blocks that stay in cache: 2x faster
        block = slice(start, start + STFT_BLOCK_FRAMES)
        magnitude[block] = np.abs(np.fft.rfft(frames[block] * window, axis=-1).astype(np.complex64))
    return magnitude.T  # (1 + n_fft/2, n_frames), librosa's orientation


def hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa.hz_to_mel, htk=False)."""
    frequencies = np.asanyarray(frequencies, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = frequencies / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_region = frequencies >= min_log_hz
    return np.where(log_region, min_log_mel + np.log(np.maximum(frequencies, min_log_hz) / min_log_hz) / logstep,
                    mels)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_region = mels >= min_log_mel
    freqs[log_region] = min_log_hz * np.exp(logstep * (mels[log_region] - min_log_mel))
    return freqs


@functools.lru_cache(maxsize=4)
def mel_basis(sr: int, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels): Slaney scale and area normalisation, float32."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, fft_freqs.size), dtype=np.float32)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights


def power_to_db(power: np.ndarray) -> np.ndarray:
    """librosa.power_to_db(S) with its defaults (ref 1, amin 1e-10, top_db 80)."""
    return db_floor(log_power(power))


def log_power(power: np.ndarray) -> np.ndarray:
    """power_to_db before its floor: 10 log10(max(1e-10, S)), frame by frame."""
    return 10.0 * np.log10(np.maximum(1e-10, power))


def db_floor(log_spec: np.ndarray) -> np.ndarray:
    """power_to_db's floor: nothing more than 80 dB below the loudest value of ``log_spec``."""
    return np.maximum(log_spec, log_spec.max() - 80.0)


@functools.lru_cache(maxsize=4)
def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix (scipy.fft.dct(type=2, norm="ortho"), first n_out coefficients)."""
    k = np.arange(n_out)[:, np.newaxis]
    n = np.arange(n_in)[np.newaxis, :]
    matrix = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def mfcc(mel_db: np.ndarray) -> np.ndarray:
    """librosa.feature.mfcc(S=mel_db, n_mfcc=30)."""
    return (dct_matrix(N_MFCC, mel_db.shape[0]) @ mel_db.astype(np.float64)).astype(np.float32)


def parabolic_shift(x: np.ndarray) -> np.ndarray:
    """librosa's parabolic interpolation along the frequency axis (0 at the edges and where unstable)."""
    shift = np.zeros_like(x)
    before, centre, after = x[:-2].astype(np.float64), x[1:-1], x[2:].astype(np.float64)
    a = (x[2:] + x[:-2]).astype(np.float64) - 2 * centre.astype(np.float64)
    b = (after - before) / 2
    stable = np.abs(b) < np.abs(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift[1:-1] = np.where(stable, -b / np.where(stable, a, 1.0), 0.0)
    return shift


def localmax(x: np.ndarray) -> np.ndarray:
    """librosa.util.localmax along axis 0."""
    peaks = np.zeros(x.shape, dtype=bool)
    peaks[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    peaks[-1] = x[-1] > x[-2]
    return peaks


def estimate_tuning(power: np.ndarray, sr: int) -> float:
    """librosa.estimate_tuning(S=power, sr=sr, bins_per_octave=12) (piptrack 150-4000 Hz, threshold 0.1)."""
    _, pitches, mags = pitch_peaks(power, sr)
    return tuning_from_peaks(pitches, mags)


def pitch_peaks(power: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The peaks of librosa.piptrack(S=power, sr=sr, fmin=150, fmax=4000, threshold=0.1) as ``(frame, pitch,
    magnitude)`` arrays ordered by frame: everything estimate_tuning needs, and all of it frame by frame.

    Peaks are only kept between 150 and 4000 Hz, so the interpolation is computed on those rows (and one
    neighbour each side) only: the same numbers as librosa's full-spectrum computation, a third of the work.
    """
    S = np.abs(power)
    fft_freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    rows = np.flatnonzero((150.0 <= fft_freqs) & (fft_freqs < min(4000.0, sr / 2.0)))
    lo, hi = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, S.shape[0])
    block = S[lo:hi]
    ref_value = (0.1 * np.max(S, axis=0))[np.newaxis, :]
    peaks = localmax(block * (block > ref_value))
    if lo == 0:
        peaks[0] = False  # librosa's localmax never marks the first bin
    in_range = np.zeros(hi - lo, dtype=bool)
    in_range[rows - lo] = True
    frame, row = np.nonzero((in_range[:, np.newaxis] & peaks).T)  # ordered by frame
    # piptrack's gradient and parabolic shift, at the peaks only (the rest is never used); peaks are never on
    # the block's first or last row, so every peak has both neighbours.
    before, centre, after = block[row - 1, frame], block[row, frame], block[row + 1, frame]
    shift = parabolic_shift(np.stack([before, centre, after]))[1]
    avg = (after - before) / 2.0  # np.gradient inside the block
    pitches = ((row + lo + shift) * float(sr) / N_FFT).astype(block.dtype)
    mags = centre + 0.5 * avg * shift
    keep = pitches > 0
    return frame[keep], pitches[keep], mags[keep]


def tuning_from_peaks(pitches: np.ndarray, mags: np.ndarray) -> float:
    """estimate_tuning's last step: the histogram peak of the pitch deviations of the stronger half of the peaks."""
    threshold = np.median(mags) if mags.size else 0.0
    frequencies = pitches[mags >= threshold]
    frequencies = frequencies[frequencies > 0]
    if not frequencies.size:
        return 0.0
    residual = np.mod(12 * np.log2(frequencies / (440.0 / 16)), 1.0)
    residual[residual >= 0.5] -= 1.0
    bins = np.linspace(-0.5, 0.5, 101)
    counts, edges = np.histogram(residual, bins)
    return float(edges[np.argmax(counts)])


@functools.lru_cache(maxsize=16)
def chroma_basis(sr: int, tuning: float) -> np.ndarray:
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


def normalize_max(S: np.ndarray) -> np.ndarray:
    """librosa.util.normalize(S, norm=inf, axis=0)."""
    length = np.max(np.abs(S).astype(float), axis=0, keepdims=True)
    length[length < np.finfo(S.dtype).tiny] = 1.0
    out = np.empty_like(S)
    out[:] = S / length
    return out


def chroma_stft(power: np.ndarray, sr: int, tuning: float | None = None) -> np.ndarray:
    """librosa.feature.chroma_stft(S=power, sr=sr, n_chroma=12); ``tuning`` when already estimated."""
    tuning = estimate_tuning(power, sr) if tuning is None else tuning
    raw = np.einsum("cf,...ft->...ct", chroma_basis(sr, tuning), power, optimize=True)
    return normalize_max(raw)


def onset_strength(mel_db: np.ndarray) -> np.ndarray:
    """librosa.onset.onset_strength(S=mel_db) with its defaults (lag 1, no max filter, mean, centred)."""
    onset = np.maximum(0.0, mel_db[:, 1:] - mel_db[:, :-1])
    envelope = np.empty(onset.shape[1], dtype=onset.dtype)
    envelope[:] = np.mean(onset, axis=0)
    pad = 1 + N_FFT // (2 * HOP_LENGTH)
    return np.pad(envelope, (pad, 0), mode="constant")[: mel_db.shape[1]]


def next_fast_len_real(n: int) -> int:
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


def tempo(onset_envelope: np.ndarray, sr: int) -> float:
    """librosa.feature.tempo(onset_envelope=..., sr=sr, hop_length=512) with its defaults."""
    win_length = int(8.0 * sr // HOP_LENGTH)  # ac_size 8 s in frames
    n = onset_envelope.shape[-1]
    half = win_length // 2
    padded = np.pad(onset_envelope, (half, half), mode="linear_ramp", end_values=(0, 0))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win_length)[:n]  # (n, win_length): one row a frame
    windowed = frames * hann_window(win_length)
    n_pad = next_fast_len_real(2 * win_length - 1)
    spectrum = np.fft.rfft(windowed, n=n_pad, axis=-1)  # along contiguous rows: the same transforms, faster
    autocorrelation = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad, axis=-1)[:, :win_length]
    length = np.max(np.abs(autocorrelation), axis=1, keepdims=True)
    length[length < np.finfo(autocorrelation.dtype).tiny] = 1.0
    tempogram = (autocorrelation / length).T
    mean = np.mean(tempogram, axis=1)
    bpms = np.zeros(win_length)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sr / (HOP_LENGTH * np.arange(1.0, win_length))
    with np.errstate(divide="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(120.0)) / 1.0) ** 2
    logprior[: int(np.argmax(bpms < 320.0))] = -np.inf
    return float(bpms[np.argmax(np.log1p(1e6 * mean) + logprior)])


def zero_crossing_rate(y: np.ndarray) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y) with its defaults (centred frames, edge padding, |y| <= 1e-10
    counts as zero, zero counts as positive), from one pass over the signal instead of a framed copy."""
    return _zcr_of_padded(np.pad(y, N_FFT // 2, mode="edge"))[np.newaxis, :]


def _zcr_of_padded(padded: np.ndarray) -> np.ndarray:
    """Zero-crossing rate of frames ``padded[i*hop : i*hop + n_fft]`` (the signal already padded), 1-D."""
    negative = np.signbit(np.where(np.abs(padded) <= 1e-10, 0.0, padded))
    crossings = np.concatenate([[0], np.cumsum(negative[1:] != negative[:-1])])
    starts = np.arange(0, padded.size - N_FFT + 1, HOP_LENGTH)
    # crossings inside frame [s, s + N_FFT): between samples s..s+N_FFT-1
    return (crossings[starts + N_FFT - 1] - crossings[starts]) / N_FFT


def spectral_centroid_and_rolloff(magnitude: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
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


@dataclass
class Frames:
    """Frame-level features of consecutive STFT frames (librosa's centred frames, hop 512): everything the 91
    statistics of a clip are taken from. ``frames[a:b]`` are frames a..b-1; ``Frames.join`` appends runs."""

    power: np.ndarray  # (1 + n_fft/2, n) |STFT|^2, float32
    log_mel: np.ndarray  # (n_mels, n) log_power of the mel spectrogram (power_to_db before its floor)
    zcr: np.ndarray  # (n,)
    centroid: np.ndarray  # (n,)
    rolloff: np.ndarray  # (n,)
    peak_frame: np.ndarray  # (k,) frame of each pitch peak (pitch_peaks), ascending
    peak_pitch: np.ndarray  # (k,)
    peak_mag: np.ndarray  # (k,)

    def __len__(self) -> int:
        return self.power.shape[1]

    def __getitem__(self, part: slice) -> Frames:
        start, stop, _ = part.indices(len(self))
        lo, hi = np.searchsorted(self.peak_frame, [start, stop])
        return Frames(self.power[:, start:stop], self.log_mel[:, start:stop], self.zcr[start:stop],
                      self.centroid[start:stop], self.rolloff[start:stop], self.peak_frame[lo:hi] - start,
                      self.peak_pitch[lo:hi], self.peak_mag[lo:hi])

    @staticmethod
    def join(first: Frames, second: Frames) -> Frames:
        """The frames of ``first`` followed by those of ``second``."""
        return Frames(np.hstack([first.power, second.power]), np.hstack([first.log_mel, second.log_mel]),
                      *(np.concatenate([a, b]) for a, b in ((first.zcr, second.zcr),
                                                            (first.centroid, second.centroid),
                                                            (first.rolloff, second.rolloff))),
                      np.concatenate([first.peak_frame, second.peak_frame + len(first)]),
                      np.concatenate([first.peak_pitch, second.peak_pitch]),
                      np.concatenate([first.peak_mag, second.peak_mag]))


def frame_count(n_samples: int) -> int:
    """Number of centred STFT frames of a signal of ``n_samples`` samples (librosa's count)."""
    return 1 + n_samples // HOP_LENGTH


def padded_frames_from(n_samples: int) -> int:
    """The first frame of a signal of ``n_samples`` whose samples reach past its end (into the padding)."""
    return max(0, -(-(n_samples - N_FFT // 2 + 1) // HOP_LENGTH))


def _frame_span(y: np.ndarray, first: int, count: int, mode: str) -> np.ndarray:
    """The samples under frames ``first .. first+count-1`` of ``y`` (frame j centred on sample j*hop), padded
    beyond the ends of ``y`` as librosa pads the whole signal (``mode`` "constant" or "edge")."""
    start, stop = first * HOP_LENGTH - N_FFT // 2, (first + count - 1) * HOP_LENGTH + N_FFT // 2
    inside = y[max(start, 0):min(stop, y.size)]
    before, after = max(0, -start), max(0, stop - y.size)
    return np.pad(inside, (before, after), mode=mode) if before or after else inside


def frame_features(y: np.ndarray, first: int = 0, count: int | None = None, sr: int = SAMPLE_RATE) -> Frames:
    """Frame-level features of frames ``first .. first+count-1`` of the signal ``y`` (all frames by default).

    Every value is a function of its own frame only (its 2048 samples), so the frames of a whole song can be
    computed once and shared by all the 30-s windows that contain them.
    """
    count = frame_count(y.size) - first if count is None else count
    magnitude = _stft_magnitude_of_padded(_frame_span(y, first, count, "constant"))
    power = magnitude**2
    centroid, rolloff = spectral_centroid_and_rolloff(magnitude, sr)
    peak_frame, peak_pitch, peak_mag = pitch_peaks(power, sr)
    return Frames(power=power, log_mel=log_power(mel_basis(sr) @ power),
                  zcr=_zcr_of_padded(_frame_span(y, first, count, "edge")), centroid=centroid[0], rolloff=rolloff[0],
                  peak_frame=peak_frame, peak_pitch=peak_pitch, peak_mag=peak_mag)


def features_from_frames(frames: Frames, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The 91 values of FEATURE_COLUMNS over ``frames``: means and standard deviations, tuning and chroma,
    the 80-dB floor of the mel spectrogram, onset envelope and tempo, all taken over these frames alone."""
    mel_db = db_floor(frames.log_mel)
    tuning = tuning_from_peaks(frames.peak_pitch, frames.peak_mag)
    values = np.concatenate([
        *_mean_std(mfcc(mel_db)), *_mean_std(chroma_stft(frames.power, sr, tuning)),
        [tempo(onset_strength(mel_db), sr)],
        *_mean_std(frames.zcr[np.newaxis]), *_mean_std(frames.rolloff[np.newaxis]),
        *_mean_std(frames.centroid[np.newaxis]),
    ]).astype(np.float64)
    if values.shape != (len(FEATURE_COLUMNS),):
        raise AssertionError(f"feature vector has shape {values.shape}, expected ({len(FEATURE_COLUMNS)},)")
    if not np.all(np.isfinite(values)):
        bad = [name for name, value in zip(FEATURE_COLUMNS, values, strict=True) if not np.isfinite(value)]
        raise AudioError(f"features not finite ({', '.join(bad[:3])})")
    return values


def check_clip(y: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Refuse audio that has no features: shorter than MIN_SECONDS, NaN or infinite samples, or silent."""
    seconds = y.size / sr
    if seconds < MIN_SECONDS:
        raise AudioError(f"too short ({seconds:.2f} s < {MIN_SECONDS:g} s)")
    if not np.all(np.isfinite(y)):
        raise AudioError("audio contains NaN or infinite samples")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError("silent (no signal above -80 dBFS)")


def compute_features(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The 91 features of FEATURE_COLUMNS for one clip, as librosa's defaults compute them.

    The STFT is computed once; the mel spectrogram (MFCC, onset envelope for the tempo), the chroma and the
    spectral rolloff and centroid all derive from it (``frame_features``, then ``features_from_frames``).
    Everything is NumPy (no librosa import: the classifier starts in well under a second);
    tests/test_features.py checks each part against librosa's own. Raises AudioError for short, silent or
    degenerate audio.
    """
    check_clip(y, sr)
    return features_from_frames(frame_features(y, sr=sr), sr)


def extract_clip_features(path: str | Path, max_seconds: float | None = CLIP_SECONDS) -> np.ndarray:
    """Load one file and compute its features; raises AudioError with a one-line reason."""
    return compute_features(load_audio(path, max_seconds=max_seconds))


def format_feature(value: float) -> str:
    """Feature values are written as float32, the precision librosa computes them in (as the reference CSV)."""
    return str(np.float32(value))
