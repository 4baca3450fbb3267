"""functions_reference: the reference features CSV (classic + musicnn columns) built from a taggram, on a small
synthetic shared folder made here, and on the real shared data where it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import functions_audio as audio
import functions_reference as reference
from functions_evaluation import DataError

GENRES3 = ("blues", "jazz", "rock")


def make_shared_folder(folder: Path, clips_per_genre: int = 3, tagged_per_genre: int = 2, seed: int = 0
                       ) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """gtzan_features.csv (every clip) and a taggram (the first ``tagged_per_genre`` clips of each genre, 3 or 4
    patches each, rows shuffled) in ``folder``; returns (folder, features, taggram)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = [(f"{g}/{g}.{i:05d}.wav", g) for g in GENRES3 for i in range(clips_per_genre)]
    features = pd.DataFrame([[f, g, *rng.normal(0, 10, len(audio.CLASSIC_COLUMNS))] for f, g in files],
                            columns=list(audio.CSV_COLUMNS))
    features.to_csv(folder / reference.FEATURES_FILE, index=False)
    rows = []
    for f, g in files:
        if int(f[-9:-4]) >= tagged_per_genre:
            continue
        for patch in range(3 + int(f[-9:-4]) % 2):
            rows.append([f, g, patch, float(patch), *rng.uniform(0, 1, len(reference.TAG_COLUMNS))])
    taggram = pd.DataFrame(rows, columns=["file", "genre", "patch", "start_s", *reference.TAG_COLUMNS])
    taggram.sample(frac=1.0, random_state=seed).to_csv(folder / reference.TAGGRAM_FILE, index=False)
    return folder, features, taggram


def test_reference_csv_has_classic_and_musicnn_columns_of_the_tagged_clips(tmp_path: Path) -> None:
    shared, features, taggram = make_shared_folder(tmp_path / "shared")
    out = tmp_path / "out" / "reference.csv"
    path, summary = reference.build_reference_features(shared, out)
    assert path == out and "6 clips" in summary and "3-4 per clip" in summary
    table = pd.read_csv(out)
    assert list(table.columns) == ["file", "genre", *audio.CLASSIC_COLUMNS, *audio.MUSICNN_COLUMNS]
    assert table["file"].tolist() == sorted(taggram["file"].unique())  # only the tagged clips, sorted by file
    assert not list(out.parent.glob(".*tmp*"))  # the temporary file is gone
    for _, row in table.iterrows():
        patches = taggram[taggram["file"] == row["file"]].sort_values("patch")
        tags = patches[list(reference.TAG_COLUMNS)].to_numpy()
        np.testing.assert_allclose(row[list(audio.MUSICNN_COLUMNS[:50])].to_numpy(float), tags.mean(axis=0),
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(row[list(audio.MUSICNN_COLUMNS[50:])].to_numpy(float), tags.std(axis=0, ddof=0),
                                   rtol=0, atol=1e-12)
        classic = features[features["file"] == row["file"]][list(audio.CLASSIC_COLUMNS)].to_numpy(float)[0]
        np.testing.assert_allclose(row[list(audio.CLASSIC_COLUMNS)].to_numpy(float), classic, rtol=1e-12)
        assert row["genre"] == row["file"].split("/")[0]
    # the command writes the same file
    again = tmp_path / "again.csv"
    assert reference.main(["--shared", str(shared), "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


def _broken(tmp_path: Path, name: str, change) -> Path:
    shared, features, taggram = make_shared_folder(tmp_path / name)
    change(shared, features, taggram)
    return shared


@pytest.mark.parametrize(("case", "needle"), [
    ("no taggram", "gtzan_musicnn_msd_taggram.csv: taggram CSV not found"),
    ("no features", "gtzan_features.csv: features CSV not found"),
    ("tag column", "missing column(s) tag_07"),
    ("not a probability", "a tag value that is not a probability"),
    ("repeated patch", "repeated (file, patch)"),
    ("missing patch", "patches are not numbered 0, 1, ..., n - 1"),
    ("genre differs", "whose genre differs from gtzan_features.csv"),
    ("clip lacking", "gtzan_features.csv: lacks 1 clip(s)"),
])
def test_shared_file_mistakes_are_one_line_errors(tmp_path: Path, case: str, needle: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    def change(shared: Path, features: pd.DataFrame, taggram: pd.DataFrame) -> None:
        tag_path, feat_path = shared / reference.TAGGRAM_FILE, shared / reference.FEATURES_FILE
        if case == "no taggram":
            tag_path.unlink()
        elif case == "no features":
            feat_path.unlink()
        elif case == "tag column":
            taggram.drop(columns=["tag_07"]).to_csv(tag_path, index=False)
        elif case == "not a probability":
            taggram.assign(tag_03=taggram["tag_03"].where(taggram.index != 4, 1.5)).to_csv(tag_path, index=False)
        elif case == "repeated patch":
            pd.concat([taggram, taggram.iloc[[0]]]).to_csv(tag_path, index=False)
        elif case == "missing patch":
            taggram[~((taggram["patch"] == 1) & (taggram.index == 1))].to_csv(tag_path, index=False)
        elif case == "genre differs":
            first = taggram["file"] == taggram["file"].iloc[0]
            taggram.assign(genre=taggram["genre"].where(~first, "pop")).to_csv(tag_path, index=False)
        elif case == "clip lacking":
            features[features["file"] != taggram["file"].iloc[0]].to_csv(feat_path, index=False)

    shared = _broken(tmp_path, "shared", change)
    out = tmp_path / "reference.csv"
    with pytest.raises(DataError) as caught:
        reference.build_reference_features(shared, out)
    assert needle in str(caught.value) and "\n" not in str(caught.value)
    assert not out.exists()
    assert reference.main(["--shared", str(shared), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_reference_csv_of_the_real_shared_data(shared_data: Path, tmp_path: Path) -> None:
    if not (shared_data / reference.TAGGRAM_FILE).is_file():
        pytest.skip(f"no {reference.TAGGRAM_FILE} in {shared_data}")
    out = tmp_path / "reference.csv"
    reference.build_reference_features(shared_data, out)
    table = pd.read_csv(out)
    split = shared_data / "splits" / "gtzan_fault_filtered"
    lists = {part: set((split / f"{part}.txt").read_text().split()) for part in ("train", "valid", "test")}
    assert len(table) == 733 and table["file"].is_monotonic_increasing
    files = set(table["file"])
    assert files == lists["train"] | lists["test"] and not files & lists["valid"]
    musicnn = table[list(audio.MUSICNN_COLUMNS)].to_numpy()
    assert ((musicnn >= 0) & (musicnn <= 1)).all() and musicnn[:, 50:].max() < 0.5
    classic = pd.read_csv(shared_data / reference.FEATURES_FILE).set_index("file").loc[table["file"]]
    np.testing.assert_allclose(table[list(audio.CLASSIC_COLUMNS)].to_numpy(),
                               classic[list(audio.CLASSIC_COLUMNS)].to_numpy(), rtol=1e-12)
