"""The fast paths of issue 22 give the same numbers as the plain ones: reading a whole 44.1-kHz stereo MP3 a block
at a time, the stereo downmix, a window read with a seek, the musicnn front ends pooling before their batch norm,
the temporal front end by phases, the freed-memory setting; and 03 --patches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_DIR, run_script

import functions_analysis as fa
import functions_audio as audio
import functions_musicnn as musicnn
import functions_musicnn_weights as fmw
import functions_synthetic


@pytest.fixture(scope="module")
def stereo_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-s 44.1-kHz stereo MP3 (192 kb/s, the project's ffmpeg): a shared rock clip and a synthetic one, or two
    synthetic clips where the shared data is absent."""
    import soundfile
    import soxr

    shared = audio.shared_data_dir()
    clips = sorted((shared / "gtzan_mini" / "rock").glob("*.wav"))[:1] if shared else []
    first = audio.load_audio(clips[0]) if clips else functions_synthetic.synthesize_clip("rock", 1, seconds=30.0)
    y = np.concatenate([first, functions_synthetic.synthesize_clip("jazz", 2, seconds=10.0)]).astype(np.float32)
    y44 = soxr.resample(y, audio.SAMPLE_RATE, 44100, quality="HQ").astype(np.float32)
    stereo = np.stack([y44, np.roll(y44, 44) * np.float32(0.8)], axis=1)
    folder = tmp_path_factory.mktemp("mp3")
    soundfile.write(str(folder / "song.wav"), stereo, 44100, subtype="FLOAT")
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(folder / "song.wav"), "-c:a",
                    "libmp3lame", "-b:a", "192k", str(folder / "song.mp3")], check=True)
    return folder / "song.mp3"


def test_whole_read_block_by_block_is_the_one_call_read(stereo_mp3: Path) -> None:
    """load_audio of a whole file reads it a block at a time, mono and resampled per block: the very samples of
    reading it at once, averaging the channels and one soxr call."""
    import soundfile
    import soxr

    with soundfile.SoundFile(str(stereo_mp3)) as handle:
        assert (handle.samplerate, handle.channels) == (44100, 2)
        data = handle.read(dtype="float32", always_2d=True)
    expected = soxr.resample(data.mean(axis=1, dtype=np.float32), 44100, audio.SAMPLE_RATE, quality="HQ")
    y = audio.load_audio(stereo_mp3, max_seconds=None)
    assert y.dtype == np.float32 and y.size > 39 * audio.SAMPLE_RATE
    assert data.shape[0] > 4 * audio.READ_BLOCK_FRAMES  # several blocks
    np.testing.assert_array_equal(y, expected.astype(np.float32))


def test_downmix_is_the_channel_mean() -> None:
    rng = np.random.default_rng(3)
    for channels in (1, 2, 3, 6):
        data = rng.standard_normal((10_001, channels)).astype(np.float32)
        np.testing.assert_array_equal(audio.downmix(data), data.mean(axis=1, dtype=np.float32))


def test_a_window_read_with_a_seek_is_that_stretch_of_the_whole_read(stereo_mp3: Path) -> None:
    """The long-file path reads each window with a seek (load_audio offset_s): the same samples as the stretch of
    the whole decode, to the resampler's edge effects (its first and last few ms)."""
    whole = audio.load_audio(stereo_mp3, max_seconds=None)
    sr = audio.SAMPLE_RATE
    for offset_s in (5.0, 12.5):
        window = audio.load_audio(stereo_mp3, max_seconds=20.0, offset_s=offset_s)
        first = int(round(offset_s * sr))
        reference = whole[first:first + window.size]
        assert abs(window.size - 20.0 * sr) <= 1 and reference.size == window.size
        inner = slice(sr // 10, -sr // 10)  # away from the resampler's edges
        gap = np.abs(window[inner] - reference[inner])
        assert gap.max() < 1e-3 * np.abs(reference).max() + 1e-4, gap.max()


def test_front_ends_pool_before_their_batch_norm_with_the_same_values() -> None:
    """_pool_relu_bn (max where the batch-norm scale is >= 0, minus the max of the negated columns where negative,
    then the affine step) equals the max over positions of the affine step applied to every value, bit for bit,
    in the original filter order."""
    rng = np.random.default_rng(0)
    filters = 40
    kernel = rng.standard_normal((12, filters)).astype(np.float32)
    bias, shift = (rng.standard_normal(filters).astype(np.float32) for _ in range(2))
    scale = rng.standard_normal(filters).astype(np.float32)
    scale[:3] = 0.0
    layer, pool = musicnn._sign_sorted(kernel, bias, scale, shift)
    rows = rng.standard_normal((7 * 30, 12)).astype(np.float32)
    expected = musicnn._relu_bn(rows @ kernel, bias, scale, shift).reshape(7, 30, filters).max(axis=1)
    got = musicnn._pool_relu_bn((rows @ layer[0]).reshape(7, 30, filters), pool, *layer[1:])
    np.testing.assert_array_equal(got, expected)


def random_network(seed: int) -> musicnn.MusicnnNetwork:
    """The musicnn network with random weights of the right shapes (variances positive)."""
    rng = np.random.default_rng(seed)
    arrays = {name: (rng.standard_normal(shape) * 0.1).astype(np.float32)
              for name, shape in fmw.expected_shapes().items()}
    for name in [name for name in arrays if name.endswith("moving_variance")]:
        arrays[name] = np.abs(arrays[name]) + 0.5
    return musicnn.MusicnnNetwork(arrays)


def test_the_temporal_front_end_by_phases_equals_the_plain_convolution() -> None:
    """temporal_features (one matrix product per TEMPORAL_PHASES frames of a band, _phase_kernel) equals the plain
    'same' convolution (each frame's window times the kernel, in float64), batch norm and max over the bands."""
    network = random_network(3)
    arrays = network.raw
    patch = np.random.default_rng(4).standard_normal((musicnn.PATCH_FRAMES, musicnn.N_MELS)).astype(np.float32)
    expected = []
    for name in ("temporal_128", "temporal_64", "temporal_32"):
        kernel = arrays[f"{name}/kernel"].reshape(-1, arrays[f"{name}/kernel"].shape[-1]).astype(np.float64)
        height, before = kernel.shape[0], (kernel.shape[0] - 1) // 2
        padded = np.pad(patch.astype(np.float64), ((before, height - 1 - before), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, height, axis=0)  # (frames, bands, height)
        conv = (windows.reshape(-1, height) @ kernel).reshape(musicnn.PATCH_FRAMES, musicnn.N_MELS, -1)
        scale, shift = musicnn._bn_affine(arrays, f"{name}_bn")
        expected.append((np.maximum(conv + arrays[f"{name}/bias"], 0.0) * scale + shift).max(axis=1))
    expected = np.concatenate(expected, axis=1)
    got = network.temporal_features(patch)
    assert got.shape == expected.shape == (musicnn.PATCH_FRAMES, 153)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_overlapping_patches_share_their_temporal_frames_with_the_same_values() -> None:
    """00's patches (one a second, three seconds long) compute the temporal layers 64 and 32 once for the frames
    whose window lies inside a patch, and each patch its runs near its ends: the same values, bit for bit, as each
    patch alone; layer 128 (little to share) and patches that do not overlap (03's windows) are computed whole."""
    network = random_network(5)
    x = np.random.default_rng(6).standard_normal((1400, musicnn.N_MELS)).astype(np.float32)
    dense = musicnn.patch_starts(x.shape[0])
    sparse = [0, 400, 900, x.shape[0] - musicnn.PATCH_FRAMES]
    shared, spread = musicnn.SharedFronts(network, x, dense), musicnn.SharedFronts(network, x, sparse)
    assert [rows is None for rows in shared.temporal] == [True, False, False]
    assert [rows is None for rows in spread.temporal] == [True, True, True]
    for index in (1, 2):
        for start in dense:
            np.testing.assert_array_equal(shared._patch_temporal(index, start),
                                          network.temporal_layer(index, x[start:start + musicnn.PATCH_FRAMES]))
    # two separate stretches of overlapping patches; patches every 16 frames (layer 128 is shared there too)
    for starts, stretches in (([0, 61, 122, 700, 761], 2), (list(range(0, 500, 16)), 1)):
        fronts = musicnn.SharedFronts(network, x, starts)
        assert len(fronts.temporal[1]) == stretches and (fronts.temporal[0] is not None) == (stretches == 1)
        for index in range(3):
            for start in starts:
                np.testing.assert_array_equal(fronts._patch_temporal(index, start),
                                              network.temporal_layer(index, x[start:start + musicnn.PATCH_FRAMES]))
    # taggram: the temporal part of each patch's front end is that patch's alone
    normalised = network.normalise_input(x)
    alone = np.stack([network.temporal_features(normalised[s:s + musicnn.PATCH_FRAMES]) for s in dense])
    timbral = np.stack([network.timbral_features(np.pad(normalised[s:s + musicnn.PATCH_FRAMES],
                                                        ((musicnn.TIMBRAL_PAD, musicnn.TIMBRAL_PAD), (0, 0))))
                        for s in dense])
    fronts = musicnn.SharedFronts(network, normalised, dense)
    np.testing.assert_array_equal(np.stack([fronts.front(s) for s in dense])[..., -153:], alone)
    tags = np.concatenate([network.back(np.concatenate([timbral, alone], axis=2)[first:first + 8])[0]
                           for first in range(0, len(dense), 8)])
    np.testing.assert_allclose(network.taggram(x).tags, tags, rtol=0, atol=1e-6)


def test_reuse_freed_memory_keeps_large_blocks_for_the_next_array() -> None:
    """After reuse_freed_memory, a second 40-MB array of the same size touches (almost) no fresh pages (glibc;
    without it, one fault per fresh page: 4 kB or, with transparent huge pages, 2 MB)."""
    code = """
import resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from functions_parallel import reuse_freed_memory
def faults(reuse):
    if reuse:
        reuse_freed_memory()
    np.ones(10_000_000, np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(10_000_000, np.float32)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults(sys.argv[2] == "1"))
"""
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc setting")
    counts = [int(subprocess.run([sys.executable, "-c", code, str(PROJECT_DIR), flag], capture_output=True, text=True,
                                 check=True).stdout) for flag in ("0", "1")]
    # 40 MB of fresh pages are at least 19 faults even with 2-MB transparent huge pages; reused memory, none
    assert counts[0] >= 19 and counts[1] < 10, counts


def test_parse_patches() -> None:
    assert fa.parse_patches("all") is None and fa.parse_patches(" ALL ") is None
    assert fa.parse_patches("12") == 12 and fa.parse_patches("1") == 1
    for bad in ("0", "-3", "1.5", "many", ""):
        with pytest.raises(Exception, match="whole number"):
            fa.parse_patches(bad)


@pytest.mark.parametrize("value", ["0", "-2", "lots", "2.5"])
def test_03_refuses_bad_patches_values(tmp_path: Path, value: str) -> None:
    song = tmp_path / "song.wav"
    import soundfile

    soundfile.write(str(song), functions_synthetic.synthesize_clip("rock", 0, seconds=5.0), audio.SAMPLE_RATE)
    done = run_script("03_launch_classifier.py", song, "--patches", value, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert "--patches" in last and repr(value) in last and "all" in last
