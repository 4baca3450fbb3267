"""Has a file changed since its row was made? The stamps 00 keeps beside a features CSV (FEATURES.stamps.csv,
``file,stamp``), so that a resumed or repeated run reuses a row only for the very file it was made from (beets'
rule for its library: size and modification time).

A stamp is ``size:mtime_ns``, taken before any audio is read. With a ``stream_of`` function (00 --labels tags
gives functions_tags.stream_stamp: what the audio is, whatever its tags) it is ``size:mtime_ns stream``: a file
whose size or time changed is still the same song when its stream part is (only its tags were edited), so that
fixing tags costs no extraction, while the stream is read only for files whose size or time changed. A row made
while its file changed under it gets an empty stamp: it is made again by the next run. The standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

HEADER = ["file", "stamp"]


def stamps_csv_for(output_csv: Path) -> Path:
    """FEATURES.csv -> FEATURES.stamps.csv, beside it."""
    return output_csv.with_name(output_csv.stem + ".stamps.csv")


def file_stamp(path: str | os.PathLike[str]) -> str:
    """``size:mtime_ns`` of a file, "" when it cannot be read."""
    try:
        status = os.stat(path)
    except OSError:
        return ""
    return f"{status.st_size}:{status.st_mtime_ns}"


def modified_after(path: str | os.PathLike[str], time_ns: int) -> bool:
    """True when the file was modified after ``time_ns`` (or cannot be read)."""
    try:
        return os.stat(path).st_mtime_ns > time_ns
    except OSError:
        return True


def read_stamps(stamps_csv: Path) -> tuple[dict[str, str] | None, str]:
    """({file: stamp} of an earlier run, problem). None when it wrote none (a run of a version before stamps).
    A line cut short by a kill or damaged is left out (its row is made again); the problem ("empty", "unreadable
    (...)", "not a stamps file") when the file as a whole cannot be read (every row is made again, and the user
    is told why)."""
    import csv

    try:
        with open(stamps_csv, newline="", encoding="utf-8", errors="replace") as stream:
            lines = list(csv.reader(stream))
    except FileNotFoundError:
        return None, ""
    except (OSError, csv.Error) as error:  # csv.Error: a stray quote that swallowed the rest of the file
        return {}, f"unreadable ({getattr(error, 'strerror', None) or error})"
    if lines[:1] != [HEADER]:
        return {}, "not a stamps file" if lines else "empty"
    return {fields[0]: fields[1] for fields in lines[1:] if len(fields) == 2}, ""


class FileStamps:
    """The stamps of one run: each file's ``size:mtime_ns`` taken when the run starts; ``kept`` the stamp of
    every row the run keeps or makes, by file."""

    def __init__(self, paths: dict[str, Path], stream_of: Callable[[Path], str] | None = None) -> None:
        self.paths, self.stream_of = paths, stream_of
        self.taken = {file: file_stamp(path) for file, path in paths.items()}
        self.kept: dict[str, str] = {}
        self.unchecked = 0  # rows of a run before stamps kept without a check (``changed``)

    def _stamp(self, file: str, stream: str | None = None) -> str:
        if not self.taken[file] or self.stream_of is None:
            return self.taken[file]
        return f"{self.taken[file]} {stream if stream is not None else self.stream_of(self.paths[file])}"

    def unchanged(self, file: str, earlier: str | None) -> bool:
        """True when ``file`` is still the file whose row was stamped ``earlier`` (its stamp is then kept)."""
        now = self.taken[file]
        before, _, before_stream = (earlier or "").partition(" ")
        if not now or not before:
            return False
        if before == now:
            self.kept[file] = earlier if before_stream or self.stream_of is None else self._stamp(file)
            return True
        if self.stream_of is not None and before_stream:
            stream = self.stream_of(self.paths[file])
            if stream == before_stream:
                self.kept[file] = self._stamp(file, stream)
                return True
        return False

    def changed(self, files: list[str], earlier: dict[str, str] | None, written_ns: int) -> list[str]:
        """Which of the rows of ``files`` were made from a file that has changed since, by the ``earlier`` stamps;
        with none (a run before stamps), those of files modified after ``written_ns`` (the CSV's time), the others
        kept unchecked (``unchecked``). Every row kept gets its stamp in ``kept``."""
        if earlier is not None:
            return [file for file in files if not self.unchanged(file, earlier.get(file))]
        changed = [file for file in files if modified_after(self.paths[file], written_ns)]
        for file in set(files) - set(changed):
            self.kept[file] = self._stamp(file)
        self.unchecked = len(files) - len(changed)
        return changed

    def made(self, file: str) -> str:
        """The stamp of a row just made from ``file``: "" when the file changed since the run started (the next
        run makes the row again)."""
        self.kept[file] = self._stamp(file) if file_stamp(self.paths[file]) == self.taken[file] else ""
        return self.kept[file]
