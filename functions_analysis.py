"""Whole-song analysis: a song (file, samples or URL) cut into 30-s windows, each classified, the mean is the genre.

What lives here, top-down: the settings (``AnalysisSettings``, the musicnn patch budget, ``AnalysisError``; the
result types are functions_song_result's), the pure steps (``trim_silence``, ``plan_windows``,
``check_extraction_settings``, ``block_energy``/``trim_from_energy``, ``scan_song``), a window's features
(``SongFrames``, ``WindowFeatures``) and novelty (``SongNovelty``), then ``WindowAnalyser``, which loads a
classifier once and classifies a song's samples window by window, and ``SongAnalyser``, which reads songs for it:
whole-file decoding, or window-by-window reading for long files and files whose header has no length.

Start-up cost: only the standard library, NumPy, functions_audio and functions_fetch at module level; the model
is loaded through functions_nn (its NumPy forward pass, never TensorFlow) when a SongAnalyser is built.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

import numpy as np

import functions_audio
import functions_features
from functions_fetch import (
    FetchError,
    ProgressCallback,
    check_cancel,
    fetched_audio,
    format_seconds,
    looks_like_url,
    report_progress,
)
from functions_song_result import SongResult, WindowResult

DEFAULT_HOP_SECONDS = 15.0
DEFAULT_MAX_WINDOWS = 20
MIN_SONG_SECONDS = 3.0
TRIM_TOP_DB = 60.0  # like librosa.effects.trim: frames quieter than the loudest frame by this much are silence
TRIM_FRAME_LENGTH = 2048
TRIM_HOP_LENGTH = 512
LOAD_WHOLE_LIMIT_S = 20 * 60.0  # longer files are read window by window (memory stays bounded)
# The musicnn network costs ~2.7 GFLOP per 3-s patch. A song gets at most MUSICNN_PATCH_BUDGET patches, spread
# over its windows (at most MUSICNN_PATCH_BUDGET // MUSICNN_MIN_PATCHES windows); a window whose share is
# MUSICNN_DENSE_FROM patches or more gets every patch (one every ~1 s, as the network's training clips did,
# cheaper per patch since overlapping patches share their front end). 03 --patches sets it; 12 (3 windows of 4
# patches) was chosen by bench/bench_speed.py for 2 songs/s on 2 cores: docs/speed.md gives its cost and how often
# it gives the answer of every patch (24, the budget before: 1.44 CPU-s a 4-minute MP3, against 0.83; docs/speed.md).
MUSICNN_PATCH_BUDGET = 12
MUSICNN_MIN_PATCHES = 4
MUSICNN_DENSE_FROM = 10
# A window given a few of its patches (a patch budget) takes its musicnn standard deviations with this ddof: with
# ddof 0, 4 patches give about 0.85 of the value every patch (28, one a second) gives, which the model was
# trained on; ddof 1 corrects for the small sample, but agreed no better with every patch (docs/speed.md)
SPARSE_STD_DDOF = 0
PATCHES_HELP = ("musicnn patches (3 s each, ~0.04 CPU-s) per song: N spreads N over at most N/4 windows "
                f"(default {MUSICNN_PATCH_BUDGET}: ~0.8 CPU-s for a 4-minute MP3; 24: 1.4); 'all': every patch of "
                "every window (~9 CPU-s). Same genre as 'all': 12 and 24 on 100 of 100 clips and 10 of 10 "
                "one-genre songs, 0 and 4 of 10 eight-genre medleys; same top-3 tags 89 %% and 94 %% "
                "(docs/speed.md)")


def parse_patches(text: str) -> int | None:
    """03's ``--patches`` value: a whole number >= 1, or 'all' (None: every patch). argparse.ArgumentTypeError
    otherwise (argparse turns it into one line naming the option)."""
    import argparse

    value = text.strip().lower()
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number of patches >= 1 nor 'all'")
    return int(value)


class AnalysisError(Exception):
    """A song that cannot be classified; the message is one line for the user."""


@dataclass(frozen=True)
class AnalysisSettings:
    """How a song is cut into windows."""

    window_s: float = functions_audio.CLIP_SECONDS  # the training clip length (30 s)
    hop_s: float = DEFAULT_HOP_SECONDS
    max_windows: int = DEFAULT_MAX_WINDOWS
    min_song_s: float = MIN_SONG_SECONDS
    shared_frames: bool = True  # windows from the song's frames (SongFrames); False: each window on its own
    musicnn_patches: int | None = MUSICNN_PATCH_BUDGET  # patches per song at most; None: every patch of every window


def block_energy(y: np.ndarray) -> np.ndarray:
    """Sum of squares of each TRIM_HOP_LENGTH-sample block of ``y`` (the last block may be shorter), in float64.

    ``y`` is read in slices, so the temporary squares stay small for a long song.
    """
    hop, step = TRIM_HOP_LENGTH, TRIM_HOP_LENGTH * 4096
    parts = [np.add.reduceat(np.square(y[first:first + step], dtype=np.float64),
                             np.arange(0, min(step, y.size - first), hop)) for first in range(0, y.size, step)]
    return np.concatenate(parts) if parts else np.zeros(0)


def trim_from_energy(energy: np.ndarray, n: int, top_db: float = TRIM_TOP_DB) -> tuple[int, int]:
    """``trim_silence`` for a song of ``n`` samples known only by its ``block_energy``: its ``[start, end)``.

    A centred frame (2048 samples, hop 512) covers exactly the blocks ``i-2 .. i+1``; outside the song is zero.
    """
    n_frames = 1 + n // TRIM_HOP_LENGTH
    blocks = np.zeros(n_frames + 3, dtype=np.float64)
    blocks[2:2 + energy.size] = energy[:n_frames + 1]
    frames = (blocks[:-3] + blocks[1:-2] + blocks[2:-1] + blocks[3:]) / TRIM_FRAME_LENGTH
    peak = float(frames.max())
    if peak <= 1e-20:  # librosa's power_to_db floor (amin 1e-10 on the RMS) makes this all-silent
        return 0, 0
    loud = np.flatnonzero(10.0 * np.log10(np.maximum(frames, 1e-20) / peak) > -top_db)
    start = int(loud[0]) * TRIM_HOP_LENGTH
    end = min(n, (int(loud[-1]) + 1) * TRIM_HOP_LENGTH)
    return start, end


def trim_silence(y: np.ndarray, top_db: float = TRIM_TOP_DB) -> tuple[int, int]:
    """Sample range ``[start, end)`` of ``y`` without leading and trailing silence.

    Same rule as ``librosa.effects.trim`` (RMS over 2048-sample frames, hop 512, centred frames, silence is
    ``top_db`` below the loudest frame), computed from sums over 512-sample blocks so long songs need no frame
    copies and a file streamed chunk by chunk (``scan_song``) is trimmed alike. ``(0, 0)`` if all silent.
    """
    if y.size == 0:
        return 0, 0
    return trim_from_energy(block_energy(y), int(y.size), top_db)


@dataclass
class SongScan:
    """One pass over a file: its length in samples, its ``block_energy``, and its samples if it was kept."""

    n_samples: int
    energy: np.ndarray
    samples: np.ndarray | None


def scan_song(path: Path, keep_s: float, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> SongScan:
    """Decode ``path`` chunk by chunk for its length and block energies; keep the samples if it lasts <= ``keep_s``.

    Memory: one chunk, 8 bytes per 512 samples, and at most ``keep_s`` of samples (none with ``keep_s`` 0).
    """
    sr = functions_audio.SAMPLE_RATE
    chunk_samples = TRIM_HOP_LENGTH * 512  # ~12 s, whole blocks: energies continue across chunks
    kept: np.ndarray | None = np.empty(int(keep_s * sr), dtype=np.float32) if keep_s > 0 else None  # lazily paged
    energies: list[np.ndarray] = []
    n = 0
    for number, chunk in enumerate(functions_audio.iter_audio_chunks(path, chunk_samples)):
        check_cancel(cancel)
        if number % 10 == 0:
            report_progress(progress, "analyse", None, f"reading the audio ({format_seconds(n / sr)} so far)")
        if kept is not None and n + chunk.size <= kept.size:
            kept[n:n + chunk.size] = chunk
        else:
            kept = None  # longer than keep_s: only the energies are needed
        functions_audio.check_finite(chunk)
        energies.append(block_energy(chunk))
        n += chunk.size
    check_cancel(cancel)
    energy = np.concatenate(energies) if energies else np.zeros(0)
    return SongScan(n_samples=n, energy=energy, samples=None if kept is None else kept[:n])


CUT_SHORT_MARGIN_S = 1.0  # decoded this much short of the length the header states: a note


def noted_if_cut_short(result: SongResult, header_s: float | None) -> SongResult:
    """``result`` with ``cut_short`` set when its decoded length falls short of the length the file's header
    states (``header_s``: functions_audio.declared_length, exact where it is not None) by more than
    CUT_SHORT_MARGIN_S: a copy or download cut short, whose header still names the whole song (decoders stop at
    the cut without an error)."""
    decoded = result.duration_s
    if header_s is not None and decoded is not None and header_s - decoded > CUT_SHORT_MARGIN_S:
        result.cut_short = (decoded, header_s)
    return result


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

    metadata = getattr(classifier, "metadata", None) or {}
    differing = []
    for key, current in (("feature_extraction", functions_audio.EXTRACTION_SETTINGS),
                         ("musicnn_extraction", functions_audio.MUSICNN_SETTINGS)):
        recorded = metadata.get(key)
        if not isinstance(recorded, dict):
            continue  # older model folders do not record them; the column check still applies
        differing += [f"{name}={recorded[name]!r} (extractor: {current[name]!r})"
                      for name in sorted(set(recorded) & set(current)) if recorded[name] != current[name]]
    if differing:
        raise functions_nn.ModelLoadError(
            f"{getattr(classifier, 'model_dir', 'model')}: trained on features extracted with other settings: "
            + "; ".join(differing[:3]))


EDGE_FRAMES = functions_audio.N_FFT // 2 // functions_audio.HOP_LENGTH  # frames reaching before a window's start


def window_first_sample(start_s: float) -> int:
    """First sample of the window planned at ``start_s``: on the song's STFT frame grid (every 512 samples,
    23 ms), at most 12 ms from the planned time, so that overlapping windows share their frames exactly.

    The grid matters more than 12 ms suggest: the tuning estimate behind the chroma features (librosa's
    piptrack histogram) can jump by a tenth of a semitone when a window moves by a single sample.
    """
    hop = functions_audio.HOP_LENGTH
    return hop * int(round(start_s * functions_audio.SAMPLE_RATE / hop))


class SongFrames:
    """A song's frame-level features, computed once and shared by its windows: ``features(start_s)``.

    Windows overlap (30 s every 15 s), so each STFT frame would otherwise be computed twice. Only the frames of
    the current window are kept (memory stays that of one window); the next window computes just its new
    frames. Windows start on the song's frame grid (``window_first_sample``), so a window's frames are the
    song's; its edge frames, which reach past its ends, are computed from the window itself with the zero
    padding ``compute_features`` gives a window analysed on its own. So the features are those of the window
    analysed on its own (to float rounding), at a fraction of the cost.
    """

    def __init__(self, y: np.ndarray, window_samples: int) -> None:
        self.y = y
        self.window = window_samples
        self.first = 0  # frame number of the first cached frame
        self.cached: functions_features.Frames | None = None

    def features(self, start_s: float) -> np.ndarray:
        """The 91 features of the window starting at ``start_s``; AudioError as compute_features raises it."""
        first_sample = window_first_sample(start_s)
        segment = self.y[first_sample:first_sample + self.window]
        functions_features.check_clip(segment)
        count = functions_features.frame_count(segment.size)
        left, right = EDGE_FRAMES, functions_features.padded_frames_from(segment.size)
        if right - left < 1:  # too short to share anything: the window on its own
            return functions_features.compute_features(segment)
        first = first_sample // functions_audio.HOP_LENGTH
        own = functions_features.frame_features
        frames = functions_features.Frames.join(
            functions_features.Frames.join(own(segment, 0, left), self._frames(first + left, right - left)),
            own(segment, right, count - right))
        return functions_features.features_from_frames(frames)

    def _frames(self, first: int, count: int) -> functions_features.Frames:
        Frames = functions_features.Frames
        if self.cached is None or not self.first <= first <= self.first + len(self.cached):
            self.cached, self.first = functions_features.frame_features(self.y, first, count), first
        else:
            kept = self.cached[first - self.first:]
            missing = first + count - (first + len(kept))
            if missing > 0:
                kept = Frames.join(kept, functions_features.frame_features(self.y, first + len(kept), missing))
            self.cached, self.first = kept, first
        return self.cached[:count]


def musicnn_patches_per_window(windows: int, settings: AnalysisSettings) -> int | None:
    """How many musicnn patches each of ``windows`` windows gets: None for every patch (one every ~1 s)."""
    if settings.musicnn_patches is None:
        return None
    share = settings.musicnn_patches // max(windows, 1)
    return None if share >= MUSICNN_DENSE_FROM else max(share, 1)


class WindowFeatures:
    """The feature row (ALL_FEATURE_COLUMNS order) of each window of one song, computing only the parts the
    model reads: the classic features (``classic(start_s)``) and/or the musicnn tag statistics of the window's
    samples (``samples(start_s)``), whose patches also add to the song's mean taggram (``tag_means``)."""

    def __init__(self, classic: Callable[[float], np.ndarray] | None, samples: Callable[[float], np.ndarray],
                 network: Any, patches: int | None) -> None:
        self.classic, self.samples, self.network, self.patches = classic, samples, network, patches
        self._tags: list[np.ndarray] = []  # each analysed window's taggram (patches x 50)

    def __call__(self, start_s: float) -> np.ndarray:
        row = np.full(len(functions_audio.ALL_FEATURE_COLUMNS), np.nan)
        n_classic = len(functions_audio.CLASSIC_COLUMNS)
        if self.classic is not None:
            row[:n_classic] = self.classic(start_s)
        if self.network is not None:
            import functions_musicnn

            segment = self.samples(start_s)
            functions_features.check_clip(segment)
            taggram = functions_musicnn.window_taggram(segment, self.patches, self.network)
            row[n_classic:] = taggram.features(0 if self.patches is None else SPARSE_STD_DDOF)
            self._tags.append(taggram.tags)
        return row

    def tag_means(self) -> np.ndarray | None:
        """The mean tag probabilities over every analysed patch of the song (None if the network did not run)."""
        return np.concatenate(self._tags).mean(axis=0, dtype=np.float64) if self._tags else None


@dataclass
class SongNovelty:
    """The 0..1 novelty and known flag of each window and of the song (empty lists and None: no novelty score)."""

    window_values: list[float] = field(default_factory=list)
    window_known: list[bool] = field(default_factory=list)
    song: float | None = None
    song_known: bool | None = None
    not_music: bool | None = None  # most windows a steady sound (functions_novelty.not_music)

    @classmethod
    def of_rows(cls, scorer: Any, rows: np.ndarray) -> SongNovelty:
        """The novelty of a song's windows (``rows``: one row of the model's columns per window) and of the song:
        unknown when more than half of its windows are (functions_novelty.song_score). Empty without a scorer."""
        if scorer is None:
            return cls()
        import functions_novelty

        raw = functions_novelty.raw_scores(scorer, rows)
        song = functions_novelty.song_score(raw)
        return cls([float(v) for v in functions_novelty.novelty_values(scorer, raw)],
                   [not bool(u) for u in functions_novelty.is_unknown(scorer, raw)],
                   float(functions_novelty.novelty_values(scorer, song)),
                   not bool(functions_novelty.is_unknown(scorer, song)),
                   functions_novelty.song_not_music(functions_novelty.not_music(scorer, rows)))

    def windows(self, count: int) -> tuple[list[float | None], list[bool | None]]:
        """Per window: (novelty values, known flags), Nones where the model has no novelty score."""
        if self.song is None:
            return [None] * count, [None] * count
        return list(self.window_values), list(self.window_known)


class WindowAnalyser:
    """Loads a classifier once and classifies a song's samples window by window with it.

    The model's feature columns say what is computed per window: the 91 classic features, the 100 musicnn tag
    statistics (the pre-trained network, functions_musicnn), or both.
    """

    def __init__(self, classifier: Any, settings: AnalysisSettings = AnalysisSettings(),
                 musicnn_weights: str | None = None) -> None:
        from functions_parallel import reuse_freed_memory

        reuse_freed_memory()  # songs' arrays are large: the next song reuses the memory of the last
        self.classifier = classifier
        self.settings = settings
        self.genres = list(classifier.genres)
        columns = functions_audio.ALL_FEATURE_COLUMNS
        classifier.check_columns(columns)  # raises ModelLoadError naming missing ones
        check_extraction_settings(classifier)
        self._column_index = np.array([columns.index(c) for c in classifier.feature_columns], dtype=np.intp)
        self.needs_classic = bool(set(classifier.feature_columns) & set(functions_audio.CLASSIC_COLUMNS))
        self.musicnn = None  # the network, loaded when the model reads its features
        self.musicnn_weights: str | None = None  # the file it was loaded from
        if set(classifier.feature_columns) & set(functions_audio.MUSICNN_COLUMNS):
            import functions_musicnn
            import functions_musicnn_weights
            import functions_nn

            try:
                self.musicnn = functions_musicnn.load_network(weights=musicnn_weights)
                self.musicnn_weights = musicnn_weights or str(functions_musicnn_weights.weights_path().resolve())
            except functions_musicnn_weights.MusicnnUnavailable as exc:
                raise functions_nn.ModelLoadError(
                    f"{getattr(classifier, 'model_dir', 'model')}: reads musicnn features, but {exc}") from None

    def window_settings(self) -> AnalysisSettings:
        """The settings windows are planned with: fewer windows for the musicnn network's patch budget."""
        if self.musicnn is None or self.settings.musicnn_patches is None:
            return self.settings
        most = max(1, self.settings.musicnn_patches // MUSICNN_MIN_PATCHES)
        return replace(self.settings, max_windows=min(self.settings.max_windows, most))

    @classmethod
    def from_model_dir(cls, model_dir: str | os.PathLike[str] | None = None,
                       settings: AnalysisSettings = AnalysisSettings()) -> Self:
        """Load the model of ``model_dir`` (default: the shipped pretrained model) with the NumPy loader."""
        import functions_nn

        folder = Path(model_dir) if model_dir is not None else functions_audio.PRETRAINED_MODEL_DIR
        return cls(functions_nn.load_classifier(folder), settings)

    def _window_features(self, classic: Callable[[float], np.ndarray], samples: Callable[[float], np.ndarray],
                         windows: int) -> WindowFeatures:
        """The feature rows of a song's ``windows`` windows: classic features if the model reads them, the
        musicnn network's share of the song's patch budget if it reads those."""
        return WindowFeatures(classic if self.needs_classic else None, samples, self.musicnn,
                              musicnn_patches_per_window(windows, self.settings))

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

    # -- a song's samples ----------------------------------------------------------------------------------
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
        starts = plan_windows(y.size / sr, self.window_settings())
        window = int(round(self.settings.window_s * sr))

        def samples(start_s: float) -> np.ndarray:
            first = window_first_sample(start_s)
            return y[first:first + window]

        def own_features(start_s: float) -> np.ndarray:
            return functions_features.compute_features(samples(start_s))

        classic = SongFrames(y, window).features if self.settings.shared_frames else own_features
        features = self._window_features(classic, samples, len(starts))
        return self._analyse_windows(starts, features, source=source, title=title,
                                     duration_s=full_duration_s, offset_s=start / sr,
                                     progress=progress, cancel=cancel)

    def _analyse_windows(self, starts: list[float], features: WindowFeatures, *, source: str,
                         title: str | None, duration_s: float, offset_s: float,
                         progress: ProgressCallback | None, cancel: threading.Event | None) -> SongResult:
        rows: list[np.ndarray] = []
        kept: list[float] = []
        problems: list[str] = []
        for number, start_s in enumerate(starts, 1):
            check_cancel(cancel)
            report_progress(progress, "analyse", (number - 1) / len(starts),
                    f"analysing window {number}/{len(starts)}")
            try:
                rows.append(features(start_s))
                kept.append(start_s)
            except functions_audio.AudioError as exc:  # e.g. a silent stretch inside the song
                problems.append(f"window at {format_seconds(start_s)}: {exc}")
        check_cancel(cancel)
        if not rows:
            raise AnalysisError(problems[0] if len(problems) == 1 else f"no usable window ({problems[0]})")
        matrix = np.vstack(rows)
        per_window = self._probabilities(matrix)
        mean = per_window.mean(axis=0)
        novelty = SongNovelty.of_rows(getattr(self.classifier, "novelty", None), matrix[:, self._column_index])
        windows = [WindowResult(start_s=round(offset_s + s, 3), genre=self.genres[int(np.argmax(p))],
                                probabilities=self._as_dict(p), novelty=value, known=known)
                   for s, p, value, known in zip(kept, per_window, *novelty.windows(len(kept)), strict=True)]
        report_progress(progress, "done", 1.0, "done")
        threshold = getattr(self.classifier, "uncertain_threshold", None)
        return SongResult(input=source, title=title, duration_s=duration_s, genre=self.genres[int(np.argmax(mean))],
                          probabilities=self._as_dict(mean), windows=windows,
                          uncertain=threshold is not None and float(mean.max()) < threshold,
                          tag_means=features.tag_means(), novelty=novelty.song, known=novelty.song_known,
                          not_music=novelty.not_music)


class SongAnalyser(WindowAnalyser):
    """Classifies songs from where they are: a file (decoded whole, or window by window when it is long or its
    header has no length) or an input of 03 and 04 (a file, an http(s) URL, a ``ytsearch1:`` query), with the
    model a ``WindowAnalyser`` loads once (used by the CLI and the GUI)."""

    def analyse_file(self, path: str | os.PathLike[str], *, title: str | None = None,
                     source: str | None = None, progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> SongResult:
        """Classify a local audio file: whole-file decoding, or window by window for long files.

        A file whose header gives a length up to LOAD_WHOLE_LIMIT_S is read whole. Any other (long, or a format
        without a frame count such as M4A or WebM) is decoded once chunk by chunk (``scan_song``) for its length
        and silence, keeping the samples only while it is short, then read window by window: memory never
        holds more than LOAD_WHOLE_LIMIT_S of audio, and only a chunk for a file known to be longer.
        """
        path = Path(path)
        source = source if source is not None else str(path)
        title = title if title is not None else path.stem
        result = self._analyse_decoded(path, source, title, progress, cancel)
        return noted_if_cut_short(result, functions_audio.declared_length(path))

    def _analyse_decoded(self, path: Path, source: str, title: str, progress: ProgressCallback | None,
                         cancel: threading.Event | None) -> SongResult:
        """``analyse_file`` but the cut-short note: the file read whole, or scanned and read window by window."""
        report_progress(progress, "analyse", None, "reading the audio")
        duration = functions_audio.header_duration(path)
        if duration is not None and duration <= LOAD_WHOLE_LIMIT_S:
            y = functions_audio.load_audio(path, max_seconds=None)
            check_cancel(cancel)
            return self.analyse_samples(y, source=source, title=title, progress=progress, cancel=cancel)
        if duration is None:
            duration = functions_audio.probe_duration(path)  # the container's word, an estimate for some formats
        keep_s = 0.0 if duration is not None and duration > LOAD_WHOLE_LIMIT_S * 1.05 else LOAD_WHOLE_LIMIT_S
        scan = scan_song(path, keep_s, progress, cancel)
        if scan.samples is not None:
            return self.analyse_samples(scan.samples, source=source, title=title, progress=progress, cancel=cancel)
        return self._analyse_long_file(path, scan, source=source, title=title, progress=progress, cancel=cancel)

    def _analyse_long_file(self, path: Path, scan: SongScan, *, source: str, title: str,
                           progress: ProgressCallback | None, cancel: threading.Event | None) -> SongResult:
        """Read only the windows that are analysed, placed in the song trimmed like a short one."""
        sr = functions_audio.SAMPLE_RATE
        start, end = trim_from_energy(scan.energy, scan.n_samples)
        if end <= start:
            raise AnalysisError("silent (no signal above the silence threshold)")
        lead_s, trimmed = start / sr, (end - start) / sr
        starts = plan_windows(trimmed, self.window_settings())

        window = int(round(self.settings.window_s * sr))
        loaded: dict[float, np.ndarray] = {}

        def samples(start_s: float) -> np.ndarray:
            """The window's own samples, on the same frame grid and cut at the same end as ``analyse_samples``."""
            if start_s not in loaded:
                loaded.clear()  # one window in memory at a time
                first = start + window_first_sample(start_s)
                length = min(window, end - first)
                loaded[start_s] = functions_audio.load_audio(path, max_seconds=length / sr,
                                                             offset_s=first / sr)[:length]
            return loaded[start_s]

        def classic(start_s: float) -> np.ndarray:
            return functions_features.compute_features(samples(start_s))

        features = self._window_features(classic, samples, len(starts))
        return self._analyse_windows(starts, features, source=source, title=title, duration_s=scan.n_samples / sr,
                                     offset_s=lead_s, progress=progress, cancel=cancel)

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
