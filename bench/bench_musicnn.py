"""Benchmark of the musicnn forward pass (issue 16, item 8): every figure measured here, in one run.

The GFLOP/s of ``MusicnnNetwork.taggram`` on a 30-s clip (multiply-adds counted from the weight shapes and the
frames each layer really computes, the shared timbral front end included; x2 for FLOP) against NumPy's float32
matrix-product rate measured in the same run with the same thread count (1 thread through threadpoolctl, and the
default), the calls taking turns; the shared pass against every patch on its own (``patch_outputs``); where the
time of the pass goes (each part of the network, the network's own matrix-product shapes alone, and the steps of
the front end's convolutions). Target: >= 40 % of the matrix-product rate. The temporal front end's GFLOP/s count
the convolution's own multiply-adds; its products by phases do 12-47 % more (the shifted kernels' zeros).

    python bench/bench_musicnn.py [--repeats 5] [--quick] [--clip WAV]

The machine is usually shared: the part prints the load average, and ratios are taken within the run.
``--quick`` is a short version (3 repeats).

Parts (2)-(5) of this script (cold start, 00 on gtzan_mini, a folder of 4-minute songs, agreement of the patch
budget with the dense analysis) were superseded by ``bench/bench_speed.py --parts cold,preprocess,folder`` and
``bench/bench_patches.py`` on the current code and dropped; the figures they printed are in docs/benchmarks.md as
history, printed by this script at commit 7355a74 (``git show 7355a74:bench/bench_musicnn.py`` for its code).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_common import (  # puts the project on sys.path
    best_of,
    doc_parser,
    load_line,
    print_target_lines,
    shared_clips,
    verdict,
)
from threadpoolctl import threadpool_info, threadpool_limits

import functions_audio as audio
import functions_musicnn as musicnn

DEFAULT_THREADS = max((info.get("num_threads", 1) for info in threadpool_info() if info.get("user_api") == "blas"),
                      default=1)
TARGET_EFFICIENCY = 0.40


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
        # a temporal layer's share of a frame's temporal multiply-adds (taggram computes the layers apart)
        self.temporal_share = [kernel.size / sum(k.size for k, *_ in network.temporal) for kernel, *_ in
                               network.temporal]
        self.copy = musicnn.MusicnnNetwork(network.raw)
        self.frames: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        for part, method in (("timbral", "timbral_features"), ("temporal", "temporal_layer"), ("back", "back")):
            setattr(self.copy, method, self._wrapped(part, getattr(self.copy, method)))

    def _wrapped(self, part: str, method: Callable) -> Callable:
        def counted(*args):
            if part == "timbral":
                self.frames["timbral"] += args[0].shape[0] - 2 * musicnn.TIMBRAL_PAD
            elif part == "temporal":  # temporal_layer(index, x, runs=None): x's frames, or those of the runs
                index, x, runs = (*args, None)[:3]
                phases = musicnn.TEMPORAL_PHASES
                frames = x.shape[0] if runs is None else sum(min(phases, x.shape[0] - r * phases) for r in runs)
                self.frames["temporal"] += frames * self.temporal_share[index]
            else:
                self.frames["midend"] += args[0].shape[0] * args[0].shape[1]
                self.frames["patches"] += args[0].shape[0]
            started = time.perf_counter()
            result = method(*args)
            self.seconds[part] += time.perf_counter() - started
            return result

        return counted

    def one_patch_macs(self) -> dict[str, float]:
        """Multiply-adds of one 3-s patch computed on its own, by part."""
        return {**{part: musicnn.PATCH_FRAMES * macs for part, macs in self.per_frame.items()},
                "dense": self.per_patch_dense}

    def count(self, call: Callable[[musicnn.MusicnnNetwork], object]) -> dict[str, float]:
        """Multiply-adds of ``call(network)`` by part; the wrapped copy's times of that call in ``self.seconds``."""
        self.frames.clear()
        self.seconds.clear()
        call(self.copy)
        return {**{part: self.frames[part] * macs for part, macs in self.per_frame.items()},
                "dense": self.frames["patches"] * self.per_patch_dense}


def operands(m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 operands of an (m, k) @ (k, n) product."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)


def matmul_rate(m: int, k: int, n: int, repeats: int) -> float:
    """float32 GFLOP/s of an (m, k) @ (k, n) product of contiguous arrays (best of ``repeats``)."""
    a, b = operands(m, k, n)
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
    """Seconds of each step of the front end's convolutions, replayed with the pieces MusicnnNetwork's
    timbral_features and temporal_features are made of (1 thread): one 128-frame block of each timbral filter
    shape and one patch's three temporal convolutions (by phases)."""
    x = network.normalise_input(spectrogram)
    steps: Counter[str] = Counter()
    pad = musicnn.TIMBRAL_PAD
    block = np.pad(x[:musicnn.TIMBRAL_BLOCK_FRAMES], ((pad, pad), (0, 0)))
    for (kernel, bias, scale, shift, width), pool in zip(network.timbral, network.timbral_pool, strict=True):
        rows = musicnn._windows(block, 2 * pad + 1, width)
        conv = (rows @ kernel).reshape(musicnn.TIMBRAL_BLOCK_FRAMES, musicnn.N_MELS - width + 1, -1)
        steps["timbral im2col"] += best_of(lambda width=width: musicnn._windows(block, 2 * pad + 1, width), repeats)
        steps["timbral product"] += best_of(lambda rows=rows, kernel=kernel: rows @ kernel, repeats)
        steps["timbral pooling over bands, bias/ReLU/BN"] += best_of(
            lambda c=conv, p=pool, a=(bias, scale, shift): musicnn._pool_relu_bn(c, p, *a), repeats)
    patch = x[:musicnn.PATCH_FRAMES]
    for (_, bias, scale, shift, height), pool, phased in zip(network.temporal, network.temporal_pool,
                                                             network.temporal_phased, strict=True):
        rows = musicnn._phase_rows(patch, height)
        copied = rows.reshape(-1, rows.shape[2])
        conv = (copied @ phased).reshape(*rows.shape[:2], musicnn.TEMPORAL_PHASES, -1)
        steps["temporal padded bands and their rows"] += best_of(
            lambda h=height, w=rows.shape[2]: musicnn._phase_rows(patch, h).reshape(-1, w), repeats)
        steps["temporal product (by phases)"] += best_of(lambda c=copied, k=phased: c @ k, repeats)
        steps["temporal pooling over bands, bias/ReLU/BN"] += best_of(
            lambda c=conv, p=pool, a=(bias, scale, shift): musicnn._pool_relu_bn(c, p, *a), repeats)
    return steps


def part_forward(clip: Path, repeats: int) -> dict:
    """Every figure of the forward pass, printed; returns {threads: {rate, matmul_rate, times}} and the ratios."""
    print(f"\nforward pass of MusicnnNetwork on a 30-s clip ({clip.name}); {load_line()}")
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
    alone_total = sum(work.count(lambda net: net.patch_outputs(patches)).values())
    print(f"    clip: {spectrogram.shape[0]} frames, {len(starts)} patches; taggram (shared front end) "
          f"{shared_total / 1e9:.2f} G multiply-adds = {2 * shared_total / 1e9:.1f} GFLOP "
          f"(each patch on its own: {alone_total / 1e9:.2f} G); log-mel input {log_mel_s * 1000:.0f} ms (1 thread)")
    result = forward_rates(network, spectrogram, patches, shared_total, repeats)
    shared_s, alone_s = result[1]["times"]["taggram"], result[1]["times"]["alone"]
    with threadpool_limits(1):
        tags_alone, _ = network.patch_outputs(patches)
        gap = float(np.abs(tags_alone - network.taggram(spectrogram).tags).max())
        best_total, parts = time_by_part(work, spectrogram, repeats)
        gemm = gemm_rates(network, repeats)
        steps = front_end_steps(network, spectrogram, repeats)
    print(f"    shared pass vs each patch on its own (patch_outputs), 1 thread: {shared_s:.3f} s vs {alone_s:.3f} s: "
          f"{alone_s / shared_s:.2f}x faster ({alone_total / shared_total:.2f}x fewer multiply-adds); "
          f"largest tag difference {gap:.1e}")
    print_where_time_goes(shared, best_total, parts, gemm, steps)
    result.update(shared_vs_alone=alone_s / shared_s, gap=gap)
    return result


def forward_rates(network: musicnn.MusicnnNetwork, spectrogram: np.ndarray, patches: np.ndarray,
                  shared_total: float, repeats: int) -> dict:
    """The taggram's GFLOP/s against a 2048^3 float32 matrix product's with 1 thread and the default, the calls
    taking turns (with 1 thread, ``patch_outputs`` of every patch alone too); printed, and {threads: figures}."""
    a, b = operands(2048, 2048, 2048)
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
    return result


def time_by_part(work: NetworkWork, spectrogram: np.ndarray, repeats: int) -> tuple[float, Counter[str]]:
    """Where the pass's time goes: the wrapped copy's taggram, the run with the best total (the caller's
    threads); its total seconds and the seconds of each part."""
    parts: Counter[str] = Counter()
    best_total = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work.count(lambda net: net.taggram(spectrogram))
        total = time.perf_counter() - started
        if total < best_total:
            best_total, parts = total, Counter(work.seconds)
    return best_total, parts


def gemm_rates(network: musicnn.MusicnnNetwork, repeats: int) -> dict[str, tuple[tuple[int, int, int], float]]:
    """The GFLOP/s of the network's own matrix-product shapes alone (contiguous operands): one 128-frame block of
    each timbral filter shape, one patch's first temporal convolution and the first mid-end one."""
    shapes = {f"timbral {width}": (musicnn.TIMBRAL_BLOCK_FRAMES * (musicnn.N_MELS - width + 1), *kernel.shape)
              for kernel, _, _, _, width in network.timbral}
    runs = -(-musicnn.PATCH_FRAMES // musicnn.TEMPORAL_PHASES)
    shapes["temporal 128 by phases"] = (runs * musicnn.N_MELS, *network.temporal_phased[0].shape)
    shapes["mid end 1"] = (8 * musicnn.PATCH_FRAMES, *network.midend[0][0].shape)
    return {name: ((m, k, n), matmul_rate(m, k, n, repeats)) for name, (m, k, n) in shapes.items()}


def print_where_time_goes(shared: dict[str, float], best_total: float, parts: Counter[str],
                          gemm: dict[str, tuple[tuple[int, int, int], float]], steps: dict[str, float]) -> None:
    """Each part's share of the time against its share of the work, the shapes' rates and the front-end steps."""
    shared_total = sum(shared.values())
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
    for label, prefix in (("one 128-frame block of both timbral shapes", "timbral"),
                          ("one patch's three temporal convolutions", "temporal")):
        group = {k: v for k, v in steps.items() if k.startswith(prefix)}
        total = sum(group.values())
        print(f"    steps of {label} (1 thread, {total * 1000:.1f} ms): " + "; ".join(
            f"{name.split(' ', 1)[1]} {seconds * 1000:.1f} ms ({seconds / total:.0%})"
            for name, seconds in group.items()))


def main() -> int:
    parser = doc_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="a short version: 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of the timings (default 5, --quick 3)")
    parser.add_argument("--clip", type=Path, default=None,
                        help="the 30-s clip (default the first blues clip of the shared gtzan_mini)")
    args = parser.parse_args()
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats: at least 1")
    if args.clip is not None and not args.clip.is_file():
        print(f"bench_musicnn: --clip {args.clip}: no such file")
        return 1
    clip = args.clip or shared_clips()["blues"][0]
    started = time.perf_counter()
    print(f"bench_musicnn{' --quick' if args.quick else ''}: {load_line()}")
    print(f"machine: {os.cpu_count()} CPUs, default BLAS threads {DEFAULT_THREADS}, Python {sys.version.split()[0]}, "
          f"NumPy {np.__version__}")
    result = part_forward(clip, args.repeats or (3 if args.quick else 5))
    lines = []
    for threads in sorted(k for k in result if isinstance(k, int)):
        r = result[threads]
        efficiency = r["rate"] / r["matmul_rate"]
        lines.append(f"forward pass, {threads} thread(s): {r['rate']:.1f} / {r['matmul_rate']:.1f} GFLOP/s = "
                     f"{efficiency:.1%} of the matrix-product rate (>= {TARGET_EFFICIENCY:.0%}): "
                     f"{verdict(efficiency >= TARGET_EFFICIENCY)}")
    print_target_lines(lines)
    print(f"\ndone in {(time.perf_counter() - started) / 60:.1f} min; {load_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
