"""Labels from the genre tags of a music library (00 --labels tags): read before any audio, merged, summarised.

A library of any layout: every audio file below it is a song whose label is its genre tag (read through
functions_tags, the one home of tag reading: ID3, Vorbis comments, MP4, ASF). Spellings that differ only by case,
spaces and punctuation are one label ("Hip-Hop", "Hip Hop", "hiphop"); ID3v1 genre numbers ("(17)", "17") are
their names ("Rock"); a tag of several genres ("Rock; Pop", several values) gives its first. A genre map (TSV:
tag as written, label) merges or renames genres first. Genres with fewer than --min-songs songs are set aside.

The label is the most frequent spelling in lower case ("hip-hop"); that spelling itself ("Hip-Hop") is kept in
the settings JSON beside the features CSV (``record``), for writing tags back in the user's own spelling. Every
song, used or not, is listed with its tag, label, artist and status in FEATURES.labels.csv (``write_labels_csv``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from functions_dataset import NOT_UTF8, Clip, DatasetError, SkippedItem, iter_audio_files, shown_name
from functions_tags import TagError, genre_key, read_song_tags

DEFAULT_MIN_SONGS = 10
SEPARATORS = re.compile(r"\s*[;|\x00]\s*")  # between genres inside one value ("/" is not: "R&B/Soul" is one)
ID3V1_REFERENCE = re.compile(r"\((\d+|RX|CR)\)")
ID3V1_SPECIAL = {"RX": "Remix", "CR": "Cover"}
# values that say "no genre" (rippers' placeholders; pandas would also read most of them back as missing)
PLACEHOLDERS = frozenset({"none", "null", "nan", "na", "n/a", "<na>", "unknown", "undefined", "genre"})
SHOWN = 20  # lines of a list the summary prints; the labels CSV has them all

LABELLED, UNTAGGED, UNREADABLE, SET_ASIDE = "labelled", "untagged", "unreadable tags", "set aside"


class LabelError(DatasetError):
    """Labels that cannot be had at all (a genre map that cannot be read, nothing to train on); one line."""


def labels_csv_for(output_csv: Path) -> Path:
    """FEATURES.csv -> FEATURES.labels.csv, beside it: every song of the library with its tag and label."""
    return output_csv.with_name(output_csv.stem + ".labels.csv")


# --------------------------------------------------------------------------------------------------------------
# Genre values -> genres
# --------------------------------------------------------------------------------------------------------------
def id3v1_genres(text: str) -> list[str]:
    """ID3v1 genre references as names: "(17)" and "17" -> ["Rock"], "(17)(9)" -> ["Rock", "Metal"],
    "(17)Hard Rock" -> ["Hard Rock"] (the text refines the number); any other text is itself."""
    from mutagen._constants import GENRES

    text = text.strip()
    if text.isdigit():
        return [GENRES[int(text)]] if int(text) < len(GENRES) else []  # 255 is ID3v1's "no genre"
    references, rest = [], text
    while match := ID3V1_REFERENCE.match(rest):
        references.append(match.group(1))
        rest = rest[match.end():].lstrip()
    if rest:
        return [rest[1:] if rest.startswith("((") else rest]
    return [ID3V1_SPECIAL.get(ref) or GENRES[int(ref)] for ref in references
            if ref in ID3V1_SPECIAL or int(ref) < len(GENRES)]


def split_genres(values: Iterable[str]) -> list[str]:
    """The genres of a tag's values, in order: several values, values holding "a; b" or "a | b", ID3v1 numbers;
    placeholders ("Unknown", "None", "N/A", ...) are no genre."""
    genres = []
    for value in values:
        for part in SEPARATORS.split(value):
            genres += [" ".join(g.split()) for g in id3v1_genres(part)
                       if genre_key(g) and " ".join(g.split()).casefold() not in PLACEHOLDERS]
    return genres


# --------------------------------------------------------------------------------------------------------------
# The genre map
# --------------------------------------------------------------------------------------------------------------
@dataclass
class GenreMap:
    """A user's genre map: tag (by its genre_key) -> label as the user spelled it; bad lines, one line each."""

    path: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def label(self, tag: str) -> str:
        return self.labels.get(genre_key(tag), tag)


def read_genre_map(path: str | Path) -> GenreMap:
    """Read a genre map TSV: lines 'tag as written<TAB>label' ('#' comments, blank lines and a 'tag<TAB>label'
    header skipped). A tag matches whatever its case, spaces and punctuation. Bad lines are left out and
    described in `problems`; LabelError if the file cannot be read at all."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelError(f"genre map not found: {path}") from None
    except UnicodeDecodeError:
        raise LabelError(f"genre map {path} is not UTF-8 text (a TSV: tag as written, tab, label)") from None
    except OSError as error:
        raise LabelError(f"cannot read the genre map {path}: {error.strerror or error}") from None
    result = GenreMap(path)
    where: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [part.strip() for part in line.split("\t")]
        if [f.casefold() for f in fields] == ["tag", "label"]:
            continue
        shown = line if len(line) <= 60 else line[:57] + "..."
        bad = f"genre map {path} line {number}: "
        if len(fields) != 2 or not all(fields):
            result.problems.append(bad + f"expected two columns separated by a tab (tag as written, label), "
                                         f"got {shown!r}; line ignored")
            continue
        tag, label = fields
        if not genre_key(tag) or not genre_key(label):
            result.problems.append(bad + f"{shown!r}: a tag and a label need letters or digits; line ignored")
            continue
        key = genre_key(tag)
        if key in where and genre_key(result.labels[key]) != genre_key(label):
            result.problems.append(bad + f"{tag!r} is already mapped to {result.labels[key]!r} on line "
                                         f"{where[key]}; line ignored")
            continue
        where.setdefault(key, number)
        result.labels.setdefault(key, " ".join(label.split()))
    return result


# --------------------------------------------------------------------------------------------------------------
# A library's labels
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Song:
    """One audio file of the library, as its tags label it."""

    file: str  # relative to the library, forward slashes
    path: Path
    status: str  # LABELLED, UNTAGGED, UNREADABLE or SET_ASIDE
    tag: str = ""  # the genre tag as written (several values joined by "; ")
    genres: tuple[str, ...] = ()  # the genres read from it, in order
    label: str = ""
    artist: str = ""  # the artist, else the album artist, else ""
    reason: str = ""  # why the tags are unreadable


@dataclass
class LabelScan:
    """What `label_library` found: every song, the labels kept, their spellings, the songs left out and why."""

    root: Path
    min_songs: int
    songs: list[Song] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)  # unreadable folders and tags: the errors CSV
    spellings: dict[str, Counter] = field(default_factory=dict)  # label -> Counter of spellings (map applied)
    spelling: dict[str, str] = field(default_factory=dict)  # label -> the spelling for writing tags back
    genre_map: GenreMap | None = None
    seconds: float = 0.0

    def of(self, status: str) -> list[Song]:
        return [song for song in self.songs if song.status == status]

    @property
    def clips(self) -> list[Clip]:
        return [Clip(s.file, s.label, s.path, s.artist) for s in self.songs if s.status == LABELLED]

    def genre_counts(self, status: str = LABELLED) -> Counter:
        return Counter(song.label for song in self.of(status))

    def record(self) -> dict:
        """For the settings JSON beside the features CSV: how the labels were made, and each label's spelling."""
        counts = self.genre_counts()
        return {"labels": "tags", "min_songs": self.min_songs,
                "genre_map": str(self.genre_map.path) if self.genre_map and self.genre_map.path else None,
                "genres": {label: {"spelling": self.spelling[label], "songs": counts[label],
                                   "spellings": dict(self.spellings[label].most_common())}
                           for label in sorted(counts)},
                "set_aside": dict(sorted(self.genre_counts(SET_ASIDE).items()))}

    def training_problem(self) -> str | None:
        """Why no model can be trained on these labels (one line), or None."""
        tagged = [s for s in self.songs if s.status in (LABELLED, SET_ASIDE)]
        unreadable = len(self.of(UNREADABLE))
        if not tagged:
            extra = f" ({unreadable} with unreadable tags)" if unreadable else ""
            return (f"none of the {len(self.songs)} audio files of {self.root} has a genre tag{extra}: nothing to "
                    f"learn from (tag some songs' genre, or give --labels folders for one sub-folder per genre)")
        counts = self.genre_counts()
        aside = self.genre_counts(SET_ASIDE)
        if not counts:
            label, most = aside.most_common(1)[0]
            return (f"no genre has --min-songs {self.min_songs} songs (the most: {label}, {most}): lower "
                    f"--min-songs or tag more songs")
        if len(counts) == 1:
            (label, songs), = counts.items()
            others = f" ({len(aside)} others under --min-songs {self.min_songs})" if aside else ""
            return (f"only one genre to learn: {label} ({songs} songs){others}; a model needs two or more "
                    f"genres with at least --min-songs songs each")
        return None


def _read(path: Path) -> tuple[str, tuple[str, ...], str, str]:
    """(tag as written, genres, artist, error) of one file; never raises."""
    try:
        tags = read_song_tags(path)
    except TagError as error:  # mutagen names the file: the summary does already
        return "", (), "", str(error).replace(repr(str(path)), "the file").replace(str(path), "the file")
    except Exception as error:  # a parser's own exception on a damaged file: one line, the others go on
        return "", (), "", f"cannot read its tags ({type(error).__name__}: {' '.join(str(error).split())})"
    return "; ".join(tags.genres), tuple(split_genres(tags.genres)), tags.artist or tags.album_artist or "", ""


def label_library(library: str | Path, genre_map: GenreMap | None = None, min_songs: int = DEFAULT_MIN_SONGS,
                  progress: bool = False, threads: int = 4) -> LabelScan:
    """Read the genre and artist tags of every audio file below `library` (any layout) and label them.

    Tags are read by a few threads (the time goes in opening files). DatasetError when the library is
    missing or holds no audio; everything else (untagged songs, unreadable tags, small genres) is in the result.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    started = time.perf_counter()
    root = Path(library).resolve()
    if not root.is_dir():
        raise DatasetError(f"library folder not found: {library}" if not root.exists()
                           else f"library is not a folder: {library}")
    scan = LabelScan(root, min_songs, genre_map=genre_map)
    paths = list(iter_audio_files(root, scan.skipped, root))
    if not paths:
        raise DatasetError(f"no audio files in {library}")
    for path in [path for path in paths if shown_name(str(path)) != str(path)]:  # the CSVs are UTF-8 text
        paths.remove(path)
        scan.skipped.append(SkippedItem(shown_name(path.relative_to(root).as_posix()), NOT_UTF8))
    with ThreadPoolExecutor(max(1, threads)) as pool, \
            tqdm(total=len(paths), unit="file", desc="Reading tags", disable=not progress, dynamic_ncols=True,
                 leave=False) as bar:
        read = []
        for result in pool.map(_read, paths, chunksize=64):
            read.append(result)
            bar.update(1)
    mapped = genre_map or GenreMap()
    first_names: list[str | None] = []
    for path, (tag, genres, artist, error) in zip(paths, read, strict=True):
        file = path.relative_to(root).as_posix()
        if error:
            scan.songs.append(Song(file, path, UNREADABLE, artist=artist, reason=error))
            scan.skipped.append(SkippedItem(file, f"unreadable tags: {error}"))
            first_names.append(None)
        elif not genres:
            scan.songs.append(Song(file, path, UNTAGGED, tag=tag, artist=artist))
            first_names.append(None)
        else:
            scan.songs.append(Song(file, path, LABELLED, tag=tag, genres=genres, artist=artist))
            first_names.append(mapped.label(genres[0]))
    by_key: dict[str, Counter] = defaultdict(Counter)
    for name in first_names:
        if name is not None:
            by_key[genre_key(name)][name] += 1
    chosen = {label_key: mapped_spelling for label_key in by_key
              if (mapped_spelling := next((v for v in mapped.labels.values() if genre_key(v) == label_key), None))}
    label_of_key = {}
    for key, spellings in by_key.items():
        spelling = chosen.get(key) or min(spellings, key=lambda name: (  # the most frequent; in a tie, not
            -spellings[name], name.isupper(), name.islower(), name))  # all capitals, not all lower case
        label = spelling.lower()
        label_of_key[key] = label
        scan.spelling[label] = spelling
        scan.spellings[label] = spellings
    counts = Counter()
    for name in first_names:
        if name is not None:
            counts[label_of_key[genre_key(name)]] += 1
    for index, (song, name) in enumerate(zip(scan.songs, first_names, strict=True)):
        if name is not None:
            label = label_of_key[genre_key(name)]
            status = LABELLED if counts[label] >= min_songs else SET_ASIDE
            scan.songs[index] = Song(song.file, song.path, status, song.tag, song.genres, label, song.artist)
    scan.seconds = time.perf_counter() - started
    return scan


# --------------------------------------------------------------------------------------------------------------
# What the user reads: the summary, and the list of every song
# --------------------------------------------------------------------------------------------------------------
def _listed(items: Sequence[str], total: int, where: Path | None) -> list[str]:
    lines = [f"  {item}" for item in items[:SHOWN]]
    if total > SHOWN:
        lines.append(f"  ... and {total - SHOWN} more" + (f" (all in {where})" if where else ""))
    return lines


def summary_lines(scan: LabelScan, labels_csv: Path | None = None) -> list[str]:
    """The tag summary 00 prints before any audio: songs per genre and per artist, songs left out and why."""
    counts, aside = scan.genre_counts(), scan.genre_counts(SET_ASIDE)
    untagged, unreadable = scan.of(UNTAGGED), scan.of(UNREADABLE)
    used = [s for s in scan.songs if s.status == LABELLED]
    lines = [f"Tags of {len(scan.songs)} audio files read in {scan.seconds:.1f} s: {len(used)} songs in "
             f"{len(counts)} genres to learn, {len(untagged)} untagged, {len(unreadable)} with unreadable tags, "
             f"{sum(aside.values())} in {len(aside)} genres set aside (under --min-songs {scan.min_songs})."]
    if scan.genre_map is not None:
        used_map = sum(1 for s in scan.songs if s.genres and genre_key(s.genres[0]) in scan.genre_map.labels)
        lines.append(f"Genre map {scan.genre_map.path}: {len(scan.genre_map.labels)} tags mapped, applied to "
                     f"{used_map} songs.")
    artists_of: dict[str, Counter] = defaultdict(Counter)
    for song in scan.songs:
        if song.status in (LABELLED, SET_ASIDE):
            artists_of[song.label][song.artist] += 1
    width = max((len(label) for label in [*counts, *aside]), default=5)
    for title, table in (("Songs per genre", counts), (f"Set aside (fewer than {scan.min_songs} songs)", aside)):
        if not table:
            continue
        lines.append(f"{title} (label: songs, artists; tag spellings merged into it):")
        for label, songs in sorted(table.items(), key=lambda item: (-item[1], item[0])):
            artists = len([a for a in artists_of[label] if a])
            spellings = ", ".join(f"{name!r} {n}" for name, n in scan.spellings[label].most_common(4))
            more = len(scan.spellings[label]) - 4
            spellings += f", +{more} more" if more > 0 else ""
            warn = "  <- one or two artists: its figures will say little" if artists <= 2 and table is counts else ""
            lines.append(f"  {label:<{width}} {songs:>6} songs {artists:>5} artists   ({spellings}){warn}")
    several = [s for s in scan.songs if len(s.genres) > 1 and s.status in (LABELLED, SET_ASIDE)]
    if several:
        lines.append(f"{len(several)} songs have several genres; the first was taken:")
        lines += _listed([f"{s.file}: {s.tag!r} -> {s.label}" for s in several], len(several), labels_csv)
    per_artist: dict[str, Counter] = defaultdict(Counter)
    for song in used:
        per_artist[song.artist][song.label] += 1
    ranked = sorted(per_artist.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    named = len([a for a in per_artist if a])
    lines.append(f"Songs per artist ({named} artists"
                 + (f"; the {SHOWN} with most songs" if len(ranked) > SHOWN else "") + "):")
    lines += _listed([f"{artist or '(no artist tag)'}: {sum(genres.values())} ("
                      + ", ".join(f"{label} {n}" for label, n in genres.most_common(3))
                      + (", ..." if len(genres) > 3 else "") + ")" for artist, genres in ranked],
                     len(ranked), labels_csv)
    if untagged:
        lines.append(f"Untagged songs ({len(untagged)}, no genre tag; not used):")
        lines += _listed([s.file for s in untagged], len(untagged), labels_csv)
    if unreadable:
        lines.append(f"Unreadable tags ({len(unreadable)}; not used):")
        lines += _listed([f"{s.file}: {s.reason}" for s in unreadable], len(unreadable), labels_csv)
    return lines


def write_labels_csv(scan: LabelScan, path: Path) -> None:
    """Every song of the library: file, status, genre tag as written, label, artist, note (atomically)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "status", "tag", "label", "artist", "note"])
    for song in scan.songs:
        note = song.reason or (f"{len(song.genres)} genres: the first taken" if len(song.genres) > 1 else "")
        writer.writerow([song.file, song.status, song.tag, song.label, song.artist, note])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)



# --------------------------------------------------------------------------------------------------------------
# After training (02): the labels' own spellings, and the tags the model's out-of-fold predictions doubt
# --------------------------------------------------------------------------------------------------------------
SUSPECT_FILE = "suspect_tags.csv"
OUT_OF_FOLD_FILE = "out_of_fold.csv"  # every song's out-of-fold prediction, in the CSV's order


def label_spellings(features_csv: Path) -> dict[str, str]:
    """Each label's spelling for writing tags back (the most frequent one, or the genre map's), from the settings
    JSON 00 --labels tags wrote beside the features CSV; {} for a CSV of folder labels or without that record."""
    import json

    from functions_dataset import settings_json_for

    try:
        record = json.loads(settings_json_for(Path(features_csv)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    genres = record.get("genres") if isinstance(record, dict) and record.get("labels") == "tags" else None
    if not isinstance(genres, dict):
        return {}
    return {label: info["spelling"] for label, info in genres.items()
            if isinstance(info, dict) and isinstance(info.get("spelling"), str) and info["spelling"].strip()}


@dataclass(frozen=True)
class Suspect:
    """A song whose out-of-fold prediction is confident and disagrees with its tag."""

    file: str
    tagged: str
    predicted: str
    probability: float  # calibrated probability of the predicted genre
    tag_probability: float  # calibrated probability of the tagged genre


def suspect_tags(files: Sequence[str], tagged: Sequence[int], proba, genres: Sequence[str],
                 min_probability: float) -> list[Suspect]:
    """Songs predicted (out of fold: by networks that never trained on them) as another genre than their tag with
    a calibrated probability of at least ``min_probability`` (the model's uncertain threshold), the tags the model
    is most sure are wrong first: lowest probability of the tagged genre first (confident learning's
    "self-confidence" ranking, as cleanlab's default), ties by the predicted genre's probability, then file."""
    found = [s for s in predictions(files, tagged, proba, genres)
             if s.predicted != s.tagged and s.probability >= min_probability]
    return sorted(found, key=lambda s: (s.tag_probability, -s.probability, s.file))


def predictions(files: Sequence[str], tagged: Sequence[int], proba, genres: Sequence[str]) -> list[Suspect]:
    """Every song's tag, predicted genre and their probabilities (``proba``: calibrated, out of fold)."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    tagged = np.asarray(tagged)
    predicted = proba.argmax(axis=1)
    return [Suspect(str(files[i]), genres[tagged[i]], genres[predicted[i]], float(proba[i, predicted[i]]),
                    float(proba[i, tagged[i]])) for i in range(len(tagged))]


def suspect_tags_csv(suspects: Sequence[Suspect]) -> str:
    """The text of suspect_tags.csv (and out_of_fold.csv): file, tagged genre, predicted genre, probability (and
    the tagged genre's)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "tagged", "predicted", "probability", "tagged_probability"])
    for s in suspects:
        writer.writerow([s.file, s.tagged, s.predicted, f"{s.probability:.4f}", f"{s.tag_probability:.4f}"])
    return buffer.getvalue()


def suspect_lines(suspects: Sequence[Suspect], path: Path, n_songs: int, min_probability: float,
                  shown: int = 10) -> list[str]:
    """What 02 prints of suspect_tags.csv: how many, and the first lines."""
    if not suspects:
        return [f"suspect tags: none (no song's out-of-fold prediction disagrees with its tag at "
                f"{min_probability:.0%} or more)"]
    sure = (f"with {min_probability:.0%} or more (out of fold)" if min_probability > 0 else
            "(out of fold; the model's uncertain threshold is 0, so every disagreement)")
    lines = [f"suspect tags: {len(suspects)} of {n_songs} songs are predicted as another genre than their tag {sure}, "
             f"the tags it doubts most first; all in {path}:"]
    width = max(len(s.file) for s in suspects[:shown])
    lines += [f"  {s.file:<{width}}  tagged {s.tagged} ({s.tag_probability:.0%}), heard as {s.predicted} "
              f"{s.probability:.0%}" for s in suspects[:shown]]
    if len(suspects) > shown:
        lines.append(f"  ... and {len(suspects) - shown} more")
    return lines
