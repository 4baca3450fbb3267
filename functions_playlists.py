"""The genre playlists of a music library (``03 LIBRARY --playlists DIR``, the window's Save playlists…).

* ``playlist_names``: each genre's file name, whatever the genre is called (a genre of your library may be named
  like a path or like the playlists of songs the model is not sure of);
* ``plan_playlists``: the songs of each: a genre's sure songs, most confident first, ``uncertain`` and
  ``unknown``;
* ``write_playlists``: the files, marked as ours (``PLAYLIST_MARK``): a playlist there that we did not write is
  never replaced, none is written empty, and ours left with no song is removed;
* ``playlist_text``: an extended M3U of any songs (also ``03 --like --playlist``), paths relative to the
  playlist's real folder.

Only the standard library is imported (03 starts fast).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from functions_fetch import looks_like_url
from functions_library import DEFAULT_MIN_CONFIDENCE, LibraryEntry, LibraryError, utf8, write_atomically

UNCERTAIN_PLAYLIST = "uncertain"
UNKNOWN_PLAYLIST = "unknown"  # songs of none of the model's genres (functions_interface.UNKNOWN_LABEL)


def playlist_names(genres: Iterable[str]) -> dict[str, str]:
    """Each genre's playlist name (``<name>.m3u8``): the genre as it is, but a name that could not be a file name
    of its own (a genre of your library such as ``R&B/Soul``, ``..``) has its slashes made dashes and a leading dot
    made an underscore, and a genre called like a playlist of songs it is not sure of (``Unknown``,
    ``uncertain``), or like another genre's playlist, gets `` (genre)``, `` (genre 2)``, ... after it."""
    taken = {UNCERTAIN_PLAYLIST, UNKNOWN_PLAYLIST}
    names: dict[str, str] = {}
    for genre in genres:
        name = " ".join(str(genre).replace("/", "-").replace("\\", "-").replace("\0", "").split()) or "genre"
        name = "_" + name[1:] if name.startswith(".") else name
        stem, number = name, 1
        while name.lower() in taken:
            name = f"{stem} (genre{'' if number == 1 else f' {number}'})"
            number += 1
        taken.add(name.lower())
        names[genre] = name
    return names


def every_playlist_name(genres: Iterable[str]) -> list[str]:
    """The name of every playlist ``plan_playlists`` may write for a model of ``genres`` (to check before any
    is written that none would land on a file that must not be overwritten)."""
    return [*playlist_names(genres).values(), UNCERTAIN_PLAYLIST, UNKNOWN_PLAYLIST]


def plan_playlists(entries: Iterable[LibraryEntry], genres: Iterable[str],
                   min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> dict[str, list[LibraryEntry]]:
    """The songs of each playlist, by playlist name (``playlist_names``): every genre of the model gets its sure
    songs (see ``LibraryEntry.is_sure``), most confident first; ``unknown`` the songs of none of its genres (where
    the model has a novelty score), ``uncertain`` the other classified songs that are not sure enough. Local files
    that still exist only (a song deleted since its scan is in no playlist, from 03 or the window)."""
    entries = list(entries)
    names = playlist_names(genres)
    lists: dict[str, list[LibraryEntry]] = {name: [] for name in names.values()}
    lists[UNCERTAIN_PLAYLIST] = []
    if any(entry.known is not None for entry in entries):  # a model with a novelty score
        lists[UNKNOWN_PLAYLIST] = []
    for entry in entries:
        if entry.ok and not looks_like_url(entry.path) and os.path.exists(entry.path):
            sure = entry.is_sure(min_confidence) and entry.genre in names
            name = UNKNOWN_PLAYLIST if entry.known is False else names[entry.genre] if sure else UNCERTAIN_PLAYLIST
            lists[name].append(entry)
    for songs in lists.values():
        songs.sort(key=lambda e: (-e.confidence, e.path))
    return lists


PLAYLIST_MARK = "# genre playlist written by 03_launch_classifier.py --playlists (the next run rewrites it)"


def is_our_playlist(path: Path) -> bool:
    """Whether ``path`` is a genre playlist ``write_playlists`` wrote (its second line is PLAYLIST_MARK)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(PLAYLIST_MARK) + 16).splitlines()[1:2] == [PLAYLIST_MARK.encode()]
    except OSError:
        return False


def foreign_playlists(folder: str | os.PathLike[str], names: Iterable[str]) -> list[str]:
    """The ``<name>.m3u8`` files in ``folder`` that ``write_playlists`` would replace but did not write (a
    playlist of the user's own, another program's): never overwritten."""
    folder = Path(folder)
    return [f"{name}.m3u8" for name in names
            if (folder / f"{name}.m3u8").exists() and not is_our_playlist(folder / f"{name}.m3u8")]


def write_playlists(lists: dict[str, list[LibraryEntry]], folder: str | os.PathLike[str]
                    ) -> tuple[list[Path], list[Path]]:
    """Write ``<name>.m3u8`` in ``folder`` for each playlist of ``plan_playlists`` that has songs (atomically,
    UTF-8, marked as ours), and remove our own earlier playlist of a name that has none now: (written, removed).
    A playlist file there that we did not write is never replaced: LibraryError before anything is written."""
    folder = Path(folder)
    foreign = foreign_playlists(folder, lists)
    if foreign:
        raise LibraryError(f"{folder} holds playlists this program did not write ({', '.join(foreign[:3])}"
                           f"{', ...' if len(foreign) > 3 else ''}): they are not replaced; choose another folder "
                           "for the genre playlists, or move them")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LibraryError(f"cannot create the playlist folder {folder}: {exc.strerror or exc}") from None
    written, removed = [], []
    for name, songs in lists.items():
        path = folder / f"{name}.m3u8"
        if songs:
            write_atomically(path, utf8(playlist_text(songs, folder, mark=True)))
            written.append(path)
        elif path.exists():  # ours (checked above): its songs are gone
            path.unlink()
            removed.append(path)
    return written, removed


def playlist_text(songs: Iterable[LibraryEntry], folder: Path, mark: bool = False) -> str:
    """An extended M3U playlist of ``songs`` with paths relative to ``folder`` (forward slashes; URLs as they are).

    Every song is one ``#EXTINF`` line and one location line, whatever its name holds: a relative path that starts
    with ``#`` or white space gets ``./`` (players skip ``#...`` lines as comments, some strip spaces), and a path
    that no line holds as it is (a newline, carriage return or other control character, white space at its end,
    bytes that are not UTF-8) is written as the ``file://`` URI of its bytes, percent-encoded (a name that is not
    UTF-8 made writing the playlist fail with UnicodeEncodeError). Titles are one line of printable text; a
    duration that is not a finite number is -1 (unknown). Paths are relative to the folder's real place (a
    playlist folder reached through a symbolic link is read from where it is). ``mark``: PLAYLIST_MARK as the
    second line (a genre playlist of ``write_playlists``).
    """
    lines = ["#EXTM3U", *([PLAYLIST_MARK] if mark else [])]
    for song in songs:
        duration = song.duration_s
        seconds = -1 if duration is None or not math.isfinite(duration) else int(round(duration))
        lines += [f"#EXTINF:{seconds},{one_line(song.title or Path(song.path).stem)}", _m3u_location(song.path, folder)]
    return "\n".join(lines) + "\n"


def one_line(text: str) -> str:
    """``text`` as one line of printable characters: control characters as spaces, runs of white space as one
    space, a name's bytes that are not UTF-8 as U+FFFD."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in utf8(text).decode("utf-8"))
    return " ".join(text.split())


def _m3u_location(path: str, folder: Path) -> str:
    """The location line of ``path`` in a playlist in ``folder`` (see ``playlist_text``)."""
    if looks_like_url(path):  # as it is, but for characters a URL must not hold as they are
        return path if path.isprintable() and " " not in path else "".join(
            f"%{ord(c):02X}" if c == " " or (ord(c) < 0x80 and not c.isprintable()) else
            f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in path)  # a byte not UTF-8
    where = Path(os.path.relpath(os.path.realpath(path), os.path.realpath(folder))).as_posix()
    if not where.isprintable() or where != where.rstrip():  # surrogate escapes are not printable either
        return Path(os.path.abspath(path)).as_uri()
    return f"./{where}" if where.startswith("#") or where != where.lstrip() else where
