"""Benchmark of 00 on a Dask cluster against local processes, both measured here, in one run.

(a) `00_preprocess_music.py --workers 2` (local worker processes);
(b) `00_preprocess_music.py --scheduler ...` on a loopback cluster started as users start one: `dask scheduler`
    and `dask worker --nworkers 2 --nthreads 1` from a folder where the project is not importable.

On 270 clips: the 100 shared GTZAN clips and copies of them under other names, in a temporary folder. The two
commands alternate (`--rounds`), so that other work on the machine weighs on both; the cluster is started once,
before timing (it already runs when a user types the command). Prints every wall time, the ratio (b)/(a) of the
medians (target <= 1.3 on one machine) and whether the two CSVs are the same bytes.

    python bench/bench_cluster.py [--clips 270] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_common import gtzan_mini, tests_on_path, timed  # first: it puts the project on the import path

tests_on_path()
from helpers_cluster import CliCluster  # noqa: E402

import functions_dataset  # noqa: E402


def make_collection(source: Path, target: Path, clips: int) -> int:
    """`clips` clips in `target`: the shared ones, then copies of them under other names."""
    found, _ = functions_dataset.scan_dataset(source)
    for index in range(clips):
        clip = found[index % len(found)]
        name = Path(clip.file).name if index < len(found) else f"copy{index // len(found)}_{Path(clip.file).name}"
        (target / clip.genre).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip.path, target / clip.genre / name)
    return clips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=270, help="clips in the collection (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each command (default: %(default)s)")
    args = parser.parse_args()
    source = gtzan_mini()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "dataset"
        make_collection(source, dataset, args.clips)
        cluster = CliCluster(Path(tmp) / "cluster", workers=2)
        try:
            cluster.start()
            script = [sys.executable, "00_preprocess_music.py", str(dataset), "--overwrite", "--no-progress"]
            local_s, dask_s = [], []
            for _ in range(args.rounds):
                local_s.append(timed([*script, "-o", f"{tmp}/local.csv", "--workers", "2"]))
                dask_s.append(timed([*script, "-o", f"{tmp}/dask.csv", "--scheduler", cluster.address]))
        finally:
            left = cluster.stop()
        same = Path(f"{tmp}/local.csv").read_bytes() == Path(f"{tmp}/dask.csv").read_bytes()
    local, dask = statistics.median(local_s), statistics.median(dask_s)
    print(f"clips: {args.clips}, rounds: {args.rounds} (alternating)")
    print(f"(a) 00 --workers 2:                       {', '.join(f'{s:.2f}' for s in local_s)} s  (median {local:.2f})")
    print(f"(b) 00 --scheduler (2 CLI-started workers): {', '.join(f'{s:.2f}' for s in dask_s)} s  (median {dask:.2f})")
    print(f"ratio (b)/(a): {dask / local:.2f}   (target <= 1.3)")
    print(f"same CSV bytes: {'yes' if same else 'NO'};  cluster processes left behind: {len(left)}")
    return 0 if same and not left else 1


if __name__ == "__main__":
    sys.exit(main())
