"""functions_musicnn: the NumPy forward pass against the same network in Keras, the shared timbral front end
against each patch on its own, the log-mel input against librosa (and the float16 trap), the weights cache's
errors and the checkpoint conversion, and parity with the original musicnn outputs on real clips.

The tests need the converted weights, made once from the ``musicnn`` 0.1.0 wheel (``pip install --no-deps
musicnn==0.1.0``, part of the project's set-up): without it they fail with the command to run; only the parity
tests skip, where the shared real data is absent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import functions_audio as audio
import functions_musicnn as musicnn
import functions_musicnn_keras
import functions_musicnn_weights as fmw
import functions_synthetic

INSTALL = "pip install --no-deps musicnn==0.1.0"
F16_ULP_IN_LOG = float(np.log10(1 + 2.0 ** -10))  # one float16 step of S, seen through log10(10000 S + 1): 4.2e-4


# --------------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    """The converted weights (converted from the installed wheel on first use); a clear failure without it."""
    try:
        return fmw.read_weights(fmw.ensure_weights())
    except fmw.MusicnnUnavailable as exc:
        problem = str(exc)
    pytest.fail(f"the musicnn weights are needed (the project's set-up installs them): {problem}", pytrace=False)


@pytest.fixture(scope="module")
def network(arrays: dict[str, np.ndarray]) -> musicnn.MusicnnNetwork:
    return musicnn.MusicnnNetwork(arrays)


@pytest.fixture(scope="module")
def rock_spectrogram() -> np.ndarray:
    """The network's input for 8 s of synthetic rock (250 frames: room for 2 patches and more)."""
    y = functions_synthetic.synthesize_clip("rock", 0, seconds=8.0)
    return musicnn.spectrogram_of(y.astype(np.float32), audio.SAMPLE_RATE)


def log_mel_like(rng: np.random.Generator, frames: int = musicnn.PATCH_FRAMES) -> np.ndarray:
    """Random values in the range of real inputs (0 for silence to ~5.5 for the loudest bands), smooth in time."""
    base = rng.uniform(0.0, 5.5, size=(1, musicnn.N_MELS))
    return (base + np.cumsum(rng.normal(0, 0.15, size=(frames, musicnn.N_MELS)), axis=0)).clip(0, 6).astype(
        np.float32)


def librosa_input(y16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mel power S (frames, 96), the original's input computed in float32 from float16(S)) with librosa."""
    import librosa

    mel = librosa.feature.melspectrogram(y=y16k, sr=16000, n_fft=512, hop_length=256, n_mels=96,
                                         pad_mode="reflect").T
    return mel, np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


# --------------------------------------------------------------------------------------------------------------
# The forward pass
# --------------------------------------------------------------------------------------------------------------
def test_numpy_forward_pass_equals_the_keras_model(arrays: dict[str, np.ndarray], network: musicnn.MusicnnNetwork,
                                                   rock_spectrogram: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    patches = np.stack([rock_spectrogram[:musicnn.PATCH_FRAMES],
                        rock_spectrogram[-musicnn.PATCH_FRAMES:],
                        log_mel_like(rng),
                        rng.uniform(0, 5, size=(musicnn.PATCH_FRAMES, musicnn.N_MELS)).astype(np.float32),
                        np.zeros((musicnn.PATCH_FRAMES, musicnn.N_MELS), np.float32)])  # silence
    model = functions_musicnn_keras.build_keras_model(arrays)
    keras_tags, keras_penultimate = (np.asarray(a) for a in model(patches, training=False))
    tags, penultimate = network.patch_outputs(patches)
    assert tags.shape == (5, 50) and penultimate.shape == (5, 200)
    np.testing.assert_allclose(tags, keras_tags, rtol=0, atol=1e-5)
    np.testing.assert_allclose(penultimate, keras_penultimate, rtol=0, atol=1e-5 * max(1, np.abs(penultimate).max()))
    assert np.ptp(tags, axis=0).max() > 0.05  # the patches are told apart: not a degenerate comparison


@pytest.mark.parametrize("case, starts", [
    ("every second (hop 61, overlapping)", None),
    ("overlapping partially, uneven", [0, 5, 61, 100, 150]),
    ("not overlapping, abutting and apart", [0, 187, 400]),
    ("last patch at the very end", [13, 463]),
])
def test_shared_front_end_equals_each_patch_alone(network: musicnn.MusicnnNetwork, case: str,
                                                  starts: list[int] | None) -> None:
    spectrogram = log_mel_like(np.random.default_rng(1), frames=650)
    taggram = network.taggram(spectrogram, starts)
    expected_starts = musicnn.patch_starts(650) if starts is None else starts
    assert taggram.starts.tolist() == expected_starts
    tags, penultimate = network.patch_outputs(np.stack([spectrogram[s:s + musicnn.PATCH_FRAMES]
                                                        for s in expected_starts]))
    np.testing.assert_allclose(taggram.tags, tags, rtol=0, atol=1e-5)
    np.testing.assert_allclose(taggram.penultimate, penultimate, rtol=0, atol=1e-5)


def test_shared_front_end_on_real_input(network: musicnn.MusicnnNetwork, rock_spectrogram: np.ndarray) -> None:
    taggram = network.taggram(rock_spectrogram)
    starts = musicnn.patch_starts(rock_spectrogram.shape[0])
    tags, penultimate = network.patch_outputs(np.stack([rock_spectrogram[s:s + musicnn.PATCH_FRAMES] for s in starts]))
    np.testing.assert_allclose(taggram.tags, tags, rtol=0, atol=1e-5)
    np.testing.assert_allclose(taggram.penultimate, penultimate, rtol=0, atol=1e-5)
    np.testing.assert_allclose(taggram.features(), np.concatenate([tags.mean(0), tags.std(0)]), atol=1e-5)


def test_patches_start_every_second_as_the_original_extractor_cuts_them() -> None:
    import librosa

    # musicnn.extractor: n_frames = time_to_frames(3 s) + 1, hop = time_to_frames(1 s), range(0, last + 1, hop)
    assert musicnn.PATCH_FRAMES == librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1 == 187
    assert musicnn.PATCH_HOP == librosa.time_to_frames(1, sr=16000, n_fft=512, hop_length=256) == 61
    assert musicnn.patch_starts(187) == [0]
    assert musicnn.patch_starts(248) == [0, 61]
    assert musicnn.patch_starts(247) == [0]
    assert len(musicnn.patch_starts(1 + 480_003 // 256)) == 28  # a 30-s GTZAN clip: 28 patches, as the reference


def test_a_clip_shorter_than_one_patch_is_repeat_padded(network: musicnn.MusicnnNetwork) -> None:
    short = log_mel_like(np.random.default_rng(2), frames=50)
    padded = musicnn.pad_short(short)
    assert padded.shape == (musicnn.PATCH_FRAMES, musicnn.N_MELS)
    np.testing.assert_array_equal(padded, short[np.arange(musicnn.PATCH_FRAMES) % 50])  # repeated, not zero-padded
    assert musicnn.pad_short(padded) is padded  # one patch or more: unchanged
    taggram = network.taggram(short)
    assert taggram.starts.tolist() == [0]
    tags, penultimate = network.patch_outputs(padded[None])
    np.testing.assert_allclose(taggram.tags, tags, rtol=0, atol=1e-5)
    np.testing.assert_allclose(taggram.penultimate, penultimate, rtol=0, atol=1e-5)
    # a tenth of a second of audio gets one patch too; no frame at all is an error
    y = functions_synthetic.synthesize_clip("jazz", 0, seconds=0.1).astype(np.float32)
    assert musicnn.taggram_of(y, audio.SAMPLE_RATE, network).tags.shape == (1, 50)
    with pytest.raises(audio.AudioError):
        musicnn.pad_short(np.zeros((0, musicnn.N_MELS), np.float32))
    with pytest.raises(ValueError):
        network.taggram(short, [1])  # a patch past the (padded) end


# --------------------------------------------------------------------------------------------------------------
# The input
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["synthetic rock", "full-scale noise", "quiet noise"])
def test_log_mel_equals_librosa_to_one_float16_step(source: str) -> None:
    rng = np.random.default_rng(3)
    if source == "synthetic rock":
        y = musicnn.resample_for_musicnn(functions_synthetic.synthesize_clip("rock", 1, seconds=6.0).astype(
            np.float32))
    else:
        y = rng.uniform(-1, 1, 16000 * 4).astype(np.float32) * (1.0 if source == "full-scale noise" else 1e-3)
    ours = musicnn.log_mel(y)
    _, expected = librosa_input(y)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    difference = np.abs(ours - expected)
    # the same float16 values but where float32 rounding before the cast lands on the other side of a float16
    # step: measured 1-16 values in 180,000 (<= 1e-4 of them), each at most one step (4.0e-4 <= 4.2e-4)
    assert difference.max() <= F16_ULP_IN_LOG * 1.001
    assert np.mean(difference > 0) <= 1e-3


def test_the_float16_overflow_trap_is_avoided() -> None:
    """The original computes log10(10000 * S + 1) on float16 S: 10000 * S overflows to infinity for loud audio."""
    y = np.random.default_rng(4).uniform(-1, 1, 16000 * 3).astype(np.float32)
    mel, expected = librosa_input(y)
    with np.errstate(over="ignore"):
        in_float16 = np.log10(10000 * mel.astype(np.float16) + 1)
    assert in_float16.dtype == np.float16 and np.isinf(in_float16).mean() > 0.005  # the trap: ~2 % of values
    ours = musicnn.log_mel(y)
    assert np.isfinite(ours).all()
    overflowing = np.isinf(in_float16)
    assert ours[overflowing].min() > np.log10(65504.0)  # kept, beyond what float16 can hold
    np.testing.assert_allclose(ours[overflowing], expected[overflowing], rtol=0, atol=F16_ULP_IN_LOG * 1.001)


def test_resampling_to_16_khz() -> None:
    y = functions_synthetic.synthesize_clip("blues", 0, seconds=2.0).astype(np.float32)
    out = musicnn.resample_for_musicnn(y, audio.SAMPLE_RATE)
    assert out.dtype == np.float32 and out.size == int(np.ceil(y.size * 16000 / audio.SAMPLE_RATE))
    same = musicnn.resample_for_musicnn(out, 16000)
    np.testing.assert_array_equal(same, out)


# --------------------------------------------------------------------------------------------------------------
# The weights
# --------------------------------------------------------------------------------------------------------------
def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and message.strip() == message and message
    return message


@pytest.fixture
def no_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The musicnn package is not installed (its weights cannot be found)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args, **kwargs: None if name == "musicnn" else real(name, *args, **kwargs))


@pytest.fixture
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GENRE_MUSICNN_WEIGHTS points to an empty folder: the cache file there."""
    monkeypatch.setenv("GENRE_MUSICNN_WEIGHTS", str(tmp_path / "weights"))
    path = fmw.weights_path()
    assert path == tmp_path / "weights" / f"{musicnn.MUSICNN_MODEL}.npz"
    return path


def test_without_the_wheel_and_cache_the_error_says_what_to_install(no_wheel: None, cache_in: Path) -> None:
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.read_weights(fmw.ensure_weights())
    assert INSTALL in one_line(caught.value)
    assert not cache_in.exists()
    with pytest.raises(fmw.MusicnnUnavailable):
        musicnn.load_network()


def pretend_wheel_at(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``importlib.util.find_spec("musicnn")`` find the package folder ``package`` instead of the wheel."""
    real = importlib.util.find_spec
    spec = importlib.util.spec_from_file_location("musicnn", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args, **kwargs: spec if name == "musicnn" else real(name, *args, **kwargs))


def test_a_wheel_without_the_checkpoint_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         cache_in: Path) -> None:
    (tmp_path / "musicnn").mkdir()
    pretend_wheel_at(tmp_path / "musicnn", monkeypatch)
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.ensure_weights()
    message = one_line(caught.value)
    assert str(tmp_path / "musicnn" / musicnn.MUSICNN_MODEL) in message and "musicnn==0.1.0" in message


class RawCheckpointError(Exception):
    """convert_checkpoint let a reader's error through instead of MusicnnUnavailable (the test below fails)."""


@pytest.mark.parametrize("damage", ["truncated data file", "missing data file"])
def test_a_damaged_checkpoint_gives_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    source = fmw.checkpoint_dir()
    folder = tmp_path / "musicnn" / musicnn.MUSICNN_MODEL
    folder.mkdir(parents=True)
    (folder / ".index").write_bytes((source / ".index").read_bytes())
    if damage == "truncated data file":
        data = (source / ".data-00000-of-00001").read_bytes()
        (folder / ".data-00000-of-00001").write_bytes(data[:len(data) // 2])
    pretend_wheel_at(tmp_path / "musicnn", monkeypatch)
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        try:
            fmw.convert_checkpoint(output=tmp_path / "out.npz")
        except (IndexError, OSError) as exc:
            raise RawCheckpointError(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            if type(exc).__name__ not in ("NotFoundError", "DataLossError", "OpError"):
                raise
            raise RawCheckpointError(f"{type(exc).__name__}: {exc}") from exc
    assert str(folder) in one_line(caught.value) and "musicnn==0.1.0" in str(caught.value)
    assert not (tmp_path / "out.npz").exists()


def damaged_files(arrays: dict[str, np.ndarray], folder: Path) -> dict[str, Path]:
    """Cache files damaged in every way we know, written in ``folder``."""
    good = folder / "good.npz"
    meta = json.dumps({"format_version": fmw.WEIGHTS_FORMAT_VERSION, "model": musicnn.MUSICNN_MODEL}).encode()
    np.savez(good, meta=np.frombuffer(meta, np.uint8), **arrays)
    data = good.read_bytes()
    files = {}

    def write(name: str, content: bytes | None = None, **replace: np.ndarray | None) -> None:
        path = folder / f"{name}.npz"
        if content is not None:
            path.write_bytes(content)
        else:
            chosen = {k: v for k, v in {"meta": np.frombuffer(meta, np.uint8), **arrays, **replace}.items()
                      if v is not None}
            np.savez(path, **chosen)
        files[name] = path

    write("truncated", data[:len(data) // 2])
    write("empty", b"")
    write("not an npz", b"this is not a weights file\n")
    write("an array missing", **{"dense/kernel": None})
    write("an extra array", **{"extra/kernel": np.zeros(3, np.float32)})
    write("another format version", meta=np.frombuffer(json.dumps({"format_version": 99}).encode(), np.uint8))
    write("no metadata", meta=None)
    nan_kernel = arrays["dense/kernel"].copy()
    nan_kernel[3, 4] = np.nan
    write("NaN in a kernel", **{"dense/kernel": nan_kernel})
    write("infinite variance", **{"pool_bn/moving_variance": np.full_like(arrays["pool_bn/moving_variance"],
                                                                            np.inf)})
    return files


def test_a_damaged_cache_file_gives_one_line_naming_it(arrays: dict[str, np.ndarray], tmp_path: Path,
                                                       cache_in: Path, no_wheel: None) -> None:
    files = damaged_files(arrays, tmp_path)
    cache_in.parent.mkdir(parents=True)
    for damage, path in files.items():
        cache_in.write_bytes(path.read_bytes())
        with pytest.raises(fmw.MusicnnUnavailable) as caught:
            fmw.read_weights(fmw.ensure_weights())  # found in the cache: no conversion attempted
        message = one_line(caught.value)
        assert str(cache_in) in message, damage
        assert "--prepare-musicnn" in message and INSTALL in message, damage
    missing = tmp_path / "missing.npz"
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.read_weights(missing)
    assert str(missing) in one_line(caught.value)


def test_the_checkpoint_converts_and_round_trips(arrays: dict[str, np.ndarray], tmp_path: Path) -> None:
    import tensorflow as tf

    out = fmw.convert_checkpoint(output=tmp_path / "converted.npz")
    assert out == tmp_path / "converted.npz" and not list(tmp_path.glob(".*partial"))
    converted = fmw.read_weights(out)
    folder = fmw.checkpoint_dir()
    reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + "/")
    variables = set(reader.get_variable_to_shape_map())
    used = set()
    for scope, name in fmw._CHECKPOINT_LAYERS.items():
        parts = ("gamma", "beta", "moving_mean", "moving_variance") if "batch_normalization" in scope else (
            "kernel", "bias")
        for part in parts:
            expected = reader.get_tensor(f"{scope}/{part}")
            np.testing.assert_array_equal(converted[f"{name}/{part}"], expected)
            assert converted[f"{name}/{part}"].dtype == np.float32
            used.add(f"{scope}/{part}")
    # every variable of the network is converted: what is left are the optimiser's slots and counters
    left = variables - used
    assert all("Adam" in v or v in ("beta1_power", "beta2_power", "global_step") for v in left), sorted(left)[:5]
    assert set(converted) == {f"{name}/{part}" for name in fmw._CHECKPOINT_LAYERS.values()
                              for part in (("gamma", "beta", "moving_mean", "moving_variance") if name.endswith("bn")
                                           else ("kernel", "bias"))}
    with np.load(out) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert meta["format_version"] == fmw.WEIGHTS_FORMAT_VERSION and meta["wheel"] == "musicnn==0.1.0"
    assert meta["checkpoint_sha256"] == hashlib.sha256((folder / ".data-00000-of-00001").read_bytes()).hexdigest()
    for key, value in converted.items():  # the cache in use holds the same arrays
        np.testing.assert_array_equal(value, arrays[key])


# --------------------------------------------------------------------------------------------------------------
# Parity with the original musicnn code (../shared/data/gtzan_musicnn_msd_taggram.csv)
# --------------------------------------------------------------------------------------------------------------
# bench/bench_musicnn_parity.py on all 44 gtzan_mini clips with reference rows, soxr HQ resampling: clip-mean tag
# |diff| mean 0.0023 (max 0.068), per patch mean 0.0026 (p99 0.033, max 0.110); worst clip (clip-mean |diff|
# averaged over tags) disco.00005 0.0051. The difference is the resampler: the original used resampy 0.2's
# kaiser_best, with which the difference falls to 1e-6 (max 1e-4).
PARITY_CLIPS = ("disco/disco.00005.wav", "pop/pop.00009.wav", "jazz/jazz.00001.wav")


@pytest.fixture(scope="module")
def reference_rows() -> dict[str, np.ndarray]:
    shared = audio.shared_data_dir()
    taggram_csv = shared / "gtzan_musicnn_msd_taggram.csv" if shared else None
    if taggram_csv is None or not taggram_csv.is_file() or not all(
            (shared / "gtzan_mini" / f).is_file() for f in PARITY_CLIPS):
        pytest.skip("shared real data (gtzan_musicnn_msd_taggram.csv, gtzan_mini/) not found at ../shared/data "
                    "(set GENRE_SHARED_DATA to its folder)")
    import pandas as pd

    rows = pd.read_csv(taggram_csv)
    rows = rows[rows["file"].isin(PARITY_CLIPS)].sort_values(["file", "patch"])
    tags = [f"tag_{i:02d}" for i in range(1, 51)]
    return {name: group[tags].to_numpy(np.float64) for name, group in rows.groupby("file")}


@pytest.mark.parametrize("clip", PARITY_CLIPS)
def test_parity_with_the_original_musicnn_outputs(network: musicnn.MusicnnNetwork,
                                                  reference_rows: dict[str, np.ndarray], clip: str) -> None:
    import soundfile

    y, sr = soundfile.read(str(audio.shared_data_dir() / "gtzan_mini" / clip), dtype="float32")
    ours = musicnn.taggram_of(y, sr, network).tags
    reference = reference_rows[clip]
    assert ours.shape == reference.shape == (28, 50)
    patch = np.abs(ours - reference)
    clip_mean = np.abs(ours.mean(axis=0) - reference.mean(axis=0))
    # measured on these clips: clip-mean |diff| mean <= 0.0051, max 0.047; per patch mean <= 0.0052, max 0.094
    assert clip_mean.mean() <= 0.01 and clip_mean.max() <= 0.1
    assert patch.mean() <= 0.01 and patch.max() <= 0.2
    assert np.argmax(ours.mean(axis=0)) == np.argmax(reference.mean(axis=0))  # the same top tag


# --------------------------------------------------------------------------------------------------------------
# The weights are the right ones before any song (issue 25: another checkpoint, a wrong shape, the setting, a
# read-only folder)
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mtt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's MTT_musicnn checkpoint converted the same way (same shapes, other weights, its own name)."""
    folder = tmp_path_factory.mktemp("mtt")
    return fmw.convert_checkpoint("MTT_musicnn", folder / "MTT_musicnn.npz")


def save_cache(path: Path, arrays: dict[str, np.ndarray], **meta: object) -> Path:
    """A cache file of ``arrays`` whose metadata says ``meta`` (a valid checksum unless meta gives one)."""
    meta = {"format_version": fmw.WEIGHTS_FORMAT_VERSION, "model": musicnn.MUSICNN_MODEL,
            "arrays_sha256": fmw.arrays_sha256(arrays), **meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return path


def test_another_checkpoints_weights_are_refused_by_name_and_by_checksum(mtt_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.read_weights(mtt_cache)  # what the MTT conversion wrote: its own name
    assert "MTT_musicnn" in one_line(caught.value) and str(mtt_cache) in str(caught.value)
    mtt = fmw.read_weights(mtt_cache, "MTT_musicnn")  # the file itself is sound
    relabelled = save_cache(tmp_path / "relabelled.npz", mtt)  # named MSD_musicnn, checksum recomputed
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.read_weights(relabelled)
    assert "not the MSD_musicnn weights" in one_line(caught.value)


def test_a_wrong_shape_or_checksum_is_refused_naming_the_array(arrays: dict[str, np.ndarray], tmp_path: Path) -> None:
    shrunk = {**arrays, "midend_2/kernel": arrays["midend_2/kernel"][:, :60]}
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.read_weights(save_cache(tmp_path / "shape.npz", shrunk))
    assert "midend_2/kernel has shape (7, 60, 1, 64)" in one_line(caught.value)
    changed = {**arrays, "output/bias": arrays["output/bias"] + np.float32(0.01)}
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.read_weights(save_cache(tmp_path / "sum.npz", changed, arrays_sha256=fmw.arrays_sha256(arrays)))
    assert "checksum" in one_line(caught.value)


def test_an_older_cache_of_ours_is_converted_again(arrays: dict[str, np.ndarray], cache_in: Path) -> None:
    save_cache(cache_in, arrays, format_version=1)
    with pytest.raises(fmw.MusicnnUnavailable, match="not a musicnn weights file of this version"):
        fmw.read_weights(cache_in)
    musicnn.load_network()  # the default cache: converted again from the wheel, then loaded
    with np.load(cache_in) as npz:
        assert json.loads(npz["meta"].tobytes())["format_version"] == fmw.WEIGHTS_FORMAT_VERSION
    for name, value in fmw.read_weights(cache_in).items():
        np.testing.assert_array_equal(value, arrays[name])


def test_the_weights_setting_naming_a_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setting = tmp_path / "weights.npz"
    setting.write_bytes(b"x")
    monkeypatch.setenv("GENRE_MUSICNN_WEIGHTS", str(setting))
    with pytest.raises(fmw.MusicnnUnavailable) as caught:
        fmw.ensure_weights()
    assert f"GENRE_MUSICNN_WEIGHTS={setting} is a file, not a folder" in one_line(caught.value)
