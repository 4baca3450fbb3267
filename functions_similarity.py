"""More like this: a similarity vector per song, a library's vectors, nearest neighbours and their playlist.

What lives here, top-down:

* **The vector a song keeps** (``EMBEDDING_VERSION``, ``embedding_fields``): the musicnn network's 50 tag
  probabilities, averaged over the song's analysed patches (``SongResult.tag_means``), stored in each record of a
  results file as ``embedding`` (base64 of 50 little-endian float32) with ``embedding_version``. A song analysed
  by a model that reads only the classic features has none (the network did not run).
* **The comparison** (``Projection``, ``PROJECTION``, ``fit_projection``): a stored vector is compared after a
  fixed projection, fitted once on the ``train`` clips of the artist-filtered GTZAN split (bench/bench_similarity.py,
  which also measures every vector that was tried): the tag means centred on the train mean and unit-scaled, next
  to twice their unit-scaled linear discriminant projection (9 dimensions that separate genres); the result is
  L2-normalised float32 and compared by cosine (a dot product). Stored vectors are the network's outputs, not the
  projection: a better projection needs no rescan.
* **A library's vectors** (``load_library``, ``LibraryVectors``): read from a results file without changing it,
  line by line without parsing whole records (100,000 songs in under 2 s: bench/bench_similarity.py);
* **The query** (``LibraryVectors.neighbours``): cosine similarity to every song, best first, the query song and
  songs reached twice (the same file through links, or copies with equal audio: equal vectors) once or not at all;
* **Answering ``03 --like``** (``find_like``, ``Neighbour``, ``write_playlist``).

Errors are ``SimilarityError`` with one line for the user. NumPy and the standard library only (the analysis of a
new query song goes through the ClassificationJob it is given).
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
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import numpy as np

from functions_audio import MUSICNN_MODEL, MUSICNN_TAGS

EMBEDDING_DIM = len(MUSICNN_TAGS)
# What a record's vector is; records of another version are not comparable (a scan with this program redoes them)
EMBEDDING_VERSION = f"{MUSICNN_MODEL}:tag_means:1"
EMBEDDING_FIELD, VERSION_FIELD = "embedding", "embedding_version"
DUPLICATE_TOLERANCE = 1e-5  # stored vectors that differ by no more than this in every value: the same audio


class SimilarityError(Exception):
    """A similarity query cannot be answered (no usable library, an unreadable query song); one line."""


# ---------------------------------------------------------------------------------------------------------
# The vector a song keeps
# ---------------------------------------------------------------------------------------------------------
def song_vector(result: Any) -> np.ndarray | None:
    """The stored vector of an analysed song (a SongResult): its mean tag probabilities, or None without them."""
    means = getattr(result, "tag_means", None)
    if means is None or not getattr(result, "ok", True):
        return None
    vector = np.asarray(means, dtype="<f4").reshape(-1)
    return vector if vector.size == EMBEDDING_DIM and np.isfinite(vector).all() else None


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str | bytes) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def stored_vector(text: Any) -> np.ndarray | None:
    """The vector of a record's ``embedding`` field, or None unless it is base64 of 50 finite float32 (NaN, inf,
    another length or text that is not base64 is no vector: a scan computes it again)."""
    if not isinstance(text, str) or len(text) != _VECTOR_TEXT:
        return None
    try:
        vector = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4")
    except ValueError:
        return None
    return vector if vector.size == EMBEDDING_DIM and np.isfinite(vector).all() else None


def finite_or_none(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


def embedding_fields(result: Any) -> dict[str, str]:
    """The record fields of a song's vector (none when it has no vector); they go last in a record."""
    vector = song_vector(result)
    if vector is None:
        return {}
    return {VERSION_FIELD: EMBEDDING_VERSION, EMBEDDING_FIELD: encode_vector(vector)}


# ---------------------------------------------------------------------------------------------------------
# The comparison: a fixed projection, fitted on GTZAN train clips (bench/bench_similarity.py --print-projection)
# ---------------------------------------------------------------------------------------------------------
def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


@dataclass(frozen=True)
class Projection:
    """``[unit(x - centre), weight * unit((x - centre) @ scalings)]``, L2-normalised: what the cosine compares.

    With ``scalings`` of no columns it is the centred vector alone.
    """

    name: str
    centre: np.ndarray  # (50,)
    scalings: np.ndarray  # (50, k): linear discriminant directions (within-genre covariance whitened)
    weight: float

    def __call__(self, raw: np.ndarray, rows_at_once: int = 8192) -> np.ndarray:
        """The projected, unit-length float32 rows of ``raw`` (computed a block of rows at a time: a library's
        temporaries stay a few MB). Worked in float64: finite float32 rows give finite rows (in float32 a value
        near its largest, 3e38, made the discriminant part overflow to inf and the row NaN)."""
        raw = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        out = np.empty((raw.shape[0], self.dim), dtype=np.float32)
        centre, scalings = self.centre.astype(np.float64), self.scalings.astype(np.float64)
        for first in range(0, raw.shape[0], rows_at_once):
            centred = raw[first:first + rows_at_once].astype(np.float64) - centre
            block = np.empty((centred.shape[0], self.dim))
            block[:, :centre.size] = unit_rows(centred)
            if scalings.shape[1]:
                block[:, centre.size:] = self.weight * unit_rows(centred @ scalings)
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-30)
            out[first:first + rows_at_once] = block
        return out

    @property
    def dim(self) -> int:
        return self.centre.size + self.scalings.shape[1]


def fit_projection(X: np.ndarray, labels: Iterable[str], weight: float, name: str = "fitted") -> Projection:
    """Fit a ``Projection`` on rows ``X`` (raw vectors) with genre ``labels``: the centre is their mean, the
    scalings the linear discriminant directions (as scikit-learn's LDA with the 'svd' solver: the within-genre
    covariance whitened, then the principal directions of the genre means; at most genres - 1 of them)."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(list(labels))
    classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    centre = X.mean(axis=0)
    means = np.vstack([X[index == k].mean(axis=0) for k in range(len(classes))])
    within = X - means[index]
    covariance = within.T @ within / max(1, len(X) - len(classes))
    values, vectors = np.linalg.eigh(covariance)
    keep = values > values.max() * 1e-10
    whiten = vectors[:, keep] / np.sqrt(values[keep])
    between = ((means - centre) * np.sqrt(counts / len(X))[:, None]) @ whiten
    _, singular, vt = np.linalg.svd(between, full_matrices=False)
    k = int(min(len(classes) - 1, (singular > singular[0] * 1e-10).sum())) if singular.size else 0
    scalings = whiten @ vt[:k].T
    return Projection(name, centre.astype(np.float32), scalings.astype(np.float32), float(weight))


# Fitted on the 443 train clips of splits/gtzan_fault_filtered from the shared musicnn taggram (each clip's mean
# over its patches), weight chosen by artist-grouped cross-validation inside train (bench/bench_similarity.py).
# Measured there: 75.8 % of the ten nearest train clips of each of the 290 test clips share its genre (plain
# cosine on the tag means: 73.8 %; the classic features, standardised: 36.2 %).
# PROJECTION-BEGIN (written by bench/bench_similarity.py --write-projection)
PROJECTION_NAME = 'gtzan-train-lda9x2'
PROJECTION_WEIGHT = 2.0
PROJECTION_CENTRE: list[float] = [
    0.1429354, 0.1137545, 0.03782149, 0.03927071, 0.03734511, 0.06380712, 0.03444734, 0.009003803,
    0.01712552, 0.1351885, 0.0108184, 0.01849437, 0.01457141, 0.01240613, 0.04997677, 0.07817971,
    0.01268044, 0.01113579, 0.01072476, 0.06180612, 0.04537573, 0.02152054, 0.007596623, 0.04490017,
    0.03462576, 0.03545578, 0.05081331, 0.03445509, 0.01528959, 0.01930347, 0.01473005, 0.008722215,
    0.01544302, 0.06136658, 0.03243954, 0.004654004, 0.07480459, 0.01357261, 0.005665748, 0.00484337,
    0.04108447, 0.006228513, 0.02126536, 0.02318935, 0.02496321, 0.02907074, 0.006054009, 0.004194585,
    0.006702463, 0.00282404,
]
PROJECTION_SCALINGS: list[list[float]] = [  # (50 tags, 9 directions)
    [-4.259065, 8.363328, -3.186691, 4.502237, 9.762025, -1.011009, -3.818687, 11.12218, 11.41082],
    [6.973903, 4.643163, -0.1373079, 3.658467, -4.814146, -0.9086246, 6.468961, 6.369617, 1.170095],
    [62.97567, -24.31909, -29.22956, -24.73885, -22.23129, -6.617727, 25.39108, 38.875, -64.53181],
    [-20.66459, 40.4073, -3.708203, 27.7906, -28.23459, 39.41126, -63.40932, 28.56736, 44.75873],
    [-14.19471, 24.67661, 19.50943, 15.959, -44.71495, 1.093906, 45.17135, -13.19908, 33.21307],
    [3.830646, 13.94124, -16.16957, -1.523354, -11.76311, -33.18618, -17.47486, -25.8986, 13.34895],
    [-0.08185752, 2.81288, 0.3678436, 0.2350882, 3.899121, -2.73357, -6.578737, 2.066371, 11.48383],
    [-103.3986, -23.31943, -43.1574, -32.73884, 47.0174, -118.1367, 3.540448, -111.0278, 209.5872],
    [-27.33198, -10.90225, 34.60918, 16.12204, 2.301853, 13.54418, 0.01145399, -39.23153, 31.08927],
    [-9.046776, -4.711373, -3.083953, 10.45759, 4.031796, -4.706034, 6.309629, -0.1575373, 5.901779],
    [14.08039, -100.4871, -45.78735, 70.54605, -19.75013, 74.33628, 15.82473, 147.1237, -19.3894],
    [7.538899, -8.265107, 2.567257, 1.464536, 0.3215411, -1.775004, 2.415278, -4.681366, -0.02922177],
    [-32.33004, 27.5885, -2.921131, 9.971786, -14.35381, -45.45066, -29.40559, -10.84141, 45.86032],
    [-82.70654, -10.88198, -42.79185, -3.206072, -66.72475, -46.44627, -102.4247, 49.4138, -56.12681],
    [0.9212151, -6.280677, 4.707619, -5.325902, -3.681347, -6.729079, 2.096037, 4.352849, 2.436332],
    [1.918569, 2.310314, -1.151619, 2.684076, 0.9029179, 4.730134, 7.802499, -1.678301, -3.781313],
    [53.11701, -49.96041, 32.91029, -4.85884, 51.07702, -41.51506, 81.55634, -16.39449, -18.14248],
    [44.67789, -20.02083, 97.0014, 20.48652, 75.81483, -48.01791, -52.0616, -96.06449, 30.17881],
    [111.2577, -96.36245, -75.10629, -17.08817, 195.7013, 29.83514, -87.43475, 52.66068, -131.4444],
    [0.6502021, -4.032359, 1.752135, 1.834528, 4.56571, 3.222316, 5.095028, -2.64346, 6.994316],
    [7.33846, 2.326477, 5.072485, -3.326094, 7.11833, -9.533043, 12.92402, -3.674284, 6.574542],
    [-17.09288, 8.384238, -4.227309, -3.630921, -23.89394, -25.36143, -6.920311, -15.20469, 8.026087],
    [112.9509, -42.72437, -35.06594, 7.94233, -48.85056, 169.3655, 134.3744, 76.34486, -154.8339],
    [-35.52615, -0.112555, -8.077405, -29.03384, -5.282808, 2.863585, -2.37516, -9.219323, 1.212074],
    [3.712804, -8.848472, 3.166779, 1.576818, 2.106194, -0.9001577, 4.047797, -5.09634, 2.683509],
    [-13.59666, -0.1737586, 1.654042, 8.558258, 6.606434, -3.407544, 4.355162, -1.325896, -0.08244307],
    [-7.65247, -0.08600523, -2.281898, 7.615173, 3.740242, 2.904673, -4.670744, -9.961617, 4.817565],
    [10.50751, -20.87672, 3.798723, -4.40124, -4.688938, 0.3249692, 3.728492, -21.97085, -15.72547],
    [-7.040617, -5.959708, 5.83386, 0.9282848, 4.338899, 3.734708, 0.7506099, -3.953528, 6.482519],
    [-19.34444, -21.26933, -19.84076, 13.28982, -5.607347, 11.69225, -4.336517, 7.470592, -6.299856],
    [-49.90439, 13.49834, -16.93587, -20.09325, 3.25319, -28.06764, -17.24537, -17.88518, 13.82871],
    [-70.1745, -106.5079, 10.09367, 33.04169, 7.308539, 163.4761, 73.2921, 127.309, -50.67285],
    [35.6598, 45.90558, 20.93819, -6.686428, 4.601333, 5.022768, -12.2385, -7.128769, 16.26241],
    [3.187651, 0.3087912, -6.263815, 1.551038, 9.509315, -3.070094, 0.2393963, -0.6806099, 7.966213],
    [0.4064232, -2.195406, -7.106988, 1.698221, -0.2320525, 10.73772, 16.5962, -10.46071, 11.54795],
    [29.37663, -56.86518, -90.86637, 30.52967, 72.66389, 166.6142, 153.6109, -12.04872, -248.6715],
    [0.5639748, 4.530622, 4.388784, 1.85653, 6.790896, -4.765744, 8.012265, -3.725217, 4.369778],
    [36.31969, 25.68006, 14.90605, -38.75655, 17.27976, 8.02093, 8.498029, -3.538208, 25.24681],
    [77.09791, -119.0956, 58.84231, -90.85895, 240.9772, 71.26756, 76.45853, 6.648194, -239.3257],
    [-180.8811, 88.10348, -148.7195, -30.49311, -75.1385, -201.8715, -5.744547, -284.0903, 504.7267],
    [1.878099, 1.849903, -2.210312, -0.008013374, 1.789317, -5.369378, -0.1313691, -0.4806157, 11.99641],
    [-9.956811, 14.67963, -9.046488, -11.75156, -10.81796, -27.98132, -38.16771, -12.30609, 52.1305],
    [-4.98051, 6.708045, -0.5808688, 5.371531, 6.144588, -1.880149, 3.073248, 10.47812, 16.84071],
    [6.394221, -14.86897, 1.786308, 41.15503, 4.455511, 0.08693567, 4.900761, 12.20724, 9.645206],
    [21.79951, -8.960813, 0.1253106, 0.7659479, -0.2415583, 10.86787, 1.497702, 14.65275, -6.43714],
    [-2.305169, 7.325307, -3.136156, 6.354808, -10.49802, -6.612103, -4.979218, 1.308704, 17.00211],
    [-105.7592, -91.40634, -45.30583, -91.66769, 46.82182, -71.36021, 150.1904, -100.2592, -121.439],
    [-65.52303, 402.0501, 167.5943, -206.443, 105.7866, -135.8456, 201.0852, -326.1857, 88.19187],
    [-13.00105, 0.4768029, 13.4265, 3.189679, -16.11942, 9.71932, 8.589366, 1.135481, -15.33746],
    [284.5509, 169.5548, 470.1101, 255.3862, 91.80286, 290.839, -399.3084, -71.6946, -264.2574],
]
# PROJECTION-END
PROJECTION = Projection(PROJECTION_NAME, np.array(PROJECTION_CENTRE, dtype=np.float32),
                        np.array(PROJECTION_SCALINGS, dtype=np.float32).reshape(EMBEDDING_DIM, -1), PROJECTION_WEIGHT)


# ---------------------------------------------------------------------------------------------------------
# A library's vectors, read from its results file (never written here)
# ---------------------------------------------------------------------------------------------------------
_KEY_PATH = b'"path": "'
_KEY_VECTOR = b'"' + EMBEDDING_FIELD.encode() + b'": "'
_KEY_VERSION = b'"' + VERSION_FIELD.encode() + b'": "'
_VECTOR_BYTES = EMBEDDING_DIM * 4
_VECTOR_TEXT = 4 * -(-_VECTOR_BYTES // 3)  # its base64 length
_TAIL = _KEY_VERSION + EMBEDDING_VERSION.encode() + b'", ' + _KEY_VECTOR  # how this program's records end
READ_BLOCK = 1 << 22  # the file is read 4 MB at a time: memory holds one block, not the whole file
# A line longer than this is no record (a record of 20 windows is about 4 KB; 16 MB would hold 60,000 windows): it is
# skipped as it is read, never held whole (a 300 MB line of junk took 644 MB and 14 s)
LONGEST_LINE = 1 << 24
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
        """The (title, genre, duration_s) of the records of ``rows`` (all None for a record that changed since the
        file was loaded), read in one pass over the file in its order, each record only as far as these fields
        (the whole library as an answer: each record opened and parsed on its own took most of its time)."""
        empty = (None, None, None)
        if self.path is None or not rows:
            return [empty] * len(rows)
        shown: list[tuple[str | None, str | None, float | None]] = [empty] * len(rows)
        spans = self.offsets[rows].tolist()
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
                    shown[k] = _shown(_parsed(handle.read(spans[k][1])))
                    continue
                if type(title) is str and type(genre) is str and type(duration) is float and math.isfinite(duration):
                    shown[k] = (title, genre, duration)
                else:
                    shown[k] = _shown(fields)
            fast.clear()
            heads.clear()

        try:
            with open(self.path, "rb", buffering=1 << 20) as handle, \
                    mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:  # slices: no read calls
                info = os.fstat(handle.fileno())
                unchanged = self.file_state == (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
                for k in np.argsort(self.offsets[rows, 0], kind="stable").tolist():
                    start, length = spans[k]
                    line = mapped[start:start + (min(length, _HEAD_BYTES) if unchanged else length)]
                    if not unchanged and _record_path(line, 0, len(line)) != self.paths[rows[k]]:
                        continue  # the file changed since it was loaded, and this record with it
                    cut = line.find(_SHOWN_END) if line.startswith(_RECORD_START) else -1
                    if cut < 0:
                        shown[k] = _shown(_parsed(mapped[start:start + length]))
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
                if not _is_url(path):
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
    synthetic songs (bench/bench_similarity.py) the whole answer made 1,533 comparisons, 0.015 a song; one key
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


def _shown(record: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
    """A neighbour's title, genre and duration from its record: strings and a finite number, else None."""
    title, genre, duration = record.get("title"), record.get("genre"), record.get("duration_s")
    if type(duration) is not float:
        duration = float(duration) if type(duration) is int else None
    return (title if type(title) is str else None, genre if type(genre) is str else None,
            duration if duration is not None and math.isfinite(duration) else None)


def _is_url(path: str) -> bool:
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
        tail, tail_size = _TAIL, len(_TAIL) + _VECTOR_TEXT + 2
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
                if len(rest) > LONGEST_LINE:  # no record
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
    key = song if _is_url(song) else os.path.abspath(song)
    keys = (key,) if _is_url(key) else (key, os.path.realpath(key))
    rows = {row for row in map(library.index.get, keys) if row is not None}
    for row in sorted(rows):
        record = library.record(row) or {}
        if _is_url(key) or _unchanged(library.paths[row], record):
            return library.raw[row], _shown(record)[0], rows, False
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
    if not _is_url(song):
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

    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimilarityError(f"cannot create the folder of {output}: {exc.strerror or exc}") from None
    songs = [fl.LibraryEntry(path=n.path, title=n.title, duration_s=n.duration_s) for n in neighbours]
    try:
        fl.write_atomically(output, fl.utf8(fl.playlist_text(songs, output.parent.absolute())))
    except fl.LibraryError as exc:
        raise SimilarityError(str(exc)) from None
    return output
