"""Labelled collections: scanning a dataset folder, and 00's extraction runner.

A dataset is a folder with one sub-folder per genre; every audio file below a genre folder is a clip of that
genre (`scan_dataset`). `extract_dataset` writes the features of every clip to a CSV: in parallel (local
processes or a Dask cluster), resumable after a crash or Ctrl-C, and listing unusable files in an errors CSV.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from functions_audio import (
    AUDIO_EXTENSIONS,
    CLIP_SECONDS,
    EXTRACTION_SETTINGS,
    FEATURE_SETS,
    ID_COLUMNS,
    MUSICNN_SETTINGS,
    AudioError,
    load_audio,
)
from functions_features import EXTRACTOR_VERSION, compute_features, format_feature
from functions_parallel import describe_error


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
    artist: str | None = None  # labels from tags (00 --labels tags): the artist tag, "" if none


@dataclass(frozen=True)
class SkippedItem:
    """A file or folder that could not be used, with a one-line reason."""

    file: str
    error: str


def is_audio_file(path: Path) -> bool:
    """An audio file by its suffix; hidden files (macOS '._x.wav' resource forks, ...) are not audio."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def iter_audio_files(folder: Path, problems: list[SkippedItem] | None = None, root: Path | None = None,
                     seen: set[tuple[int, int]] | None = None, files_once: bool = True) -> Iterator[Path]:
    """Audio files below `folder`, recursively, sorted (a folder's files, then its sub-folders).

    Links are followed, without loops or duplicates: a link that leads back inside `root` (default `folder`) is
    skipped, since the walk reaches its target by its real path (a link to `..` makes no loop, a linked clip is
    not counted twice); a link that leads outside is followed, and a file or folder reached twice (hard links,
    two links to one place) is given once, also across calls sharing `seen` (device and inode numbers). Hidden
    sub-folders (".Trash", ".git", ...) are not searched, and unreadable ones go to `problems`. With
    `files_once=False` only folders are kept to one visit: every path of a file is given (03's library scan
    classifies such a file once and says which paths it reached it by).
    """
    root = root or folder
    real_root = os.path.realpath(root)
    seen = set() if seen is None else seen

    def report(error: OSError) -> None:
        if problems is not None:
            name = Path(error.filename).resolve() if error.filename else folder
            where = name.relative_to(root).as_posix() if name.is_relative_to(root) else str(name)
            problems.append(SkippedItem(shown_name(where) + "/", f"unreadable folder ({error.strerror or error})"))

    def first_time(path: str | Path) -> bool:
        try:
            status = os.stat(path)
        except OSError:  # a broken link: the reader reports it
            return True
        key = (status.st_dev, status.st_ino)
        if key in seen:
            return False
        seen.add(key)
        return True

    def leads_inside(entry: os.DirEntry) -> bool:
        return entry.is_symlink() and os.path.commonpath([os.path.realpath(entry.path), real_root]) == real_root

    def walk(directory: str | Path) -> Iterator[Path]:
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            report(error)
            return
        folders = []
        for entry in entries:
            if entry.is_dir():
                if not entry.name.startswith(".") and not leads_inside(entry):
                    folders.append(entry.path)
            elif is_audio_file(Path(entry.path)) and (
                    not files_once or (not leads_inside(entry) and first_time(entry.path))):
                yield Path(entry.path)
        for path in folders:
            if first_time(path):
                yield from walk(path)

    if first_time(folder):
        yield from walk(folder)


def scan_dataset(dataset_dir: str | Path) -> tuple[list[Clip], list[SkippedItem]]:
    """Every audio file below `dataset_dir`, labelled by its top-level sub-folder (the genre).

    Raises DatasetError when the folder is missing or holds no audio at all; unreadable folders and genre
    folders without audio are returned as skipped items, so that the rest of the collection still runs. Links
    are followed without loops, and a file reached twice is one clip (`iter_audio_files`); a top-level link to
    a folder of the dataset is not a genre of its own (skipped: its clips keep the genre of their real folder).
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
    for link in [d for d in genre_dirs if d.is_symlink() and d.resolve().is_relative_to(root)]:
        genre_dirs.remove(link)  # another name for a folder of the dataset: its clips keep their real genre
        target = link.resolve().relative_to(root).as_posix()
        skipped.append(SkippedItem(link.name + "/", f"link to {target}/ in the dataset: its clips count there once"))
    seen: set[tuple[int, int]] = set()  # a file reached from two genre folders is one clip, of the first
    for genre_dir in genre_dirs:
        found = [Clip(path.relative_to(root).as_posix(), genre_dir.name, path)
                 for path in iter_audio_files(genre_dir, skipped, root, seen)]
        if not found and not any(item.file.startswith(genre_dir.name + "/") for item in skipped):
            skipped.append(SkippedItem(shown_name(genre_dir.name) + "/", "genre folder holds no audio files"))
        clips.extend(found)
    if not clips:
        raise DatasetError(
            f"no audio files in {dataset_dir}: expected one sub-folder per genre holding audio files "
            f"({', '.join(sorted(AUDIO_EXTENSIONS))})")
    return clips, skipped


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
    rows_set_aside: int = 0  # rows an earlier run made with other settings, moved to `set_aside_csv`
    rows_of_changed_files: int = 0  # rows whose file changed since (its stamp): extracted again
    stamps_problem: str = ""  # FEATURES.stamps.csv could not be read ("unreadable", "empty"): rows extracted again
    rows_unchecked: int = 0  # rows kept from a run before stamps, their files not checked (older than the CSV)
    settings_change: str = ""  # how those settings differ, e.g. "max_seconds 3.0 -> 30.0"
    set_aside_csv: Path | None = None
    skipped: list[SkippedItem] = field(default_factory=list)
    seconds: float = 0.0


def errors_csv_for(output_csv: Path) -> Path:
    """FEATURES.csv -> FEATURES.errors.csv, beside it."""
    return output_csv.with_name(output_csv.stem + ".errors.csv")


def settings_json_for(output_csv: Path) -> Path:
    """FEATURES.csv -> FEATURES.settings.json, beside it: what its rows were made with."""
    return output_csv.with_name(output_csv.stem + ".settings.json")


NOT_UTF8 = "its name is not valid UTF-8 text (bytes of another encoding): rename it"


def shown_name(name: str) -> str:
    """``name`` as it can be written into the UTF-8 CSVs and printed: bytes of a file name that are not UTF-8
    (Python holds them as surrogates) as U+FFFD; any other name as it is."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


DEFAULT_FEATURE_SET = "all"


ARTIST_COLUMN = "artist"


def csv_columns(feature_set: str = DEFAULT_FEATURE_SET, artist: bool = False) -> tuple[str, ...]:
    """The header of a features CSV of ``feature_set`` ("classic", "musicnn" or "all"): file, genre, then (labels
    from tags only) artist, then the features. 01/02 pick their columns by name, so the artist column is
    only one more column to them."""
    return ID_COLUMNS + (ARTIST_COLUMN,) * artist + FEATURE_SETS[feature_set]


def extraction_record(max_seconds: float | None, feature_set: str = DEFAULT_FEATURE_SET) -> dict:
    """What a features row depends on besides the audio: the feature set, the extractors' versions and settings,
    --max-seconds."""
    import json

    record: dict = {"feature_set": feature_set, "max_seconds": max_seconds}
    if feature_set in ("classic", "all"):
        record.update(extractor_version=EXTRACTOR_VERSION, extraction_settings=EXTRACTION_SETTINGS)
    if feature_set in ("musicnn", "all"):
        record.update(musicnn_extraction=MUSICNN_SETTINGS)
    return json.loads(json.dumps(record))  # as it reads back from the file


DATASET_KEY = "dataset"  # the settings record's folder of the clips: rows of another folder are not reused


def settings_change(output_csv: Path, record: dict) -> str | None:
    """None when the rows of `output_csv` were made with `record`, else how they were made otherwise."""
    import json

    try:
        earlier = json.loads(settings_json_for(output_csv).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = None
    if not isinstance(earlier, dict):
        return f"no {settings_json_for(output_csv).name} beside it: rows of an older extractor"

    def flat(settings: dict) -> dict:  # the labels' genres and spellings are no setting of the features
        return {k: v for key, value in settings.items() if key not in ("genres", "set_aside", "min_songs", "genre_map")
                for k, v in (value.items() if isinstance(value, dict) else [(key, value)])}

    before, now = flat(earlier), flat(record)
    if DATASET_KEY not in before:  # a record of a version that did not name its folder: nothing to compare
        now.pop(DATASET_KEY, None)
    changes = [f"{key} {before.get(key)} -> {now.get(key)}" for key in {**before, **now}
               if before.get(key) != now.get(key)]
    return ", ".join(changes) or None


def _set_aside(output_csv: Path) -> Path:
    """Move a features CSV (and its settings record) to FEATURES.previous.csv, or FEATURES.previous-2.csv, -3,
    ... where earlier ones are (one set aside never replaces another); returns the new path."""
    previous, number = output_csv.with_name(output_csv.stem + ".previous.csv"), 1
    while previous.exists() or settings_json_for(previous).exists():
        number += 1
        previous = output_csv.with_name(f"{output_csv.stem}.previous-{number}.csv")
    os.replace(output_csv, previous)
    from functions_stamps import stamps_csv_for

    for beside in (settings_json_for, stamps_csv_for):  # its record and its files' stamps go with it
        if beside(output_csv).exists():
            os.replace(beside(output_csv), beside(previous))
    return previous


def _csv_line(fields: Sequence[str]) -> str:
    """One CSV line, as Python's csv module writes it, but a field holding a carriage return is quoted too (csv
    leaves it bare, and then reads the line as two: a file name may hold one)."""
    def field(value: str) -> str:
        if any(c in value for c in ',"\n\r'):
            return '"' + value.replace('"', '""') + '"'
        return value
    return ",".join(field("" if value is None else str(value)) for value in fields) + "\n"


def _read_finished_rows(output_csv: Path, columns: tuple[str, ...]) -> dict[str, str]:
    """Complete rows of an earlier (possibly killed) run, keyed by `file`, as their text (``_csv_line``'s).

    A last row cut short by a kill has too few fields or no newline and is dropped, to be extracted again. A row
    is a CSV record: a file name may hold a line break (quoted); a stray quote costs at most RECORD_LINES lines.
    """
    if not output_csv.exists() or output_csv.stat().st_size == 0:
        return {}
    try:
        with open(output_csv, newline="", encoding="utf-8") as stream:
            records = list(_csv_records(stream))
    except UnicodeDecodeError:
        raise DatasetError(f"{output_csv} exists but is not a features CSV (not text); choose another -o") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {output_csv}: {exc.strerror or exc}; choose another -o") from None
    header = records[0][0] if records else []
    if tuple(header) != columns:
        with_artist = ARTIST_COLUMN in columns
        known = [name for name in FEATURE_SETS if tuple(header) == csv_columns(name, with_artist)]
        if known:
            raise DatasetError(f"{output_csv} holds the '{known[0]}' features, not these: give --features "
                               f"{known[0]}, --overwrite to replace it, or another -o")
        other = [name for name in FEATURE_SETS if tuple(header) == csv_columns(name, not with_artist)]
        if other:
            made, give = ("folders", "folders") if with_artist else ("tags", "tags")
            raise DatasetError(f"{output_csv} holds rows labelled by {'genre tags' if made == 'tags' else 'folder'}"
                               f": give --labels {give}, --overwrite to replace it, or another -o")
        raise DatasetError(f"{output_csv} exists but is not a features CSV of this project (other columns); "
                           f"use --overwrite to replace it or choose another -o")
    return {fields[0]: text for fields, text in records[1:] if len(fields) == len(columns)}


RECORD_LINES = 8  # a record (a row and its quoted line breaks) spans at most this many lines


def _csv_records(stream: Iterator[str]) -> Iterator[tuple[list[str], str]]:
    """(fields, text) of each complete CSV record of a text stream opened with newline="", one at a time. A record
    with no newline at its end (a kill's cut) is left out; an opening quote with no closing one within
    RECORD_LINES lines is damage: its first line is left out, and the lines after it are read again."""
    import csv
    from collections import deque

    pending: list[str] = []
    lines: deque[str] = deque()
    stream_lines = iter(stream)
    while True:
        line = next(stream_lines, None)
        if line is None and pending:  # the end, inside a quoted field: a stray quote (or a kill's cut)
            lines.extend(pending[1:])
            pending = []
        elif line is None and not lines:
            return
        elif line is not None:
            lines.append(line)
        while lines:
            pending.append(lines.popleft())
            text = "".join(pending)
            if text.count('"') % 2 == 0:  # not inside a quoted field: one whole record
                pending = []
                if text.endswith("\n"):
                    yield next(csv.reader([text]), []), text
            elif len(pending) >= RECORD_LINES:  # a stray quote: drop its line, read the others again
                lines.extendleft(reversed(pending[1:]))
                pending = []


def _write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file beside it, renamed over it; an OSError names ``path`` and
    leaves no temporary file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OSError(error.errno, error.strerror, str(path)) from error


def clip_feature_values(path: str, max_seconds: float | None, feature_set: str = DEFAULT_FEATURE_SET,
                        musicnn_weights: str | None = None) -> list[float]:
    """The values of FEATURE_SETS[feature_set] for one file: the classic features and/or the musicnn tag
    statistics (the file decoded once). A clip shorter than a musicnn patch (3 s) is repeat-padded for the
    network, as musicnn's training padded short clips; one under MIN_SECONDS is refused. AudioError otherwise."""
    from functions_features import check_clip

    y = load_audio(path, max_seconds=max_seconds)
    check_clip(y)
    values: list[float] = []
    if feature_set in ("classic", "all"):
        values += list(compute_features(y))
    if feature_set in ("musicnn", "all"):
        import functions_musicnn

        network = functions_musicnn.load_network(weights=musicnn_weights)
        values += list(functions_musicnn.clip_features(y, network=network))
    return values


def extract_row_fields(path: str, max_seconds: float | None, feature_set: str = DEFAULT_FEATURE_SET,
                       musicnn_weights: str | None = None) -> tuple[list[str] | None, str | None]:
    """(formatted feature values, None) or (None, one-line reason). Never raises: runs in worker processes."""
    try:
        values = clip_feature_values(path, max_seconds, feature_set, musicnn_weights)
        return [format_feature(value) for value in values], None
    except AudioError as error:
        return None, str(error)
    except MemoryError:
        return None, "out of memory while decoding (lower --max-seconds)"
    except Exception as error:  # a decoder's own exception: report it in one line and go on
        return None, f"cannot process ({describe_error(error)})"


def _results_local(clips: Sequence[Clip], max_seconds: float | None, workers: int, feature_set: str,
                   musicnn_weights: str | None) -> Iterator[tuple[Clip, tuple[list[str] | None, str | None]]]:
    if workers <= 1:
        for clip in clips:
            yield clip, extract_row_fields(str(clip.path), max_seconds, feature_set, musicnn_weights)
        return
    from functools import partial

    from functions_parallel import TaskFailed, limit_worker_threads, run_in_workers

    extract = partial(extract_row_fields, max_seconds=max_seconds, feature_set=feature_set,
                      musicnn_weights=musicnn_weights)
    paths = [str(clip.path) for clip in clips]
    for index, outcome in run_in_workers(extract, paths, workers, initializer=limit_worker_threads):
        yield clips[index], (None, outcome.error) if isinstance(outcome, TaskFailed) else outcome


# What extract_row_fields imports on a Dask worker, checked there before it runs (without soundfile every clip
# would quietly go to ffmpeg, whose resampler is not soxr's).
DASK_PACKAGES = ("numpy", "soundfile", "soxr", "imageio_ffmpeg")


def extract_row_fields_on_worker(path: str, max_seconds: float | None, feature_set: str = DEFAULT_FEATURE_SET,
                                 musicnn_weights: str | None = None) -> tuple[list[str] | None, str | None]:
    """extract_row_fields on a Dask worker; a clip the worker cannot open says that it is the worker's view."""
    values, error = extract_row_fields(path, max_seconds, feature_set, musicnn_weights)
    if values is None and not os.access(path, os.R_OK):
        error = f"{error} on the Dask worker (workers must read the audio files at the same paths)"
    return values, error


def _results_dask(clips: Sequence[Clip], max_seconds: float | None, scheduler: str, feature_set: str,
                  musicnn_weights: str | None) -> Iterator[tuple[Clip, tuple[list[str] | None, str | None]]]:
    from distributed import KilledWorker

    import functions_audio
    import functions_features
    import functions_musicnn
    import functions_musicnn_weights
    from functions_parallel import connect_dask

    # Workers import the modules a task needs, in dependency order, whatever their working folder; they read
    # the musicnn weights at the path this machine has them (like the audio files).
    modules = [functions_audio, functions_features, functions_musicnn_weights, functions_musicnn,
               sys.modules[__name__]]
    with connect_dask(scheduler, modules, DatasetError, DASK_PACKAGES) as cluster:
        futures = {cluster.submit(extract_row_fields_on_worker, str(clip.path), max_seconds, feature_set,
                                  musicnn_weights): clip
                   for clip in clips}
        for clip, result, failure in cluster.finished(futures):
            if isinstance(failure, KilledWorker):  # a worker died under this clip, again and again: skip it
                result = None, (f"killed the Dask worker reading it ({failure.allowed_failures + 1}x in a row: "
                                f"out of memory, or a crashing decoder?)")
            elif failure is not None:
                result = None, f"failed on the Dask worker ({describe_error(failure)})"
            yield clip, result


def extract_dataset(dataset_dir: str | Path, output_csv: str | Path, workers: int | None = None,
                    scheduler: str | None = None, max_seconds: float | None = CLIP_SECONDS,
                    overwrite: bool = False, progress: bool = True,
                    on_skip: Callable[[SkippedItem], None] | None = None,
                    feature_set: str = DEFAULT_FEATURE_SET,
                    labelled: tuple[list[Clip], list[SkippedItem], dict] | None = None,
                    stream_of: Callable[[Path], str] | None = None) -> ExtractionReport:
    """Write the ``feature_set`` features of every clip of `dataset_dir` to `output_csv` (`csv_columns`).

    Rows are appended as clips finish; clips already in `output_csv` (an earlier, interrupted run) are not
    extracted again, provided they were made with the same extractor version and settings (recorded in
    `settings_json_for(output_csv)`) from the same folder; rows made otherwise, or of another folder, are set aside
    as FEATURES.previous.csv (-2, -3, ... beside earlier ones) and extracted again. A row whose file changed since
    it was made (functions_stamps: its size or modification time; with ``stream_of``, e.g.
    functions_tags.stream_stamp, its audio, so that editing tags costs no extraction) is extracted again too (a
    run before stamps: its rows are kept, but those of files modified after its CSV). At the end the file is
    rewritten sorted by `file`, so the result does not depend on the order in which workers finished. Files
    that cannot be used are reported through `on_skip` and listed in `errors_csv_for(output_csv)`. Work runs on
    local processes, or on a Dask cluster given by `scheduler`.

    ``labelled`` (labels from tags, functions_labels): (clips with their artist, skipped items, labels record)
    instead of scanning genre folders; the CSV then has an artist column, the labels record goes into the
    settings JSON, and rows of an earlier run whose song was tagged otherwise since keep their features under
    the new genre and artist.
    """
    import csv
    import json
    import time
    from contextlib import closing

    from tqdm import tqdm

    import functions_stamps

    started = time.perf_counter()
    output_csv = Path(output_csv)
    errors_csv = errors_csv_for(output_csv)
    columns = csv_columns(feature_set)
    musicnn_weights = None
    if feature_set in ("musicnn", "all"):  # before any work: one line if the network cannot be had
        import functions_musicnn
        import functions_musicnn_weights

        try:
            functions_musicnn.load_network()  # converted from the wheel first where needed
            musicnn_weights = str(functions_musicnn_weights.weights_path().resolve())
        except functions_musicnn_weights.MusicnnUnavailable as error:
            raise DatasetError(str(error)) from None
    if labelled is None:
        clips, skipped = scan_dataset(dataset_dir)
        record = extraction_record(max_seconds, feature_set)
    else:
        clips, skipped = list(labelled[0]), list(labelled[1])
        record = {**extraction_record(max_seconds, feature_set), **json.loads(json.dumps(labelled[2]))}
        columns = csv_columns(feature_set, artist=True)
    # rows are reused by file name within the same folder only: another collection's blues/song0.wav is not this
    record[DATASET_KEY] = os.path.realpath(dataset_dir)

    def id_fields(clip: Clip) -> list[str]:
        return [clip.file, clip.genre] + ([clip.artist or ""] if labelled is not None else [])

    finished = {} if overwrite else _read_finished_rows(output_csv, columns)
    report = ExtractionReport(output_csv, errors_csv, len(clips))
    stamps_csv = functions_stamps.stamps_csv_for(output_csv)
    for clip in [clip for clip in clips if shown_name(clip.file) != clip.file]:  # the CSVs are UTF-8 text
        clips.remove(clip)
        skipped.append(SkippedItem(shown_name(clip.file), NOT_UTF8))
    report.clips_total = len(clips)
    stamps = functions_stamps.FileStamps({clip.file: clip.path for clip in clips}, stream_of)  # before any audio
    change = settings_change(output_csv, record) if finished else None
    try:
        if change:
            report.rows_set_aside, report.settings_change = len(finished), change
            report.set_aside_csv, finished = _set_aside(output_csv), {}
        wanted = {clip.file for clip in clips}
        report.stale_rows_dropped = sum(1 for file in finished if file not in wanted)
        finished = {file: line for file, line in finished.items() if file in wanted}
        earlier, report.stamps_problem = functions_stamps.read_stamps(stamps_csv) if finished else (None, "")
        changed = stamps.changed(list(finished), earlier, output_csv.stat().st_mtime_ns if finished else 0)
        report.rows_of_changed_files, report.rows_unchecked = len(changed), stamps.unchecked
        for file in changed:
            del finished[file]
        if labelled is not None:  # a song tagged otherwise since: same features, its new genre and artist
            by_file = {clip.file: clip for clip in clips}
            for file, line in finished.items():
                fields = next(csv.reader([line]))
                if fields[:3] != id_fields(by_file[file]):
                    finished[file] = _csv_line(id_fields(by_file[file]) + fields[3:])
        report.rows_from_earlier_run = len(finished)
        output_csv.parent.mkdir(parents=True, exist_ok=True)
        # the stamps first: if they cannot be written, the rows are still all there
        _write_atomically(stamps_csv, _csv_line(functions_stamps.HEADER)
                          + "".join(_csv_line([file, stamps.kept[file]]) for file in finished))
        _write_atomically(output_csv, _csv_line(columns) + "".join(finished.values()))
        _write_atomically(settings_json_for(output_csv), json.dumps(record, indent=2) + "\n")  # after the rows
        _write_atomically(errors_csv, _csv_line(["file", "error"]))
    except OSError as error:
        beside = error.filename and Path(error.filename).parent == output_csv.parent  # the stamps, the errors...
        raise DatasetError(f"cannot write {error.filename if beside else output_csv}: {error.strerror or error}") \
            from error

    def skip(item: SkippedItem, errors_out) -> None:
        item = SkippedItem(shown_name(item.file), shown_name(item.error))  # e.g. a folder's name that is not UTF-8
        report.skipped.append(item)
        errors_out.write(_csv_line([item.file, item.error]))
        errors_out.flush()
        if on_skip:
            on_skip(item)

    todo = [clip for clip in clips if clip.file not in finished]
    workers = workers or os.cpu_count() or 1
    results = (_results_dask(todo, max_seconds, scheduler, feature_set, musicnn_weights) if scheduler
               else _results_local(todo, max_seconds, min(workers, max(1, len(todo))), feature_set, musicnn_weights))
    try:  # a disk that fills up, a folder removed under the run: one line, the rows written so far kept
        with closing(results), open(output_csv, "a", encoding="utf-8", newline="") as rows_out, \
                open(errors_csv, "a", encoding="utf-8", newline="") as errors_out, \
                open(stamps_csv, "a", encoding="utf-8", newline="") as stamps_out, \
                tqdm(total=len(clips), initial=len(finished), unit="clip", desc="Extracting features",
                     disable=not progress, dynamic_ncols=True) as bar:
            for item in skipped:
                skip(item, errors_out)
            for clip, (values, error) in results:
                if values is None:
                    skip(SkippedItem(clip.file, error or "unknown error"), errors_out)
                else:
                    line = _csv_line([*id_fields(clip), *values])
                    stamps_out.write(_csv_line([clip.file, stamps.made(clip.file)]))  # before its row: a row is never
                    stamps_out.flush()  # on disk without its stamp (which would make a resume extract it again)
                    rows_out.write(line)
                    rows_out.flush()  # one write per finished clip: a kill loses at most the clip in flight
                    finished[clip.file] = line
                    report.rows_extracted += 1
                bar.update(1)
        _write_atomically(output_csv, _csv_line(columns) + "".join(finished[f] for f in sorted(finished)))
        _write_atomically(stamps_csv, _csv_line(functions_stamps.HEADER)
                          + "".join(_csv_line([file, stamps.kept[file]]) for file in sorted(finished)))
    except OSError as error:
        raise DatasetError(f"cannot write {error.filename or output_csv}: {error.strerror or error}; the finished "
                           f"rows are in {output_csv}: run the same command again") from error
    report.seconds = time.perf_counter() - started
    return report
