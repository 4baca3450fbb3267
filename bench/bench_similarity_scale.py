"""Benchmark of "More like this" (functions_similarity) at the size of a large library: how fast and how much
memory; how good the neighbours are is bench/bench_similarity.py.

(c) scale, on synthetic vectors of the real size in a results file of records as the scan writes them: load time,
    query time, memory, for ``--songs`` songs (default 100,000), the query's matrix product at ten times that, and
    the whole ``03 --like SONG --top N`` with N the library size (every song listed), as text and as JSON lines
    (each line parsed by a strict JSON reader: no NaN or Infinity).
(d) damaged results files: ``03 --like`` on 1,000 records with a 300 MB line of junk (no newline for 300 MB) in
    the middle, against the same records without it: time and peak memory of the command.

Every command runs as a fresh process (bench_common.run_measured: wall time, and peak RSS from wait4), with
one BLAS thread as 03 runs. Needs no shared data.

    python bench/bench_similarity_scale.py [--part scale] [--part junk] [--songs 100000] [--repeats 3]
        [--grow SONGS]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_common import (  # puts the project on the import path
    CLASSIFIER,
    PROJECT_DIR,
    doc_parser,
    load_line,
    run_measured,
)

import functions_audio as audio
import functions_projection as fproj
import functions_records as frec

ONE_THREAD = {"PYTHONPATH": str(PROJECT_DIR), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
QUERY_SONG = Path("artist 000") / "000007 some song title.mp3"  # below the music folder of synthetic_results


# ---------------------------------------------------------------------------------------------------------
# (c) scale
# ---------------------------------------------------------------------------------------------------------
def synthetic_results(path: Path, songs: int, music: Path) -> None:
    """A results file of ``songs`` records as the scan writes them (functions_library.record_for): a 4-minute
    song's six windows, its tags and a 50-value vector; each song's file exists (empty) below ``music``."""
    import functions_library as fl
    import functions_song_result as fsr

    rng = np.random.default_rng(0)
    genres = list(audio.GENRES)
    centres = rng.beta(0.5, 3.0, size=(40, frec.EMBEDDING_DIM))
    with open(path, "w", encoding="ascii") as out:
        for i in range(songs):
            folder = music / f"artist {i // 1000:03d}"
            if i % 1000 == 0:
                folder.mkdir(parents=True, exist_ok=True)
            song = folder / f"{i:06d} some song title.mp3"
            song.touch()
            info = song.stat()
            p = rng.dirichlet(np.ones(10))
            windows = [fsr.WindowResult(start_s=40.0 * w, genre=genres[int(np.argmax(q))],
                                        probabilities=dict(zip(genres, map(float, q), strict=True)))
                       for w, q in enumerate(rng.dirichlet(np.ones(10), size=6))]
            tags = np.clip(centres[i % 40] + rng.normal(0, 0.05, frec.EMBEDDING_DIM), 0, 1).astype(np.float32)
            result = fsr.SongResult(input=str(song), title=song.stem, duration_s=240.0 + i % 60,
                                    genre=genres[int(np.argmax(p))],
                                    probabilities=dict(zip(genres, map(float, p), strict=True)),
                                    windows=windows, tag_means=tags)
            out.write(json.dumps(fl.record_for(result, (info.st_size, info.st_mtime_ns), "0123456789ab"),
                                 ensure_ascii=True) + "\n")


LOAD_AND_QUERY = """
import json, resource, statistics, sys, time
import numpy as np
started = time.perf_counter()
import functions_similarity as fsim
imported = time.perf_counter()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
library = fsim.load_library(sys.argv[1])
loaded = time.perf_counter()
rng = np.random.default_rng(1)
times = []
for row in rng.integers(0, len(library.paths), int(sys.argv[2])):
    t = time.perf_counter()
    found, _, _ = library.neighbours(library.raw[row], 10, exclude={int(row)})
    [library.record(r) for r, _ in found]
    times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # over the load and the queries
vectors = library.raw.nbytes + library.vectors.nbytes + library.offsets.nbytes
with open("/proc/self/statm") as statm:
    resident = int(statm.read().split()[1]) * resource.getpagesize()
print(json.dumps({"songs": len(library.paths), "import_s": imported - started, "load_s": loaded - imported,
                  "rss_after_mb": resident / 2**20,
                  "query_median_s": statistics.median(times), "query_max_s": max(times),
                  "vectors_mb": vectors / 2**20, "rss_before_mb": before / 1024, "rss_peak_mb": peak / 1024}))
"""


def scale(songs: int, repeats: int) -> None:
    """(c): load, query and memory of ``songs`` synthetic records, the whole ``03 --like``, then full_answer."""
    work = Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    try:
        results = work / "library.jsonl"
        started = time.perf_counter()
        synthetic_results(results, songs, work / "music")
        print(f"\n(c) scale: a results file of {songs:,} synthetic records as a scan writes them "
              f"({results.stat().st_size / 2**20:.0f} MB, {results.stat().st_size / songs:.0f} bytes a record; made in "
              f"{time.perf_counter() - started:.0f} s); load average before: {os.getloadavg()[0]:.2f}")
        runs = [json.loads(run_measured([sys.executable, "-c", LOAD_AND_QUERY, results, "200"], env=ONE_THREAD).stdout)
                for _ in range(repeats)]
        pick = sorted(runs, key=lambda r: r["load_s"])[len(runs) // 2]
        print(f"| {songs:,} songs | median of {repeats} fresh processes (file in the page cache) | target |")
        print("| --- | --- | --- |")
        loads = ", ".join(f"{r['load_s']:.2f}" for r in runs)
        print(f"| load the vectors | {pick['load_s']:.2f} s (runs: {loads}) | <= 2 s |")
        print(f"| a query (top 10, duplicates and links checked, records read) | median "
              f"{pick['query_median_s'] * 1000:.1f} ms, slowest of 200 {pick['query_max_s'] * 1000:.1f} ms "
              "| <= 100 ms |")
        print(f"| memory of the vectors (stored + projected + offsets) | {pick['vectors_mb']:.1f} MB; process RSS "
              f"{pick['rss_before_mb']:.0f} MB before loading, {pick['rss_after_mb']:.0f} MB after (paths and index "
              f"included), peak over load and queries {pick['rss_peak_mb']:.0f} MB | <= 100 MB |")
        song = work / "music" / QUERY_SONG
        cold = [run_measured([sys.executable, CLASSIFIER, "--like", song, "--results", results], env=ONE_THREAD).wall
                for _ in range(repeats)]
        print(f"| `03 --like SONG --results FILE` (a song of the library), whole command | median "
              f"{statistics.median(cold):.2f} s | |")
        full_answer(results, song, songs, repeats)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def brute_force(counts: list[int]) -> None:
    """The query's matrix product alone (cosine and top 50) over ``counts`` random projected vectors."""
    from functions_parallel import single_blas_thread

    single_blas_thread()  # as 03 runs
    for count in counts:
        vectors = np.random.default_rng(2).random((count, fproj.PROJECTION.dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        query = vectors[0]
        times = []
        for _ in range(20):
            t = time.perf_counter()
            similarity = vectors @ query
            top = np.argpartition(-similarity, 50)[:50]
            top[np.argsort(-similarity[top])]
            times.append(time.perf_counter() - t)
        print(f"brute-force cosine + top 50 over {count:,} projected vectors ({vectors.nbytes / 2**20:.0f} MB): "
              f"median {statistics.median(times) * 1000:.1f} ms")
        del vectors


def strict_json(line: str) -> object:
    """``line`` parsed as JSON proper: NaN, Infinity and -Infinity are refused (Python's reader accepts them)."""
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


ANSWER_PARTS = """
import sys, time
started = time.perf_counter()
import functions_similarity as fsim
import functions_interface as fi
times = {"import": time.perf_counter() - started}
t = time.perf_counter(); library = fsim.load_library(sys.argv[1]); times["load"] = time.perf_counter() - t
t = time.perf_counter()
answer = fsim.find_like(sys.argv[2], sys.argv[1], len(library.paths), fi.ClassificationJob(), library=library)
times["find_like (neighbours and their fields)"] = time.perf_counter() - t
t = time.perf_counter(); text = fsim.format_answer(answer); times["format_answer (text)"] = time.perf_counter() - t
t = time.perf_counter(); lines = fsim.json_lines(answer); times["json_lines (JSON)"] = time.perf_counter() - t
print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in times.items()))
"""


def full_answer(results: Path, song: Path, songs: int, repeats: int) -> None:
    """``03 --like SONG --top SONGS``: every song of the library listed, as text and as JSON lines."""
    print(f"\n| `03 --like SONG --top {songs:,}` (every song listed) | median of {repeats} | lines | target |")
    print("| --- | --- | --- | --- |")
    for name, extra in (("text", []), ("--json", ["--json"])):
        times, lines = [], 0
        for _ in range(repeats):
            run = run_measured([sys.executable, CLASSIFIER, "--like", song, "--results", results, "--top", songs,
                                *extra], env=ONE_THREAD)
            times.append(run.wall)
            lines = len(run.stdout.splitlines())
            if extra:
                parsed = [strict_json(line) for line in run.stdout.splitlines()]
                assert [p["rank"] for p in parsed] == list(range(1, len(parsed) + 1))
        print(f"| {name} | {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}) | "
              f"{lines:,}{' (each parsed as strict JSON)' if extra else ''} | <= 3 s |")
    run = run_measured([sys.executable, "-c", ANSWER_PARTS, results, song], env=ONE_THREAD)
    print(f"where the time goes (one process, in-process parts): {run.stdout.strip()}")


def junk_line(junk_mb: int = 300, songs: int = 1000) -> None:
    """(d): ``03 --like`` on a results file with one ``junk_mb`` MB line of junk in the middle of ``songs``
    records, and on the same records without it."""
    work = Path(tempfile.mkdtemp(prefix="bench-similarity-junk-"))
    try:
        clean = work / "clean.jsonl"
        synthetic_results(clean, songs, work / "music")
        lines = clean.read_bytes().splitlines(keepends=True)
        damaged = work / "damaged.jsonl"
        with open(damaged, "wb") as out:
            out.writelines(lines[:songs // 2])
            chunk = b"x" * (1 << 20)
            for _ in range(junk_mb):
                out.write(chunk)
            out.write(b"\n")
            out.writelines(lines[songs // 2:])
        print(f"\n(d) `03 --like SONG --results FILE` on {songs:,} records, and on the same with a {junk_mb} MB "
              "line of junk in their middle")
        print("| results file | wall time | peak RSS | stderr |\n| --- | --- | --- | --- |")
        for name, results in (("clean", clean), (f"{junk_mb} MB junk line", damaged)):
            run = run_measured([sys.executable, CLASSIFIER, "--like", work / "music" / QUERY_SONG, "--results",
                                results], check=False, env=ONE_THREAD)
            notes = " / ".join(line for line in run.stderr.splitlines() if line) or "-"
            print(f"| {name} (exit {run.returncode}) | {run.wall:.2f} s | {run.peak_mb:.0f} MB | {notes} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(__doc__)
    parser.add_argument("--part", action="append", choices=("scale", "junk"),
                        help="a part to run, repeatable (default: both; quality, mini: bench_similarity.py)")
    parser.add_argument("--songs", type=int, default=100_000, help="library size for the scale part")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes for each timed command")
    parser.add_argument("--grow", type=int, action="append", default=[], metavar="SONGS",
                        help="also time the brute-force query over this many vectors (e.g. 10000000: 2.2 GB)")
    args = parser.parse_args(argv)
    parts = set(args.part or ("scale", "junk"))
    if args.songs < 10 or args.repeats < 1:
        parser.error("--songs: at least 10 (the query song is the eighth); --repeats: at least 1")
    print(load_line())
    if "scale" in parts:
        scale(args.songs, args.repeats)
        brute_force(sorted({args.songs, 10 * args.songs, *args.grow}))
    if "junk" in parts:
        junk_line()
    return 0


if __name__ == "__main__":
    sys.exit(main())
