"""The reference features CSV of the musicnn models, built from the team's shared data (never from audio):

    .venv/bin/python functions_reference.py [-o outputs/gtzan_reference_features.csv] [--shared DIR]

One row per GTZAN clip that has rows in ``gtzan_musicnn_msd_taggram.csv`` (the 443 ``train`` and 290 ``test``
clips of the artist-filtered split; none for ``valid``), sorted by ``file``: ``file``, ``genre``, the 91 classic
features of that clip from ``gtzan_features.csv`` (functions_audio.CLASSIC_COLUMNS), then the 100 musicnn
columns (functions_audio.MUSICNN_COLUMNS): the mean and the standard deviation (ddof 0) over the clip's 3-s
patches of each of the 50 tag probabilities ``tag_01`` ... ``tag_50`` (functions_audio.MUSICNN_TAGS order), i.e.
what the run-time musicnn forward pass computes from audio. The CSV is written atomically (a temporary file,
then one rename) and stays in ``outputs/`` (git-ignored): it is derived from data the project must not ship.

Any problem with the shared files (missing, unreadable, a missing column, a non-numeric or out-of-range tag
value, a repeated or missing patch, a clip whose genre differs between the two files or that the features CSV
lacks) stops with one line naming the file (functions_evaluation.DataError). NumPy and the standard library at
module level; pandas is imported where needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from functions_audio import CLASSIC_COLUMNS, ID_COLUMNS, MUSICNN_COLUMNS, MUSICNN_TAGS, OUTPUTS_DIR, shared_data_dir
from functions_evaluation import DataError, load_features_csv, read_csv_with_columns

if TYPE_CHECKING:
    import pandas as pd

FEATURES_FILE = "gtzan_features.csv"
TAGGRAM_FILE = "gtzan_musicnn_msd_taggram.csv"
TAG_COLUMNS: tuple[str, ...] = tuple(f"tag_{i:02d}" for i in range(1, len(MUSICNN_TAGS) + 1))
REFERENCE_CSV = OUTPUTS_DIR / "gtzan_reference_features.csv"
REFERENCE_COLUMNS: tuple[str, ...] = (*ID_COLUMNS, *CLASSIC_COLUMNS, *MUSICNN_COLUMNS)


def read_taggram(path: str | os.PathLike) -> pd.DataFrame:
    """The per-patch taggram CSV (file, genre, patch, tag_01 ... tag_50); DataError (one line) if unusable: a
    missing column, a tag value that is not a number in [0, 1], a clip with two genres, a repeated patch, or a
    clip whose patch numbers are not 0, 1, ..., n - 1."""
    import pandas as pd

    path = Path(path)
    df = read_csv_with_columns(path, ("file", "genre", "patch", *TAG_COLUMNS), "taggram CSV")
    if df["file"].isna().any() or df["genre"].isna().any():
        raise DataError(f"{path}: {int((df['file'].isna() | df['genre'].isna()).sum())} row(s) without a file "
                        "or genre")
    values = df[list(TAG_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(values) & (values >= 0.0) & (values <= 1.0)).all(axis=1)
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise DataError(f"{path}: {int(bad.sum())} row(s) with a tag value that is not a probability (a number "
                        f"from 0 to 1), e.g. {df['file'].iloc[first]} patch {df['patch'].iloc[first]}")
    patch = pd.to_numeric(df["patch"], errors="coerce")
    if patch.isna().any() or (patch % 1 != 0).any():
        raise DataError(f"{path}: 'patch' must be a whole number on every row")
    df = df.assign(patch=patch.astype(int), **{c: values[:, i] for i, c in enumerate(TAG_COLUMNS)})
    df["file"], df["genre"] = df["file"].astype(str), df["genre"].astype(str)
    genres = df.groupby("file")["genre"].nunique()
    if (genres > 1).any():
        raise DataError(f"{path}: {int((genres > 1).sum())} clip(s) with rows of two genres, e.g. "
                        f"{genres.index[genres > 1][0]}")
    repeated = df.duplicated(["file", "patch"])
    if repeated.any():
        row = df[repeated].iloc[0]
        raise DataError(f"{path}: {int(repeated.sum())} repeated (file, patch) row(s), e.g. {row['file']} "
                        f"patch {row['patch']}")
    patches = df.groupby("file")["patch"].agg(["min", "max", "count"])
    gaps = (patches["min"] != 0) | (patches["max"] != patches["count"] - 1)
    if gaps.any():
        raise DataError(f"{path}: {int(gaps.sum())} clip(s) whose patches are not numbered 0, 1, ..., n - 1 "
                        f"(a patch is missing), e.g. {patches.index[gaps][0]}")
    return df


def musicnn_clip_features(taggram: pd.DataFrame) -> pd.DataFrame:
    """One row per clip of a per-patch taggram (as read_taggram returns it), sorted by file: file, genre and
    MUSICNN_COLUMNS, the mean then the standard deviation (ddof 0) over its patches of tag_01 ... tag_50."""
    import pandas as pd

    ordered = taggram.sort_values(["file", "patch"], kind="stable")
    grouped = ordered.groupby("file", sort=True)
    tags = list(TAG_COLUMNS)
    means = grouped[tags].mean().to_numpy(dtype=np.float64)
    stds = grouped[tags].std(ddof=0).to_numpy(dtype=np.float64)
    clips = pd.DataFrame({"file": grouped["file"].first().index, "genre": grouped["genre"].first().to_numpy()})
    columns = pd.DataFrame(np.hstack([means, stds]), columns=list(MUSICNN_COLUMNS))
    return pd.concat([clips, columns], axis=1)


def build_reference_features(shared_dir: str | os.PathLike | None = None,
                             output: str | os.PathLike = REFERENCE_CSV) -> tuple[Path, str]:
    """Write the reference CSV (see the module docstring) from ``shared_dir`` (default: the shared data folder)
    to ``output`` atomically. Returns (the CSV's path, a one-line summary); DataError (one line) if unusable."""

    if shared_dir is None:
        shared_dir = shared_data_dir()
        if shared_dir is None:
            raise DataError("the shared data folder is not there (../shared/data, or $GENRE_SHARED_DATA)")
    shared_dir = Path(shared_dir)
    features_path, taggram_path = shared_dir / FEATURES_FILE, shared_dir / TAGGRAM_FILE
    features = load_features_csv(features_path, CLASSIC_COLUMNS)
    duplicated = features["file"].duplicated()
    if duplicated.any():
        raise DataError(f"{features_path}: {int(duplicated.sum())} clip(s) listed twice, e.g. "
                        f"{features['file'][duplicated].iloc[0]}")
    taggram = read_taggram(taggram_path)
    clips = musicnn_clip_features(taggram)
    classic = features[[*ID_COLUMNS, *CLASSIC_COLUMNS]].rename(columns={"genre": "genre_features"})
    merged = clips.merge(classic, on="file", how="left", validate="one_to_one")
    lacking = merged["genre_features"].isna()
    if lacking.any():
        raise DataError(f"{features_path}: lacks {int(lacking.sum())} clip(s) of {taggram_path.name}, e.g. "
                        f"{merged['file'][lacking].iloc[0]}")
    differ = merged["genre"] != merged["genre_features"]
    if differ.any():
        row = merged[differ].iloc[0]
        raise DataError(f"{taggram_path}: {int(differ.sum())} clip(s) whose genre differs from {features_path.name}"
                        f", e.g. {row['file']} ({row['genre']} against {row['genre_features']})")
    table = merged[list(REFERENCE_COLUMNS)].sort_values("file", kind="stable").reset_index(drop=True)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        table.to_csv(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    n_patches = taggram.groupby("file").size()
    per_genre = ", ".join(f"{genre} {count}" for genre, count in table["genre"].value_counts().sort_index().items())
    summary = (f"{output}: {len(table)} clips ({per_genre}), {len(CLASSIC_COLUMNS)} classic + {len(MUSICNN_COLUMNS)}"
               f" musicnn columns; {len(taggram)} patches, {n_patches.min()}-{n_patches.max()} per clip")
    return output, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the reference features CSV (classic + musicnn columns) "
                                                 "of the GTZAN clips the shared musicnn taggram covers.")
    parser.add_argument("-o", "--output", type=Path, default=REFERENCE_CSV,
                        help="CSV to write (default: outputs/gtzan_reference_features.csv)")
    parser.add_argument("--shared", type=Path, help="shared data folder (default: ../shared/data or "
                                                    "$GENRE_SHARED_DATA)")
    args = parser.parse_args(argv)
    try:
        _, summary = build_reference_features(args.shared, args.output)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {args.output}: cannot write the CSV ({exc.strerror or exc})", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
