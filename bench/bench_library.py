"""Benchmark of whole-song analysis: today's path (each 30-s window on its own) against the shared-frame path
(one STFT and one set of frame-level features per song), both sides measured in one run.

"Today" is the project as it was before the library work (``--today REV``, default the commit below), unpacked
with ``git archive`` into a temporary folder and run with the same Python; "new" is this working tree.

(a) a 4-minute song (eight 30-s GTZAN clips one after the other, as an MP3): analysis time in-process (decoded
    once, one BLAS thread, best of ``--repeats``) and cold start of ``03 song.mp3`` (median); target >= 2x;
(b) agreement: the largest difference of the song's genre probabilities between the shared-frame path and
    the per-window path of this tree (same windows), and between this tree and today's (windows now start on
    the 23-ms frame grid); target <= 0.01;
(c) a folder of ``--songs`` 4-minute MP3s with ``03 FOLDER --workers 2``: songs per second, whole command
    (target >= 3, goal 5).

    python bench/bench_library.py [--model DIR] [--songs 40] [--repeats 3] [--today REV]

The default model is the shipped model of the ``--today`` revision (one network, model format 1), on both sides:
today's code cannot read the ten-member format-2 model shipped now.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR), str(PROJECT_DIR / "tests")]

import numpy as np  # noqa: E402

import functions_audio as audio  # noqa: E402
import functions_synthetic  # noqa: E402

TODAY = "91a062c"  # main before issue 9 (library scans, shared-frame analysis)
MEDLEYS = [("classical", "jazz", "metal", "reggae", "hiphop", "country", "disco", "blues"),
           ("rock", "pop", "blues", "jazz", "metal", "classical", "reggae", "disco"),
           ("country", "hiphop", "rock", "pop", "jazz", "blues", "metal", "reggae"),
           ("disco", "reggae", "classical", "rock", "country", "pop", "hiphop", "jazz")]

IN_PROCESS = """
import json, sys, time
from threadpoolctl import threadpool_limits
import functions_analysis as fa, functions_audio as a
threadpool_limits(1)
path, model, repeats, shared = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
settings = fa.AnalysisSettings(shared_frames=shared) if "shared_frames" in fa.AnalysisSettings.__dataclass_fields__ \\
    else fa.AnalysisSettings()
analyser = fa.SongAnalyser.from_model_dir(model, settings)
y = a.load_audio(path, max_seconds=None)
best = 1e9
for _ in range(repeats):
    started = time.perf_counter()
    result = analyser.analyse_samples(y)
    best = min(best, time.perf_counter() - started)
print(json.dumps({"seconds": best, "probabilities": result.probabilities, "genre": result.genre,
                  "windows": [w.genre for w in result.windows]}))
"""


def songs_for_benchmark(work: Path, count: int) -> tuple[Path, list[Path]]:
    """Four distinct 4-minute MP3 medleys (GTZAN clips, or synthetic clips without the shared data), and a
    folder of ``count`` copies of them (copies: each is a file of its own, classified on its own)."""
    from helpers_classify import encode, write_wav

    shared = audio.shared_data_dir()
    medleys = []
    for number, genres in enumerate(MEDLEYS):
        if shared is not None and (shared / "gtzan_mini").is_dir():
            parts = [audio.load_audio(sorted((shared / "gtzan_mini" / g).glob("*.wav"))[number]) for g in genres]
        else:
            parts = [functions_synthetic.synthesize_clip(g, number, seconds=30.0) for g in genres]
        wav = write_wav(work / f"medley{number}.wav", np.concatenate(parts))
        medleys.append(encode(wav, work / f"medley {number}.mp3", "-b:a", "128k"))
        wav.unlink()
    folder = work / "library"
    folder.mkdir()
    copies = [Path(shutil.copy(medleys[i % len(medleys)], folder / f"song {i:02d}.mp3")) for i in range(count)]
    return medleys[0], copies


def today_tree(rev: str, work: Path) -> Path | None:
    """Today's project unpacked from git at ``rev`` (None where git or the commit is not there)."""
    target = work / "today"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", rev], capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def run(tree: Path, args: list[str], timeout: float = 1800) -> tuple[float, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=tree, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise SystemExit(f"bench_library: {' '.join(args[:3])} failed in {tree}:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout


def in_process(tree: Path, song: Path, model: str, repeats: int, shared: bool) -> dict:
    _, out = run(tree, ["-c", IN_PROCESS, str(song), model, str(repeats), "1" if shared else "0"])
    return json.loads(out.splitlines()[-1])


def largest_difference(a: dict, b: dict) -> float:
    return max(abs(a["probabilities"][g] - b["probabilities"][g]) for g in a["probabilities"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: the shipped model of --today's revision, which both "
                                        "sides can load; today's code reads only model format 1)")
    parser.add_argument("--songs", type=int, default=40, help="4-minute songs in the folder (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each single-song measurement")
    parser.add_argument("--today", default=TODAY, help=f"git revision of today's path (default {TODAY})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-library-") as tmp:
        work = Path(tmp)
        song, folder_songs = songs_for_benchmark(work, args.songs)
        today = today_tree(args.today, work)
        default_model = today / "data" / "pretrained" if today else audio.PRETRAINED_MODEL_DIR
        model = str(Path(args.model or default_model).resolve())
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; model: {model}")
        print(f"today's path: {'git ' + args.today if today else 'NOT AVAILABLE (no git history)'}; song: 4:00 MP3")
        new = in_process(PROJECT_DIR, song, model, args.repeats, shared=True)
        per_window = in_process(PROJECT_DIR, song, model, args.repeats, shared=False)
        print(f"(a) 4-minute song, analysis in-process (decoded, 1 BLAS thread, best of {args.repeats}):")
        print(f"    shared frames {new['seconds']:.2f} s; per-window path of this tree {per_window['seconds']:.2f} s "
              f"({per_window['seconds'] / new['seconds']:.2f}x)")
        if today:
            old = in_process(today, song, model, args.repeats, shared=False)
            print(f"    today's path {old['seconds']:.2f} s: shared frames are "
                  f"{old['seconds'] / new['seconds']:.2f}x faster (target >= 2x)")
            colds = {}
            for name, tree in (("today", today), ("new", PROJECT_DIR)):
                run(tree, ["03_launch_classifier.py", str(song), "--model", model, "--json"])  # warm the caches
                colds[name] = statistics.median(
                    run(tree, ["03_launch_classifier.py", str(song), "--model", model, "--json"])[0]
                    for _ in range(args.repeats))
            print(f"    cold start of 03 song.mp3 (median of {args.repeats}): today {colds['today']:.2f} s, "
                  f"new {colds['new']:.2f} s ({colds['today'] / colds['new']:.2f}x)")
        print("(b) agreement of the song's probabilities:")
        print(f"    shared frames vs per-window path (same windows): largest difference "
              f"{largest_difference(new, per_window):.2e}, same genre {new['genre'] == per_window['genre']}, "
              f"same window genres {new['windows'] == per_window['windows']}")
        if today:
            print(f"    this tree vs today's (windows moved onto the frame grid, <= 12 ms): largest difference "
                  f"{largest_difference(new, old):.4f}, same genre {new['genre'] == old['genre']}")
        print(f"(c) folder of {len(folder_songs)} 4-minute MP3s, 03 FOLDER --workers 2 (whole command):")
        trees = [("today", today), ("new", PROJECT_DIR)] if today else [("new", PROJECT_DIR)]
        rates = {}
        for name, tree in trees:
            seconds, out = run(tree, ["03_launch_classifier.py", str(folder_songs[0].parent), "--model", model,
                                      "--json", "--workers", "2"])
            assert len(out.splitlines()) == len(folder_songs)
            rates[name] = len(folder_songs) / seconds
            print(f"    {name}: {seconds:.1f} s, {rates[name]:.2f} songs/s")
        if "today" in rates:
            print(f"    new / today: {rates['new'] / rates['today']:.2f}x (target >= 3 songs/s, goal 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
