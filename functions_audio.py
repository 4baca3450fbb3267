"""The project's one source of truth (paths, genres, feature columns, extraction settings) and audio loading.

Every other module takes its paths, the genre list, the names and order of the 91 feature columns and the
extraction settings from here. Audio is decoded by libsndfile (soundfile) where it can, else by the ffmpeg
binary of the imageio-ffmpeg wheel (given ``file:`` paths, never protocols), to float32 mono at SAMPLE_RATE;
``iter_audio_chunks`` decodes a file of any length chunk by chunk. Decoders are imported inside the functions
that need them, so that importing this module stays cheap for the command-line classifier.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------------------
PROJECT_DIR = Path(__file__).resolve().parent
DATA_DIR = PROJECT_DIR / "data"
OUTPUTS_DIR = PROJECT_DIR / "outputs"
PRETRAINED_MODEL_DIR = DATA_DIR / "pretrained"  # the shipped default: musicnn + classic features
CLASSIC_MODEL_DIR = DATA_DIR / "pretrained_classic"  # the seed's 85-input network, kept and documented
SHIPPED_MODEL_DIRS = (PRETRAINED_MODEL_DIR, CLASSIC_MODEL_DIR)
DEMO_DATASET_DIR = DATA_DIR / "synthetic_demo"


def shared_data_dir() -> Path | None:
    """The team's shared real data (GTZAN clips and reference features), or None where it is absent."""
    candidate = os.environ.get("GENRE_SHARED_DATA")
    path = Path(candidate) if candidate else PROJECT_DIR.parent / "shared" / "data"
    return path if path.is_dir() else None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (read a block at a time)."""
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether writing ``a`` would write the file ``b``: the same file (also through symbolic or hard links), or,
    where one does not exist yet, the same path once every link is followed."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


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

# The learned features: the pre-trained musicnn network (MSD_musicnn, functions_musicnn) tags each 3-s patch of
# a clip with 50 Million-Song-Dataset tags; a clip's features are the mean and the standard deviation (ddof 0)
# of those tag probabilities over its patches, in this tag order.
MUSICNN_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
    "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
    "indie pop", "sad", "House", "happy",
)
MUSICNN_COLUMNS: tuple[str, ...] = (
    *_numbered("musicnn_mean", len(MUSICNN_TAGS)),
    *_numbered("musicnn_std", len(MUSICNN_TAGS)),
)
CLASSIC_COLUMNS = FEATURE_COLUMNS  # the 91 hand-made features, the seed's schema
# 00's --features: which columns a features CSV holds (after ID_COLUMNS), in this order
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "classic": CLASSIC_COLUMNS,
    "musicnn": MUSICNN_COLUMNS,
    "all": CLASSIC_COLUMNS + MUSICNN_COLUMNS,
}
ALL_FEATURE_COLUMNS: tuple[str, ...] = FEATURE_SETS["all"]

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

# How the musicnn network's input is computed (as the original musicnn code computes it; functions_musicnn)
MUSICNN_MODEL = "MSD_musicnn"
MUSICNN_SETTINGS: dict[str, object] = {
    "model": MUSICNN_MODEL,
    "sample_rate": 16000,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "log": "log10(10000 * float16(mel power) + 1)",
    "patch_frames": 187,  # 3 s
    "patch_hop_frames": 61,  # librosa.time_to_frames(1 s), as the original extractor computes it
    "statistics": "mean and std (ddof 0) over patches of the 50 tag probabilities",
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


_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_saved_stderr_fd: int | None = None


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send what C libraries print on file descriptor 2 to /dev/null meanwhile (libsndfile's MP3 decoder prints
    "Note: Illegal Audio-MPEG-Header ..." for files it then refuses; the user gets our one line instead).

    Python's own ``sys.stderr`` is flushed first and keeps working for other threads only through this file
    descriptor, so the quiet stretch is kept to the decoder call. Nested and concurrent uses share one redirect.
    """
    global _quiet_depth, _saved_stderr_fd
    try:
        fd = sys.stderr.fileno() if sys.stderr is not None else 2
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        fd = 2
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            try:
                sys.stderr.flush()
                _saved_stderr_fd = os.dup(fd)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, fd)
                os.close(devnull)
            except (AttributeError, OSError, ValueError):
                _saved_stderr_fd = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr_fd is not None:
                os.dup2(_saved_stderr_fd, fd)
                os.close(_saved_stderr_fd)
                _saved_stderr_fd = None


READ_BLOCK_FRAMES = 1 << 18  # a whole file is read this many frames at a time (~6 s at 44.1 kHz)


def _load_with_soundfile(path: Path, max_seconds: float | None, offset_s: float) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate: at most ``max_seconds`` read at once at the file's rate, or (None)
    all of it from ``offset_s`` on, a block at a time, each block made mono and resampled to SAMPLE_RATE as it
    comes (``_read_whole``)."""
    import soundfile

    with quiet_native_stderr(), soundfile.SoundFile(str(path)) as audio:
        native_sr = audio.samplerate
        start = int(round(offset_s * native_sr))
        if start:
            audio.seek(min(start, audio.frames))
        if max_seconds is None and (audio.channels > 1 or native_sr != SAMPLE_RATE):
            return _read_whole(audio), SAMPLE_RATE
        frames = -1 if max_seconds is None else int(round(max_seconds * native_sr))
        data = audio.read(frames=frames, dtype="float32", always_2d=True)
    return downmix(data), native_sr


def _read_whole(audio: object) -> np.ndarray:
    """The rest of an open ``soundfile.SoundFile`` as float32 mono at SAMPLE_RATE, read READ_BLOCK_FRAMES at a
    time into one buffer: no array of the whole file at its own rate and channels is ever made (a 4-minute
    44.1-kHz stereo song is 85 MB of them, and touching fresh memory cost more than decoding it). soxr's stream
    gives the same samples as one ``soxr.resample`` call on the whole (tested)."""
    import soxr

    rate = audio.samplerate  # type: ignore[attr-defined]
    stream = None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32",
                                                                  quality="HQ")
    buffer = np.empty((READ_BLOCK_FRAMES, audio.channels), dtype=np.float32)  # type: ignore[attr-defined]
    parts = []
    while True:
        block = audio.read(frames=READ_BLOCK_FRAMES, dtype="float32", always_2d=True, out=buffer)  # type: ignore
        last = block.shape[0] < READ_BLOCK_FRAMES
        mono = np.ascontiguousarray(downmix(block))
        parts.append(mono.copy() if stream is None else stream.resample_chunk(mono, last=last))
        if last:
            break
    return np.concatenate(parts).astype(np.float32, copy=False)


def downmix(data: np.ndarray) -> np.ndarray:
    """Mono float32 samples of a (frames, channels) array: the channels' mean, the same values as
    ``data.mean(axis=1, dtype=np.float32)`` (channels summed in order, divided by their count) at a tenth of its
    cost (NumPy's mean along a short inner axis: 0.17 s for a 4-minute stereo song, 0.01 s this way)."""
    if data.shape[1] == 1:
        return data[:, 0]
    mono = np.add(data[:, 0], data[:, 1], dtype=np.float32)
    for channel in range(2, data.shape[1]):
        mono += data[:, channel]
    mono /= np.float32(data.shape[1])
    return mono


def ffmpeg_input(path: str | Path) -> str:
    """``path`` as ffmpeg must be given it: ``file:`` + the absolute path.

    ffmpeg reads a name such as ``concat:a.m4a`` or ``pipe:0`` as a protocol (another file, standard input); with
    the prefix every name is the file of that name.
    """
    return "file:" + str(Path(path).absolute())


def _ffmpeg_decode_command(path: Path, max_seconds: float | None, offset_s: float) -> list[str]:
    """ffmpeg decoding the first audio stream of ``path`` to float32 mono at SAMPLE_RATE on its stdout."""
    command = [ffmpeg_exe(), "-nostdin", "-v", "error"]
    if offset_s:
        command += ["-ss", f"{offset_s:.3f}"]
    command += ["-i", ffmpeg_input(path)]
    if max_seconds is not None:
        command += ["-t", f"{max_seconds:.3f}"]
    # -rematrix_maxval 1: mono as the channels' mean, as ``downmix`` makes it (ffmpeg's own stereo-to-mono is
    # (L + R) / sqrt(2), 3 dB louder than the same song decoded by libsndfile)
    return command + ["-map", "0:a:0", "-f", "f32le", "-ac", "1", "-rematrix_maxval", "1", "-ar", str(SAMPLE_RATE),
                      "pipe:1"]


def _ffmpeg_failure(returncode: int, stderr: bytes) -> AudioError:
    """ffmpeg's last words in one line, without its "[aac @ 0x55db2dcfa640]" prefixes; an MP4 without its index
    (what a copy cut short leaves when the index comes last) says so."""
    import re

    text = stderr.decode(errors="replace")
    if "moov atom not found" in text:
        return AudioError("cannot decode audio: its MP4 index (the 'moov' atom) is missing: the file was cut short "
                          "or is damaged")
    lines = [re.sub(r"\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    return AudioError(f"cannot decode audio ({lines[-1] if lines else f'ffmpeg exit code {returncode}'})")


def _load_with_ffmpeg(path: Path, max_seconds: float | None, offset_s: float) -> np.ndarray:
    command = _ffmpeg_decode_command(path, max_seconds, offset_s)
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as error:
        raise AudioError("ffmpeg took longer than 10 minutes to decode it") from error
    if result.returncode != 0:
        raise _ffmpeg_failure(result.returncode, result.stderr)
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)


def iter_audio_chunks(path: str | Path, chunk_samples: int = 1 << 18) -> Iterator[np.ndarray]:
    """Decode all of ``path`` through ffmpeg piece by piece: float32 mono chunks of ``chunk_samples`` at SAMPLE_RATE.

    Every chunk but the last has exactly ``chunk_samples`` samples; memory stays one chunk whatever the length
    of the file. Raises AudioError (after the chunks it could decode) when ffmpeg fails.
    """
    import tempfile

    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(_ffmpeg_decode_command(Path(path), None, 0.0), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            while data := process.stdout.read(4 * chunk_samples):
                yield np.frombuffer(data, dtype="<f4", count=len(data) // 4)
            if process.wait() != 0:
                errors.seek(0)
                raise _ffmpeg_failure(process.returncode, errors.read())
        finally:
            if process.poll() is None:  # the caller stopped early (cancel, error): end ffmpeg
                process.kill()
                process.wait()
            process.stdout.close()


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
    try:
        path.open("rb").close()
    except OSError as error:  # not a decoding problem: say so rather than let both decoders fail
        raise AudioError(f"cannot read it ({error.strerror or error})") from None
    read_seconds = None if max_seconds is None else max_seconds * (1 + LIMIT_TOLERANCE)
    try:
        if _mp3_without_length_header(path):  # libsndfile would stop at its estimate of the length (often short)
            raise AudioError("an MP3 without a length header: ffmpeg reads it to its end")
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
    check_finite(y)
    return np.ascontiguousarray(y, dtype=np.float32)


def check_finite(y: np.ndarray) -> None:
    """AudioError when decoded samples hold NaN or infinity (a damaged floating-point file)."""
    if not np.isfinite(y).all():
        raise AudioError("damaged audio: some samples are not numbers (NaN or infinite)")


def header_duration(path: str | Path) -> float | None:
    """Duration in seconds from the file header (libsndfile), or None where only a full decode would tell (a
    FLAC written to a pipe says "unknown" with a count of 2**63 - 1 frames)."""
    try:
        import soundfile

        with quiet_native_stderr():
            info = soundfile.info(str(path))
    except Exception:
        return None
    return info.frames / info.samplerate if 0 < info.frames < 1 << 60 else None


def _mp3_without_length_header(path: Path) -> bool:
    """An MP3 without a Xing/Info/VBRI header: its length is only an estimate from its size and first frame's
    bitrate (libsndfile, whose estimate of a variable-bitrate one can be far short, stops reading there). Asked
    once per file as it is (a long song's windows are read one by one)."""
    if path.suffix.lower() != ".mp3":
        return False
    try:
        status = os.stat(path)
    except OSError:
        return False
    return _mp3_header_missing(str(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _mp3_header_missing(path: str, size: int, mtime_ns: int) -> bool:
    """``_mp3_without_length_header`` of ``path``; its size and time key the cache (a changed file is asked again)."""
    try:
        from mutagen.mp3 import MP3, BitrateMode

        return MP3(path).info.bitrate_mode == BitrateMode.UNKNOWN
    except Exception:  # not an MP3 mutagen reads: the decoders decide
        return False


WAV_UNKNOWN_SIZE = 0xFFFF0000  # a WAV written to a pipe states a data size of 0xFFFFFFFF: "unknown"


def declared_length(path: str | Path) -> float | None:
    """The length in seconds a file's header states outright (mutagen), against which a decode that ends early
    shows a file cut short: FLAC's sample count, an MP3's Xing/Info/VBRI header, MP4's movie header, WAV's and
    AIFF's data size, a WebM/Matroska's Duration (ffmpeg's probe). None where a format states none (a FLAC or
    WAV written to a pipe) or only an estimate from the file's size or its last page, which a cut changes too
    (Ogg Vorbis, Opus, ADTS AAC, an MP3 without such a header)."""
    path = Path(path)
    if path.suffix.lower() in (".webm", ".mka", ".mkv"):
        return probe_duration(path)
    try:
        import mutagen

        audio = mutagen.File(path)
        info, kind = audio.info, type(audio).__name__
        length = float(info.length)
    except Exception:  # not a file mutagen reads (None has no .info)
        return None
    if kind == "MP3":
        exact = not _mp3_without_length_header(path)
    elif kind == "WAVE":
        exact = length * info.bitrate / 8 < WAV_UNKNOWN_SIZE
    else:
        exact = kind in ("FLAC", "MP4", "AIFF")
    return length if exact and 0 < length < 1e7 else None


FINGERPRINT_SECOND = 20  # sample_fingerprint's second read starts here (a shorter file: the first read alone)


def sample_fingerprint(path: str | Path, frames: int = 1 << 15) -> str | None:
    """SHA-1 (16 hex digits) of the first ``frames`` frames libsndfile decodes from ``path`` and of as many from
    FINGERPRINT_SECOND on: the same for the same audio whatever the file's tags, different for another song or encoding;
    None where libsndfile cannot read the file (M4A, WebM, ...)."""
    import hashlib

    try:
        import soundfile

        with quiet_native_stderr(), soundfile.SoundFile(str(path)) as audio:
            digest = hashlib.sha1(audio.read(frames, dtype="float32", always_2d=True).tobytes())
            with contextlib.suppress(Exception):  # at a fixed time: libsndfile's length of an MP3 without a
                audio.seek(FINGERPRINT_SECOND * audio.samplerate)  # length header is an estimate tags change
                digest.update(audio.read(frames, dtype="float32", always_2d=True).tobytes())
    except Exception:
        return None
    return digest.hexdigest()[:16]


def probe_duration(path: str | Path) -> float | None:
    """Duration that ffmpeg reads from the container (``Duration:`` of ``ffmpeg -i``), or None where it has none.

    Quick (no decoding) but only an estimate for some formats (MP3 without a header, ADTS AAC).
    """
    import re

    try:
        result = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", ffmpeg_input(path)],
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", result.stderr)
    if match is None:
        return None
    hours, minutes, seconds = (float(value) for value in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def audio_duration(path: str | Path) -> float:
    """Duration in seconds: from the file header where libsndfile reads it, else by decoding (chunk by chunk)."""
    duration = header_duration(path)
    if duration is not None:
        return duration
    return sum(chunk.size for chunk in iter_audio_chunks(path)) / SAMPLE_RATE
