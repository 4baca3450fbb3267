"""A song's record in a results file (``03 --results``), beyond 03's JSON fields: its similarity vector and the
rules every record keeps.

* **The vector a song keeps** (``EMBEDDING_VERSION``, ``embedding_fields``): the musicnn network's 50 tag
  probabilities, averaged over the song's analysed patches (``SongResult.tag_means``), stored as ``embedding``
  (base64 of 50 little-endian float32) with ``embedding_version``, last in the record. A song analysed by a model
  that reads only the classic features has none (the network did not run); a stored value that is not 50 finite
  float32 is no vector (``stored_vector``).
* **Finite numbers only** (``non_finite_as_none``: JSON has no NaN), and **the longest line** a record may be
  (``LONGEST_LINE``: a longer line is junk, skipped without being held whole).

Read by the library scans (functions_library) and the similarity queries (functions_library_vectors,
functions_similarity). NumPy and the standard library only.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from functions_audio import MUSICNN_MODEL, MUSICNN_TAGS

EMBEDDING_DIM = len(MUSICNN_TAGS)
# What a record's vector is; records of another version are not comparable (a scan with this program redoes them)
EMBEDDING_VERSION = f"{MUSICNN_MODEL}:tag_means:1"
EMBEDDING_FIELD, VERSION_FIELD = "embedding", "embedding_version"
VECTOR_TEXT_LENGTH = 4 * -(-EMBEDDING_DIM * 4 // 3)  # the base64 length of a stored vector
# A line longer than this is no record (a record of 20 windows is about 4 KB; 16 MB would hold 60,000 windows): it is
# skipped as it is read, never held whole (a 300 MB line of junk took 644 MB and 14 s)
LONGEST_LINE = 1 << 24


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
    if not isinstance(text, str) or len(text) != VECTOR_TEXT_LENGTH:
        return None
    try:
        vector = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4")
    except ValueError:
        return None
    return vector if vector.size == EMBEDDING_DIM and np.isfinite(vector).all() else None


def non_finite_as_none(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: non_finite_as_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [non_finite_as_none(item) for item in value]
    return value


def embedding_fields(result: Any) -> dict[str, str]:
    """The record fields of a song's vector (none when it has no vector); they go last in a record."""
    vector = song_vector(result)
    if vector is None:
        return {}
    return {VERSION_FIELD: EMBEDDING_VERSION, EMBEDDING_FIELD: encode_vector(vector)}
