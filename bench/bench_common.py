"""What every benchmark needs, in one place: the project on the import path, a command line made from the bench's
docstring, the machine's load in one line, a command timed as a fresh process (wall time, CPU seconds and peak
RSS, its children's included), CPU seconds within this process, the closing line, and the songs the benchmarks
make from the shared GTZAN clips (4-minute songs of one genre or of eight).

A bench script run as ``python bench/bench_x.py`` has bench/ on its import path: ``import bench_common`` first
puts the project there too (and quiets TensorFlow's start-up lines unless TF_CPP_MIN_LOG_LEVEL is set);
``tests_on_path()`` adds tests/ for the benches that use its helpers (loopback servers, CLI-started clusters).

The machines are shared, so each benchmark prints the load average beside its figures and takes its ratios
within one run, and gives CPU seconds beside wall times (what the work costs whatever else runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import numpy as np  # noqa: E402

import functions_audio as audio  # noqa: E402

CLASSIFIER = str(PROJECT_DIR / "03_launch_classifier.py")
PREPROCESS = str(PROJECT_DIR / "00_preprocess_music.py")
CLIPS_PER_SONG = 8  # 8 x 30 s = a 4-minute song


def doc_parser(doc: str) -> argparse.ArgumentParser:
    """A bench's argument parser from its docstring ``doc``: the first paragraph as the description, the rest,
    as written, after the options."""
    first, _, rest = doc.partition("\n\n")
    return argparse.ArgumentParser(description=first, epilog=rest or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def tests_on_path() -> Path:
    """Put the project's tests/ folder first on the import path (for its helpers_*.py); returns the folder."""
    tests = PROJECT_DIR / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    return tests


def uptime() -> str:
    """``uptime``'s line: the clock, and the load average over 1, 5 and 15 minutes."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def finish(started: float) -> int:
    """Print a benchmark's closing line (minutes since ``started``, a ``time.perf_counter()``; ``uptime``) and
    return 0, main()'s exit status."""
    print(f"\ndone in {(time.perf_counter() - started) / 60:.1f} min; {uptime()}")
    return 0


def load_line() -> str:
    """The machine's load average over 1, 5 and 15 minutes, and its CPUs, as one line."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def best_of(function: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds (the machine is shared: the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


@dataclass
class Run:
    """One finished process: wall seconds, CPU seconds (its own and its children's), peak RSS in MB, output."""

    wall: float
    cpu: float
    peak_mb: float
    stdout: str
    stderr: str
    returncode: int


LAUNCHER = r"""
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"wall": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
               "peak_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, out)
"""


def run_measured(command: Sequence[str], check: bool = True, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` in the project folder as a fresh process; its wall time, and its CPU seconds and peak RSS
    (with its children's) from wait4. A small launcher process starts it: a child forked from this process
    would start with this process's peak RSS as its own (Linux keeps it across fork and exec). With ``check``,
    a failing command ends the benchmark with its last lines of stderr."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        record = Path(tmp) / "usage.json"
        with open(Path(tmp) / "out", "w+") as out, open(Path(tmp) / "err", "w+") as err:
            subprocess.run([sys.executable, "-c", LAUNCHER, str(record), *map(str, command)], cwd=PROJECT_DIR,
                           stdout=out, stderr=err, env=env, check=True)
            out.seek(0)
            err.seek(0)
            usage = json.loads(record.read_text())
            run = Run(usage["wall"], usage["cpu"], usage["peak_kb"] / 1024, out.read(), err.read(), usage["code"])
    if check and run.returncode != 0:
        raise SystemExit(f"{Path(sys.argv[0]).name}: {' '.join(map(str, command))} failed "
                         f"(exit {run.returncode}):\n{run.stderr[-2000:]}")
    return run


def timed(command: Sequence[str]) -> float:
    """Wall seconds of ``command`` run in the project folder, its output dropped; a failure ends the benchmark."""
    started = time.perf_counter()
    subprocess.run(list(map(str, command)), check=True, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def cpu_now() -> float:
    """CPU seconds of this process and of its finished children (ffmpeg decoders, say)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def cpu_of(call: Callable[[], object]) -> float:
    """CPU seconds ``call()`` takes in this process (and the children it waits for)."""
    started = cpu_now()
    call()
    return cpu_now() - started


def verdict(ok: bool) -> str:
    """How a target fared in a run: 'met' or 'MISSED'."""
    return "met" if ok else "MISSED"


def print_target_lines(lines: list[str]) -> None:
    """The targets of a run, one line each (each with its figure and ``verdict``), under one heading."""
    if lines:
        print("\ntargets (figures of this run):")
        for line in lines:
            print(f"    {line}")


# --------------------------------------------------------------------------------------------------------------
# The shared audio: clips and 4-minute songs made of them
# --------------------------------------------------------------------------------------------------------------
def gtzan_mini() -> Path:
    """The shared data's ``gtzan_mini`` folder; ends the benchmark with one line (exit 1) where it is absent."""
    shared = audio.shared_data_dir()
    if shared is None or not (shared / "gtzan_mini").is_dir():
        raise SystemExit(f"{Path(sys.argv[0]).name}: ../shared/data/gtzan_mini not found (set GENRE_SHARED_DATA); "
                         "nothing measured")
    return shared / "gtzan_mini"


def shared_clips() -> dict[str, list[Path]]:
    """The ``gtzan_mini`` clips of the shared data by genre; ends the benchmark with one line without them."""
    folder = gtzan_mini()
    return {genre: sorted((folder / genre).glob("*.wav")) for genre in audio.GENRES}


def clip_subset(by_genre: dict[str, list[Path]], per_genre: int) -> list[Path]:
    """The first ``per_genre`` clips of each genre."""
    return [path for genre in audio.GENRES for path in by_genre[genre][:per_genre]]


@dataclass(frozen=True)
class Song:
    """A 4-minute song: eight shared clips end to end, all of one genre or of eight genres ("mixed")."""

    name: str
    kind: str  # "one-genre" or "mixed"
    clips: tuple[Path, ...]


def one_genre_songs(by_genre: dict[str, list[Path]], rotation: int) -> list[Song]:
    """One song per genre, its eight clips chosen by ``rotation`` (other rotations: other orders and clips)."""
    songs = []
    for genre in audio.GENRES:
        clips = by_genre[genre]
        picked = tuple(clips[(2 * rotation + j) % len(clips)] for j in range(CLIPS_PER_SONG))
        songs.append(Song(f"{genre} {rotation}", "one-genre", picked))
    return songs


def mixed_songs(by_genre: dict[str, list[Path]], count: int) -> list[Song]:
    """``count`` songs of eight clips of eight different genres (seeded: the same songs every run)."""
    rng = np.random.default_rng(16)
    songs = []
    for number in range(count):
        genres = rng.choice(len(audio.GENRES), CLIPS_PER_SONG, replace=False)
        picked = tuple(by_genre[audio.GENRES[g]][int(rng.integers(len(by_genre[audio.GENRES[g]])))] for g in genres)
        songs.append(Song(f"mixed {number}", "mixed", picked))
    return songs


def folder_songs(by_genre: dict[str, list[Path]], count: int) -> list[Song]:
    """``count`` songs (at most 60), half one-genre and half mixed, alternating (so any first N are half and
    half)."""
    singles = one_genre_songs(by_genre, 0) + one_genre_songs(by_genre, 1) + one_genre_songs(by_genre, 2)
    mixed = mixed_songs(by_genre, count)
    alternating = [song for pair in zip(singles, mixed, strict=False) for song in pair]
    return alternating[:count]


def song_samples(clips: Sequence[Path]) -> np.ndarray:
    """The clips decoded (22.05 kHz mono float32) and joined end to end."""
    return np.concatenate([audio.load_audio(path, max_seconds=None) for path in clips])

