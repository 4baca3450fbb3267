"""Benchmark of classifying songs with 03_launch_classifier.py, every number measured here, in one run.

(a) cold start: ``python 03_launch_classifier.py clip.wav`` as a fresh process, wall time and peak memory
    (RSS), with the NumPy forward pass (default) and with ``--backend keras`` (pays TensorFlow's import);
    median of ``--repeats`` runs each, ratio printed (targets: <= 3 s, <= 400 MB, >= 2.5x faster);
(b) the largest difference between the two backends' probabilities on that clip (target <= 1e-5);
(c) throughput on a folder (../shared/data/gtzan_mini, 100 clips of 30 s): songs per second with 1 worker and
    with 2 workers (whole command, start-up included).

    python bench/bench_classify.py [--model DIR] [--repeats 5] [--clips 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

import functions_audio as audio  # noqa: E402
import functions_synthetic  # noqa: E402

SCRIPT = str(PROJECT_DIR / "03_launch_classifier.py")


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (of the process and its children, from wait4) and stdout of ``command``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"bench_classify: {' '.join(command)} failed with exit code {process.returncode}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def clip_for_benchmark(work: Path) -> Path:
    shared = audio.shared_data_dir()
    if shared is not None and (shared / "gtzan_mini" / "blues" / "blues.00000.wav").is_file():
        return shared / "gtzan_mini" / "blues" / "blues.00000.wav"
    import soundfile

    path = work / "synthetic_rock_30s.wav"
    soundfile.write(str(path), functions_synthetic.synthesize_clip("rock", 0, seconds=30.0), audio.SAMPLE_RATE)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(audio.PRETRAINED_MODEL_DIR), help="model folder (default: shipped)")
    parser.add_argument("--repeats", type=int, default=5, help="cold starts per backend (median reported)")
    parser.add_argument("--clips", type=int, default=100, help="clips of gtzan_mini for the folder throughput")
    args = parser.parse_args()
    if not (Path(args.model) / "model.json").is_file():
        print(f"bench_classify: no model at {args.model} (train one with 02_train_model.py or pass --model)")
        return 1

    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        work = Path(tmp)
        clip = clip_for_benchmark(work)
        print(f"clip: {clip}\nmodel: {args.model}\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        base = [sys.executable, SCRIPT, str(clip), "--model", args.model, "--json"]
        run_measured(base)  # warm the file cache (and numba's on-disk cache) once; not counted
        results: dict[str, dict[str, float]] = {}
        outputs: dict[str, dict] = {}
        for backend in ("numpy", "keras"):
            walls, peaks = [], []
            for _ in range(args.repeats):
                wall, peak, stdout = run_measured([*base, "--backend", backend])
                walls.append(wall)
                peaks.append(peak)
                outputs[backend] = json.loads(stdout)
            results[backend] = {"wall_s": statistics.median(walls), "peak_mb": statistics.median(peaks),
                                "min_wall_s": min(walls), "max_wall_s": max(walls)}
            print(f"cold start, {backend:5s} backend: median {results[backend]['wall_s']:.2f} s "
                  f"(min {min(walls):.2f}, max {max(walls):.2f}, {args.repeats} runs), "
                  f"peak RSS {results[backend]['peak_mb']:.0f} MB")
        speedup = results["keras"]["wall_s"] / results["numpy"]["wall_s"]
        memory_ratio = results["keras"]["peak_mb"] / results["numpy"]["peak_mb"]
        print(f"speed-up of the NumPy path: {speedup:.2f}x (target >= 2.5x); memory: {memory_ratio:.2f}x less")
        ok_wall = results["numpy"]["wall_s"] <= 3.0
        ok_memory = results["numpy"]["peak_mb"] <= 400
        print(f"targets: wall <= 3 s {'met' if ok_wall else 'MISSED'}, peak <= 400 MB "
              f"{'met' if ok_memory else 'MISSED'}, speed-up >= 2.5x {'met' if speedup >= 2.5 else 'MISSED'}")
        difference = max(abs(p - outputs["keras"]["probabilities"][g])
                         for g, p in outputs["numpy"]["probabilities"].items())
        print(f"largest |p_numpy - p_keras| on the clip: {difference:.2e} (JSON rounds to 1e-6; target <= 1e-5); "
              f"genre {outputs['numpy']['genre']} vs {outputs['keras']['genre']}")

        shared = audio.shared_data_dir()
        clips = sorted((shared / "gtzan_mini").glob("*/*.wav"))[: args.clips] if shared else []
        if not clips:
            print("folder throughput: ../shared/data/gtzan_mini not found; not measured")
            return 0
        folder = work / "songs"
        folder.mkdir()
        for path in clips:
            (folder / path.name).symlink_to(path)
        for workers in (1, 2):
            wall, peak, stdout = run_measured([sys.executable, SCRIPT, str(folder), "--model", args.model,
                                               "--json", "--workers", str(workers), "--no-progress"])
            records = [json.loads(line) for line in stdout.splitlines()]
            failed = sum(r["error"] is not None for r in records)
            print(f"folder of {len(clips)} clips, {workers} worker{'s' if workers > 1 else ''}: {wall:.1f} s, "
                  f"{len(clips) / wall:.2f} songs/s, peak RSS {peak:.0f} MB (largest process), {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
