"""Your music library: resumable scans kept in a results file, and its CSV export.

What lives here, top-down:

* ``LibraryEntry``: what tags and playlists need of one song (its file, genre, confidence, uncertain flag);
* ``ResultsFile``: the results file of ``03 FOLDER --results FILE.jsonl``, JSON lines, one record per song as
  ``03 --json`` prints it plus ``path`` (absolute), ``size``, ``mtime_ns`` and ``model`` (which model and
  settings made it), and last the song's similarity vector when the musicnn network ran (functions_records).
  Records are appended as songs finish and flushed, the last record of a path wins, a line
  torn by a kill is ignored, and records of files that no longer exist are dropped;
* ``plan_scan``: which files are new or changed (to classify), unchanged (skipped), or the same file reached
  through a second path (classified once);
* ``scan_library``: runs a plan on local processes or a Dask cluster, appending each record as it finishes,
  and ``ScanSummary``, the line printed at the end;
* ``export_csv``: the songs as a table (the window's Export CSV…). The genre playlists made from them are
  functions_playlists'.

Genre tags are written by functions_tags. Only the standard library is imported at module level (03 starts
fast); the classification itself is functions_interface's.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import functions_records
from functions_fetch import looks_like_url
from functions_interface import ClassificationJob, classify_items
from functions_song_result import SongResult

DEFAULT_MIN_CONFIDENCE = 0.5  # tags and genre playlists: only songs whose top genre has at least this probability


class LibraryError(Exception):
    """The library run cannot go on (unusable results file, unwritable playlist folder); one line."""


# ---------------------------------------------------------------------------------------------------------
# One song of the library
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LibraryEntry:
    """What the library keeps of one song: its file as classified (path, size, mtime) and the short result."""

    path: str  # absolute path (symbolic links not resolved): the key of the results file
    title: str | None = None
    duration_s: float | None = None
    genre: str | None = None
    confidence: float = 0.0
    uncertain: bool = False
    error: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    model: str | None = None
    # the version of its similarity vector (None: it has none, or one that is not 50 finite numbers)
    embedding_version: str | None = None
    known: bool | None = None  # False: not one of the model's genres (never tagged; unknown.m3u8); None: no score

    @property
    def ok(self) -> bool:
        return self.error is None and self.genre is not None

    def is_sure(self, min_confidence: float) -> bool:
        """Sure enough to act on (tags, genre playlists): classified, one of the model's genres, not uncertain,
        confident enough."""
        return self.ok and self.known is not False and not self.uncertain and self.confidence >= min_confidence

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LibraryEntry:
        probabilities = record.get("probabilities") or {}
        genre = record.get("genre")
        return cls(path=record["path"], title=record.get("title"), duration_s=record.get("duration_s"),
                   genre=genre, confidence=_probability(probabilities.get(genre)) if genre else 0.0,
                   uncertain=bool(record.get("uncertain", False)), error=record.get("error"),
                   size=record.get("size"), mtime_ns=record.get("mtime_ns"), model=record.get("model"),
                   known=record.get("known") if isinstance(record.get("known"), bool) else None,
                   embedding_version=record.get(functions_records.VERSION_FIELD)
                   if functions_records.stored_vector(record.get(functions_records.EMBEDDING_FIELD)) is not None
                   else None)


def _probability(value: Any) -> float:
    """A record's probability as a float: 0 for null (a NaN or infinite one is written so) or anything else."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def library_path(item: str) -> str:
    """The key of a local file in the results file: its absolute path (URLs as they are)."""
    return item if looks_like_url(item) else os.path.abspath(item)


def file_state(path: str) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file (through symbolic links); raises OSError."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def model_key(job: ClassificationJob) -> str:
    """A short fingerprint of the model files and the analysis settings: results made otherwise are redone."""
    import functions_audio

    folder = Path(job.model_dir) if job.model_dir is not None else functions_audio.PRETRAINED_MODEL_DIR
    digest = hashlib.sha256(repr(job.settings).encode())
    for name in ("model.json", "weights.npz"):
        try:
            digest.update((folder / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:12]


def record_for(result: SongResult, state: tuple[int, int] | None, model: str) -> dict[str, Any]:
    """The results-file record of one song: ``03 --json``'s fields plus path, size, mtime_ns and model, and last
    its similarity vector when the musicnn network ran (functions_records.embedding_fields)."""
    size, mtime_ns = state if state is not None else (None, None)
    return {**result.to_json_dict(), "path": library_path(result.input), "size": size, "mtime_ns": mtime_ns,
            "model": model, **functions_records.embedding_fields(result)}


# ---------------------------------------------------------------------------------------------------------
# The results file
# ---------------------------------------------------------------------------------------------------------
class ResultsFile:
    """The JSON-lines results file of library scans, read, compacted and then appended to (see module doc).

    Use as a context manager: ``with ResultsFile(path) as results: results.append(record)``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lines: dict[str, bytes] = {}  # path -> its latest record, as the line written
        self.entries: dict[str, LibraryEntry] = {}
        self.dropped_lines = 0  # torn or unreadable lines
        self.vanished: list[str] = []  # records of files that no longer exist (dropped)
        self._out: Any = None
        self._lock: Any = None

    def __enter__(self) -> ResultsFile:
        self._take_lock()
        try:
            self._read()
            self._compact()
            try:
                self._out = open(self.path, "ab")
            except OSError as exc:
                raise LibraryError(f"cannot write the results file {self.path}: {exc.strerror or exc}") from None
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the file; one record per path again (a song redone this run was appended a second time)."""
        try:
            if self._out is not None:
                self._out.flush()
                os.fsync(self._out.fileno())
                self._out.close()
                self._out = None
                self._compact()
        finally:
            self._release_lock()

    def _take_lock(self) -> None:
        """One scan at a time per results file: a second one would rewrite the file under the first, and the
        records of one of them were lost without a word. A lock (``flock``) on a hidden file beside it, let go
        when the scan ends or its process dies; LibraryError (one line) while another scan holds it."""
        try:
            import fcntl
        except ImportError:  # not on this system (Windows): no lock
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        try:
            self._lock = open(lock_path, "a+b")
        except OSError:  # a folder we cannot write to: opening the results file says so
            return
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._release_lock()
            raise LibraryError(f"{self.path} is in use by another scan (03 --results); wait until it ends, or give "
                               "another --results file") from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing lets the flock go
            self._lock = None

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                written = self._read_lines(handle)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise LibraryError(f"cannot read the results file {self.path}: {exc.strerror or exc}") from None
        if written and not self.entries:
            raise LibraryError(f"{self.path} is not a results file of this program (no song record in it); "
                               "choose another --results file")

    def _read_lines(self, handle: Any) -> bool:
        """Read the records of ``handle`` line by line; returns whether anything but white space was there. A line
        longer than functions_records.LONGEST_LINE is no record: it is skipped, never held whole (the file
        was read whole, so a 300 MB line of junk took its size twice)."""
        longest, written = functions_records.LONGEST_LINE, False
        while line := handle.readline(longest + 1):
            written = written or bool(line.strip())
            if not line.endswith(b"\n"):
                self.dropped_lines += 1  # a last line without its newline was torn by a kill, or junk too long
                if len(line) <= longest:
                    break
                while (part := handle.readline(1 << 16)) and not part.endswith(b"\n"):
                    pass
                continue
            try:
                record = json.loads(line)
                if not isinstance(record["path"], str):
                    raise TypeError("a path that is no string")
                self.entries[record["path"]] = LibraryEntry.from_record(record)
            except (ValueError, KeyError, TypeError, AttributeError):
                self.dropped_lines += 1
                continue
            self.lines[record["path"]] = line
        return written

    def _compact(self) -> None:
        """Drop vanished files, torn lines and superseded records: rewrite the file atomically if any."""
        vanished = [path for path in self.entries if not looks_like_url(path) and not os.path.exists(path)]
        self.vanished += vanished
        for path in vanished:
            del self.entries[path], self.lines[path]
        written = sum(len(line) for line in self.lines.values())
        if self.path.exists() and (vanished or written != self.path.stat().st_size):
            write_atomically(self.path, b"".join(self.lines.values()))

    def append(self, record: dict[str, Any]) -> LibraryEntry:
        """Append one record and flush it: a kill after this loses nothing of it. Numbers that are NaN or infinite
        are written as null (JSON has no such numbers: Python wrote a bare NaN, which other readers refuse)."""
        record = functions_records.non_finite_as_none(record)
        line = (json.dumps(record, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")
        self._out.write(line)
        self._out.flush()
        entry = LibraryEntry.from_record(record)
        self.lines[entry.path] = line
        self.entries[entry.path] = entry
        return entry

    def record(self, path: str) -> dict[str, Any]:
        """The latest full record of ``path``."""
        return json.loads(self.lines[path])


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LibraryError(f"cannot write {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------------------
# Planning and running a scan
# ---------------------------------------------------------------------------------------------------------
@dataclass
class ScanPlan:
    """What a scan does with each input: classify it, skip it as unchanged, or skip it as a second path."""

    todo: list[tuple[str, str | None]] = field(default_factory=list)  # (item, error), as expand_inputs gives
    states: dict[str, tuple[int, int]] = field(default_factory=dict)  # library path -> (size, mtime_ns) planned
    unchanged: list[LibraryEntry] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (item, the path it duplicates)


def plan_scan(items: Iterable[tuple[str, str | None]], earlier: dict[str, LibraryEntry], model: str,
              needs_vector: bool = False) -> ScanPlan:
    """Sort ``(item, error)`` inputs into a plan. A file is unchanged when an earlier record of the same path
    has the same size, modification time and model and was classified (failures are always tried again), and,
    with ``needs_vector`` (the model runs the musicnn network), has a similarity vector of this version: older
    records without one are redone."""
    plan = ScanPlan()
    seen: dict[tuple[int, int], str] = {}
    for item, error in items:
        if error is not None or looks_like_url(item):
            plan.todo.append((item, error))
            continue
        path = library_path(item)
        try:
            info = os.stat(path)
        except OSError as exc:
            plan.todo.append((item, f"cannot read: {exc.strerror or exc}"))
            continue
        if (info.st_dev, info.st_ino) in seen:
            plan.duplicates.append((item, seen[info.st_dev, info.st_ino]))
            continue
        seen[info.st_dev, info.st_ino] = path
        state = (info.st_size, info.st_mtime_ns)
        before = earlier.get(path)
        if before is not None and before.ok and (before.size, before.mtime_ns) == state and before.model == model \
                and (not needs_vector or before.embedding_version == functions_records.EMBEDDING_VERSION):
            plan.unchanged.append(before)
        else:
            plan.states[path] = state
            plan.todo.append((item, None))
    return plan


@dataclass
class ScanSummary:
    """Counts of one library scan (vanished: records of files that no longer exist, dropped)."""

    classified: int = 0
    uncertain: int = 0
    failed: int = 0
    unchanged: int = 0
    vanished: int = 0
    duplicates: int = 0
    cut_short: int = 0  # classified on the part that could be decoded (the file is shorter than its header says)

    def line(self) -> str:
        text = (f"{self.classified} classified, {self.uncertain} uncertain, {self.failed} failed, "
                f"{self.unchanged} skipped as unchanged")
        if self.vanished:
            text += f", {self.vanished} vanished (dropped from the results)"
        if self.duplicates:
            text += f", {self.duplicates} reached twice (classified once)"
        if self.cut_short:
            text += (f", {self.cut_short} cut short (shorter than their headers say: classified on what could be "
                     f"decoded; see their notes)")
        return text


@dataclass
class ScanReport:
    """What ``scan_library`` did: the summary and every song of the scan (unchanged ones included)."""

    summary: ScanSummary
    entries: list[LibraryEntry]


def scan_library(job: ClassificationJob, items: list[tuple[str, str | None]], results: ResultsFile | None, *,
                 workers: int | None = None, scheduler: str | None = None, show_progress: bool = False,
                 on_result: Callable[[SongResult], None] | None = None,
                 on_note: Callable[[str], None] | None = None) -> ScanReport:
    """Classify the new and changed songs of ``items`` and append each record to ``results`` as it finishes.

    Unchanged songs (see ``plan_scan``) are not classified again; ``on_result`` gets each new SongResult,
    ``on_note`` one line per input that was skipped as a second path to a file already in the scan.
    """
    earlier = results.entries if results is not None else {}
    model = model_key(job)
    plan = plan_scan(items, earlier, model, needs_vector=job.load().musicnn is not None)
    summary = ScanSummary(unchanged=len(plan.unchanged), duplicates=len(plan.duplicates),
                          vanished=len(results.vanished) if results is not None else 0)
    for item, first in plan.duplicates:
        if on_note is not None:
            on_note(f"{item}: same file as {first}, classified once")
    entries = list(plan.unchanged)
    finished = (_results_dask(job, plan.todo, scheduler) if scheduler else
                classify_items(job, plan.todo, workers=workers, show_progress=show_progress, in_order=False))
    for result in finished:
        record = record_for(result, plan.states.get(library_path(result.input)), model)
        entry = results.append(record) if results is not None else LibraryEntry.from_record(record)
        entries.append(entry)
        summary.classified += entry.ok
        summary.uncertain += entry.ok and entry.uncertain
        summary.failed += not entry.ok
        summary.cut_short += result.cut_short is not None
        if on_result is not None:
            on_result(result)
    return ScanReport(summary, entries)


_DASK_JOBS: dict[str, ClassificationJob] = {}


def classify_on_worker(job: ClassificationJob, item: str) -> SongResult:
    """One song on a Dask worker; each worker process loads the model once and keeps it for the next songs."""
    kept = _DASK_JOBS.setdefault(repr(job), job)
    try:
        return kept.classify(item)
    except Exception as exc:  # one bad file must never stop the others
        return SongResult(input=item, error=f"unexpected error: {type(exc).__name__}: {exc}")


def dask_worker_modules() -> list[ModuleType]:
    """Every project module a Dask worker imports to classify a song of a scan (this module's, and the model's,
    loaded when the first song is classified), each after the project modules it imports."""
    import functions_analysis
    import functions_audio
    import functions_calibration
    import functions_candidates
    import functions_dataset
    import functions_features
    import functions_fetch
    import functions_interface
    import functions_musicnn
    import functions_musicnn_weights
    import functions_nn
    import functions_novelty
    import functions_song_result

    return [functions_audio, functions_features, functions_musicnn_weights, functions_musicnn, functions_fetch,
            functions_dataset, functions_calibration, functions_candidates, functions_novelty, functions_nn,
            functions_song_result, functions_analysis, functions_interface, functions_records, sys.modules[__name__]]


def _results_dask(job: ClassificationJob, items: list[tuple[str, str | None]], scheduler: str
                  ) -> Iterator[SongResult]:
    """Classify on the Dask cluster at ``scheduler`` (its workers must see the files and the model at the same
    paths); a song whose worker died, or whose call failed there, is one error record, and the rest go on."""
    from distributed import KilledWorker

    import functions_dataset
    from functions_parallel import connect_dask, describe_error

    yield from (SongResult(input=item, error=error) for item, error in items if error is not None)
    todo = [item for item, error in items if error is None]
    if not todo:
        return
    job.load()  # a model that cannot be used fails here, in one line, not on every worker
    with connect_dask(scheduler, dask_worker_modules(), LibraryError, functions_dataset.DASK_PACKAGES) as cluster:
        futures = {cluster.submit(classify_on_worker, job, item): item for item in todo}
        for item, result, failure in cluster.finished(futures):
            if isinstance(failure, KilledWorker):
                result = SongResult(input=item, error=f"killed the Dask worker classifying it "
                                                      f"({failure.allowed_failures + 1}x in a row)")
            elif failure is not None:
                result = SongResult(input=item, error=f"failed on the Dask worker ({describe_error(failure)})")
            yield result


# ---------------------------------------------------------------------------------------------------------
# Playlists
# ---------------------------------------------------------------------------------------------------------
def export_csv(entries: Iterable[LibraryEntry], path: str | os.PathLike[str]) -> Path:
    """The songs as a CSV table (path, title, genre, confidence, uncertain, known, duration, error), UTF-8; known
    is empty where the model has no novelty score, false for a song of none of its genres (genre: the nearest)."""
    import csv
    import io

    def number(value: float | None, form: str = "") -> str:  # NaN or infinite: empty
        return "" if value is None or not math.isfinite(value) else format(value, form)

    buffer = io.StringIO()
    # CR LF line ends (RFC 4180): a field holding a carriage return is quoted, as one holding a newline is (with LF
    # ends a lone CR was written bare, and readers took it for the end of the row)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["path", "title", "genre", "confidence", "uncertain", "known", "duration_s", "error"])
    for e in entries:
        writer.writerow([e.path, e.title or "", e.genre or "", number(e.confidence, ".4f") if e.ok else "", e.uncertain,
                         "" if e.known is None else e.known, number(e.duration_s),
                         e.error or ""])
    write_atomically(Path(path), utf8(buffer.getvalue()))  # a name's bytes that are not UTF-8 failed here
    return Path(path)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, a file name's bytes that are not UTF-8 (surrogate escapes) written as U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode("utf-8")
