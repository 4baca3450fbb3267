"""Getting real GTZAN: the copies people hold (Kaggle's archive.zip, the original genres.tar.gz, either unpacked)
and the original download address.

`unpack_archive` reads a .zip or .tar(.gz/.bz2/.xz) of either layout, finds the genre folders inside
(`<root>/<genre>/<clip>`; images, CSVs and other non-audio members are ignored) and unpacks only the audio into
a folder of its own under `data/`, safely: no member may leave that folder (`../`, absolute paths, links), sizes
are checked before anything is written (a zip bomb is refused), a member already unpacked and identical is not
written again, and a truncated archive stops with one line while what was unpacked stays on disk.
`download_gtzan` fetches genres.tar.gz from the Marsyas address (unreliable since 2022) and unpacks it the same way.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from functions_audio import DATA_DIR
from functions_dataset import DatasetError, is_audio_file

GTZAN_URL = "http://opihi.cs.uvic.ca/sound/genres.tar.gz"
GTZAN_MD5 = "5b3d6dddb579ab49814ab86dba69e7c7"
GTZAN_UNRELIABLE = (
    "this address has been unreliable since 2022; get a copy elsewhere (Kaggle's \"GTZAN Dataset - Music Genre "
    "Classification\" archive.zip, or genres.tar.gz from a mirror) and run: "
    "python 00_preprocess_music.py path/to/archive.zip -o outputs/features.csv")

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBER_BYTES = 64 * 1024**2  # a GTZAN clip is 1.3 MB; an audio member declaring more is refused
MAX_TOTAL_BYTES = 8 * 1024**3  # the whole of GTZAN's audio is 1.2 GB
COPY_CHUNK = 1 << 16


def is_archive(path: str | Path) -> bool:
    """A file whose name ends like an archive this module reads (.zip, .tar, .tar.gz, ...)."""
    name = Path(path).name.lower()
    return Path(path).is_file() and name.endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: Path) -> str:
    """archive.tar.gz -> archive, archive.zip -> archive."""
    name = path.name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# --------------------------------------------------------------------------------------------------------------
# One member of an archive, whatever its format
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """An archive member as both formats describe it: its name, declared size, kind and (zip) CRC-32."""

    name: str
    size: int
    is_file: bool
    is_link: bool
    crc32: int | None = None
    mtime: float | None = None


def _zip_member(info: zipfile.ZipInfo) -> Member:
    mode = info.external_attr >> 16
    is_link = stat.S_ISLNK(mode)
    return Member(info.filename, info.file_size, not info.is_dir() and not is_link, is_link, info.CRC)


def _tar_member(info: tarfile.TarInfo) -> Member:
    return Member(info.name, info.size, info.isfile(), info.issym() or info.islnk(), None, float(info.mtime))


def _iter_zip(archive: Path) -> Iterator[tuple[Member, Callable[[], BinaryIO]]]:
    """Members of a zip with a function that opens each one. Every declared size is checked first, before
    anything is written: the central directory of a zip names them all."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise DatasetError(f"cannot read {archive} as a zip archive (truncated or damaged: {error})") from None
    with zf:
        members = [(_zip_member(info), info) for info in zf.infolist()]
        _check_sizes([m for m, _ in members], archive)
        for member, info in members:
            yield member, (lambda info=info: zf.open(info))


def _iter_tar(archive: Path) -> Iterator[tuple[Member, Callable[[], BinaryIO]]]:
    """Members of a tar (any compression), read as a stream: a truncated archive still yields what precedes
    the damage. Sizes are checked member by member (a tar has no table of contents)."""
    try:
        tar = tarfile.open(archive, mode="r|*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"cannot read {archive} as a tar archive ({error})") from None
    total = 0
    with tar:
        for info in tar:
            member = _tar_member(info)
            if member.is_file and is_audio_file(PurePosixPath(member.name)):
                total += member.size
                _check_sizes([member], archive, total)
            yield member, (lambda info=info: tar.extractfile(info))


def _check_sizes(members: list[Member], archive: Path, total: int | None = None) -> None:
    """Refuse the archive (one line) when an audio member, or all of them together, declares an absurd size."""
    audio = [m for m in members if m.is_file and is_audio_file(PurePosixPath(m.name))]
    for member in audio:
        if member.size > MAX_MEMBER_BYTES:
            raise DatasetError(f"refusing {archive}: member {member.name} declares {member.size / 1e6:.0f} MB "
                               f"(more than {MAX_MEMBER_BYTES / 1e6:.0f} MB for one clip: a zip bomb or not GTZAN)")
    total = sum(m.size for m in audio) if total is None else total
    if total > MAX_TOTAL_BYTES:
        raise DatasetError(f"refusing {archive}: its audio declares {total / 1e9:.1f} GB in all "
                           f"(more than {MAX_TOTAL_BYTES / 1e9:.0f} GB: a zip bomb or not GTZAN)")


# --------------------------------------------------------------------------------------------------------------
# Where a member goes, and whether it may go there
# --------------------------------------------------------------------------------------------------------------
def member_target(name: str, dest_dir: Path, default_root: str) -> tuple[Path | None, str | None]:
    """(path to unpack `name` to, None), or (None, reason) for a member that must not be unpacked.

    An audio clip is `[.../]<root>/<genre>/<clip>`; it goes to `dest_dir/<root>/<genre>/<clip>` (`default_root`
    when the archive holds the genre folders at its top). Names that are absolute, contain `..`, or would
    resolve outside `dest_dir` are refused.
    """
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (path.parts and ":" in path.parts[0]):
        return None, "absolute path"
    if ".." in path.parts:
        return None, "path leaves the target folder (..)"
    parts = [part for part in path.parts if part not in ("", ".")]
    if len(parts) < 2:
        return None, "not inside a genre folder"
    root = parts[-3] if len(parts) >= 3 else default_root
    target = (dest_dir / root / parts[-2] / parts[-1]).resolve()
    if not target.is_relative_to(dest_dir.resolve()):
        return None, "path leaves the target folder"
    return target, None


def _same_file(target: Path, member: Member) -> bool:
    """Already unpacked and identical: same size, and the same CRC-32 (zip) or modification time (tar)."""
    try:
        info = target.stat()
    except OSError:
        return False
    if info.st_size != member.size:
        return False
    if member.crc32 is not None:
        crc = 0
        with open(target, "rb") as stream:
            while chunk := stream.read(COPY_CHUNK):
                crc = zlib.crc32(chunk, crc)
        return crc == member.crc32
    return member.mtime is not None and int(info.st_mtime) == int(member.mtime)


def _write_member(open_member: Callable[[], BinaryIO], member: Member, target: Path) -> None:
    """Copy one member to `target` through a `.part` file (never a half-written clip under its real name),
    stopping if it holds more than it declared."""
    partial = target.with_name(target.name + ".part")
    written = 0
    try:
        with open_member() as source:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                out = open(partial, "wb")
            except OSError as error:
                raise DatasetError(f"cannot write {target}: {error.strerror or error}") from None
            with out:
                while chunk := source.read(COPY_CHUNK):
                    written += len(chunk)
                    if written > member.size:
                        raise DatasetError(f"member {member.name} holds more than the {member.size} bytes it "
                                           f"declares")
                    try:
                        out.write(chunk)
                    except OSError as error:
                        raise DatasetError(f"cannot write {target}: {error.strerror or error}") from None
        if member.mtime is not None:
            os.utime(partial, (member.mtime, member.mtime))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------------------
# Unpacking
# --------------------------------------------------------------------------------------------------------------
@dataclass
class UnpackReport:
    """What `unpack_archive` did: where the dataset is, and what it wrote, kept, ignored and refused."""

    archive: Path
    dataset_dir: Path
    unpacked: int = 0
    already_there: int = 0
    ignored: int = 0  # not audio (images, CSVs, folders, ...)
    refused: list[str] = field(default_factory=list)  # one line each


def _members(archive: Path) -> Iterator[tuple[Member, Callable[[], BinaryIO]]]:
    if archive.name.lower().endswith(".zip"):
        return _iter_zip(archive)
    return _iter_tar(archive)


def unpack_archive(archive: str | Path, dest_dir: Path = DATA_DIR, progress: bool = True,
                   on_refused: Callable[[str], None] | None = None) -> UnpackReport:
    """Unpack the audio of a GTZAN archive (either layout) under `dest_dir`; returns where the genre folders are.

    Raises DatasetError with one line for an archive that cannot be read, a zip bomb, an archive without audio
    in genre folders, and a truncated or damaged archive (what was unpacked before the damage is kept).
    """
    from tqdm import tqdm

    archive = Path(archive)
    default_root = archive_stem(archive)
    roots: Counter[Path] = Counter()
    report = UnpackReport(archive, dest_dir / default_root)
    with tqdm(unit="clip", desc=f"Unpacking {archive.name}", disable=not progress, dynamic_ncols=True) as bar:
        try:
            for member, open_member in _members(archive):
                _unpack_member(member, open_member, dest_dir, default_root, report, roots, on_refused)
                bar.update(1 if member.is_file and is_audio_file(PurePosixPath(member.name)) else 0)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
            kept = report.unpacked + report.already_there
            raise DatasetError(f"{archive} is truncated or damaged ({type(error).__name__}: {error}); the {kept} "
                               f"clips before the damage are kept under {dest_dir}: get a complete copy and run "
                               f"the same command again") from None
    if not roots:
        raise DatasetError(f"{archive} holds no audio files in genre folders "
                           f"(expected <genre>/<clip> or <root>/<genre>/<clip>)")
    report.dataset_dir = roots.most_common(1)[0][0]
    return report


def _unpack_member(member: Member, open_member: Callable[[], BinaryIO], dest_dir: Path, default_root: str,
                   report: UnpackReport, roots: Counter[Path], on_refused: Callable[[str], None] | None) -> None:
    """Unpack, skip, ignore or refuse one member, and count it in `report` (and its root folder in `roots`)."""
    if not is_audio_file(PurePosixPath(member.name.replace("\\", "/"))):
        report.ignored += 1
        return
    target, reason = member_target(member.name, dest_dir, default_root)
    if target is not None and member.is_link:
        target, reason = None, "a link, not a file"
    elif target is not None and not member.is_file:
        target, reason = None, "not a regular file"
    if target is None:
        line = f"refused archive member {member.name}: {reason}"
        report.refused.append(line)
        if on_refused:
            on_refused(line)
        return
    roots[target.parent.parent] += 1
    if _same_file(target, member):
        report.already_there += 1
        return
    _write_member(open_member, member, target)
    report.unpacked += 1


# --------------------------------------------------------------------------------------------------------------
# The original download address
# --------------------------------------------------------------------------------------------------------------
def file_md5(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def download_gtzan(dest_dir: Path = DATA_DIR, url: str = GTZAN_URL, md5: str | None = GTZAN_MD5,
                   timeout_s: float = 60.0, progress: bool = True) -> Path:
    """Fetch genres.tar.gz under `dest_dir` and unpack its audio; returns the folder with one sub-folder per genre.

    The download resumes from a partial `.part` file (HTTP Range), shows a progress bar, and is checked
    against `md5` before it is unpacked. Raises DatasetError with a one-line reason on failure: a download
    that cannot start says that the address is unreliable and how to go on with a copy from elsewhere; only
    a download that stopped part-way suggests running the same command again to resume.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    archive = dest_dir / Path(url.split("?")[0]).name
    if not archive.exists():
        partial = archive.with_name(archive.name + ".part")
        _fetch_resumably(url, partial, timeout_s, progress)
        if md5:
            actual = file_md5(partial)
            if actual != md5:
                partial.unlink()
                raise DatasetError(f"download of {url} is corrupt: MD5 {actual}, expected {md5}; "
                                   f"the partial file was removed, run again to retry")
        partial.replace(archive)
    return unpack_archive(archive, dest_dir, progress=progress).dataset_dir


def _fetch_resumably(url: str, partial: Path, timeout_s: float, progress: bool) -> None:
    """Append the rest of `url` to `partial` (HTTP Range from its current size), with a progress bar."""
    import requests
    from tqdm import tqdm

    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
            if response.status_code == 416:  # the partial file is already complete
                return
            if response.status_code not in (200, 206):
                raise DatasetError(f"cannot download GTZAN from {url} (HTTP {response.status_code}): "
                                   f"{GTZAN_UNRELIABLE}")
            if response.status_code == 200:
                offset = 0  # the server ignored the range: start again
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length else None
            with open(partial, "ab" if offset else "wb") as out, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=f"Downloading {partial.name[:-5]}", disable=not progress) as bar:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as error:
        fetched = partial.stat().st_size if partial.exists() else 0
        if fetched == 0:
            raise DatasetError(f"cannot download GTZAN from {url} ({type(error).__name__}): "
                               f"{GTZAN_UNRELIABLE}") from None
        raise DatasetError(f"download of {url} stopped after {fetched / 1e6:.1f} MB ({type(error).__name__}); "
                           f"run the same command again to resume") from None
