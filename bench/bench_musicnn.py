"""Benchmark of the musicnn network in the pipeline (issue 16, item 8): every figure measured here, in one run.

(1) the forward pass: GFLOP/s of ``MusicnnNetwork.taggram`` on a 30-s clip (multiply-adds counted from the
    weight shapes and the frames each layer really computes, the shared timbral front end included; x2 for
    FLOP) against NumPy's float32 matrix-product rate measured in the same run with the same thread count
    (1 thread through threadpoolctl, and the default); where the time of the pass goes; the shared pass
    against every patch on its own (``patch_outputs``). Target: >= 40 % of the matrix-product rate;
(2) cold start of ``03_launch_classifier.py CLIP.wav --model M`` (a fresh process, as a user runs it): wall
    time and peak RSS (median of ``--repeats``), targets <= 1.5 s and <= 500 MB; where its time goes
    (``-X importtime`` and a cProfile of the process);
(3) ``00_preprocess_music.py DIR --features all --workers 2`` on gtzan_mini (100 clips), scaled to 1000 clips
    (target <= 10 min), and ``--features classic`` for the ratio;
(4) a folder of ``--songs`` 4-minute WAV songs (GTZAN clips end to end) classified by
    ``03 FOLDER --workers 2 --json``: songs/s (target >= 2) for each musicnn model; the same folder with the
    classic ten-member model (``--classic-rev``) and the single network it replaced (``--single-rev``), on 40 and
    on 10 songs, and where a classic song's time goes (decoding, features, the ensemble, start-up, the pool);
(5) agreement of the budgeted analysis (``AnalysisSettings.musicnn_patches``) with the dense one (every patch of
    every window, ``musicnn_patches=None``): same genre on the 30-s clips and on 4-minute songs (one genre,
    and mixed), for each budget of ``--budgets`` (``B/M``: B patches over windows of at least M patches), with
    the time each costs. Target: same genre on >= 98 %.

    python bench/bench_musicnn.py --model /tmp/scratch_model_all --model /tmp/scratch_model_mn [--quick]
    python bench/bench_musicnn.py [--model DIR ...] [--parts 1,2,3,4,5] [--budgets 12,24,48] [--songs 40]

``--model`` may be given more than once (default: data/pretrained); the machine is usually shared, so each
part prints the load average, and ratios are taken within the run; "CPU-bound" figures divide the work by the
CPU seconds the processes got (the rate with both cores to themselves). ``--quick`` is a short version: fewer
clips, songs and repeats.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

import numpy as np  # noqa: E402
from bench_common import (  # noqa: E402
    CLASSIFIER,
    PREPROCESS,
    Run,
    Song,
    best_of,
    clip_subset,
    cpu_bound_rate,
    folder_songs,
    load_line,
    mixed_songs,
    one_genre_songs,
    print_target_lines,
    run_measured,
    shared_clips,
    song_samples,
    verdict,
    write_song_folder,
)
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import functions_analysis as fa  # noqa: E402
import functions_audio as audio  # noqa: E402
import functions_musicnn as musicnn  # noqa: E402
import functions_nn  # noqa: E402

CLASSIC_REV = "02d6b3b"  # the classic ten-member model (85col+reg-d30-ens10), then data/pretrained (now _classic)
SINGLE_REV = "91a062c"  # the single network the README's 3.81 songs/s was measured with (bench_library)
DEFAULT_THREADS = max((info.get("num_threads", 1) for info in threadpool_info() if info.get("user_api") == "blas"),
                      default=1)

TARGET_EFFICIENCY = 0.40
TARGET_COLD_S, TARGET_COLD_MB = 1.5, 500.0
TARGET_PREPROCESS_1000_S = 600.0
TARGET_SONGS_PER_S = 2.0
TARGET_AGREEMENT = 0.98


def model_from_git(rev: str, work: Path, name: str) -> Path | None:
    """``data/pretrained`` of commit ``rev`` unpacked into ``work/name`` (None without git or the commit)."""
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", rev, "data/pretrained"], capture_output=True)
    if archive.returncode != 0:
        return None
    target = work / name
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "data" / "pretrained"


def reads_musicnn(model: str | Path) -> bool:
    return bool(set(functions_nn.load_classifier(model).feature_columns) & set(audio.MUSICNN_COLUMNS))


def describe_model(model: str | Path) -> str:
    classifier = functions_nn.load_classifier(model)
    columns = set(classifier.feature_columns)
    return (f"{model}: {len(columns & set(audio.CLASSIC_COLUMNS))} classic + "
            f"{len(columns & set(audio.MUSICNN_COLUMNS))} musicnn columns, {classifier.members} member(s)")


# --------------------------------------------------------------------------------------------------------------
# (1) The forward pass
# --------------------------------------------------------------------------------------------------------------
class NetworkWork:
    """Multiply-adds of the network from its weight shapes, and the frames each part really computes on a call
    (counted on a copy of the network whose pieces are wrapped; the timed network is never wrapped)."""

    def __init__(self, network: musicnn.MusicnnNetwork) -> None:
        mels = musicnn.N_MELS
        self.per_frame = {
            "timbral": sum((mels - width + 1) * kernel.shape[0] * kernel.shape[1]
                           for kernel, _, _, _, width in network.timbral),
            "temporal": sum(mels * kernel.shape[0] * kernel.shape[1] for kernel, *_ in network.temporal),
            "midend": sum(kernel.shape[0] * kernel.shape[1] for kernel, *_ in network.midend),
        }
        self.per_patch_dense = network.dense_kernel.size + network.output_kernel.size
        self.copy = musicnn.MusicnnNetwork(network.raw)
        self.frames: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        for part, method in (("timbral", "timbral_features"), ("temporal", "temporal_features"), ("back", "back")):
            setattr(self.copy, method, self._wrapped(part, getattr(self.copy, method)))

    def _wrapped(self, part: str, method: Callable) -> Callable:
        def counted(array: np.ndarray):
            if part == "timbral":
                self.frames["timbral"] += array.shape[0] - 2 * musicnn.TIMBRAL_PAD
            elif part == "temporal":
                self.frames["temporal"] += array.shape[0]
            else:
                self.frames["midend"] += array.shape[0] * array.shape[1]
                self.frames["patches"] += array.shape[0]
            started = time.perf_counter()
            result = method(array)
            self.seconds[part] += time.perf_counter() - started
            return result

        return counted

    def one_patch_macs(self) -> dict[str, float]:
        frames = musicnn.PATCH_FRAMES
        return {"timbral": frames * self.per_frame["timbral"], "temporal": frames * self.per_frame["temporal"],
                "midend": frames * self.per_frame["midend"], "dense": self.per_patch_dense}

    def count(self, call: Callable[[musicnn.MusicnnNetwork], object]) -> dict[str, float]:
        """Multiply-adds of ``call(network)`` by part; the wrapped copy's times of that call in ``self.seconds``."""
        self.frames.clear()
        self.seconds.clear()
        call(self.copy)
        return {"timbral": self.frames["timbral"] * self.per_frame["timbral"],
                "temporal": self.frames["temporal"] * self.per_frame["temporal"],
                "midend": self.frames["midend"] * self.per_frame["midend"],
                "dense": self.frames["patches"] * self.per_patch_dense}


def square_operands(n: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)


def matmul_rate(m: int, k: int, n: int, repeats: int) -> float:
    """float32 GFLOP/s of an (m, k) @ (k, n) product of contiguous arrays (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b
    return 2.0 * m * k * n / best_of(lambda: a @ b, repeats) / 1e9


def interleaved_bests(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The fastest time of each call, the calls taking turns (so that a burst of other work hits all of them)."""
    bests = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        call()  # warm
    for _ in range(repeats):
        for name, call in calls.items():
            bests[name] = min(bests[name], best_of(call, 1))
    return bests


def front_end_steps(network: musicnn.MusicnnNetwork, spectrogram: np.ndarray, repeats: int) -> dict[str, float]:
    """Seconds of each step of the front end's convolutions, replayed as MusicnnNetwork computes them (1 thread):
    one 128-frame block of each timbral filter shape and one patch's three temporal convolutions."""
    x = network.normalise_input(spectrogram)
    steps: Counter[str] = Counter()
    pad = musicnn.TIMBRAL_PAD
    block = np.pad(x[:musicnn.TIMBRAL_BLOCK_FRAMES], ((pad, pad), (0, 0)))
    for kernel, bias, scale, shift, width in network.timbral:
        positions, filters = musicnn.N_MELS - width + 1, kernel.shape[1]
        rows = musicnn._windows(block, 2 * pad + 1, width)
        conv = rows @ kernel

        def affine(conv=conv, bias=bias, scale=scale, shift=shift) -> None:
            out = conv + bias
            np.maximum(out, 0.0, out=out)
            out *= scale
            out += shift

        steps["timbral im2col"] += best_of(lambda width=width: musicnn._windows(block, 2 * pad + 1, width), repeats)
        steps["timbral product"] += best_of(lambda rows=rows, kernel=kernel: rows @ kernel, repeats)
        steps["timbral bias/ReLU/BN"] += best_of(affine, repeats)
        steps["timbral max over bands"] += best_of(
            lambda conv=conv, p=positions, f=filters: conv.reshape(-1, p, f).max(axis=1), repeats)
    patch = x[:musicnn.PATCH_FRAMES]
    for kernel, bias, scale, shift, height in network.temporal:
        before = (height - 1) // 2
        padding = ((before, height - 1 - before), (0, 0))
        padded = np.pad(patch, padding)
        view = np.lib.stride_tricks.sliding_window_view(padded, height, axis=0)
        conv = view.reshape(-1, height) @ kernel

        def affine(conv=conv, bias=bias, scale=scale, shift=shift) -> None:
            out = conv + bias
            np.maximum(out, 0.0, out=out)
            out *= scale
            out += shift

        steps["temporal pad"] += best_of(lambda padding=padding: np.pad(patch, padding), repeats)
        steps["temporal product (with NumPy's copy of the strided rows)"] += best_of(
            lambda view=view, height=height, kernel=kernel: view.reshape(-1, height) @ kernel, repeats)
        steps["temporal bias/ReLU/BN"] += best_of(affine, repeats)
        steps["temporal max over bands"] += best_of(
            lambda conv=conv: conv.reshape(musicnn.PATCH_FRAMES, musicnn.N_MELS, -1).max(axis=1), repeats)
    return steps


def part_forward(clip: Path, repeats: int) -> dict:
    print(f"\n(1) forward pass of MusicnnNetwork on a 30-s clip ({clip.name}); {load_line()}")
    network = musicnn.load_network()
    y = audio.load_audio(clip)
    with threadpool_limits(1):
        log_mel_s = best_of(lambda: musicnn.spectrogram_of(y), repeats)
    spectrogram = musicnn.spectrogram_of(y)
    starts = musicnn.patch_starts(spectrogram.shape[0])
    work = NetworkWork(network)
    one = work.one_patch_macs()
    one_total = sum(one.values())
    print(f"    one 3-s patch on its own: {one_total / 1e9:.3f} G multiply-adds (timbral "
          f"{one['timbral'] / one_total:.1%}, temporal {one['temporal'] / one_total:.1%}, mid end "
          f"{one['midend'] / one_total:.1%}, dense {one['dense'] / one_total:.2%})")
    shared = work.count(lambda net: net.taggram(spectrogram))
    shared_total = sum(shared.values())
    patches = np.stack([spectrogram[s:s + musicnn.PATCH_FRAMES] for s in starts])
    alone = work.count(lambda net: net.patch_outputs(patches))
    alone_total = sum(alone.values())
    print(f"    clip: {spectrogram.shape[0]} frames, {len(starts)} patches; taggram (shared front end) "
          f"{shared_total / 1e9:.2f} G multiply-adds = {2 * shared_total / 1e9:.1f} GFLOP "
          f"(each patch on its own: {alone_total / 1e9:.2f} G); log-mel input {log_mel_s * 1000:.0f} ms (1 thread)")
    a, b = square_operands()
    result: dict = {"gflop": 2 * shared_total / 1e9}
    for threads in (1, DEFAULT_THREADS):
        with threadpool_limits(threads):
            calls = {"matmul": lambda: a @ b, "taggram": lambda: network.taggram(spectrogram)}
            if threads == 1:
                calls["alone"] = lambda: network.patch_outputs(patches)
            bests = interleaved_bests(calls, repeats)
        square = 2 * a.shape[0] ** 3 / bests["matmul"] / 1e9
        rate = 2 * shared_total / bests["taggram"] / 1e9
        result[threads] = {"rate": rate, "matmul_rate": square, "times": bests}
        print(f"    {threads} thread{'s' if threads > 1 else ''} (best of {repeats}, taking turns): taggram "
              f"{bests['taggram']:.3f} s = {rate:.1f} GFLOP/s; float32 matrix product 2048^3 {square:.1f} GFLOP/s; "
              f"efficiency {rate / square:.1%} (target >= {TARGET_EFFICIENCY:.0%})")
    shared_s, alone_s = result[1]["times"]["taggram"], result[1]["times"]["alone"]
    with threadpool_limits(1):
        tags_alone, _ = network.patch_outputs(patches)
        gap = float(np.abs(tags_alone - network.taggram(spectrogram).tags).max())
        # where the pass's time goes: the wrapped copy, 1 thread (the run with the best total)
        parts: Counter[str] = Counter()
        best_total = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            work.count(lambda net: net.taggram(spectrogram))
            total = time.perf_counter() - started
            if total < best_total:
                best_total, parts = total, Counter(work.seconds)
        gemm = {}
        for kernel, _, _, _, width in network.timbral:
            rows = musicnn.TIMBRAL_BLOCK_FRAMES * (musicnn.N_MELS - width + 1)
            gemm[f"timbral {width}"] = ((rows, kernel.shape[0], kernel.shape[1]),
                                        matmul_rate(rows, kernel.shape[0], kernel.shape[1], repeats))
        kernel = network.temporal[0][0]
        rows = musicnn.PATCH_FRAMES * musicnn.N_MELS
        gemm["temporal 128"] = ((rows, kernel.shape[0], kernel.shape[1]),
                                matmul_rate(rows, kernel.shape[0], kernel.shape[1], repeats))
        kernel = network.midend[0][0]
        gemm["mid end 1"] = ((8 * musicnn.PATCH_FRAMES, kernel.shape[0], kernel.shape[1]),
                             matmul_rate(8 * musicnn.PATCH_FRAMES, kernel.shape[0], kernel.shape[1], repeats))
        steps = front_end_steps(network, spectrogram, repeats)
    print(f"    shared pass vs each patch on its own (patch_outputs), 1 thread: {shared_s:.3f} s vs {alone_s:.3f} s: "
          f"{alone_s / shared_s:.2f}x faster ({alone_total / shared_total:.2f}x fewer multiply-adds); "
          f"largest tag difference {gap:.1e}")
    rest = best_total - sum(parts.values())
    timbral_rate = 2 * shared["timbral"] / parts["timbral"] / 1e9
    temporal_rate = 2 * shared["temporal"] / parts["temporal"] / 1e9
    back_rate = 2 * (shared["midend"] + shared["dense"]) / parts["back"] / 1e9
    print(f"    where a taggram's time goes (1 thread, {best_total:.3f} s): timbral front end "
          f"{parts['timbral']:.3f} s ({parts['timbral'] / best_total:.0%} of the time for "
          f"{shared['timbral'] / shared_total:.0%} of the work, {timbral_rate:.1f} GFLOP/s), temporal "
          f"{parts['temporal']:.3f} s ({parts['temporal'] / best_total:.0%} for "
          f"{shared['temporal'] / shared_total:.0%}, {temporal_rate:.1f} GFLOP/s), mid/back end "
          f"{parts['back']:.3f} s ({parts['back'] / best_total:.0%} for "
          f"{(shared['midend'] + shared['dense']) / shared_total:.0%}, {back_rate:.1f} GFLOP/s), the rest {rest:.3f} s")
    print("    the network's own matrix-product shapes alone (contiguous operands, 1 thread): " + "; ".join(
        f"{name} {m}x{k}x{n} {rate:.1f} GFLOP/s" for name, ((m, k, n), rate) in gemm.items()))
    timbral_steps = {k: v for k, v in steps.items() if k.startswith("timbral")}
    temporal_steps = {k: v for k, v in steps.items() if k.startswith("temporal")}
    for label, group in (("one 128-frame block of both timbral shapes", timbral_steps),
                         ("one patch's three temporal convolutions", temporal_steps)):
        total = sum(group.values())
        print(f"    steps of {label} (1 thread, {total * 1000:.1f} ms): " + "; ".join(
            f"{name.split(' ', 1)[1]} {seconds * 1000:.1f} ms ({seconds / total:.0%})"
            for name, seconds in group.items()))
    result.update(shared_vs_alone=alone_s / shared_s, gap=gap)
    return result


# --------------------------------------------------------------------------------------------------------------
# (2) Cold start
# --------------------------------------------------------------------------------------------------------------
PROFILED_STEPS = (  # (label, file, function) of the cProfile summary, in the order a song goes through them
    ("model (load_classifier)", "functions_nn.py", "load_classifier"),
    ("musicnn weights (read + fold)", "functions_musicnn.py", "_network_from"),
    ("decoding (load_audio)", "functions_audio.py", "load_audio"),
    ("silence trim", "functions_analysis.py", "trim_silence"),
    ("classic features", "functions_analysis.py", "features"),
    ("musicnn log-mel input", "functions_musicnn.py", "spectrogram_of"),
    ("musicnn network (taggram)", "functions_musicnn.py", "taggram"),
    ("genre model (predict_proba)", "functions_nn.py", "predict_proba"),
)


def import_times(stderr: str, top: int = 6) -> tuple[float, list[tuple[str, float]]]:
    """Total seconds of the top-level imports of a ``-X importtime`` log, and the ``top`` largest third-party
    packages (their whole import, wherever they were first imported)."""
    total, packages = 0.0, []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if not match:
            continue
        name, seconds = match.group(4), int(match.group(2)) / 1e6
        if not match.group(3):
            total += seconds
        if "." not in name and not name.startswith(("_", "functions_")) and name not in sys.stdlib_module_names:
            packages.append((name, seconds))
    return total, sorted(packages, key=lambda item: -item[1])[:top]


def profile_summary(path: Path) -> tuple[float, list[tuple[str, float]]]:
    stats = pstats.Stats(str(path), stream=io.StringIO())
    found: dict[str, float] = {}
    imports = 0.0
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if function == "_find_and_load" and "importlib" in filename:
            imports = max(imports, cumulative)
        for label, file, name in PROFILED_STEPS:
            if filename.endswith(file) and function == name:
                found[label] = found.get(label, 0.0) + cumulative
    steps = [("imports (incl. lazy ones inside the steps)", imports)]
    steps += [(label, found[label]) for label, _, _ in PROFILED_STEPS if label in found]
    return stats.total_tt, steps  # type: ignore[attr-defined]


def part_cold_start(clip: Path, models: list[str], classic: str | None, repeats: int, work: Path) -> dict:
    print(f"\n(2) cold start of 03_launch_classifier.py {clip.name} --model M --json (a fresh process, median of "
          f"{repeats}); {load_line()}")
    results = {}
    names = [*models, *([classic] if classic and classic not in models else [])]
    for model in names:
        base = [sys.executable, CLASSIFIER, str(clip), "--model", model, "--json"]
        run_measured(base)  # warm the file cache; not counted
        runs = [run_measured(base) for _ in range(repeats)]
        wall = statistics.median(r.wall for r in runs)
        peak = statistics.median(r.peak_mb for r in runs)
        genre = json.loads(runs[-1].stdout)["genre"]
        reference = model == classic and model not in models
        label = f"classic ten-member reference ({CLASSIC_REV} data/pretrained)" if reference else f"model {model}"
        met = "met" if wall <= TARGET_COLD_S and peak <= TARGET_COLD_MB else "MISSED"
        print(f"    {label}: {wall:.2f} s (min {min(r.wall for r in runs):.2f}, max "
              f"{max(r.wall for r in runs):.2f}), peak RSS {peak:.0f} MB, genre {genre}"
              + ("" if reference else f"  [targets <= {TARGET_COLD_S} s, <= {TARGET_COLD_MB:.0f} MB: {met}]"))
        if not reference:
            results[model] = {"wall": wall, "peak": peak}
    for model in [m for m in models if reads_musicnn(m)][:1] or models[:1]:
        imported = run_measured([sys.executable, "-X", "importtime", CLASSIFIER, str(clip), "--model", model,
                                 "--json"])
        total, biggest = import_times(imported.stderr)
        print(f"    where it goes, {Path(model).name}: process wall {imported.wall:.2f} s with -X importtime; "
              f"imports {total:.2f} s (largest packages: "
              + ", ".join(f"{name} {seconds:.2f}" for name, seconds in biggest) + ")")
        profile = work / "cold.prof"
        profiled = run_measured([sys.executable, "-m", "cProfile", "-o", str(profile), CLASSIFIER, str(clip),
                                 "--model", model, "--json"])
        total, steps = profile_summary(profile)
        print(f"    cProfile of the process (wall {profiled.wall:.2f} s, profiled {total:.2f} s; each step's "
              f"cumulative time): " + "; ".join(f"{label} {seconds:.3f}" for label, seconds in steps))
    return results


# --------------------------------------------------------------------------------------------------------------
# (3) 00 on gtzan_mini
# --------------------------------------------------------------------------------------------------------------
def part_preprocess(clips: list[Path], work: Path) -> dict:
    print(f"\n(3) 00_preprocess_music.py DIR --features F --workers 2 on {len(clips)} gtzan_mini clips; {load_line()}")
    subset = work / "gtzan_subset"
    for clip in clips:
        (subset / clip.parent.name).mkdir(parents=True, exist_ok=True)
        (subset / clip.parent.name / clip.name).symlink_to(clip)
    results = {}
    for features in ("all", "classic"):
        output = work / f"features_{features}.csv"
        run = run_measured([sys.executable, PREPROCESS, str(subset), "-o", str(output), "--features", features,
                            "--workers", "2", "--overwrite", "--no-progress"])
        rows = len(output.read_text().splitlines()) - 1
        results[features] = run.wall
        results[f"{features} cpu"] = run.cpu
        print(f"    --features {features:7s}: {run.wall:6.1f} s for {rows} rows ({run.wall / len(clips):.3f} s/clip, "
              f"CPU {run.cpu:.1f} s = {run.cpu / len(clips):.3f} s/clip, {run.cpu / run.wall:.2f} cores busy, peak "
              f"RSS {run.peak_mb:.0f} MB); scaled to 1000 clips {run.wall * 1000 / len(clips) / 60:.1f} min")
    scaled = results["all"] * 1000 / len(clips)
    cpu_bound = results["all cpu"] * 1000 / len(clips) / 2
    met = "met" if scaled <= TARGET_PREPROCESS_1000_S else "MISSED"
    print(f"    all / classic: {results['all'] / results['classic']:.2f}x wall, "
          f"{results['all cpu'] / results['classic cpu']:.2f}x CPU; --features all on 1000 clips "
          f"~{scaled / 60:.1f} min (target <= {TARGET_PREPROCESS_1000_S / 60:.0f} min: {met}); CPU-bound (its CPU "
          f"seconds over both cores) {cpu_bound / 60:.1f} min")
    return {"all_1000_s": scaled, **results}


# --------------------------------------------------------------------------------------------------------------
# (4) A folder of 4-minute songs
# --------------------------------------------------------------------------------------------------------------
def classify_folder(folder: Path, model: str, count: int) -> Run:
    run = run_measured([sys.executable, CLASSIFIER, str(folder), "--model", model, "--json", "--workers", "2",
                        "--no-progress"])
    records = [json.loads(line) for line in run.stdout.splitlines()]
    failed = [r for r in records if r["error"] is not None]
    if len(records) != count or failed:
        raise SystemExit(f"bench_musicnn: {len(records)} records for {count} songs, failures: {failed[:2]}")
    return run


def folder_line(label: str, run: Run, count: int) -> str:
    return (f"{label}: {run.wall:5.1f} s, {count / run.wall:.2f} songs/s (CPU {run.cpu / count:.2f} s/song, "
            f"{run.cpu / run.wall:.2f} cores busy; peak RSS {run.peak_mb:.0f} MB)")


POOL_PROBE = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import functions_interface as fi
from functions_parallel import limit_worker_threads, run_in_workers
job = fi.ClassificationJob(model_dir=sys.argv[2])
job.load()
started = time.perf_counter()
list(run_in_workers(abs, [1, 2], 2, initializer=limit_worker_threads))
print(time.perf_counter() - started)
"""


def classic_breakdown(models: dict[str, str], songs: list[Path], mp3: Path | None) -> dict:
    """Per-song times of the classic analysis in this process, 1 BLAS thread (as a worker runs it)."""
    import functions_features

    sr = audio.SAMPLE_RATE
    timings: dict[str, list[float]] = {"decode": [], "trim": [], "features": [], "analyse_file": [],
                                       "analyse_file_cpu": []}
    predict: dict[str, float] = {}
    with threadpool_limits(1):
        analysers = {name: fa.SongAnalyser(functions_nn.load_classifier(path)) for name, path in models.items()}
        ten = analysers["ten-member"]
        for song in songs:
            started = time.perf_counter()
            y = audio.load_audio(song, max_seconds=None)
            timings["decode"].append(time.perf_counter() - started)
            started = time.perf_counter()
            start, end = fa.trim_silence(y)
            timings["trim"].append(time.perf_counter() - started)
            trimmed = y[start:end]
            window = int(round(ten.settings.window_s * sr))
            starts = fa.plan_windows(trimmed.size / sr, ten.window_settings())
            started = time.perf_counter()
            frames = fa.SongFrames(trimmed, window)
            rows = np.vstack([frames.features(s) for s in starts])
            timings["features"].append(time.perf_counter() - started)
            cpu = time.process_time()
            timings["analyse_file"].append(best_of(lambda song=song: ten.analyse_file(song), 1))
            timings["analyse_file_cpu"].append(time.process_time() - cpu)
        full = np.zeros((rows.shape[0], len(audio.ALL_FEATURE_COLUMNS)))
        full[:, :rows.shape[1]] = rows  # the classic columns come first
        for name, analyser in analysers.items():
            predict[name] = best_of(lambda analyser=analyser: analyser._probabilities(full), 50)
        mp3_decode = best_of(lambda: audio.load_audio(mp3, max_seconds=None), 2) if mp3 else None
        # the features' own parts, one window: frame-level features vs statistics from the frames
        segment = trimmed[:window]
        frame_s = best_of(lambda: functions_features.frame_features(segment, 0, functions_features.frame_count(
            segment.size)), 3)
        compute_s = best_of(lambda: functions_features.compute_features(segment), 3)
    means = {name: statistics.mean(values) for name, values in timings.items()}
    return {**means, "predict": predict, "mp3_decode": mp3_decode, "windows": len(starts),
            "frame_features_window": frame_s, "compute_features_window": compute_s}


def song_profile(model: str, song: Path, work: Path) -> tuple[float, list[tuple[str, float]]]:
    """cProfile of ``analyse_file(song)`` in this process with 1 BLAS thread (the model loaded beforehand)."""
    import cProfile

    analyser = fa.SongAnalyser(functions_nn.load_classifier(model))
    path = work / "song.prof"
    with threadpool_limits(1):
        analyser.analyse_file(song)  # warm: caches of the filter banks
        cProfile.runctx("analyser.analyse_file(song)", {}, {"analyser": analyser, "song": song}, str(path))
    return profile_summary(path)


def part_folder(songs: list[Song], models: list[str], classic: str | None, single: str | None, quick: bool,
                repeats: int, work: Path) -> dict:
    print(f"\n(4) a folder of {len(songs)} 4-minute WAV songs (GTZAN clips end to end, "
          f"{sum(s.kind == 'mixed' for s in songs)} of them mixed), 03 FOLDER --workers 2 --json; {load_line()}")
    started = time.perf_counter()
    paths = write_song_folder(songs, work / "songs")
    size_mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"    written in {time.perf_counter() - started:.1f} s ({size_mb:.0f} MB); 'CPU-bound' below = the songs "
          f"over the command's CPU seconds x 2 workers, the rate with both cores to itself")
    results: dict = {}
    for model in models:
        run = classify_folder(work / "songs", model, len(paths))
        rate = len(paths) / run.wall
        results[model] = rate
        print("    " + folder_line(f"{Path(model).name}", run, len(paths))
              + f"; CPU-bound {cpu_bound_rate(run, len(paths)):.2f} songs/s  [target >= {TARGET_SONGS_PER_S:g} "
              f"songs/s: {'met' if rate >= TARGET_SONGS_PER_S else 'MISSED'}]")
    for model in [m for m in models if reads_musicnn(m)]:
        total, steps = song_profile(model, paths[0], work)
        print(f"    where a song's time goes, {Path(model).name} (cProfile of analyse_file in this process, 1 BLAS "
              f"thread, {total:.2f} s): " + "; ".join(f"{label} {seconds:.3f}" for label, seconds in steps[1:]))
    classics = {name: path for name, path in (("ten-member", classic), ("single network", single)) if path}
    if "ten-member" not in classics:
        print("    classic ten-member model: not available (no git history); not measured")
        return results
    print(f"    the classic models: ten-member = {Path(classics['ten-member']).parents[1].name} "
          + (f"({CLASSIC_REV}), single network ({SINGLE_REV})" if "single network" in classics else ""))
    runs: dict[tuple[str, int], list[Run]] = {}
    for name, path in classics.items() if len(paths) > 10 else ():
        runs[(name, len(paths))] = [classify_folder(work / "songs", path, len(paths))]
        print("    " + folder_line(f"{name}, {len(paths)} songs", runs[(name, len(paths))][0], len(paths))
              + f"; CPU-bound {cpu_bound_rate(runs[(name, len(paths))][0], len(paths)):.2f} songs/s")
    ten_songs, mp3_folder = work / "songs10", work / "songs10_mp3"
    ten_songs.mkdir()
    mp3_folder.mkdir()
    started = time.perf_counter()
    for path in paths[:10]:
        (ten_songs / path.name).symlink_to(path)
        subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-y", "-v", "error", "-i", str(path), "-b:a", "128k",
                        str(mp3_folder / f"{path.stem}.mp3")], check=True, capture_output=True, timeout=300)
    mp3 = next(iter(sorted(mp3_folder.iterdir())))
    print(f"    10 songs as a new user tries them: the first 10 (WAV), and the same 10 encoded as 128 kb/s MP3 "
          f"({time.perf_counter() - started:.1f} s to encode); {repeats} alternating runs each, median:")
    ten_runs = [("ten-member", ten_songs, classics["ten-member"]), ("ten-member mp3", mp3_folder,
                                                                     classics["ten-member"])]
    if "single network" in classics:
        ten_runs.insert(1, ("single network", ten_songs, classics["single network"]))
    for _ in range(repeats):
        for name, folder, model in ten_runs:
            runs.setdefault((name, 10), []).append(classify_folder(folder, model, 10))
    for name, _, _ in ten_runs:
        median = sorted(runs[(name, 10)], key=lambda r: r.wall)[len(runs[(name, 10)]) // 2]
        print("    " + folder_line(f"{name}, 10 songs", median, 10)
              + f"; CPU-bound {cpu_bound_rate(median, 10):.2f} songs/s (all runs: "
              + ", ".join(f"{10 / r.wall:.2f}" for r in runs[(name, 10)]) + ")")

    # where a classic song's time goes
    startup = run_measured([sys.executable, CLASSIFIER, str(work / "no such song.wav"), "--model",
                            classics["ten-member"], "--json"], check=False)
    pool = float(run_measured([sys.executable, "-c", POOL_PROBE, str(PROJECT_DIR), classics["ten-member"]])
                 .stdout.split()[-1])
    parts = classic_breakdown(classics, paths[:2 if quick else 4], mp3)
    per_song = parts["analyse_file_cpu"]
    print(f"    where the ten-member model's time goes (this process, 1 BLAS thread, mean of "
          f"{2 if quick else 4} songs): analyse_file {parts['analyse_file']:.3f} s/song (CPU {per_song:.3f} s) = "
          f"decoding WAV {parts['decode']:.3f} s "
          f"(MP3 {parts['mp3_decode']:.3f} s) + silence trim {parts['trim']:.3f} s + classic features of "
          f"{parts['windows']} windows {parts['features']:.3f} s + the genre model on {parts['windows']} rows: "
          + ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in parts["predict"].items()))
    print(f"    one 30-s window on its own (compute_features) {parts['compute_features_window']:.3f} s, its "
          f"frame-level part {parts['frame_features_window']:.3f} s")
    print(f"    fixed costs: 03 start-up to the loaded model (a missing input) {startup.wall:.2f} s (CPU "
          f"{startup.cpu:.2f} s); starting and stopping the 2 forked workers {pool:.3f} s")
    for count in sorted({10, len(paths)}):
        measured = sorted(runs[("ten-member", count)], key=lambda r: r.wall)[len(runs[("ten-member", count)]) // 2]
        ideal = startup.cpu + pool + -(-count // 2) * per_song
        print(f"    {count} songs on 2 idle cores would take ~{ideal:.1f} s = {count / ideal:.2f} songs/s (start-up "
              f"CPU + pool + {-(-count // 2)} songs per worker at {per_song:.2f} CPU-s); measured "
              f"{measured.wall:.1f} s = {count / measured.wall:.2f} songs/s with {measured.cpu / measured.wall:.2f} "
              f"of the 2 cores busy")
    results["classic"] = {f"{name} {count}": count / statistics.median(r.wall for r in rs)
                          for (name, count), rs in runs.items()}
    return results


# --------------------------------------------------------------------------------------------------------------
# (5) Agreement of the budgeted analysis with the dense one
# --------------------------------------------------------------------------------------------------------------
class RowRecorder:
    """A classifier for SongAnalyser that reads every column any of ``models`` reads: it keeps the window rows
    of the last song and answers with the first model's probabilities. Each model's song genre is then the argmax
    of the mean of its probabilities over those rows, as ``SongAnalyser._analyse_windows`` computes it."""

    def __init__(self, models: list[functions_nn.Classifier]) -> None:
        first = models[0]
        if any(m.genres != first.genres for m in models):
            raise SystemExit("bench_musicnn: the models' genres differ")
        for model in models:
            fa.check_extraction_settings(model)
        wanted = set().union(*(m.feature_columns for m in models))
        self.models = models
        self.feature_columns = [c for c in audio.ALL_FEATURE_COLUMNS if c in wanted]
        self.indices = [np.array([self.feature_columns.index(c) for c in m.feature_columns]) for m in models]
        self.genres, self.metadata, self.model_dir = first.genres, first.metadata, first.model_dir
        self.uncertain_threshold = first.uncertain_threshold
        self.rows: np.ndarray | None = None

    def check_columns(self, available: Sequence[str]) -> None:
        for model in self.models:
            model.check_columns(available)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        self.rows = np.array(rows)
        return self.models[0].predict_proba(rows[:, self.indices[0]])

    def song_probabilities(self, rows: np.ndarray) -> list[np.ndarray]:
        return [m.predict_proba(rows[:, index]).mean(axis=0) for m, index in zip(self.models, self.indices,
                                                                                  strict=True)]


_AGREEMENT: dict = {}  # set before the workers fork: {"analysers": {setting: SongAnalyser}, "patches": [0]}


def _count_patches(original: Callable) -> Callable:
    def counted(*args, **kwargs):
        taggram = original(*args, **kwargs)
        _AGREEMENT["patches"][0] += taggram.tags.shape[0]
        return taggram

    return counted


DEFAULT_MIN_PATCHES = fa.MUSICNN_MIN_PATCHES


def budget_parts(label: str | None) -> tuple[int | None, int]:
    """A budget of ``--budgets``: "24" (patches per song, the analyser's windows) or "24/2" (the same budget over
    windows of at least 2 patches: MUSICNN_MIN_PATCHES set to 2 in this bench's processes). None: dense."""
    if label is None:
        return None, DEFAULT_MIN_PATCHES
    patches, _, least = label.partition("/")
    return int(patches), int(least) if least else DEFAULT_MIN_PATCHES


def use_budget(label: str | None) -> None:
    fa.MUSICNN_MIN_PATCHES = budget_parts(label)[1]  # read by SongAnalyser.window_settings at each call


def window_plan(analyser: fa.SongAnalyser, y: np.ndarray, label: str | None) -> tuple[list[float], int | None]:
    """The windows ``analyser`` cuts the song ``y`` into, and the musicnn patches of each (None: every patch)."""
    use_budget(label)
    start, end = fa.trim_silence(y)
    starts = fa.plan_windows((end - start) / audio.SAMPLE_RATE, analyser.window_settings())
    return starts, fa.musicnn_patches_per_window(len(starts), analyser.settings)


def _agreement_task(task: tuple[int, tuple[Path, ...], str | None]) -> dict:
    """One song under one setting (None: dense, or a budget), in a worker: its window rows and its cost."""
    number, clips, setting = task
    analyser = _AGREEMENT["analysers"][setting]
    use_budget(setting)
    y = song_samples(clips)
    _AGREEMENT["patches"][0] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    result = analyser.analyse_samples(y)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"number": number, "setting": setting, "rows": analyser.classifier.rows, "cpu": cpu, "wall": wall,
            "windows": len(result.windows), "patches": _AGREEMENT["patches"][0], "genre": result.genre}


def sparse_feature_bias(clips: list[Path], shares: Sequence[int]) -> dict[int, tuple[float, float]]:
    """How a window's 100 musicnn columns move when they come from ``share`` patches instead of every patch: the
    mean over clips of sum(std columns) / sum(dense std columns), and the mean |difference| of the mean columns
    (the clips as one window each, through ``window_taggram``, 1 thread)."""
    network = musicnn.load_network()
    ratios: dict[int, list[float]] = {share: [] for share in shares}
    gaps: dict[int, list[float]] = {share: [] for share in shares}
    with threadpool_limits(1):
        for clip in clips:
            y = audio.load_audio(clip)
            dense = musicnn.window_taggram(y, None, network).features()
            for share in shares:
                sparse = musicnn.window_taggram(y, share, network).features()
                ratios[share].append(sparse[musicnn.N_TAGS:].sum() / dense[musicnn.N_TAGS:].sum())
                gaps[share].append(float(np.abs(sparse[:musicnn.N_TAGS] - dense[:musicnn.N_TAGS]).mean()))
    return {share: (statistics.mean(ratios[share]), statistics.mean(gaps[share])) for share in shares}


def part_agreement(clips: list[Path], songs: list[Song], models: list[str], budgets: list[str],
                   verify: int) -> dict:
    """Same genre under each budget as under dense. A (song, budget) whose plan is the dense one (same windows,
    every patch: a 30-s clip is one window, and a share >= MUSICNN_DENSE_FROM gets every patch) is the same call
    with the same arguments, so it is computed only for ``verify`` songs (to show it is bit-identical); every
    other pair is computed under both settings."""
    from functions_parallel import limit_worker_threads, run_in_workers

    musicnn_models = [m for m in models if reads_musicnn(m)]
    print(f"\n(5) agreement of the budgeted analysis with the dense one (every patch of every window); {load_line()}")
    if not musicnn_models:
        print("    no --model reads musicnn columns: the budget changes nothing; not measured")
        return {}
    recorder_models = [functions_nn.load_classifier(m) for m in musicnn_models]
    settings: list[str | None] = [None, *budgets]
    analysers = {s: fa.SongAnalyser(RowRecorder(recorder_models),
                                    fa.AnalysisSettings(musicnn_patches=budget_parts(s)[0])) for s in settings}
    _AGREEMENT.update(analysers=analysers, patches=[0])
    musicnn.window_taggram = _count_patches(musicnn.window_taggram)  # this process and its workers only
    items: list[tuple[str, str, tuple[Path, ...]]] = [(c.stem, "clip", (c,)) for c in clips]
    items += [(s.name, s.kind, s.clips) for s in songs]
    same: dict[tuple[int, str], bool] = {}
    for n, (_, _, parts) in enumerate(items):
        y = song_samples(parts)
        dense_plan = window_plan(analysers[None], y, None)
        for budget in budgets:
            same[(n, budget)] = window_plan(analysers[budget], y, budget) == dense_plan and dense_plan[1] is None
    use_budget(None)
    verified = set(sorted({n for (n, _), flag in same.items() if flag}, key=lambda n: n % 10)[:verify])
    tasks = []
    for n, (_, _, parts) in enumerate(items):
        differing = [b for b in budgets if not same[(n, b)]]
        if differing or n in verified:
            tasks.append((n, parts, None))
            tasks += [(n, parts, b) for b in (differing if n not in verified else budgets)]
    tasks.sort(key=lambda t: (-len(t[1]) * (20 if t[2] is None else budget_parts(t[2])[0] / 24), t[0]))
    started = time.perf_counter()
    outcomes = {}
    for _, outcome in run_in_workers(_agreement_task, tasks, 2, initializer=limit_worker_threads):
        if not isinstance(outcome, dict):
            raise SystemExit(f"bench_musicnn: an agreement task failed: {outcome}")
        outcomes[(outcome["number"], outcome["setting"])] = outcome
    wall = time.perf_counter() - started
    print(f"    {len(tasks)} analyses in {wall:.0f} s with 2 worker processes (1 BLAS thread each); models: "
          f"{', '.join(Path(m).name for m in musicnn_models)}; {load_line()}")
    reused = sum(flag for (n, _), flag in same.items() if n not in verified)
    if reused:
        print(f"    {reused} (item, budget) pairs have the dense plan (one window, share >= {fa.MUSICNN_DENSE_FROM}: "
              f"every patch), checked for every item: the same call, same genre; {len(verified)} such items "
              f"computed under every setting to show it")

    genres = analysers[None].classifier.genres
    summary: dict = {}
    groups = [("30-s clips", [n for n, item in enumerate(items) if item[1] == "clip"]),
              ("4-min one-genre songs", [n for n, item in enumerate(items) if item[1] == "one-genre"]),
              ("4-min mixed songs", [n for n, item in enumerate(items) if item[1] == "mixed"])]
    groups = [(name, members) for name, members in groups if members]
    for m, model in enumerate(musicnn_models):
        print(f"    model {model}:")
        recorder = analysers[None].classifier
        dense = {n: recorder.song_probabilities(o["rows"])[m] for (n, s), o in outcomes.items() if s is None}
        if m == 0:  # the recorded rows give the analyser's own answer back
            assert all(genres[int(recorder.song_probabilities(o["rows"])[0].argmax())] == o["genre"]
                       for o in outcomes.values())
        for budget in budgets:
            counts, gaps, disagreements, identical, checked = [], [], [], 0, 0
            for name, members in groups:
                agree = 0
                for n in members:
                    if (n, budget) not in outcomes:  # the dense plan: the same call
                        agree += 1
                        continue
                    probability = recorder.song_probabilities(outcomes[(n, budget)]["rows"])[m]
                    if same[(n, budget)]:
                        checked += 1
                        identical += bool(np.array_equal(probability, dense[n]))
                    else:
                        gaps.append(float(np.abs(probability - dense[n]).max()))
                    if probability.argmax() == dense[n].argmax():
                        agree += 1
                    else:
                        ranked = np.sort(dense[n])[::-1]
                        disagreements.append(f"{items[n][0]}: {genres[int(dense[n].argmax())]} -> "
                                             f"{genres[int(probability.argmax())]} (dense top-2 margin "
                                             f"{ranked[0] - ranked[1]:.3f})")
                counts.append((name, agree, len(members)))
            total_same, total = sum(a for _, a, _ in counts), sum(c for _, _, c in counts)
            summary[(model, budget)] = (total_same, total)
            met = "met" if total_same / total >= TARGET_AGREEMENT else "MISSED"
            line = (f"      budget {budget:>4s}: " + ", ".join(f"{name} {a}/{c}" for name, a, c in counts)
                    + f"; all {total_same}/{total} = {total_same / total:.1%} same genre [target >= "
                    f"{TARGET_AGREEMENT:.0%}: {met}]")
            if gaps:
                line += (f"; where the plan differs, largest song-probability difference {max(gaps):.3f}, mean "
                         f"{statistics.mean(gaps):.4f}")
            if checked:
                line += f"; dense plan computed twice: {identical}/{checked} bit-identical"
            print(line)
            for text in disagreements:
                print(f"        differs: {text}")
    sample = [items[n][2][0] for n in sorted(verified)]
    bias = sparse_feature_bias(sample, (2, 3, 4, 6, 8))
    print(f"    a window's musicnn columns from P patches instead of every patch ({len(sample)} clips as one window, "
          f"{fa.MUSICNN_DENSE_FROM}+ patches get every patch): std columns x" + ", x".join(
              f"{ratio:.2f} (P={share})" for share, (ratio, _) in bias.items())
          + "; mean columns off by " + ", ".join(f"{gap:.4f} (P={share})" for share, (_, gap) in bias.items()))
    print("    cost per item (worker CPU seconds, 1 BLAS thread; mean windows and musicnn patches):")
    for name, members in groups:
        cells = []
        for setting in settings:
            done = [outcomes[(n, setting)] for n in members if (n, setting) in outcomes]
            if not done:
                continue
            cells.append(f"{'dense' if setting is None else f'budget {setting}'} "
                         f"{statistics.mean(o['cpu'] for o in done):.2f} s ({len(done)} items, "
                         f"{statistics.mean(o['windows'] for o in done):.1f} windows, "
                         f"{statistics.mean(o['patches'] for o in done):.0f} patches)")
        print(f"      {name}: " + "; ".join(cells))
    return summary


# --------------------------------------------------------------------------------------------------------------
def print_summary(results: dict) -> None:
    """The targets, each with the figure measured above and met / MISSED."""
    lines = []
    if 1 in results:
        for threads in sorted(k for k in results[1] if isinstance(k, int)):
            r = results[1][threads]
            efficiency = r["rate"] / r["matmul_rate"]
            lines.append(f"(1) forward pass, {threads} thread(s): {r['rate']:.1f} / {r['matmul_rate']:.1f} GFLOP/s = "
                         f"{efficiency:.1%} of the matrix-product rate (>= {TARGET_EFFICIENCY:.0%}): "
                         f"{verdict(efficiency >= TARGET_EFFICIENCY)}")
    for model, r in results.get(2, {}).items():
        lines.append(f"(2) cold start, {Path(model).name}: {r['wall']:.2f} s (<= {TARGET_COLD_S} s: "
                     f"{verdict(r['wall'] <= TARGET_COLD_S)}), {r['peak']:.0f} MB (<= {TARGET_COLD_MB:.0f} MB: "
                     f"{verdict(r['peak'] <= TARGET_COLD_MB)})")
    if 3 in results:
        minutes = results[3]["all_1000_s"] / 60
        lines.append(f"(3) 00 --features all, 1000 clips: {minutes:.1f} min (<= "
                     f"{TARGET_PREPROCESS_1000_S / 60:.0f} min: {verdict(minutes * 60 <= TARGET_PREPROCESS_1000_S)})")
    for model, rate in results.get(4, {}).items():
        if model != "classic":
            lines.append(f"(4) 4-minute songs, {Path(model).name}: {rate:.2f} songs/s (>= {TARGET_SONGS_PER_S:g}: "
                         f"{verdict(rate >= TARGET_SONGS_PER_S)})")
    for (model, budget), (same, total) in results.get(5, {}).items():
        lines.append(f"(5) same genre as dense, {Path(model).name}, budget {budget}: {same}/{total} = "
                     f"{same / total:.1%} (>= {TARGET_AGREEMENT:.0%}: {verdict(same / total >= TARGET_AGREEMENT)})")
    print_target_lines(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", metavar="DIR",
                        help="model folder; more than once for several (default: data/pretrained)")
    parser.add_argument("--quick", action="store_true", help="a short version: fewer clips, songs and repeats")
    parser.add_argument("--parts", default="1,2,3,4,5", help="which parts to run (default 1,2,3,4,5)")
    parser.add_argument("--budgets", default="12,24,48",
                        help="patch budgets compared with dense (default 12,24,48); B/M: budget B over windows of "
                             f"at least M patches (the analyser's: {fa.MUSICNN_MIN_PATCHES})")
    parser.add_argument("--songs", type=int, default=None, help="4-minute songs in the folder of (4) (default 40, "
                                                                "--quick 10)")
    parser.add_argument("--one-genre", type=int, default=None, metavar="N",
                        help="4-minute one-genre songs in (5), at most 10 (default 10, --quick 2)")
    parser.add_argument("--mixed", type=int, default=None, metavar="N",
                        help="4-minute mixed songs (eight genres) in (5) (default 6, --quick 2)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats of the timings (default 3, cold starts 5; --quick 2)")
    parser.add_argument("--classic-rev", default=CLASSIC_REV, help=f"commit of the classic ten-member model "
                                                                   f"(default {CLASSIC_REV})")
    parser.add_argument("--single-rev", default=SINGLE_REV, help=f"commit of the single network (default {SINGLE_REV})")
    args = parser.parse_args()
    models = [str(Path(m).resolve()) for m in (args.model or [str(audio.PRETRAINED_MODEL_DIR)])]
    for model in models:
        if not (Path(model) / "model.json").is_file():
            print(f"bench_musicnn: no model at {model}")
            return 1
    parts = {int(p) for p in args.parts.split(",") if p.strip()}
    budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
    if not all(re.fullmatch(r"[1-9]\d*(/[1-9]\d*)?", b) for b in budgets):
        parser.error("--budgets: numbers, or B/M pairs, separated by commas")
    repeats = args.repeats or (2 if args.quick else 3)
    n_songs = args.songs or (10 if args.quick else 40)
    by_genre = shared_clips()
    clip = by_genre["blues"][0]
    started = time.perf_counter()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"bench_musicnn{' --quick' if args.quick else ''}: {uptime}")
    print(f"machine: {os.cpu_count()} CPUs, default BLAS threads {DEFAULT_THREADS}, Python {sys.version.split()[0]}, "
          f"NumPy {np.__version__}")
    for model in models:
        print(f"model {describe_model(model)}")
    with tempfile.TemporaryDirectory(prefix="bench-musicnn-") as tmp:
        work = Path(tmp)
        classic = model_from_git(args.classic_rev, work, "classic")
        single = model_from_git(args.single_rev, work, "single")
        results: dict = {}
        if 1 in parts:
            results[1] = part_forward(clip, args.repeats or (3 if args.quick else 5))
        if 2 in parts:
            results[2] = part_cold_start(clip, models, str(classic) if classic else None,
                                         args.repeats or (2 if args.quick else 5), work)
        if 3 in parts:
            results[3] = part_preprocess(clip_subset(by_genre, 1 if args.quick else 10), work)
        if 4 in parts:
            results[4] = part_folder(folder_songs(by_genre, n_songs), models, str(classic) if classic else None,
                                     str(single) if single else None, args.quick, repeats, work)
        if 5 in parts:
            one_genre = args.one_genre if args.one_genre is not None else (2 if args.quick else 10)
            mixed = args.mixed if args.mixed is not None else (2 if args.quick else 6)
            songs = one_genre_songs(by_genre, 0)[:one_genre] + mixed_songs(by_genre, mixed)
            results[5] = part_agreement(clip_subset(by_genre, 2 if args.quick else 10), songs, models, budgets,
                                        verify=2 if args.quick else 10)
    print_summary(results)
    print(f"\ndone in {(time.perf_counter() - started) / 60:.1f} min; "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
