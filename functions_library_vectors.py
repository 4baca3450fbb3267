"""A library's similarity vectors, read from its results file (never written here): ``load_library`` gives a
``LibraryVectors`` (the songs with a vector of this version, their stored and projected vectors, where each record
is in the file), whose ``neighbours`` ranks every song by cosine similarity to a query vector, the query song and
songs reached twice (the same file through links, or copies with equal audio: equal vectors) once or not at all.

The file is read a block at a time without parsing whole records (100,000 songs in under 2 s:
bench/bench_similarity_scale.py); lines that are no record (torn, junk, longer than functions_records.LONGEST_LINE)
are counted, never held whole. Errors are ``SimilarityError`` with one line for the user. NumPy and the standard
library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import mmap
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import functions_records
from functions_projection import PROJECTION, Projection
from functions_records import (
    EMBEDDING_DIM,
    EMBEDDING_FIELD,
    EMBEDDING_VERSION,
    VECTOR_TEXT_LENGTH,
    VERSION_FIELD,
)

_VECTOR_BYTES = EMBEDDING_DIM * 4  # a stored vector: 50 float32
DUPLICATE_TOLERANCE = 1e-5  # stored vectors that differ by no more than this in every value: the same audio


class SimilarityError(Exception):
    """A similarity query cannot be answered (no usable library, an unreadable query song); one line."""



# ---------------------------------------------------------------------------------------------------------
# A library's vectors, read from its results file (never written here)
# ---------------------------------------------------------------------------------------------------------
_KEY_PATH = b'"path": "'
_KEY_VECTOR = b'"' + EMBEDDING_FIELD.encode() + b'": "'
_KEY_VERSION = b'"' + VERSION_FIELD.encode() + b'": "'
_TAIL = _KEY_VERSION + EMBEDDING_VERSION.encode() + b'", ' + _KEY_VECTOR  # how this program's records end
READ_BLOCK = 1 << 22  # the file is read 4 MB at a time: memory holds one block, not the whole file
NONE, UNUSABLE = -1, -2  # a record without a vector of this version; one whose vector is not 50 finite float32


def _braced(line: bytes) -> bool:
    """Whether ``line`` is ``{...}`` but for white space around it (a line written elsewhere, e.g. with CR LF)."""
    line = line.strip()
    return line[:1] == b"{" and line[-1:] == b"}"


def _json_string(data: bytes, start: int, end: int) -> str | None:
    """The JSON string whose first character (after its opening quote) is ``data[start]``, or None if it does
    not close before ``end``."""
    close = data.find(b'"', start, end)
    while close > 0 and data[close - 1] == 0x5C:  # an escaped quote, unless the backslash is itself escaped
        backslashes = len(data[start:close]) - len(data[start:close].rstrip(b"\\"))
        if backslashes % 2 == 0:
            break
        close = data.find(b'"', close + 1, end)
    if close < 0:
        return None
    text = data[start:close]
    if b"\\" not in text:
        return text.decode("utf-8", "replace")
    try:
        return json.loads(b'"' + text + b'"')
    except ValueError:
        return None


@dataclass
class LibraryVectors:
    """The songs of a results file that have a vector of this version: ``paths``, their stored vectors ``raw``
    (n, 50) and the projected, unit-length ``vectors`` (n, d) that the cosine compares."""

    path: Path | None  # the results file (None: vectors given in memory, as the window's table gives them)
    paths: list[str]
    raw: np.ndarray
    vectors: np.ndarray
    offsets: np.ndarray  # (n, 2) where each song's record line is in the file: offset, length
    records: int = 0  # song records in the file (the latest of each path)
    without_vector: int = 0  # failed songs, and songs scanned by a model that reads only classic features
    other_versions: dict[str, int] = field(default_factory=dict)
    unusable: int = 0  # songs whose vector is not 50 finite numbers (NaN, inf, damaged): no vector
    file_state: tuple[int, int, int, int] | None = None  # the file as read: device, inode, size, mtime_ns
    unreadable: int = 0  # lines that are no record (torn, empty, junk)
    index: dict[str, int] = field(default_factory=dict)  # path -> row
    projection: Projection = PROJECTION

    @classmethod
    def from_vectors(cls, paths: list[str], raw: np.ndarray, projection: Projection = PROJECTION) -> LibraryVectors:
        """Songs known in memory (paths and stored vectors), e.g. the window's table."""
        raw = np.asarray(raw, dtype=np.float32).reshape(len(paths), EMBEDDING_DIM)
        return cls(path=None, paths=list(paths), raw=raw, vectors=projection(raw) if len(raw) else
                   np.zeros((0, projection.dim), np.float32), offsets=np.zeros((len(paths), 2), dtype=np.int64),
                   records=len(paths), index={song: i for i, song in enumerate(paths)}, projection=projection)

    def notes(self) -> list[str]:
        """One line about the songs left out, one about lines that are no record, if any (for stderr)."""
        left = []
        if self.without_vector:
            left.append(f"{self.without_vector} without a vector (failed, or scanned with a model that reads only "
                        "classic features)")
        for version, count in sorted(self.other_versions.items()):
            left.append(f"{count} with vectors of another version ({version}): a scan with this program updates them")
        if self.unusable:
            left.append(f"{self.unusable} with an unusable vector (not {EMBEDDING_DIM} finite numbers): a scan with "
                        "this program recomputes them")
        notes = [f"{self.path}: {len(self.paths)} songs compared; left out: " + "; ".join(left)] if left else []
        if self.unreadable:  # as a scan of the file says it
            notes.append(f"{self.path}: {self.unreadable} torn or unreadable line(s) ignored")
        return notes

    def record(self, row: int) -> dict[str, Any] | None:
        """The record of ``row``, read from the file again (None if the file changed since it was loaded)."""
        offset, length = (int(v) for v in self.offsets[row])
        if self.path is None:
            return None
        try:
            with open(self.path, "rb") as handle:
                handle.seek(offset)
                record = json.loads(handle.read(length))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("path") == self.paths[row] else None

    def shown_fields(self, rows: list[int]) -> list[tuple[str | None, str | None, float | None]]:
        """The (title, genre, duration_s) of the records of ``rows`` (see ``read_shown_fields``)."""
        return read_shown_fields(self, rows)

    def neighbours(self, query: np.ndarray, top: int, exclude: Iterable[int] = (),
                   query_file: tuple[int, int] | None = None) -> tuple[list[tuple[int, float]], int, int]:
        """The ``top`` rows most similar to the stored vector ``query``, best first, as ``(row, cosine)``.

        Left out: the rows of ``exclude`` (the query itself), songs whose stored vector equals the query's or an
        earlier neighbour's (copies with equal audio), local files that are the query file (``(st_dev, st_ino)``)
        or an earlier neighbour's file (links), and local files that no longer exist. Returns the neighbours and
        how many songs were left out as the same song and as vanished.
        """
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.size != EMBEDDING_DIM or not np.isfinite(query).all():
            raise SimilarityError(f"the query song's vector is not {EMBEDDING_DIM} finite numbers: it cannot be "
                                  "compared")
        if not self.paths or top < 1:
            return [], 0, 0
        similarity = self.vectors @ self.projection(query)[0]
        skip = set(exclude)
        kept: list[tuple[int, float]] = []
        seen = _SeenVectors(self._key_weights())
        query_code = int(seen.codes(query[None, :])[0])
        seen.add(query, query_code)
        seen_files = {query_file} if query_file is not None else set()
        duplicates = vanished = done = 0
        count = min(len(self.paths), 2 * top + 16)
        paths, raw, stat = self.paths, self.raw, os.stat
        while len(kept) < top and done < len(self.paths):
            rows: Any
            if count >= len(self.paths) // 2:  # most of the library: every song sorted, lone songs found at once
                count = len(self.paths)
                rows = np.argsort(-similarity, kind="stable")[done:]
                codes = seen.codes(raw)
                alone = seen.alone(codes, query_code)[rows].tolist()
                codes = codes[rows]
            else:
                part = np.argpartition(-similarity, count - 1)[:count]
                rows = part[np.lexsort((part, -similarity[part]))][done:]
                codes, alone = seen.codes(raw[rows]), [False] * len(rows)
            for row, code, lone, score in zip(rows.tolist(), codes.tolist(), alone, similarity[rows].tolist(),
                                              strict=True):
                done += 1
                if row in skip:
                    continue
                if not lone and seen.holds(raw[row], code):
                    duplicates += 1
                    continue
                path = paths[row]
                if not is_url(path):
                    try:
                        info = stat(path)
                    except OSError:
                        vanished += 1
                        continue
                    if (info.st_dev, info.st_ino) in seen_files:
                        duplicates += 1
                        continue
                    seen_files.add((info.st_dev, info.st_ino))
                kept.append((row, score))
                if not lone:
                    seen.add(raw[row], code)
                if len(kept) == top:
                    break
            count = min(len(self.paths), count * 4)
        return kept, duplicates, vanished

    def _key_weights(self) -> np.ndarray:
        """(50, 2): the two directions of largest spread of the stored vectors (principal directions of up to 1,000
        songs), each scaled to absolute values summing to 1; kept for the next query."""
        weights = getattr(self, "_weights", None)
        if weights is None:
            sample = self.raw[::max(1, len(self.raw) // 1000)].astype(np.float64)
            weights = np.full((2, EMBEDDING_DIM), 1.0 / EMBEDDING_DIM)  # the mean, if there is no spread to find
            if len(sample) > 1:  # the covariance's two largest eigenvectors (an SVD of the sample took 25-230 ms
                centred = sample - sample.mean(axis=0)  # with several BLAS threads on a busy machine; this 1 ms)
                weights[:] = np.linalg.eigh(centred.T @ centred)[1][:, ::-1][:, :2].T
            weights /= np.abs(weights).sum(axis=1, keepdims=True)
            self._weights = weights = weights.T.copy()
        return weights


class _SeenVectors:
    """The stored vectors of the songs listed so far (and the query's), to tell whether a new one is the same
    audio: within DUPLICATE_TOLERANCE of one of them in every value.

    They are filed in a grid of cells on two keys that change no more than the vector does (weighted sums whose
    weights' absolute values sum to 1: the two directions of largest spread in the library). Two vectors within the
    tolerance in every value are in the same cell or a neighbouring one (cells are twice the tolerance wide), so a
    new vector is compared only with the few filed in the 9 cells around its own: the check costs the same however
    many songs were listed (each against all of them made a whole library of 8,012 songs take 15.6 s). On 100,000
    synthetic songs (bench/bench_similarity_scale.py) the whole answer made 1,533 comparisons, 0.015 a song; one key
    (the mean) would put 70 songs on average in a song's 3 cells. When most of the library is asked for, the songs
    with nobody in their 9 cells are found first, for all at once, and skip the check.
    """

    WIDTH = 2 * DUPLICATE_TOLERANCE
    LIMIT = 1 << 29  # keys beyond this many cells (not tag probabilities) are clipped: they share the edge cells
    SHIFT = 1 << 32  # a cell's code: (first key + 2^30) * 2^32 + second key + 2^30
    AROUND = tuple(da * (1 << 32) + db for da in (0, -1, 1) for db in (0, -1, 1))  # a cell's, its 8 neighbours'

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights  # (50, 2)
        self.filed: dict[int, list[np.ndarray]] = {}

    def codes(self, rows: np.ndarray) -> np.ndarray:
        """The cell of each of ``rows`` (stored vectors), as one int64 each."""
        keys = np.floor(np.asarray(rows, dtype=np.float64) @ self.weights / self.WIDTH)
        keys = np.clip(keys, -self.LIMIT, self.LIMIT).astype(np.int64) + (1 << 30)
        return keys[:, 0] * self.SHIFT + keys[:, 1]

    def alone(self, codes: np.ndarray, query: int) -> np.ndarray:
        """Whether each of ``codes`` (a whole library's) has no other song and not the query in its 9 cells: such
        a song is no copy of anything, and none is a copy of it (found for all at once, in a few array passes)."""
        unique, counts = np.unique(np.append(codes, query), return_counts=True)
        order = np.argsort(codes, kind="stable")
        ordered = codes[order]  # looked up in order: several times faster than in the songs' order
        near = np.zeros(len(codes), dtype=np.int64)
        for offset in self.AROUND:
            wanted = ordered + offset
            at = np.minimum(np.searchsorted(unique, wanted), len(unique) - 1)
            near += np.where(unique[at] == wanted, counts[at], 0)
        alone = np.empty(len(codes), dtype=bool)
        alone[order] = near == 1  # itself only
        return alone

    def holds(self, vector: np.ndarray, code: int) -> bool:
        filed = self.filed
        for offset in self.AROUND:
            for other in filed.get(code + offset, ()):
                if np.abs(np.subtract(other, vector, dtype=np.float64)).max() <= DUPLICATE_TOLERANCE:
                    return True
        return False

    def add(self, vector: np.ndarray, code: int) -> None:
        self.filed.setdefault(code, []).append(vector)


_RECORD_START = b'{"input": '  # how this program's records begin (SongResult.to_json_dict) ...
_SHOWN_END = b', "probabilities": '  # ... and what follows the fields of a neighbour that are shown
_HEAD_BYTES = 1024  # a record's shown fields are read from its first 1 KB (the rest of it if they are not there)


def read_shown_fields(library: LibraryVectors, rows: list[int]) -> list[tuple[str | None, str | None, float | None]]:
    """The (title, genre, duration_s) of the records of ``rows`` (all None for a record that changed since the
    file was loaded), read in one pass over the file in its order, each record only as far as these fields
    (the whole library as an answer: each record opened and parsed on its own took most of its time)."""
    empty = (None, None, None)
    if library.path is None or not rows:
        return [empty] * len(rows)
    shown: list[tuple[str | None, str | None, float | None]] = [empty] * len(rows)
    spans = library.offsets[rows].tolist()
    fast: list[int] = []  # the records whose fields are in ``heads`` (their beginnings, parsed 4,096 at once)
    heads: list[bytes] = []

    def parse_heads(handle: Any) -> None:
        heads[-1] = b"}]"
        try:
            parsed = json.loads(b"[" + b"".join(heads))
        except ValueError:
            parsed = [_parsed(head + b"}") for head in heads[::2]]
        for k, fields in zip(fast, parsed, strict=True):
            try:
                title, genre, duration = fields["title"], fields["genre"], fields["duration_s"]
            except (KeyError, TypeError):  # another order of fields
                handle.seek(spans[k][0])
                shown[k] = record_shown(_parsed(handle.read(spans[k][1])))
                continue
            if type(title) is str and type(genre) is str and type(duration) is float and math.isfinite(duration):
                shown[k] = (title, genre, duration)
            else:
                shown[k] = record_shown(fields)
        fast.clear()
        heads.clear()

    try:
        with open(library.path, "rb", buffering=1 << 20) as handle, \
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:  # slices: no read calls
            info = os.fstat(handle.fileno())
            unchanged = library.file_state == (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            for k in np.argsort(library.offsets[rows, 0], kind="stable").tolist():
                start, length = spans[k]
                line = mapped[start:start + (min(length, _HEAD_BYTES) if unchanged else length)]
                if not unchanged and _record_path(line, 0, len(line)) != library.paths[rows[k]]:
                    continue  # the file changed since it was loaded, and this record with it
                cut = line.find(_SHOWN_END) if line.startswith(_RECORD_START) else -1
                if cut < 0:
                    shown[k] = record_shown(_parsed(mapped[start:start + length]))
                    continue
                fast.append(k)
                heads += (line[:cut], b"},")
                if len(fast) == 4096:
                    parse_heads(handle)
            if fast:
                parse_heads(handle)
    except (OSError, ValueError):  # ValueError: mmap of an empty file (emptied since it was loaded)
        pass
    return shown


def _record_path(data: Any, start: int, stop: int) -> str | None:
    """The ``path`` of the record line ``data[start:stop]``, or None."""
    at = data.rfind(_KEY_PATH, start, stop)
    return None if at < 0 else _json_string(data, at + len(_KEY_PATH), stop)


def _parsed(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def record_shown(record: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
    """A neighbour's title, genre and duration from its record: strings and a finite number, else None."""
    title, genre, duration = record.get("title"), record.get("genre"), record.get("duration_s")
    if type(duration) is not float:
        duration = float(duration) if type(duration) is int else None
    return (title if type(title) is str else None, genre if type(genre) is str else None,
            duration if duration is not None and math.isfinite(duration) else None)


def is_url(path: str) -> bool:
    if "://" not in path and "ytsearch" not in path[:16].lower():  # a local path (the common case, decided fast)
        return False
    from functions_fetch import looks_like_url

    return looks_like_url(path)


class _Reader:
    """The songs of a results file as its lines are read: the latest record of each path, and its vector."""

    def __init__(self) -> None:
        self.where: dict[str, int] = {}  # path -> its number in the lists below (its latest record)
        self.paths: list[str] = []
        self.versions: list[str | None] = []  # None: the record has no vector
        # the number of its vector in ``blob``; NONE: none, or another version's; UNUSABLE: this version's field
        # holds no 50 float32 (not base64, another length); vectors with NaN or inf are found after reading
        self.vectors: list[int] = []
        self.spans = array("q")  # offset and length of each record's line in the file
        self.blob = bytearray()  # the decoded vectors of this version, one after the other
        self.superseded = 0
        self.unreadable = 0  # lines that are no record: torn, empty, or longer than LONGEST_LINE (as a scan counts)
        self.file_state: tuple[int, int, int, int] | None = None

    def lines(self, data: bytes, end: int, offset: int) -> None:
        """Read the whole lines of ``data[:end]`` (``offset``: where ``data`` starts in the file); lines that are
        not records are skipped. A record written by this program ends with its vector's fields (fast path)."""
        find, rfind = data.find, data.rfind
        tail, tail_size = _TAIL, len(_TAIL) + VECTOR_TEXT_LENGTH + 2
        where, blob, b64 = self.where, self.blob, binascii.a2b_base64
        start = 0
        while start < end:
            stop = find(b"\n", start, end)
            at = rfind(_KEY_PATH, start, stop)  # near the end of a record: found sooner from there
            first = at + len(_KEY_PATH)
            close = find(b'"', first, stop) if at >= 0 else -1
            if close < 0 or (not (data[start] == 0x7B and data[stop - 1] == 0x7D)  # not {...}: torn, or not ours
                             and not _braced(data[start:stop])):
                self.unreadable += 1
                start = stop + 1
                continue
            song = data[first:close]
            if b"\\" in song:
                song = _json_string(data, first, stop)
                if song is None:
                    self.unreadable += 1
                    start = stop + 1
                    continue
            else:
                song = song.decode("utf-8", "replace")
            version, number = None, NONE
            begin = stop - tail_size
            if data.startswith(tail, begin) and data.startswith(b'"}', stop - 2):  # this version's vector, last
                version = EMBEDDING_VERSION
                try:
                    vector = b64(data[begin + len(tail):stop - 2])
                except binascii.Error:
                    vector = b""
                if len(vector) == _VECTOR_BYTES:
                    number = len(blob) // _VECTOR_BYTES
                    blob += vector
                else:
                    number = UNUSABLE  # a damaged vector: the song has none
            else:
                key = rfind(_KEY_VERSION, start, stop)
                if key >= 0:
                    version, number = self._other_fields(data, start, stop, key)
            known = where.get(song)
            if known is not None:
                self.paths[known] = ""  # superseded by this later record
                self.superseded += 1
            where[song] = len(self.paths)
            self.paths.append(song)
            self.versions.append(version)
            self.vectors.append(number)
            self.spans.extend((offset + start, stop - start))
            start = stop + 1

    def _other_fields(self, data: bytes, start: int, stop: int, key: int) -> tuple[str | None, int]:
        """A record whose vector is not where this program writes it: read its two fields by name."""
        first = key + len(_KEY_VERSION)
        version = data[first:data.find(b'"', first, stop)].decode("ascii", "replace")
        if version != EMBEDDING_VERSION:
            return version, NONE
        at = data.rfind(_KEY_VECTOR, start, stop)
        if at < 0:
            return version, UNUSABLE
        first = at + len(_KEY_VECTOR)
        try:
            vector = base64.b64decode(data[first:data.find(b'"', first, stop)], validate=True)
        except ValueError:
            return version, UNUSABLE
        if len(vector) != _VECTOR_BYTES:
            return version, UNUSABLE
        self.blob += vector
        return version, len(self.blob) // _VECTOR_BYTES - 1


def load_library(path: str | os.PathLike[str], projection: Projection = PROJECTION) -> LibraryVectors:
    """The vectors of the results file ``path`` (read only). SimilarityError (one line) when it has none to compare:
    missing, empty, not a results file, only vectors of another version, or no vector at all."""
    path = Path(path)
    reader = _Reader()
    blank = True  # nothing but white space so far
    try:
        with open(path, "rb") as handle:
            offset, rest = 0, b""  # where ``rest`` (a line's beginning) is in the file
            skipping = False  # in a line longer than LONGEST_LINE: dropped up to its newline, a block at a time
            while True:
                block = handle.read(READ_BLOCK)
                done = not block
                if blank and not reader.paths and block.strip():
                    blank = False
                if skipping:
                    end = block.find(b"\n")
                    offset += len(block) if end < 0 else end + 1
                    if end < 0:
                        if done:
                            break
                        continue
                    skipping, block = False, block[end + 1:]
                data = rest + block if rest else block
                last = data.rfind(b"\n")
                if last >= 0:
                    reader.lines(data, last + 1, offset)
                    offset += last + 1
                    rest = data[last + 1:]
                else:
                    rest = data
                if len(rest) > functions_records.LONGEST_LINE:  # no record
                    reader.unreadable += 1
                    offset, rest, skipping = offset + len(rest), b"", True
                if done:
                    reader.unreadable += bool(rest)  # a last line without its newline: torn
                    break
            info = os.fstat(handle.fileno())
            reader.file_state = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    except FileNotFoundError:
        raise SimilarityError(f"no results file {path}: scan your music into it first "
                              f"(03_launch_classifier.py FOLDER --results {path})") from None
    except IsADirectoryError:
        raise SimilarityError(f"{path} is a folder, not a results file") from None
    except OSError as exc:
        raise SimilarityError(f"cannot read the results file {path}: {exc.strerror or exc}") from None
    return _library_from(path, reader, blank, projection)


def _library_from(path: Path, reader: _Reader, blank: bool, projection: Projection) -> LibraryVectors:
    """The LibraryVectors of what ``reader`` read, or the one-line reason why there is nothing to compare."""
    records = len(reader.paths) - reader.superseded
    if not records or not _records_are_ours(path, reader):
        if blank:
            raise SimilarityError(f"{path} holds no song yet: scan your music into it first "
                                  f"(03_launch_classifier.py FOLDER --results {path})")
        raise SimilarityError(f"{path} is not a results file of this program (no song record in it); choose "
                              "another --results file")
    live = [i for i, song in enumerate(reader.paths) if song]
    other: dict[str, int] = {}
    for i in live:
        version = reader.versions[i]
        if version is not None and version != EMBEDDING_VERSION:
            other[version] = other.get(version, 0) + 1
    everything = np.frombuffer(reader.blob, dtype="<f4").reshape(-1, EMBEDDING_DIM)
    finite = np.isfinite(everything.sum(axis=1, dtype=np.float64))  # NaN and inf carry into the sum, which cannot
    # overflow in float64 (50 values of at most 3.4e38); 0.8 MB instead of a 5 MB test of every value
    if not finite.all():  # NaN or inf: no vector (its cosine would be NaN, and NaN sorts anywhere)
        for i in live:
            if reader.vectors[i] >= 0 and not finite[reader.vectors[i]]:
                reader.vectors[i] = UNUSABLE
    current = [i for i in live if reader.vectors[i] >= 0]
    unusable = sum(reader.vectors[i] == UNUSABLE for i in live)
    if not current:
        if unusable:
            raise SimilarityError(f"{path}: none of its {records} songs has a usable similarity vector ({unusable} "
                                  f"are not {EMBEDDING_DIM} finite numbers): scan again with this program to "
                                  f"recompute them (03_launch_classifier.py FOLDER --results {path})")
        if other:
            version = max(other, key=lambda v: other[v])
            raise SimilarityError(f"{path}: its similarity vectors are of another version ({version}; this program "
                                  f"compares {EMBEDDING_VERSION}), so they cannot be compared: scan again with this "
                                  f"program to update them (03_launch_classifier.py FOLDER --results {path})")
        raise SimilarityError(f"{path}: none of its {records} songs has a similarity vector (they failed, or were "
                              "scanned with a model that reads only classic features, so the musicnn network did not "
                              "run): scan again with a model that reads musicnn columns (--model DIR)")
    spans = np.frombuffer(reader.spans, dtype=np.int64).reshape(-1, 2)
    if len(current) == len(reader.paths) == len(everything):  # every record current: the lists are the library
        raw, paths, index = everything, reader.paths, reader.where
    else:
        raw = np.array(everything[[reader.vectors[i] for i in current]], dtype=np.float32)
        spans = spans[current]
        paths = [reader.paths[i] for i in current]
        index = {song: i for i, song in enumerate(paths)}
    return LibraryVectors(path=path, paths=paths, raw=raw, vectors=projection(raw), offsets=spans, records=records,
                          without_vector=sum(reader.versions[i] is None for i in live), other_versions=other,
                          unusable=unusable, index=index, projection=projection, file_state=reader.file_state,
                          unreadable=reader.unreadable)


def _records_are_ours(path: Path, reader: _Reader) -> bool:
    """Whether the lines read as records are this program's (a record has path, size, mtime_ns and model): the
    first one is parsed in full."""
    first = next(i for i, song in enumerate(reader.paths) if song)
    offset, length = reader.spans[2 * first], reader.spans[2 * first + 1]
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            record = json.loads(handle.read(length))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and {"path", "size", "mtime_ns", "model"} <= set(record)


