"""The model folder of 02_train_model.py and the light NumPy loader of functions_nn (used by 03/04)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR, run_script

import functions_audio as audio
import functions_candidates as candidates
import functions_evaluation as evaluation
import functions_nn as nn


def make_features_csv(path: Path, rows_per_genre: int = 10, genres=audio.GENRES, seed: int = 0) -> Path:
    """A features CSV: real GTZAN rows when the shared data is there, else separable synthetic rows."""
    shared = audio.shared_data_dir()
    source = shared / "gtzan_features.csv" if shared else None
    if source is not None and source.is_file():
        df = pd.read_csv(source)
        df = df[df["genre"].isin(genres)].groupby("genre", sort=False).head(rows_per_genre)
    else:
        rng = np.random.default_rng(seed)
        scale = np.abs(rng.normal(1.0, 0.5, len(audio.FEATURE_COLUMNS))) + 0.1
        records = []
        for g_index, genre in enumerate(genres):
            centre = rng.normal(0, 3, len(audio.FEATURE_COLUMNS)) + g_index
            for i in range(rows_per_genre):
                values = (centre + rng.normal(0, 1, centre.size)) * scale
                records.append([f"{genre}/{genre}.{i:05d}.wav", genre, *values])
        df = pd.DataFrame(records, columns=list(audio.CSV_COLUMNS))
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def real_feature_rows(columns: list[str], n: int = 200) -> np.ndarray:
    """Rows to compare NumPy and Keras on: real GTZAN features when present, else rows made here."""
    shared = audio.shared_data_dir()
    if shared is not None and (shared / "gtzan_features.csv").is_file():
        df = pd.read_csv(shared / "gtzan_features.csv")
        return df[columns].to_numpy(dtype=np.float64)[:: max(1, len(df) // n)]
    rng = np.random.default_rng(5)
    return rng.normal(0, 50, (n, len(columns)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("export")
    csv_path = make_features_csv(folder / "features.csv", rows_per_genre=8)
    model_dir = folder / "model"
    result = run_script("02_train_model.py", csv_path, "-o", model_dir, "--epochs", "8", "--batch", "16",
                        "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    return csv_path, model_dir


@pytest.mark.slow
def test_numpy_forward_pass_equals_keras_predict(trained: tuple[Path, Path]) -> None:
    _, model_dir = trained
    classifier = nn.load_classifier(model_dir)
    model = nn.load_keras_model(model_dir)
    X = real_feature_rows(classifier.feature_columns)
    expected = model.predict(X.astype(np.float32), verbose=0)
    got = classifier.predict_proba(X)
    assert got.shape == (len(X), len(classifier.genres))
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-9)
    assert np.abs(got - expected).max() <= 1e-5
    # the model really discriminates (otherwise the comparison above would be trivial)
    assert got.argmax(axis=1).std() > 0


def test_model_folder_contents(trained: tuple[Path, Path]) -> None:
    csv_path, model_dir = trained
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "confusion_matrix.png", "model.json", "model.keras", "reliability.png", "test_files.txt", "weights.npz"]
    meta = json.loads((model_dir / "model.json").read_text())
    df = pd.read_csv(csv_path)
    assert meta["genres"] == [g for g in audio.GENRES if g in set(df["genre"])]
    assert meta["feature_columns"] == list(candidates.ARCHITECTURES["85col"].feature_columns)
    assert meta["feature_columns"] == list(audio.FEATURE_COLUMNS[:85])
    assert meta["features_csv_sha256"] == evaluation.file_sha256(csv_path)
    assert meta["feature_extraction"] == json.loads(json.dumps(audio.EXTRACTION_SETTINGS))
    assert meta["training"]["epochs"] == 8 and meta["training"]["batch_size"] == 16
    n_genres = len(meta["genres"])
    assert np.asarray(meta["confusion_matrix"]).shape == (n_genres, n_genres)
    assert np.asarray(meta["confusion_matrix"]).sum() == meta["metrics"]["n_test"] == meta["training"]["n_test"]
    assert 0.0 <= meta["metrics"]["accuracy"] <= 1.0
    assert set(meta["metrics"]["per_genre"]) == set(meta["genres"])
    assert {"keras", "numpy", "scikit-learn", "python"} <= set(meta["versions"])
    # weights.npz holds plain arrays only: loading without pickle works and the layout is the contract's
    with np.load(model_dir / "weights.npz", allow_pickle=False) as npz:
        names = list(npz.files)
        assert all(npz[n].dtype != object for n in names)
        assert names[:2] == ["norm_mean", "norm_variance"]
        network = [n for n in names if not n.startswith("novelty_")]
        assert network[2:] == [f"dense_{i}_{p}" for i in range(8) for p in ("kernel", "bias")]
        # then the novelty score's arrays (functions_novelty.to_arrays), described by model.json's "novelty"
        assert names == network + [n for n in names if n.startswith("novelty_")] and len(network) < len(names)
        assert npz["dense_0_kernel"].shape == (1, 85, 85) and npz["dense_7_bias"].shape == (1, n_genres)
    assert meta["novelty"]["threshold"] is not None and len(meta["weights_sha256"]) == 64
    assert meta["format_version"] == nn.MODEL_FORMAT_VERSION == 2 and meta["members"] == 1
    assert "calibration" not in meta and 0 <= meta["metrics"]["ece"] <= 1  # no valid clips: not calibrated
    # the held-out clips are the ones listed, none of them trained on
    held_out = (model_dir / "test_files.txt").read_text().split()
    assert len(held_out) == meta["training"]["n_test"] and set(held_out) <= set(df["file"])


@pytest.mark.slow
def test_an_ensemble_with_a_temperature_gives_the_same_probabilities_in_numpy_and_keras(tmp_path: Path) -> None:
    """Format 2: members averaged after softmax(logits / T), in the Keras model and the NumPy forward pass."""
    arch = candidates.ARCHITECTURES["85col"]
    columns, genres = list(arch.feature_columns), list(audio.GENRES)
    X = real_feature_rows(columns)
    model = nn.build_keras_model(columns, genres, arch.hidden, X, members=3, temperature=0.6)
    rng = np.random.default_rng(4)
    sizes = [len(columns)] + [units for units, _ in arch.hidden] + [len(genres)]
    kernels = [rng.normal(0, 1.2 / np.sqrt(a), (3, a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [rng.normal(0, 0.1, (3, b)) for b in sizes[1:]]
    nn.set_member_weights(model, kernels, biases)
    meta = {"format_version": nn.MODEL_FORMAT_VERSION, "genres": genres, "feature_columns": columns, "members": 3,
            "activations": [act for _, act in arch.hidden] + ["softmax"],
            "calibration": {"temperature": 0.6, "uncertain_threshold": 0.4}}
    nn.write_model_dir(tmp_path / "ensemble", model, meta)
    classifier = nn.load_classifier(tmp_path / "ensemble")
    assert (classifier.members, classifier.temperature, classifier.uncertain_threshold) == (3, 0.6, 0.4)
    expected = nn.load_keras_model(tmp_path / "ensemble").predict(X.astype(np.float32), verbose=0)
    got = classifier.predict_proba(X)
    assert np.abs(got - expected).max() <= 1e-5
    # it really is the mean of the members' tempered softmaxes, and the temperature matters
    logits = classifier.member_logits(X)
    assert logits.shape == (3, len(X), len(genres))
    by_hand = np.mean([np.exp(z / 0.6) / np.exp(z / 0.6).sum(axis=1, keepdims=True) for z in logits], axis=0)
    np.testing.assert_allclose(got, by_hand, atol=1e-9)
    classifier.temperature = 1.0
    assert np.abs(classifier.predict_proba(X) - got).max() > 0.01


def test_format_1_model_folders_still_load(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """A folder of the first format (one network, 2-D arrays, no calibration) loads as one member at T = 1."""
    folder = _copy(trained[1], tmp_path / "v1")
    meta = json.loads((folder / "model.json").read_text())
    meta["format_version"] = 1
    for key in ("members", "weights_sha256", "novelty"):  # none of these existed then
        del meta[key]
    (folder / "model.json").write_text(json.dumps(meta))
    with np.load(folder / "weights.npz") as npz:
        arrays = {n: (npz[n][0] if n.startswith("dense_") else npz[n]) for n in npz.files
                  if not n.startswith("novelty_")}
    np.savez(folder / "weights.npz", **arrays)
    old, new = nn.load_classifier(folder), nn.load_classifier(trained[1])
    assert old.members == 1 and old.temperature == 1.0 and old.uncertain_threshold is None
    X = real_feature_rows(new.feature_columns, 20)
    np.testing.assert_allclose(old.predict_proba(X), new.predict_proba(X), atol=1e-12)


def test_weights_of_another_model_are_refused_by_their_checksum(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """model.json records the SHA-256 of the weights.npz written with it: a weights.npz copied in from another
    model of the same shapes would otherwise be read silently."""
    folder = _copy(trained[1], tmp_path / "mixed")
    with np.load(folder / "weights.npz") as npz:
        arrays = {n: npz[n] * (1.01 if n.startswith("dense_") else 1.0) for n in npz.files}
    np.savez(folder / "weights.npz", **arrays)
    with pytest.raises(nn.ModelLoadError, match="not the weights model.json was written with"):
        nn.load_classifier(folder)


def test_check_columns_names_the_missing_ones(trained: tuple[Path, Path]) -> None:
    classifier = nn.load_classifier(trained[1])
    classifier.check_columns(audio.FEATURE_COLUMNS)
    available = [c for c in audio.FEATURE_COLUMNS if c not in ("tempo", "chroma_std_12")]
    with pytest.raises(nn.ModelLoadError) as info:
        classifier.check_columns(available)
    message = str(info.value)
    assert "\n" not in message and "tempo" in message and "chroma_std_12" in message and "2 feature" in message


def _copy(model_dir: Path, target: Path) -> Path:
    target.mkdir()
    for item in model_dir.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
    return target


@pytest.mark.parametrize("damage", ["no_json", "bad_json", "truncated_npz", "no_npz", "wrong_shape", "columns",
                                    "members", "temperature"])
def test_damaged_model_folder_fails_with_one_line(trained: tuple[Path, Path], tmp_path: Path, damage: str) -> None:
    folder = _copy(trained[1], tmp_path / "model")
    meta = json.loads((folder / "model.json").read_text())
    if damage == "no_json":
        (folder / "model.json").unlink()
    elif damage == "bad_json":
        (folder / "model.json").write_text('{"genres": ["a", ')
    elif damage == "truncated_npz":
        data = (folder / "weights.npz").read_bytes()
        (folder / "weights.npz").write_bytes(data[: len(data) // 2])
    elif damage == "no_npz":
        (folder / "weights.npz").unlink()
    elif damage == "wrong_shape":
        meta["genres"] = meta["genres"][:-1]
        (folder / "model.json").write_text(json.dumps(meta))
    elif damage == "columns":
        meta["feature_columns"] = meta["feature_columns"][1:]
        (folder / "model.json").write_text(json.dumps(meta))
    elif damage == "members":
        meta["members"] = 2
        (folder / "model.json").write_text(json.dumps(meta))
    elif damage == "temperature":
        meta["calibration"] = {"temperature": -1.0}
        (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(nn.ModelLoadError) as info:
        nn.load_classifier(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder) in message


def test_missing_folder_and_pickled_weights_are_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(nn.ModelLoadError, match="not found"):
        nn.load_classifier(tmp_path / "nowhere")
    folder = _copy(trained[1], tmp_path / "model")
    with np.load(folder / "weights.npz") as npz:
        arrays = {n: npz[n] for n in npz.files}
    arrays["norm_mean"] = np.array([{"evil": 1}], dtype=object)
    np.savez(folder / "weights.npz", **arrays)  # an object array needs pickle: must be refused
    with pytest.raises(nn.ModelLoadError, match="weights.npz"):
        nn.load_classifier(folder)


@pytest.mark.slow
def test_corrupted_keras_file_fails_with_one_line(trained: tuple[Path, Path], tmp_path: Path) -> None:
    folder = _copy(trained[1], tmp_path / "model")
    (folder / "model.keras").write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(nn.ModelLoadError) as info:
        nn.load_keras_model(folder)
    assert "\n" not in str(info.value) and "model.keras" in str(info.value)
    # a valid archive whose config asks for arbitrary code (a Lambda layer) is refused in safe mode
    with zipfile.ZipFile(trained[1] / "model.keras") as src, zipfile.ZipFile(folder / "model.keras", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][-1]["class_name"] = "Lambda"
                config["config"]["layers"][-1]["config"]["function"] = {
                    "class_name": "__lambda__", "config": {"code": "print('pwned')", "defaults": None,
                                                           "closure": None}}
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    with pytest.raises(nn.ModelLoadError, match="(?i)unsafe|lambda|safe_mode"):
        nn.load_keras_model(folder)


def test_import_is_light() -> None:
    code = ("import sys, time; t = time.perf_counter(); import functions_nn; "
            "heavy = [m for m in ('tensorflow', 'keras', 'pandas', 'sklearn', 'matplotlib') if m in sys.modules]; "
            "print(heavy, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    heavy, seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]", out.stdout + out.stderr
    assert float(seconds) < 3.0


# --------------------------------------------------------------------------------------------------------
# Writing a model folder: a crash leaves the old folder or the new one, whole; no Keras with a known bypass
# --------------------------------------------------------------------------------------------------------
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
import numpy as np
import functions_nn as nn

folder, kill_at = sys.argv[1], int(sys.argv[2])
X = np.random.default_rng(0).normal(size=(20, 3))
def write(tag, shift):
    model = nn.build_keras_model(["a", "b", "c"], ["x", "y"], [(4, "relu")], X + shift, name=f"{tag}_model")
    metadata = {"format_version": nn.MODEL_FORMAT_VERSION, "tag": tag, "genres": ["x", "y"],
                "feature_columns": ["a", "b", "c"], "activations": ["relu", "softmax"]}
    nn.write_model_dir(Path(folder), model, metadata)
write("old", 0.0)
steps = 0
def kill_at_step(event, args):  # a real kill -9 just before the k-th change of names around the model folder
    global steps
    if event in ("os.rename", "shutil.rmtree") and str(args[0]).startswith(os.path.dirname(folder)):
        steps += 1
        if steps == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(kill_at_step)
write("new", 10.0)
"""


def _folder_version(folder: Path) -> str:
    """'old' or 'new' when every file of the folder comes from that write; fails on a mix."""
    tags = {json.loads((folder / "model.json").read_text())["tag"]}
    with np.load(folder / "weights.npz") as npz:
        tags.add("new" if npz["norm_mean"].mean() > 5 else "old")
    with zipfile.ZipFile(folder / "model.keras") as archive:
        tags.add(json.loads(archive.read("config.json"))["config"]["name"].split("_")[0])
    assert len(tags) == 1, f"a mixed model folder: {tags}"
    nn.load_classifier(folder)
    return tags.pop()


@pytest.mark.slow
def test_a_writer_killed_at_any_step_leaves_the_old_or_the_new_folder_whole(tmp_path: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    writers = {k: subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path / f"k{k}" / "model"), str(k)],
                                   cwd=PROJECT_DIR, env=env, stderr=subprocess.PIPE, text=True) for k in (1, 2)}
    seen = []
    for k, writer in writers.items():
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode in (0, -signal.SIGKILL), stderr[-2000:]
        seen.append((writer.returncode, _folder_version(tmp_path / f"k{k}" / "model")))
    # killed before the new folder takes the old one's place: the old model, whole; killed just after: the new one
    assert seen == [(-signal.SIGKILL, "old"), (-signal.SIGKILL, "new")]


def test_keras_requirement_excludes_versions_with_a_known_safe_mode_bypass() -> None:
    from importlib.metadata import version

    from packaging.requirements import Requirement

    line = next(line for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
                if line.startswith("keras"))
    allowed = Requirement(line.split("#")[0].strip()).specifier
    for bypassed in ("3.3.3", "3.8.0", "3.10.0", "3.11.2", "3.13.1"):  # CVE-2025-1550, -8747, -49655, 2026-0897
        assert bypassed not in allowed, bypassed
    assert version("keras") in allowed
