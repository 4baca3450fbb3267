"""Classifying whole songs: URL fetching with yt-dlp, windowed analysis, result formatting.

Shared by ``03_launch_classifier.py`` (command line) and ``04_interface.py`` (tkinter window).

Start-up cost matters here (the CLI must classify a clip from a cold start in under 3 s), so this module
imports only the standard library, NumPy and functions_audio (itself light) at module level. yt-dlp is
imported only when a URL is fetched, matplotlib/seaborn only when a plot is drawn, and TensorFlow never: the
model runs through the NumPy forward pass of ``functions_nn.load_classifier``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import functions_audio
import functions_dataset
import functions_features

# ---------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------
DEFAULT_HOP_SECONDS = 15.0
DEFAULT_MAX_WINDOWS = 20
MIN_SONG_SECONDS = 3.0
DEFAULT_MAX_DURATION_S = 20 * 60.0
DEFAULT_MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024
DEFAULT_SOCKET_TIMEOUT_S = 20.0
DEFAULT_FETCH_DEADLINE_S = 15 * 60.0
ALLOWED_URL_SCHEMES = ("http", "https")
SEARCH_PREFIX = "ytsearch1:"


class FetchError(Exception):
    """A URL could not be turned into a local audio file; the message is one line for the user."""


class Cancelled(Exception):
    """The user cancelled the running job (GUI Cancel button)."""


@dataclass(frozen=True)
class Progress:
    """One progress report: ``stage`` is "download", "convert", "analyse" or "done"."""

    stage: str
    fraction: float | None
    message: str


ProgressCallback = Callable[[Progress], None]


def _report(progress: ProgressCallback | None, stage: str, fraction: float | None, message: str) -> None:
    if progress is not None:
        progress(Progress(stage, fraction, message))


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


# ---------------------------------------------------------------------------------------------------------
# URLs and yt-dlp
# ---------------------------------------------------------------------------------------------------------
def looks_like_url(text: str) -> bool:
    """True if ``text`` has a URL scheme (``xyz://``) or is a ``ytsearch`` query: it is not a local path."""
    text = text.strip()
    if text.lower().startswith("ytsearch"):
        return True
    scheme = urllib.parse.urlsplit(text).scheme
    return len(scheme) > 1 and "://" in text  # one letter would be a Windows drive such as C:


def search_target(words: str) -> str:
    """The yt-dlp target for "the first YouTube search result for these words"."""
    words = " ".join(words.split())
    if not words:
        raise FetchError("empty search: give some words, e.g. --search \"artist title\"")
    return SEARCH_PREFIX + words


def validate_fetch_target(target: str) -> str:
    """Return the target if it is an http(s) URL or a ``ytsearch1:`` query; raise FetchError otherwise."""
    target = target.strip()
    if target.startswith(SEARCH_PREFIX):
        if not target[len(SEARCH_PREFIX):].strip():
            raise FetchError("empty search: give some words to search for")
        return target
    parts = urllib.parse.urlsplit(target)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_URL_SCHEMES:
        shown = f"{scheme}://" if scheme else "no scheme"
        raise FetchError(
            f"refused URL {target!r}: only http:// and https:// links are accepted ({shown}); "
            "give local files as plain paths"
        )
    if not parts.hostname:
        raise FetchError(f"refused URL {target!r}: no host name")
    return target


def _format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def describe_download_error(message: str, target: str) -> str:
    """Turn a yt-dlp error message into one clear line naming what went wrong."""
    text = " ".join(str(message).split())
    if text.startswith("ERROR: "):
        text = text[len("ERROR: "):]
    low = text.lower()
    where = target if len(target) <= 100 else target[:97] + "..."
    if target.startswith(SEARCH_PREFIX):
        where = f'the YouTube search "{target[len(SEARCH_PREFIX):]}"'
    if "http error 404" in low or "404: not found" in low:
        return f"not found (HTTP 404): {where}"
    if "http error 403" in low:
        return f"access refused by the server (HTTP 403): {where}"
    if "http error" in low:
        code = low.split("http error", 1)[1].strip().split(":")[0]
        return f"the server answered with an error (HTTP {code}): {where}"
    if "unsupported url" in low:
        return f"not a media page: no audio or video found at {where}"
    if "requested format is not available" in low or "no video formats found" in low:
        return f"no audio stream found at {where}"
    if "private video" in low or "video is private" in low:
        return f"private video, cannot be fetched: {where}"
    if any(s in low for s in ("video unavailable", "has been removed", "no longer available",
                              "video is not available", "account associated with this video has been terminated")):
        return f"video unavailable (removed or blocked): {where}"
    if "sign in to confirm" in low or "members-only" in low or "age-restricted" in low:
        return f"video needs a signed-in account (age or membership restricted): {where}"
    if any(s in low for s in ("timed out", "timeout")):
        return f"time-out while fetching {where}"
    if any(s in low for s in ("name or service not known", "temporary failure in name resolution",
                              "nodename nor servname", "network is unreachable", "no route to host",
                              "connection refused", "getaddrinfo failed", "failed to resolve",
                              "connection reset", "remote end closed connection")):
        return f"no network connection (cannot reach the server): {where}"
    if "unable to obtain file audio codec" in low:
        return f"ffmpeg found no decodable audio in the file downloaded from {where}"
    if "ffmpeg" in low or "postprocessing" in low or "conversion failed" in low:
        return f"ffmpeg could not convert the audio of {where}: {text[:160]}"
    if "playlist" in low and "no entries" in low:
        return f"no result for {where}"
    return f"download failed for {where}: {text[:200]}"


class _QuietLogger:
    """yt-dlp logger that prints nothing and remembers the last error."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        self.errors.append(str(msg))


class _DownloadAborted(Exception):
    """Raised inside a yt-dlp progress hook to stop a download (size cap, deadline)."""


@dataclass(frozen=True)
class FetchedAudio:
    """A downloaded and converted audio file inside a private temporary folder."""

    path: Path
    title: str
    duration_s: float | None
    webpage_url: str


def _pick_entry(info: dict[str, Any], target: str) -> dict[str, Any]:
    """A search or playlist result holds entries: take the first one."""
    while info.get("_type") in ("playlist", "multi_video"):
        entries = [e for e in (info.get("entries") or []) if e]
        if not entries:
            raise FetchError(f"no search result or media entry for {target}")
        info = entries[0]
    return info


def _check_caps(info: dict[str, Any], target: str, max_duration_s: float, max_bytes: int) -> None:
    duration = info.get("duration")
    if duration and duration > max_duration_s:
        raise FetchError(
            f"too long: {format_seconds(duration)} > the --max-duration of "
            f"{format_seconds(max_duration_s)} for {target}"
        )
    size = info.get("filesize") or info.get("filesize_approx")
    if not size and info.get("requested_formats"):
        sizes = [f.get("filesize") or f.get("filesize_approx") for f in info["requested_formats"]]
        size = sum(s for s in sizes if s) or None
    if size and size > max_bytes:
        raise FetchError(f"too large: {_format_bytes(size)} > the cap of {_format_bytes(max_bytes)} for {target}")


@contextlib.contextmanager
def fetched_audio(
    target: str,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
    deadline_s: float = DEFAULT_FETCH_DEADLINE_S,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    temp_root: str | os.PathLike[str] | None = None,
) -> Iterator[FetchedAudio]:
    """Download the best audio of ``target`` with yt-dlp and convert it to a 22.05 kHz mono WAV.

    Yields a ``FetchedAudio`` whose file lives in a private temporary folder; the folder is removed when the
    ``with`` block ends, also on errors, cancellation and Ctrl-C. Raises FetchError (one line) or Cancelled.
    """
    target = validate_fetch_target(target)
    work_dir = Path(tempfile.mkdtemp(prefix="genre-fetch-", dir=temp_root))  # mode 0700
    try:
        yield _download(target, work_dir, max_duration_s, max_bytes, socket_timeout_s, deadline_s,
                        progress, cancel)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _download(
    target: str,
    work_dir: Path,
    max_duration_s: float,
    max_bytes: int,
    socket_timeout_s: float,
    deadline_s: float,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> FetchedAudio:
    import yt_dlp  # ~0.4 s: only paid when a URL is classified

    started = time.monotonic()
    logger = _QuietLogger()

    def on_download(status: dict[str, Any]) -> None:
        _check_cancel(cancel)
        if time.monotonic() - started > deadline_s:
            raise _DownloadAborted(f"time-out: the download took longer than {deadline_s:.0f} s")
        if status.get("status") != "downloading":
            return
        done = status.get("downloaded_bytes") or 0
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if (total and total > max_bytes) or done > max_bytes:
            size = max(done, total or 0)
            raise _DownloadAborted(
                f"too large: {_format_bytes(size)} > the cap of {_format_bytes(max_bytes)}, download aborted"
            )
        speed = status.get("speed")
        speed_text = f" at {_format_bytes(speed)}/s" if speed else ""
        if total:
            fraction = min(1.0, done / total)
            _report(progress, "download", fraction, f"downloading {fraction * 100:.0f} %{speed_text}")
        else:
            _report(progress, "download", None, f"downloading {_format_bytes(done)}{speed_text}")

    def on_postprocess(status: dict[str, Any]) -> None:
        if status.get("status") == "started" and status.get("postprocessor") == "ExtractAudio":
            _report(progress, "convert", None, "converting the audio with ffmpeg")

    options: dict[str, Any] = {
        "format": "bestaudio/best",
        "outtmpl": {"default": str(work_dir / "download.%(ext)s")},
        "paths": {"home": str(work_dir), "temp": str(work_dir)},
        "noplaylist": True,
        "playlist_items": "1",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "cachedir": False,
        "socket_timeout": socket_timeout_s,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "overwrites": True,
        "updatetime": False,
        "ffmpeg_location": functions_audio.ffmpeg_exe(),
        "postprocessors": [{"key": "FFmpegExtractAudio", "preferredcodec": "wav"}],
        # straight to the training format, so loading needs no resampling
        "postprocessor_args": {"extractaudio+ffmpeg_o": ["-ar", str(functions_audio.SAMPLE_RATE), "-ac", "1"]},
        "progress_hooks": [on_download],
        "postprocessor_hooks": [on_postprocess],
    }
    _report(progress, "download", None, "looking up " + target)
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(target, download=False)
            if info is None:
                raise FetchError(describe_download_error(logger.errors[-1] if logger.errors else "", target))
            info = _pick_entry(info, target)
            _check_caps(info, target, max_duration_s, max_bytes)
            _check_cancel(cancel)
            info = ydl.process_ie_result(info, download=True)
    except (FetchError, Cancelled):
        raise
    except _DownloadAborted as exc:
        raise FetchError(f"{exc} ({target})") from None
    except yt_dlp.utils.YoutubeDLError as exc:
        raise FetchError(describe_download_error(str(exc), target)) from None
    except OSError as exc:
        raise FetchError(describe_download_error(str(exc), target)) from None
    _check_cancel(cancel)

    wavs = sorted(work_dir.glob("*.wav"))
    if not wavs:
        produced = sorted(p.name for p in work_dir.iterdir())
        detail = logger.errors[-1] if logger.errors else f"no audio file produced (found {produced})"
        raise FetchError(describe_download_error(detail, target))
    path = wavs[0]
    duration = functions_audio.audio_duration(path)
    if duration > max_duration_s:
        raise FetchError(
            f"too long: {format_seconds(duration)} > the --max-duration of {format_seconds(max_duration_s)} "
            f"for {target}"
        )
    title = info.get("title") or info.get("id") or target
    return FetchedAudio(path=path, title=str(title), duration_s=float(duration),
                        webpage_url=str(info.get("webpage_url") or target))


# ---------------------------------------------------------------------------------------------------------
# Whole-song analysis
# ---------------------------------------------------------------------------------------------------------
TRIM_TOP_DB = 60.0  # like librosa.effects.trim: frames quieter than the loudest frame by this much are silence
TRIM_FRAME_LENGTH = 2048
TRIM_HOP_LENGTH = 512
LOAD_WHOLE_LIMIT_S = 20 * 60.0  # longer files are read window by window (memory stays bounded)
EDGE_PROBE_S = 60.0  # how much of the start and end of a long file is read to find its silence


class AnalysisError(Exception):
    """A song that cannot be classified; the message is one line for the user."""


@dataclass(frozen=True)
class AnalysisSettings:
    """How a song is cut into windows."""

    window_s: float = functions_audio.CLIP_SECONDS  # the training clip length (30 s)
    hop_s: float = DEFAULT_HOP_SECONDS
    max_windows: int = DEFAULT_MAX_WINDOWS
    min_song_s: float = MIN_SONG_SECONDS


@dataclass
class WindowResult:
    """Model output for one window of a song."""

    start_s: float
    genre: str
    probabilities: dict[str, float]


@dataclass
class SongResult:
    """The result for one input: either a genre with probabilities and a timeline, or an error."""

    input: str
    title: str | None = None
    duration_s: float | None = None
    genre: str | None = None
    probabilities: dict[str, float] | None = None
    windows: list[WindowResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.genre is not None

    def to_json_dict(self) -> dict[str, Any]:
        """The record printed by ``03_launch_classifier.py --json`` (one per line)."""

        def rounded(probabilities: dict[str, float] | None) -> dict[str, float] | None:
            return None if probabilities is None else {g: round(p, 6) for g, p in probabilities.items()}

        return {
            "input": self.input,
            "title": self.title,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "genre": self.genre,
            "probabilities": rounded(self.probabilities),
            "windows": [{"start_s": round(w.start_s, 3), "genre": w.genre, "probabilities": rounded(w.probabilities)}
                        for w in self.windows],
            "error": self.error,
        }


def trim_silence(y: np.ndarray, top_db: float = TRIM_TOP_DB) -> tuple[int, int]:
    """Sample range ``[start, end)`` of ``y`` without leading and trailing silence.

    Same rule as ``librosa.effects.trim`` (RMS over 2048-sample frames, hop 512, centred frames, silence is
    ``top_db`` below the loudest frame), computed with a running sum so long songs need no frame copies.
    Returns ``(0, 0)`` for an all-silent signal.
    """
    n = int(y.size)
    if n == 0:
        return 0, 0
    half = TRIM_FRAME_LENGTH // 2
    squares = np.zeros(n + 2 * half + 1, dtype=np.float64)
    np.cumsum(np.square(y, dtype=np.float64), out=squares[half + 1:half + 1 + n])
    squares[half + 1 + n:] = squares[half + n]
    n_frames = 1 + n // TRIM_HOP_LENGTH
    starts = np.arange(n_frames) * TRIM_HOP_LENGTH  # frame i covers padded[start:start+frame] = y[start-half:...]
    energy = (squares[starts + TRIM_FRAME_LENGTH] - squares[starts]) / TRIM_FRAME_LENGTH
    peak = float(energy.max())
    if peak <= 1e-20:  # librosa's power_to_db floor (amin 1e-10 on the RMS) makes this all-silent
        return 0, 0
    loud = np.flatnonzero(10.0 * np.log10(np.maximum(energy, 1e-20) / peak) > -top_db)
    start = int(loud[0]) * TRIM_HOP_LENGTH
    end = min(n, (int(loud[-1]) + 1) * TRIM_HOP_LENGTH)
    return start, end


def plan_windows(duration_s: float, settings: AnalysisSettings = AnalysisSettings()) -> list[float]:
    """Start times of the analysis windows of a (trimmed) song of ``duration_s`` seconds.

    Windows of ``window_s`` every ``hop_s``; a last window aligned with the end covers the tail; at most
    ``max_windows`` windows, spread evenly over the song. A song shorter than one window is one window.
    """
    if duration_s < settings.min_song_s:
        raise AnalysisError(f"too short ({duration_s:.1f} s < {settings.min_song_s:g} s)")
    last_start = duration_s - settings.window_s
    if last_start <= 0:
        return [0.0]
    count = int(math.floor(last_start / settings.hop_s + 1e-9)) + 1
    starts = [i * settings.hop_s for i in range(count)]
    if last_start - starts[-1] > 1.0:  # the tail would be left out: one more window, aligned with the end
        starts.append(last_start)
    if len(starts) > settings.max_windows:
        starts = [float(s) for s in np.linspace(0.0, last_start, settings.max_windows)]
    return [round(float(s), 3) for s in starts]


def check_extraction_settings(classifier: Any) -> None:
    """Refuse a model whose ``model.json`` records other extraction settings than this extractor's.

    Features computed differently (another sample rate, FFT size, number of MFCCs, ...) would be fed to the
    network without any error and give confident nonsense: that is an error, not a silent misprediction.
    """
    import functions_nn

    recorded = (getattr(classifier, "metadata", None) or {}).get("feature_extraction")
    if not isinstance(recorded, dict):
        return  # older model folders do not record them; the column check still applies
    current = functions_audio.EXTRACTION_SETTINGS
    differing = [f"{key}={recorded[key]!r} (extractor: {current[key]!r})"
                 for key in sorted(set(recorded) & set(current)) if recorded[key] != current[key]]
    if differing:
        raise functions_nn.ModelLoadError(
            f"{getattr(classifier, 'model_dir', 'model')}: trained on features extracted with other settings: "
            + "; ".join(differing[:3]))


class SongAnalyser:
    """Loads a classifier once and classifies whole songs with it (used by the CLI and the GUI)."""

    def __init__(self, classifier: Any, settings: AnalysisSettings = AnalysisSettings()) -> None:
        self.classifier = classifier
        self.settings = settings
        self.genres = list(classifier.genres)
        classifier.check_columns(functions_audio.FEATURE_COLUMNS)  # raises ModelLoadError naming missing ones
        check_extraction_settings(classifier)
        self._column_index = np.array(
            [functions_audio.FEATURE_COLUMNS.index(c) for c in classifier.feature_columns], dtype=np.intp)

    @classmethod
    def from_model_dir(cls, model_dir: str | os.PathLike[str] | None = None,
                       settings: AnalysisSettings = AnalysisSettings()) -> SongAnalyser:
        """Load the model of ``model_dir`` (default: the shipped pretrained model) with the NumPy loader."""
        import functions_nn

        folder = Path(model_dir) if model_dir is not None else functions_audio.PRETRAINED_MODEL_DIR
        return cls(functions_nn.load_classifier(folder), settings)

    # -- single pieces ------------------------------------------------------------------------------------
    def _probabilities(self, features: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(features)[:, self._column_index]
        probabilities = np.asarray(self.classifier.predict_proba(rows), dtype=np.float64)
        if probabilities.shape != (rows.shape[0], len(self.genres)):
            raise AnalysisError(f"model returned shape {probabilities.shape}, expected "
                                f"({rows.shape[0]}, {len(self.genres)})")
        return probabilities

    def _as_dict(self, probabilities: np.ndarray) -> dict[str, float]:
        return {genre: float(p) for genre, p in zip(self.genres, probabilities, strict=True)}

    # -- songs --------------------------------------------------------------------------------------------
    def analyse_samples(self, y: np.ndarray, *, source: str = "audio", title: str | None = None,
                        progress: ProgressCallback | None = None,
                        cancel: threading.Event | None = None) -> SongResult:
        """Classify a whole song given as float32 samples at ``functions_audio.SAMPLE_RATE``."""
        sr = functions_audio.SAMPLE_RATE
        full_duration_s = float(y.size / sr)
        start, end = trim_silence(y)
        if end <= start:
            raise AnalysisError("silent (no signal above the silence threshold)")
        y = y[start:end]
        starts = plan_windows(y.size / sr, self.settings)
        window = int(round(self.settings.window_s * sr))

        def segment(start_s: float) -> np.ndarray:
            first = int(round(start_s * sr))
            return y[first:first + window]

        return self._analyse_windows(starts, segment, source=source, title=title,
                                     duration_s=full_duration_s, offset_s=start / sr,
                                     progress=progress, cancel=cancel)

    def analyse_file(self, path: str | os.PathLike[str], *, title: str | None = None,
                     source: str | None = None, progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> SongResult:
        """Classify a local audio file: whole-file decoding, or window by window for very long files."""
        path = Path(path)
        source = source if source is not None else str(path)
        title = title if title is not None else path.stem
        _report(progress, "analyse", None, "reading the audio")
        duration = functions_audio.header_duration(path)
        if duration is None or duration <= LOAD_WHOLE_LIMIT_S:
            y = functions_audio.load_audio(path, max_seconds=None)
            _check_cancel(cancel)
            return self.analyse_samples(y, source=source, title=title, progress=progress, cancel=cancel)
        return self._analyse_long_file(path, duration, source=source, title=title,
                                       progress=progress, cancel=cancel)

    def _analyse_long_file(self, path: Path, duration: float, *, source: str, title: str,
                           progress: ProgressCallback | None, cancel: threading.Event | None) -> SongResult:
        """Read only the windows that are analysed (plus the ends, to find the silence there)."""
        sr = functions_audio.SAMPLE_RATE
        head = functions_audio.load_audio(path, max_seconds=EDGE_PROBE_S)
        tail_offset = max(0.0, duration - EDGE_PROBE_S)
        tail = functions_audio.load_audio(path, max_seconds=EDGE_PROBE_S, offset_s=tail_offset)
        head_start, head_end = trim_silence(head)
        tail_start, tail_end = trim_silence(tail)
        lead_s = head_start / sr if head_end > head_start else EDGE_PROBE_S
        end_s = tail_offset + tail_end / sr if tail_end > tail_start else tail_offset
        trimmed = max(0.0, end_s - lead_s)
        starts = plan_windows(trimmed, self.settings)

        def segment(start_s: float) -> np.ndarray:
            return functions_audio.load_audio(path, max_seconds=min(self.settings.window_s, trimmed),
                                              offset_s=lead_s + start_s)

        return self._analyse_windows(starts, segment, source=source, title=title, duration_s=duration,
                                     offset_s=lead_s, progress=progress, cancel=cancel)

    def _analyse_windows(self, starts: list[float], segment: Callable[[float], np.ndarray], *, source: str,
                         title: str | None, duration_s: float, offset_s: float,
                         progress: ProgressCallback | None, cancel: threading.Event | None) -> SongResult:
        rows: list[np.ndarray] = []
        kept: list[float] = []
        problems: list[str] = []
        for number, start_s in enumerate(starts, 1):
            _check_cancel(cancel)
            _report(progress, "analyse", (number - 1) / len(starts),
                    f"analysing window {number}/{len(starts)}")
            try:
                rows.append(functions_features.compute_features(segment(start_s)))
                kept.append(start_s)
            except functions_audio.AudioError as exc:  # e.g. a silent stretch inside the song
                problems.append(f"window at {format_seconds(start_s)}: {exc}")
        _check_cancel(cancel)
        if not rows:
            raise AnalysisError(problems[0] if len(problems) == 1 else f"no usable window ({problems[0]})")
        per_window = self._probabilities(np.vstack(rows))
        mean = per_window.mean(axis=0)
        windows = [WindowResult(start_s=round(offset_s + s, 3), genre=self.genres[int(np.argmax(p))],
                                probabilities=self._as_dict(p)) for s, p in zip(kept, per_window, strict=True)]
        _report(progress, "done", 1.0, "done")
        return SongResult(input=source, title=title, duration_s=duration_s, genre=self.genres[int(np.argmax(mean))],
                          probabilities=self._as_dict(mean), windows=windows)

    def classify(self, item: str, *, fetch_options: dict[str, Any] | None = None,
                 progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> SongResult:
        """Classify one input (a local file, an http(s) URL or a ``ytsearch1:`` query) into a SongResult.

        Expected failures become ``SongResult.error`` (one line); only Cancelled and KeyboardInterrupt escape.
        """
        try:
            if looks_like_url(item):
                with fetched_audio(item, progress=progress, cancel=cancel, **(fetch_options or {})) as fetched:
                    result = self.analyse_file(fetched.path, title=fetched.title, source=item,
                                               progress=progress, cancel=cancel)
                return result
            path = Path(item)
            if not path.exists():
                raise AnalysisError("no such file")
            if path.is_dir():
                raise AnalysisError("is a folder (give the folder to the command line, which expands it)")
            return self.analyse_file(path, progress=progress, cancel=cancel)
        except (FetchError, AnalysisError, functions_audio.AudioError) as exc:
            return SongResult(input=item, error=str(exc))
        except MemoryError:
            return SongResult(input=item, error="out of memory while decoding (file too long?)")
        except OSError as exc:
            return SongResult(input=item, error=f"cannot read: {exc.strerror or exc}")


def expand_inputs(inputs: list[str]) -> list[tuple[str, str | None]]:
    """Inputs as ``(item, error)`` pairs: folders become all audio files below them (sorted, recursive).

    URLs and ``ytsearch1:`` targets pass through; a folder without audio gives one error item.
    """
    items: list[tuple[str, str | None]] = []
    for text in inputs:
        if looks_like_url(text):
            items.append((text, None))
            continue
        path = Path(text)
        if path.is_dir():
            found = [str(file) for file in functions_dataset.iter_audio_files(path)]
            if found:
                items.extend((f, None) for f in found)
            else:
                items.append((text, "no audio files in this folder (looked for "
                                    + ", ".join(sorted(functions_audio.AUDIO_EXTENSIONS)) + ")"))
        elif path.exists():
            items.append((text, None))
        else:
            items.append((text, "no such file or folder"))
    return items


# ---------------------------------------------------------------------------------------------------------
# Presenting results
# ---------------------------------------------------------------------------------------------------------
def _bar_characters(encoding: str | None) -> tuple[str, str]:
    """Full block and half block where the terminal can print them, ``#`` and ``+`` otherwise."""
    try:
        "█▌".encode(encoding or "ascii")
        return "█", "▌"
    except (UnicodeEncodeError, LookupError):
        return "#", "+"


def text_bar(fraction: float, width: int = 30, encoding: str | None = "utf-8") -> str:
    """A bar of ``width`` characters (half-character resolution) for a fraction in [0, 1]."""
    full, half = _bar_characters(encoding)
    halves = int(round(max(0.0, min(1.0, fraction)) * width * 2))
    bar = full * (halves // 2) + (half if halves % 2 else "")
    return bar.ljust(width)


def top_genres(probabilities: dict[str, float], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable genres, best first (ties in genre order)."""
    return sorted(probabilities.items(), key=lambda item: -item[1])[:max(1, k)]


def timeline_runs(result: SongResult) -> list[tuple[float, float, str]]:
    """Consecutive windows with the same top genre merged: ``(start_s, end_s, genre)``."""
    runs: list[tuple[float, float, str]] = []
    for i, window in enumerate(result.windows):
        end = window.start_s + functions_audio.CLIP_SECONDS
        if i + 1 < len(result.windows):
            end = min(end, result.windows[i + 1].start_s)
        if result.duration_s is not None:
            end = min(end, result.duration_s)
        if runs and runs[-1][2] == window.genre:
            runs[-1] = (runs[-1][0], end, window.genre)
        else:
            runs.append((window.start_s, end, window.genre))
    return runs


def format_result(result: SongResult, top_k: int = 3, encoding: str | None = "utf-8") -> str:
    """Human-readable result: one headline, the top-K genres as a text bar chart, a one-line timeline."""
    if not result.ok:
        return f"{result.input}: ERROR: {result.error}"
    assert result.probabilities is not None and result.genre is not None
    name = result.input
    if result.title and result.title not in (Path(result.input).stem, result.input):
        name = f"{result.input} ({result.title})"
    confidence = result.probabilities[result.genre]
    length = f", {format_seconds(result.duration_s)}" if result.duration_s is not None else ""
    windows = f"{len(result.windows)} window{'s' if len(result.windows) != 1 else ''}"
    lines = [f"{name}: {result.genre} ({confidence * 100:.1f} %)  [{windows}{length}]"]
    width = max(len(g) for g in result.probabilities)
    for genre, p in top_genres(result.probabilities, top_k):
        lines.append(f"    {genre:<{width}} {text_bar(p, encoding=encoding)} {p * 100:5.1f} %")
    if len(result.windows) > 1:
        runs = timeline_runs(result)
        lines.append("    timeline: " + ", ".join(f"{format_seconds(a)}-{format_seconds(b)} {g}"
                                                  for a, b, g in runs))
    return "\n".join(lines)


GENRE_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
                 "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")  # seaborn "deep"


def draw_result(figure: Any, result: SongResult, use_seaborn: bool = True) -> None:
    """Draw the probability bar chart (left) and the per-window timeline (right) of ``result`` on ``figure``.

    Works on any matplotlib Figure (a saved PNG or the one embedded in the tkinter window).
    """
    figure.clear()
    if not result.ok:
        axis = figure.add_subplot(1, 1, 1)
        axis.axis("off")
        axis.text(0.5, 0.5, result.error or "no result", ha="center", va="center", wrap=True)
        return
    assert result.probabilities is not None
    genres = list(result.probabilities)
    colours = {g: GENRE_COLOURS[i % len(GENRE_COLOURS)] for i, g in enumerate(genres)}
    bars_axis, time_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    ordered = sorted(genres, key=lambda g: result.probabilities[g])  # largest at the top
    values = [result.probabilities[g] * 100 for g in ordered]
    if use_seaborn:
        import seaborn

        seaborn.barplot(x=values, y=ordered, hue=ordered, palette=[colours[g] for g in ordered],
                        orient="h", legend=False, ax=bars_axis, order=ordered[::-1])
    else:
        bars_axis.barh(ordered, values, color=[colours[g] for g in ordered])
    for genre, value in zip(ordered, values, strict=True):
        bars_axis.text(value + 1, genre, f"{value:.1f} %", va="center", fontsize=8)
    bars_axis.set_xlim(0, 115)
    bars_axis.set_xlabel("probability (%), mean over windows")
    bars_axis.set_ylabel("")
    bars_axis.set_title("genre probabilities", fontsize=10)

    # timeline: one column per window, stacked genre probabilities
    starts = [w.start_s for w in result.windows]
    matrix = np.array([[w.probabilities[g] for w in result.windows] for g in genres]) * 100
    positions = np.arange(len(starts))
    bottom = np.zeros(len(starts))
    for genre, row in zip(genres, matrix, strict=True):
        time_axis.bar(positions, row, bottom=bottom, color=colours[genre], width=0.9, label=genre)
        bottom += row
    step = max(1, len(starts) // 8)
    time_axis.set_xticks(positions[::step], [format_seconds(s) for s in starts[::step]], fontsize=8)
    time_axis.set_ylim(0, 100)
    time_axis.set_xlabel("window start (m:ss)")
    time_axis.set_ylabel("probability (%)")
    time_axis.set_title("timeline (30-s windows)", fontsize=10)
    time_axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.suptitle(f"{result.title or result.input}: {result.genre}", fontsize=11)
    figure.tight_layout()


def save_plot(result: SongResult, path: str | os.PathLike[str]) -> Path:
    """Save the bar chart and timeline of ``result`` as a PNG (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    draw_result(figure, result, use_seaborn=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


# ---------------------------------------------------------------------------------------------------------
# Running many inputs (the command line)
# ---------------------------------------------------------------------------------------------------------
class ModelUnavailable(Exception):
    """The model folder cannot be used (missing, damaged, other features); one line for the user."""


class KerasBackedClassifier:
    """The NumPy classifier's metadata with Keras's own ``predict`` (imports TensorFlow; for comparisons)."""

    def __init__(self, numpy_classifier: Any, keras_model: Any) -> None:
        self._numpy = numpy_classifier
        self._model = keras_model
        self.genres = numpy_classifier.genres
        self.feature_columns = numpy_classifier.feature_columns
        self.metadata = numpy_classifier.metadata
        self.model_dir = numpy_classifier.model_dir

    def check_columns(self, available: Any) -> None:
        self._numpy.check_columns(available)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict(np.asarray(X, dtype=np.float32), verbose=0), dtype=np.float64)


@dataclass
class ClassificationJob:
    """Everything a (worker) process needs to classify inputs; picklable, the model is loaded by ``load``."""

    model_dir: str | None = None
    backend: str = "numpy"
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    fetch_options: dict[str, Any] = field(default_factory=dict)
    _analyser: SongAnalyser | None = field(default=None, repr=False)

    def load(self) -> SongAnalyser:
        """Load the model once (per process); raises ModelUnavailable with a one-line reason."""
        if self._analyser is not None:
            return self._analyser
        import functions_nn

        folder = Path(self.model_dir) if self.model_dir is not None else functions_audio.PRETRAINED_MODEL_DIR
        try:
            classifier = functions_nn.load_classifier(folder)
            if self.backend == "keras":
                classifier = KerasBackedClassifier(classifier, functions_nn.load_keras_model(folder))
            self._analyser = SongAnalyser(classifier, self.settings)
        except functions_nn.ModelLoadError as exc:
            hint = ""
            if self.model_dir is None:
                hint = " (the shipped model is missing: train one with 02_train_model.py or pass --model DIR)"
            raise ModelUnavailable(f"{exc}{hint}") from None
        return self._analyser

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_analyser"] = None  # each process loads its own copy
        return state

    def classify(self, item: str, progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> SongResult:
        return self.load().classify(item, fetch_options=self.fetch_options, progress=progress, cancel=cancel)


_WORKER_JOB: ClassificationJob | None = None


def _worker_init(job: ClassificationJob) -> None:
    global _WORKER_JOB
    from functions_parallel import limit_worker_threads

    limit_worker_threads()  # one BLAS thread per worker, and Ctrl-C is handled by the parent, which stops the pool
    _WORKER_JOB = job
    job.load()


def _worker_classify(item: str) -> SongResult:
    assert _WORKER_JOB is not None
    try:
        return _WORKER_JOB.classify(item)
    except Exception as exc:  # one bad file must never stop the others
        return SongResult(input=item, error=f"unexpected error: {type(exc).__name__}: {exc}")


def default_workers(count: int) -> int:
    """Processes for ``count`` inputs: one per CPU, at most 4 (each holds librosa and a song)."""
    return max(1, min(count, os.cpu_count() or 1, 4))


class _StatusLine:
    """Progress of a single input on one rewritten line of stderr."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.width = 0

    def __call__(self, report: Progress) -> None:
        text = report.message[:79]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def classify_items(job: ClassificationJob, items: list[tuple[str, str | None]], *, workers: int | None = None,
                   show_progress: bool = False) -> Iterator[SongResult]:
    """Classify ``(item, error)`` pairs from ``expand_inputs``; yields one SongResult per item, in order.

    Several inputs run in ``workers`` processes (each loads the model once) with a tqdm progress bar; the
    results are still yielded in input order as soon as they are available.
    """
    import sys

    todo = [item for item, error in items if error is None]
    workers = default_workers(len(todo)) if workers is None else max(1, workers)
    if len(todo) <= 1 or workers == 1:
        yield from _classify_sequentially(job, items, show_progress and len(todo) > 0, sys.stderr)
        return

    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    job.load()  # fail early in the parent; forked workers inherit the loaded model
    global _WORKER_JOB
    _WORKER_JOB = job
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_worker_init, initargs=(job,))
    bar = tqdm(total=len(todo), unit="song", disable=not show_progress, file=sys.stderr, dynamic_ncols=True)
    try:
        futures = [None if error is not None else pool.submit(_worker_classify, item) for item, error in items]
        for future in futures:
            if future is not None:
                future.add_done_callback(lambda _f: bar.update(1))
        for (item, error), future in zip(items, futures, strict=True):
            yield SongResult(input=item, error=error) if future is None else future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        bar.close()


def _classify_sequentially(job: ClassificationJob, items: list[tuple[str, str | None]], show_progress: bool,
                           stream: Any) -> Iterator[SongResult]:
    several = sum(error is None for _, error in items) > 1
    bar = None
    if several and show_progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(error is None for _, error in items), unit="song", file=stream, dynamic_ncols=True)
    try:
        for item, error in items:
            if error is not None:
                yield SongResult(input=item, error=error)
                continue
            status = _StatusLine(stream) if show_progress and not several else None
            try:
                result = job.classify(item, progress=status)
            finally:
                if status is not None:
                    status.clear()
            if bar is not None:
                bar.update(1)
            yield result
    finally:
        if bar is not None:
            bar.close()
