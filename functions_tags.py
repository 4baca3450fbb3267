"""Genre tags in the music files, through mutagen: read, planned by the library's rules, written crash-safely.

What lives here, top-down: reading and writing one file's genre (``read_song_tags``: genre values, artist and
album artist, the one home of tag reading that 00 --labels tags and 03 share; ``read_genre``, ``write_genre``,
``TagError``),
then the rules over a library (``plan_tags``: only sure songs, existing genres kept unless asked, each file
once) and carrying a plan out (``apply_tags``).

Where the genre goes: ID3v2 ``TCON`` (MP3, and the ID3 chunk of WAV and AIFF), Vorbis comments ``GENRE`` (FLAC,
Ogg Vorbis, Opus), MP4 ``©gen`` (M4A/MP4), ASF ``WM/Genre`` (WMA); any other format is skipped with one line.
A write never touches the audio: mutagen tags a copy in the same folder, the copy is flushed to disk, given the
file's permissions and renamed over it in one step, so a crash leaves the old file or the new one, never half
of one. mutagen is imported only here, and only when tags are read or written.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import functions_audio
import functions_stamps
from functions_fetch import looks_like_url
from functions_library import LibraryEntry

TAG_NAMES = {"hiphop": "Hip-Hop"}  # the usual spelling in music players; other genres are capitalised
TEMP_MARK = ".genre-tagging"  # '.<stem>.genre-tagging<suffix>' beside the file while it is being tagged


class TagError(Exception):
    """A file whose genre cannot be read or written; the message is one line."""


def tag_value(genre: str, spellings: dict[str, str] | None = None) -> str:
    """The text written for a model genre: the library's own spelling where the model records one (a model
    trained on your tags: "hip-hop" -> "Hip-Hop", "r&b" -> "R&B", "k-pop" -> "K-Pop"), else "rock" -> "Rock",
    "hiphop" -> "Hip-Hop"."""
    if spellings and spellings.get(genre):
        return spellings[genre]
    return TAG_NAMES.get(genre, genre.capitalize())


def model_spellings(model_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """The tag spelling of each genre a model folder's model.json records (``tag_spellings``, written by 02 from
    the labels of 00 --labels tags); {} for a model without them (None: the shipped model)."""
    import json

    from functions_audio import PRETRAINED_MODEL_DIR

    try:
        meta = json.loads((Path(model_dir or PRETRAINED_MODEL_DIR) / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    spellings = meta.get("tag_spellings") if isinstance(meta, dict) else None
    return {str(g): v for g, v in spellings.items() if isinstance(v, str) and v.strip()} \
        if isinstance(spellings, dict) else {}


def genre_key(text: str) -> str:
    """A genre without case, spaces and punctuation: "Hip-Hop", "Hip Hop" and "hiphop" are all "hiphop"."""
    return re.sub(r"[\W_]+", "", text).casefold()


def same_genre(a: str, b: str) -> bool:
    """Genres equal up to case, spaces and punctuation ("Hip-Hop" == "hiphop")."""
    return genre_key(a) == genre_key(b)


def genre_parts(values: Iterable[str]) -> list[str]:
    """Each genre value, and the genres one value lists ("Classical; Soundtrack", ID3v2.3's "Rock/Pop")."""
    return [part for value in values for part in [value, *re.split(r"\s*[;/|,]\s*", value)] if part.strip()]


def temp_path(path: str | os.PathLike[str]) -> Path:
    """The hidden copy beside ``path`` that is tagged and renamed over it (same suffix: mutagen reads it alike);
    for a name too long to take the mark (a name is at most 255 bytes), a short one made from a hash of it."""
    path = Path(path)
    name = f".{path.stem}{TEMP_MARK}{path.suffix}"
    if len(os.fsencode(name)) > 255:
        import hashlib

        digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
        name = f".{digest}{TEMP_MARK}{path.suffix if len(os.fsencode(path.suffix)) < 64 else ''}"
    return path.with_name(name)


# ---------------------------------------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------------------------------------
def _open(path: str | os.PathLike[str]) -> Any:
    import mutagen

    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as exc:
        raise TagError(f"cannot read its tags ({_reason(exc)})") from None
    if audio is None:
        raise TagError(f"cannot tag {Path(path).suffix or 'these'} files (not a format mutagen writes)")
    return audio


def _reason(exc: BaseException) -> str:
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    text = getattr(inner, "strerror", None) or " ".join(str(inner).split())
    return text or type(inner).__name__


def _genre_key(tags: Any) -> str:
    """The tag key of the genre for this kind of tags; TagError for kinds without one."""
    from mutagen._vorbis import VCommentDict
    from mutagen.asf import ASFTags
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    for kind, key in ((ID3, "TCON"), (VCommentDict, "genre"), (MP4Tags, "\xa9gen"), (ASFTags, "WM/Genre")):
        if isinstance(tags, kind):
            return key
    raise TagError(f"cannot tag {type(tags).__name__} tags")


@dataclass(frozen=True)
class SongTags:
    """What the labels of a song are read from: its genre values as written (in tag order), its artist and
    album artist (first value, or None)."""

    genres: tuple[str, ...] = ()
    artist: str | None = None
    album_artist: str | None = None


# the artist and album-artist keys of each kind of tags, by the kind's genre key
_ARTIST_KEYS = {"TCON": (("TPE1",), ("TPE2",)),
                "genre": (("artist",), ("albumartist", "album artist", "album_artist")),
                "\xa9gen": (("\xa9ART",), ("aART",)),
                "WM/Genre": (("Author",), ("WM/AlbumArtist",))}


def _texts(tags: Any, key: str) -> list[str]:
    """The non-empty text values of one tag key (an ID3 frame's text, a Vorbis/MP4/ASF value list)."""
    try:
        values = tags.get(key)
    except (KeyError, ValueError):  # mutagen's Vorbis dict refuses keys it cannot hold
        return []
    if not values:
        return []
    texts = getattr(values, "text", values)  # ID3 gives a frame, the others a list
    texts = [texts] if isinstance(texts, str) else texts
    return [" ".join(str(text).split()) for text in texts if str(text).strip()]


def read_song_tags(path: str | os.PathLike[str]) -> SongTags:
    """The file's genre values, artist and album artist (the one home of tag reading); raises TagError."""
    audio = _open(path)
    if audio.tags is None:
        return SongTags()
    key = _genre_key(audio.tags)
    artist_keys, album_keys = _ARTIST_KEYS[key]

    def first(keys: tuple[str, ...]) -> str | None:
        return next((texts[0] for k in keys if (texts := _texts(audio.tags, k))), None)

    return SongTags(tuple(_texts(audio.tags, key)), first(artist_keys), first(album_keys))


def stream_stamp(path: str | os.PathLike[str]) -> str:
    """What a file's audio is, whatever its tags: the length (to the microsecond), sample rate and channels of
    its header (mutagen) and a fingerprint of some of its audio (``functions_audio.sample_fingerprint``: samples
    libsndfile decodes; an MP4's first and middle media bytes; an Ogg stream's serial number, new at each
    encoding). 00 --labels tags reads a song's features again when this changes (another song saved under its
    name, a re-encoding), not when only its tags were edited. A file none of these reads: its size and
    modification time (functions_stamps.file_stamp's rule: a tag edit then costs an extraction, never a stale
    row)."""
    try:
        audio = _open(path)
        info = audio.info
        length, rate, channels = float(info.length), getattr(info, "sample_rate", 0), getattr(info, "channels", 0)
        fingerprint = functions_audio.sample_fingerprint(path)
        if fingerprint is None and type(audio).__name__ == "MP4":
            fingerprint = _mp4_media_fingerprint(path)
        if fingerprint is None and getattr(info, "serial", None) is not None:
            fingerprint = f"serial{info.serial}"
    except Exception:  # TagError, a parser's own exception on a damaged file, a file gone
        fingerprint = None
    if fingerprint is None:
        return functions_stamps.file_stamp(path)
    return f"stream:{length:.6f}:{rate}:{channels}:{fingerprint}"


def _mp4_media_fingerprint(path: str | os.PathLike[str], size: int = 1 << 16) -> str | None:
    """SHA-1 (16 hex digits) of the first and the middle ``size`` bytes of an MP4 file's media data (its ``mdat``
    atom, which tag edits move but do not change); None without one."""
    import hashlib

    from mutagen.mp4 import Atoms

    with open(path, "rb") as stream:
        media = next((atom for atom in Atoms(stream).atoms if atom.name == b"mdat"), None)
        if media is None or media.datalength <= 0:
            return None
        first, end = media.offset + media.length - media.datalength, media.offset + media.length
        digest = hashlib.sha1()
        for offset in (first, first + media.datalength // 2):
            stream.seek(offset)
            digest.update(stream.read(min(size, end - offset)))  # never past the media data (the tags may follow)
    return digest.hexdigest()[:16]


def read_genre(path: str | os.PathLike[str]) -> str | None:
    """The file's genre tag (several values joined by "; "), or None; raises TagError."""
    return "; ".join(read_song_tags(path).genres) or None


def _set_genre(audio: Any, value: str) -> None:
    if audio.tags is None:
        try:
            audio.add_tags()
        except Exception as exc:  # mutagen's formats without tags raise their own error types
            raise TagError(f"cannot add tags to this file ({_reason(exc)})") from None
    key = _genre_key(audio.tags)
    if key == "TCON":
        from mutagen.id3 import TCON

        audio.tags.setall("TCON", [TCON(encoding=3, text=[value])])
    else:
        audio.tags[key] = [value]


def _same_id3_version(audio: Any) -> dict[str, int]:
    """The save options that keep an ID3v2.3 tag v2.3 (mutagen saves v2.4 by default, which older players such as
    Windows Explorer and some car stereos do not read: the song's title and artist would seem gone there)."""
    from mutagen.id3 import ID3

    tags = audio.tags
    return {"v2_version": 3} if isinstance(tags, ID3) and tuple(tags.version[:2]) == (2, 3) else {}


def write_genre(path: str | os.PathLike[str], value: str) -> tuple[int, int]:
    """Write ``value`` as the genre of ``path`` crash-safely; returns the new ``(size, mtime_ns)``.

    A symbolic link is followed (the file it points to is tagged). Read-only files, files with several hard
    links (a copy would split them), files changed meanwhile and formats without a genre tag raise TagError;
    the file is then untouched and no temporary file is left.
    """
    real = Path(os.path.realpath(path))
    before = check_writable(real)
    _set_genre(_open(real), value)  # only checks that it can be done: nothing is saved to the file itself
    tmp = temp_path(real)
    try:
        shutil.copyfile(real, tmp)
        audio = _open(tmp)
        _set_genre(audio, value)
        audio.save(**_same_id3_version(audio))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(before.st_mode))
        if hasattr(os, "chown") and os.geteuid() == 0:
            os.chown(tmp, before.st_uid, before.st_gid)
        now = os.stat(real)
        if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise TagError("changed while being tagged, not tagged")
        os.replace(tmp, real)
    except OSError as exc:
        raise TagError(f"cannot write ({exc.strerror or exc})") from None
    except Exception as exc:
        if isinstance(exc, TagError):
            raise
        import mutagen

        if isinstance(exc, mutagen.MutagenError):
            raise TagError(f"cannot write its tags ({_reason(exc)})") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(real.parent)
    after = os.stat(real)
    return after.st_size, after.st_mtime_ns


def check_writable(path: str | os.PathLike[str]) -> os.stat_result:
    """The file's status if it may be tagged; TagError for vanished, read-only and hard-linked files."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise TagError("no such file (vanished)") from None
    except OSError as exc:
        raise TagError(f"cannot read ({exc.strerror or exc})") from None
    if not info.st_mode & stat.S_IWUSR or not os.access(path, os.W_OK):  # root may write anything: ask the mode
        raise TagError("read-only file, not tagged")
    if info.st_nlink > 1:
        raise TagError(f"has {info.st_nlink} hard links (tagging a copy would split them), not tagged")
    return info


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the system allows opening folders)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


# ---------------------------------------------------------------------------------------------------------
# A library's tags
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TagChange:
    """One planned write: the file, its genre tag now (None: none), the value to write, the confidence."""

    path: str
    old: str | None
    new: str
    confidence: float

    def describe(self) -> str:
        return f"{self.path}: genre {self.old!r} -> {self.new!r} ({self.confidence * 100:.0f} %)" if self.old \
            else f"{self.path}: genre -> {self.new!r} ({self.confidence * 100:.0f} %)"


@dataclass
class TagPlan:
    """What ``plan_tags`` decided for every song: changes, and counts of the songs left as they are."""

    changes: list[TagChange] = field(default_factory=list)
    already: int = 0  # the tag already says this genre
    kept: int = 0  # another genre is tagged and --overwrite-tags was not given
    not_sure: int = 0  # uncertain, below --min-confidence, or not classified
    unknown: int = 0  # not one of the model's genres (novelty score): never tagged
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)

    def line(self, dry_run: bool) -> str:
        verb = "to write" if dry_run else "written"
        return (f"tags: {len(self.changes)} {verb}, {self.already} already right, {self.kept} kept (another genre "
                f"is tagged; --overwrite-tags replaces it), {self.not_sure} not sure enough, "
                f"{self.unknown} not one of the model's genres, {len(self.problems)} cannot be tagged")


def plan_tags(entries: Iterable[LibraryEntry], min_confidence: float, overwrite: bool,
              spellings: dict[str, str] | None = None, clean: bool = True) -> TagPlan:
    """The tag changes for ``entries``: sure songs only (not unknown, not uncertain, confidence >= ``min_confidence``),
    an existing genre kept unless ``overwrite`` (a tag of several genres that holds this one is already right),
    each file once however many paths reach it, never a file changed since it was classified (its size or time is
    not the entry's: another song may be there now); the value written is ``tag_value(genre, spellings)``
    (``model_spellings``: the library's own spelling). With ``clean``, temporary files left by a killed earlier run
    are removed on the way (not in a dry run: another run may be tagging)."""
    plan = TagPlan()
    seen: set[tuple[int, int]] = set()
    for entry in entries:
        if not entry.ok or looks_like_url(entry.path):
            continue
        try:
            info = os.stat(entry.path)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            if clean:
                temp_path(os.path.realpath(entry.path)).unlink(missing_ok=True)
            if entry.known is False:
                plan.unknown += 1
                continue
            if not entry.is_sure(min_confidence):
                plan.not_sure += 1
                continue
            assert entry.genre is not None
            if entry.size is not None and (info.st_size, info.st_mtime_ns) != (entry.size, entry.mtime_ns):
                raise TagError("changed since it was classified (another song may be there now): not tagged; "
                               "scan it again")
            check_writable(entry.path)
            genres = read_song_tags(entry.path).genres
            old = "; ".join(genres) or None
        except OSError as exc:
            plan.problems.append((entry.path, "no such file (vanished)" if isinstance(exc, FileNotFoundError)
                                  else f"cannot read ({exc.strerror or exc})"))
            continue
        except TagError as exc:
            plan.problems.append((entry.path, str(exc)))
            continue
        new = tag_value(entry.genre, spellings)
        if any(same_genre(part, entry.genre) or same_genre(part, new) for part in genre_parts(genres)):
            plan.already += 1
        elif old is not None and not overwrite:
            plan.kept += 1
        else:
            plan.changes.append(TagChange(entry.path, old, new, entry.confidence))
    return plan


def apply_tags(plan: TagPlan, on_written: Callable[[TagChange, tuple[int, int]], None] | None = None,
               on_problem: Callable[[str, str], None] | None = None) -> int:
    """Write every change of ``plan``; a file that fails is reported through ``on_problem`` (and added to the
    plan's problems), the others go on. ``on_written`` gets each written change and the file's new
    ``(size, mtime_ns)``. Returns the number of files written."""
    written: list[TagChange] = []
    try:
        for change in plan.changes:
            try:
                state = write_genre(change.path, change.new)
            except TagError as exc:
                plan.problems.append((change.path, str(exc)))
                if on_problem is not None:
                    on_problem(change.path, str(exc))
                continue
            written.append(change)
            if on_written is not None:
                on_written(change, state)
    finally:
        plan.changes = written
    return len(written)
