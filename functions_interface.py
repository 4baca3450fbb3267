"""Turning what the user gave into results and text: what 03 (command line) and 04 (window) call.

What lives here, top-down: ``expand_inputs`` (folders become their audio files), the text presentation of a
result (``format_result`` with ``text_bar``, ``top_genres``, ``timeline_runs``), and running a job over many
inputs (``ModelUnavailable``, ``KerasBackedClassifier``, ``ClassificationJob``, ``classify_items`` with its
worker-process functions and ``default_workers``). Fetching lives in functions_fetch, the analysis of one
song in functions_analysis, the plots in functions_dataviz and the window of 04 in functions_window.

Start-up cost matters here (the CLI must classify a clip from a cold start in under 3 s), so this module
imports only the standard library, NumPy and the light project modules at module level: yt-dlp is imported
only when a URL is fetched, and TensorFlow only for ``--backend keras``: the model normally runs through the
NumPy forward pass of ``functions_nn.load_classifier``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import functions_audio
import functions_dataset
from functions_analysis import AnalysisSettings, SongAnalyser
from functions_fetch import Progress, ProgressCallback, format_seconds, looks_like_url
from functions_song_result import SongResult


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
            problems: list[functions_dataset.SkippedItem] = []
            # every path of a file: a library scan classifies it once and says so (functions_library.plan_scan)
            found = [str(file) for file in functions_dataset.iter_audio_files(path, problems, files_once=False)]
            items.extend((str(path / problem.file.rstrip("/")), problem.error) for problem in problems)
            if found:
                items.extend((f, None) for f in found)
            elif not problems:
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


UNKNOWN_LABEL = "unknown"  # a window or song that is not one of the model's genres (timeline, table, playlist)


def top_genres(probabilities: dict[str, float], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable genres, best first (ties in genre order)."""
    return sorted(probabilities.items(), key=lambda item: -item[1])[:max(1, k)]


def timeline_runs(result: SongResult) -> list[tuple[float, float, str]]:
    """Consecutive windows with the same top genre merged: ``(start_s, end_s, genre)``."""
    runs: list[tuple[float, float, str]] = []
    for window, (start, end) in zip(result.windows, result.window_spans(), strict=True):
        genre = UNKNOWN_LABEL if window.known is False else window.genre
        if runs and runs[-1][2] == genre:
            runs[-1] = (runs[-1][0], end, genre)
        else:
            runs.append((start, end, genre))
    return runs


def format_result(result: SongResult, top_k: int = 3, encoding: str | None = "utf-8") -> str:
    """Human-readable result: one headline, the top-K genres as a text bar chart, a one-line timeline."""
    if not result.ok:
        return f"{result.input}: ERROR: {result.error}"
    assert result.probabilities is not None and result.genre is not None
    name = result.input
    if result.title and result.title not in (Path(result.input).stem, result.input):
        name = f"{result.input} ({result.title})"
    length = f", {format_seconds(result.duration_s)}" if result.duration_s is not None else ""
    windows = f"{len(result.windows)} window{'s' if len(result.windows) != 1 else ''}"
    answer = result.answer_text()
    if result.unknown and result.tags:
        answer += f"; sounds like: {result.tags_text()}"
    lines = [f"{name}: {answer}  [{windows}{length}]"]
    if result.cut_short is not None:
        lines.append(f"    note: {result.cut_short_text()}")
    width = max(len(g) for g in result.probabilities)
    for genre, p in top_genres(result.probabilities, top_k):
        lines.append(f"    {genre:<{width}} {text_bar(p, encoding=encoding)} {p * 100:5.1f} %")
    if result.tags and not result.unknown:
        lines.append(f"    sounds like: {result.tags_text()}")
    if len(result.windows) > 1:
        runs = timeline_runs(result)
        lines.append("    timeline: " + ", ".join(f"{format_seconds(a)}-{format_seconds(b)} {g}"
                                                  for a, b, g in runs))
    return "\n".join(lines)


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
        self.uncertain_threshold = numpy_classifier.uncertain_threshold

    def check_columns(self, available: Any) -> None:
        self._numpy.check_columns(available)

    @property
    def novelty(self) -> Any:
        return self._numpy.novelty

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict(np.asarray(X, dtype=np.float32), verbose=0), dtype=np.float64)


@dataclass
class ClassificationJob:
    """Everything a (worker) process needs to classify inputs; picklable, the model is loaded by ``load``."""

    model_dir: str | None = None
    backend: str = "numpy"
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    fetch_options: dict[str, Any] = field(default_factory=dict)
    musicnn_weights: str | None = None  # where the musicnn weights are (set by the first load; Dask workers read it)
    _analyser: SongAnalyser | None = field(default=None, repr=False)

    def load(self) -> SongAnalyser:
        """Load the model once (per process); raises ModelUnavailable with a one-line reason."""
        if self._analyser is not None:
            return self._analyser
        import functions_nn
        from functions_parallel import single_blas_thread

        single_blas_thread()
        folder = Path(self.model_dir) if self.model_dir is not None else functions_audio.PRETRAINED_MODEL_DIR
        try:
            classifier = functions_nn.load_classifier(folder)
            if self.backend == "keras":
                classifier = KerasBackedClassifier(classifier, functions_nn.load_keras_model(folder))
            self._analyser = SongAnalyser(classifier, self.settings, musicnn_weights=self.musicnn_weights)
            self.musicnn_weights = self._analyser.musicnn_weights
        except functions_nn.ModelLoadError as exc:
            hint = ""
            if self.model_dir is None and not (folder / functions_nn.METADATA_FILE).is_file():
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
                   show_progress: bool = False, in_order: bool = True) -> Iterator[SongResult]:
    """Classify ``(item, error)`` pairs from ``expand_inputs``; yields one SongResult per item, in order.

    Several inputs run in ``workers`` processes (each loads the model once) with a tqdm progress bar; the
    results are still yielded in input order as soon as they are available, or (``in_order=False``, library
    scans) each as soon as it is finished. A worker process that dies (killed, out of memory) costs only the song
    it was on (an error result); Ctrl-C stops every worker at once.
    """
    import sys
    from contextlib import closing

    todo = [item for item, error in items if error is None]
    workers = default_workers(len(todo)) if workers is None else max(1, workers)
    if len(todo) <= 1 or workers == 1:
        yield from _classify_sequentially(job, items, show_progress and len(todo) > 0, sys.stderr)
        return

    from tqdm import tqdm

    from functions_parallel import TaskFailed, run_in_workers

    job.load()  # fail early in the parent; forked workers inherit the loaded model
    global _WORKER_JOB
    _WORKER_JOB = job
    positions = [i for i, (_, error) in enumerate(items) if error is None]  # todo[k] is items[positions[k]]
    done: dict[int, SongResult] = {i: SongResult(input=item, error=error)
                                   for i, (item, error) in enumerate(items) if error is not None}
    shown = 0
    if not in_order:  # the inputs that failed before classification first, then each song as it finishes
        yield from (done.pop(i) for i in sorted(done))
    outcomes = run_in_workers(_worker_classify, todo, min(workers, len(todo)), initializer=_worker_init,
                              initargs=(job,))
    with closing(outcomes), tqdm(total=len(todo), unit="song", disable=not show_progress, file=sys.stderr,
                                 dynamic_ncols=True) as bar:
        for k, outcome in outcomes:
            bar.update(1)
            result = SongResult(input=todo[k], error=outcome.error) if isinstance(outcome, TaskFailed) else outcome
            if not in_order:
                yield result
                continue
            done[positions[k]] = result
            while shown in done:
                yield done.pop(shown)
                shown += 1


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
