"""More like this: answering ``03 --like SONG --results FILE`` (and the window's More like this).

``find_like`` takes the query song's stored vector from the library (a song of it, unchanged since its scan) or
analyses it (any other file or URL, through the ClassificationJob it is given), ranks the library's songs by
similarity (functions_library_vectors) and gives a ``LikeAnswer``: its ``Neighbour`` songs with their title, genre
and duration from their records. ``format_answer`` and ``json_lines`` write it as text or JSON lines (every name
printable, every line strict JSON), ``write_playlist`` as an M3U8 playlist written as the genre playlists are.

Where the rest lives: the vector a song keeps (functions_records), how two vectors are compared
(functions_projection), a library's vectors read from its results file (functions_library_vectors). Errors are
``SimilarityError`` with one line for the user.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import numpy as np

from functions_library_vectors import LibraryVectors, SimilarityError, is_url, load_library, record_shown
from functions_records import song_vector

__all__ = ["LibraryVectors", "LikeAnswer", "Neighbour", "SimilarityError", "find_like", "format_answer",
           "json_lines", "load_library", "query_vector", "song_vector", "write_playlist"]


# ---------------------------------------------------------------------------------------------------------
# Answering "03 --like SONG --results FILE"
# ---------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Neighbour:
    """One song of the answer, from its record in the results file."""

    rank: int
    similarity: float
    path: str
    title: str | None = None
    genre: str | None = None
    duration_s: float | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """One line of ``03 --like --json``: numbers that are NaN or infinite (a record may hold them) are null."""
        similarity, duration = self.similarity, self.duration_s
        return {"rank": self.rank, "similarity": round(similarity, 6) if math.isfinite(similarity) else None,
                "path": self.path, "title": self.title, "genre": self.genre,
                "duration_s": duration if duration is None or math.isfinite(duration) else None}


@dataclass
class LikeAnswer:
    """The songs like ``query`` in a library, best first, and what was left out (for a note line)."""

    query: str
    query_title: str | None
    analysed: bool  # the query song was analysed now (it is not in the library, or its record was out of date)
    neighbours: list[Neighbour]
    library: LibraryVectors
    duplicates: int = 0
    vanished: int = 0


def query_vector(library: LibraryVectors, song: str, job: Any) -> tuple[np.ndarray, str | None, set[int], bool]:
    """The stored vector of ``song``: its record's if it is in the library and unchanged, else its analysis by
    ``job`` (a ClassificationJob; a file or URL). Returns (vector, title, its library rows, analysed)."""
    key = song if is_url(song) else os.path.abspath(song)
    keys = (key,) if is_url(key) else (key, os.path.realpath(key))
    rows = {row for row in map(library.index.get, keys) if row is not None}
    for row in sorted(rows):
        record = library.record(row) or {}
        if is_url(key) or _unchanged(library.paths[row], record):
            return library.raw[row], record_shown(record)[0], rows, False
    result = job.classify(song)
    if not result.ok:
        raise SimilarityError(f"{song}: cannot be analysed ({result.error})")
    vector = song_vector(result)
    if vector is None:
        model = getattr(job, "model_dir", None)
        which = f"the model {model}" if model else "the shipped model"
        raise SimilarityError(f"{song}: no similarity vector: {which} reads only classic features, so the musicnn "
                              "network did not run; use --model with a model that reads musicnn columns")
    return vector, result.title, rows, True


def _unchanged(path: str, record: dict[str, Any]) -> bool:
    """The file is as it was when its record was made (or it is gone: its record is all there is of it)."""
    try:
        info = os.stat(path)
    except OSError:
        return True
    return (record.get("size"), record.get("mtime_ns")) == (info.st_size, info.st_mtime_ns)


def find_like(song: str, results: str | os.PathLike[str], top: int, job: Any,
              library: LibraryVectors | None = None) -> LikeAnswer:
    """The ``top`` songs of the results file most like ``song`` (see ``LibraryVectors.neighbours``)."""
    library = library if library is not None else load_library(results)
    vector, title, rows, analysed = query_vector(library, song, job)
    query_file = None
    if not is_url(song):
        try:
            info = os.stat(song)
            query_file = (info.st_dev, info.st_ino)
        except OSError:
            pass
    found, duplicates, vanished = library.neighbours(vector, top, exclude=rows, query_file=query_file)
    shown = library.shown_fields([row for row, _ in found])
    paths = library.paths
    neighbours = [Neighbour(rank, similarity, paths[row], *fields)
                  for rank, ((row, similarity), fields) in enumerate(zip(found, shown, strict=True), 1)]
    return LikeAnswer(song, title, analysed, neighbours, library, duplicates, vanished)


def format_answer(answer: LikeAnswer) -> str:
    """The text of ``03 --like``: a headline, then one line per song (rank, similarity, genre, title, path).

    Every song is one line of printable text whatever its name holds: in a path a newline, carriage return or tab
    is written ``\\n``, ``\\r``, ``\\t``, another control character or a byte that is not UTF-8 ``\\xNN``
    (a name with a newline took two lines, and one that is not UTF-8 printed bytes no UTF-8 reader takes).
    """
    name = _printable(" ".join((answer.query_title or Path(answer.query).stem).split()))
    lines = [f"Songs like {name} ({_printable(answer.query)}), most similar first:"]
    width = max([len(n.genre or "") for n in answer.neighbours] + [5])
    for n in answer.neighbours:
        title = " ".join((n.title or Path(n.path).stem).split())
        line = f"{n.rank:>4}. {n.similarity:6.3f}  {n.genre or '-':<{width}}  {title}  [{n.path}]"
        if not line.isprintable():
            line = (f"{n.rank:>4}. {n.similarity:6.3f}  {_printable(n.genre or '-'):<{width}}  {_printable(title)}  "
                    f"[{_printable(n.path)}]")
        lines.append(line)
    if not answer.neighbours:
        lines.append("    (no other song in the library has a vector to compare)")
    return "\n".join(lines)


def json_lines(answer: LikeAnswer) -> str:
    """The text of ``03 --like --json``: ``json.dumps(neighbour.to_json_dict())`` of each song, one line each, as
    one string to write at once (printed and flushed a line at a time, 100,000 songs took 0.6-1.3 s in print alone;
    the lines are composed here with the json module's own string and number writing: 0.58 s through json.dumps).
    Always UTF-8 text: a line whose path holds bytes that are not UTF-8 is written with ASCII escapes (``\\udce9``,
    which Python's JSON reader turns back into the same path), the others as they are."""
    lines = []
    for n in answer.neighbours:
        line = _json_line(n, encode_basestring)
        if not line.isascii() and not _encodes(line):
            line = _json_line(n, encode_basestring_ascii)
        lines.append(line)
    return "\n".join(lines)


def _json_line(n: Neighbour, quote: Any) -> str:
    """``json.dumps(n.to_json_dict())``, with ``quote`` writing the strings (the test compares the two)."""
    similarity, title, genre, duration = n.similarity, n.title, n.genre, n.duration_s
    similarity = repr(round(float(similarity), 6)) if math.isfinite(similarity) else "null"
    duration = "null" if duration is None or not math.isfinite(duration) else repr(duration)
    return (f'{{"rank": {n.rank}, "similarity": {similarity}, "path": {quote(n.path)}, '
            f'"title": {"null" if title is None else quote(title)}, '
            f'"genre": {"null" if genre is None else quote(genre)}, "duration_s": {duration}}}')


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(text: str) -> str:
    """``text`` with what a line of text cannot show as it is escaped (see ``format_answer``)."""
    if text.isprintable():
        return text
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(c if c.isprintable() else escapes.get(c) or (
        f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else  # a byte that is not UTF-8
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)


def write_playlist(neighbours: Iterable[Any], output: str | os.PathLike[str]) -> Path:
    """An M3U8 playlist of ``neighbours`` (anything with path, title, duration_s) as the genre playlists are
    written: UTF-8, ``#EXTINF`` titles, paths relative to the playlist's folder; written atomically."""
    import functions_library as fl
    import functions_playlists as fp

    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimilarityError(f"cannot create the folder of {output}: {exc.strerror or exc}") from None
    songs = [fl.LibraryEntry(path=n.path, title=n.title, duration_s=n.duration_s) for n in neighbours]
    try:
        fl.write_atomically(output, fl.utf8(fp.playlist_text(songs, output.parent.absolute())))
    except fl.LibraryError as exc:
        raise SimilarityError(str(exc)) from None
    return output
