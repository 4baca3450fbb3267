"""How two songs' stored vectors are compared (the similarity of "more like this"): a fixed projection.

A stored vector (functions_records: the musicnn tag means) is compared after a projection fitted once on the
``train`` clips of the artist-filtered GTZAN split (bench/bench_similarity.py, which also measures every vector that
was tried): the tag means centred on the train mean and unit-scaled, next to twice their unit-scaled linear
discriminant projection (9 dimensions that separate genres); the result is L2-normalised float32 and compared by
cosine (a dot product). Stored vectors are the network's outputs, not the projection: a better projection needs no
rescan. NumPy and the standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions_records import EMBEDDING_DIM


# ---------------------------------------------------------------------------------------------------------
# The comparison: a fixed projection, fitted on GTZAN train clips (bench/bench_similarity.py --write-projection)
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


# the block write_projection replaces: its marker lines at the start of a line (not the markers in the function)
PROJECTION_BLOCK = re.compile(r"^# PROJECTION-BEGIN.*?^# PROJECTION-END", flags=re.S | re.M)


def write_projection(projection: Projection, path: str | os.PathLike[str] = __file__) -> Path:
    """Replace the PROJECTION block of this module's source ``path`` (between its PROJECTION-BEGIN and
    PROJECTION-END lines) by ``projection``, its numbers to 7 significant digits; returns the path written."""
    def number(x: float) -> str:
        return f"{x:.7g}"

    scalings = ",\n".join("    [" + ", ".join(number(v) for v in row) + "]" for row in projection.scalings)
    centre = ",\n".join("    " + ", ".join(number(v) for v in projection.centre[i:i + 8])
                        for i in range(0, projection.centre.size, 8))
    block = (f"# PROJECTION-BEGIN (written by bench/bench_similarity.py --write-projection)\n"
             f"PROJECTION_NAME = {projection.name!r}\n"
             f"PROJECTION_WEIGHT = {projection.weight!r}\n"
             f"PROJECTION_CENTRE: list[float] = [\n{centre},\n]\n"
             f"PROJECTION_SCALINGS: list[list[float]] = [  # (50 tags, {projection.scalings.shape[1]} directions)\n"
             f"{scalings},\n]\n# PROJECTION-END")
    path = Path(path)
    text, found = re.subn(PROJECTION_BLOCK, lambda _m: block, path.read_text(), count=1)
    if not found:
        raise ValueError(f"{path}: no '# PROJECTION-BEGIN' ... '# PROJECTION-END' lines to replace")
    path.write_text(text)
    return path


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


