"""Benchmark of "More like this" (functions_similarity): how good the neighbours are, and how fast at scale.

(a) quality, from the team's shared data (never from audio): on the artist-filtered GTZAN split, the share of the
    ten nearest ``train`` neighbours of each ``test`` clip that share its genre (precision@10), for every vector
    tried, each clip's vector taken from the shared musicnn taggram (its mean over the clip's 3-s patches) and the
    classic features CSV. Every transform is fitted on ``train`` only. The choice among them is made on
    ``train`` alone, by artist-grouped 5-fold cross-validation (``cv``: the held-out artists' clips against the
    other folds' clips); ``test`` is only reported. ``--write-projection`` writes the chosen projection into
    functions_projection.py (between its PROJECTION-BEGIN/END lines).
(b) the penultimate layer (200 units), which the shared data lacks: computed from audio for the 100 clips of
    ``gtzan_mini`` by the run-time analysis (cached in outputs/similarity/), compared with the tag means on those
    clips (leave-one-out precision@10: a random split, artists on both sides, so only the comparison means
    something); and the run-time tag means of the clips that have reference rows, against those rows.
(c) scale, on synthetic vectors of the real size in a results file of records as the scan writes them: load time,
    query time, memory, for ``--songs`` songs (default 100,000), the query's matrix product at ten times that, and
    the whole ``03 --like SONG --top N`` with N the library size (every song listed), as text and as JSON lines
    (each line parsed by a strict JSON reader: no NaN or Infinity).
(d) damaged results files: ``03 --like`` on 1,000 records with a 300 MB line of junk (no newline for 300 MB) in
    the middle, against the same records without it: time and peak memory of the command.

    python bench/bench_similarity.py [--part quality,mini,scale,junk] [--songs 100000] [--write-projection]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR)]

import numpy as np  # noqa: E402

import functions_audio as audio  # noqa: E402
import functions_projection as fproj  # noqa: E402
import functions_records as frec  # noqa: E402

WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
CV_TOLERANCE = 1.0  # points of cv precision@10 a combination may give up for more weight on the tags themselves
CACHE_DIR = audio.OUTPUTS_DIR / "similarity"


# ---------------------------------------------------------------------------------------------------------
# (a) quality on the shared reference data
# ---------------------------------------------------------------------------------------------------------
def precision_at(train: np.ndarray, queries: np.ndarray, train_genres: np.ndarray, query_genres: np.ndarray,
                 k: int = 10) -> np.ndarray:
    """Per query: the share of its ``k`` most cosine-similar ``train`` rows of the same genre."""
    similarity = fproj.unit_rows(queries.astype(np.float64)) @ fproj.unit_rows(train.astype(np.float64)).T
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return (train_genres[nearest] == query_genres[:, None]).mean(axis=1)


def standardise(fit: np.ndarray, *rows: np.ndarray) -> list[np.ndarray]:
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    std[std <= 0] = 1.0
    return [(r - mean) / std for r in (fit, *rows)]


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def vector_recipes() -> dict[str, tuple[str, bool, object]]:
    """name -> (what it is, available at run time, transform(train_parts, other_parts, train_genres))."""

    def plain(key):
        return lambda a, b, y: (a[key], b[key])

    def centred(a, b, y):
        return a["tags"] - a["tags"].mean(axis=0), b["tags"] - a["tags"].mean(axis=0)

    def lda_only(a, b, y):
        p = fproj.fit_projection(a["tags"], y, 0.0)
        return (a["tags"] - p.centre) @ p.scalings, (b["tags"] - p.centre) @ p.scalings

    def lda_of(key):
        def f(a, b, y):
            fit, other = standardise(a[key], b[key])
            p = fproj.fit_projection(fit, y, 0.0)
            return (fit - p.centre) @ p.scalings, (other - p.centre) @ p.scalings
        return f

    def combined(weight):
        def f(a, b, y):
            p = fproj.fit_projection(a["tags"], y, weight)
            return p(a["tags"]), p(b["tags"])
        return f

    recipes: dict[str, tuple[str, bool, object]] = {
        "classic 91, standardised": ("the 91 classic features", False,
                                     lambda a, b, y: standardise(a["classic"], b["classic"])),
        "classic 85, standardised": ("the 85 classic inputs of the 85col models", False,
                                     lambda a, b, y: standardise(a["classic"][:, :85], b["classic"][:, :85])),
        "tag means, plain cosine": ("musicnn tag means (50)", True, plain("tags")),
        "tag means, centred": ("tag means minus the train mean", True, centred),
        "tag means, standardised": ("tag means, train mean and std", True,
                                    lambda a, b, y: standardise(a["tags"], b["tags"])),
        "tag means, square root": ("Hellinger", True, lambda a, b, y: (np.sqrt(a["tags"]), np.sqrt(b["tags"]))),
        "tag means, logit": ("log-odds of the tags", True, lambda a, b, y: (logit(a["tags"]), logit(b["tags"]))),
        "tag means + stds (100)": ("musicnn_mean + musicnn_std columns", False,
                                   lambda a, b, y: (np.hstack([a["tags"], a["stds"]]),
                                                    np.hstack([b["tags"], b["stds"]]))),
        "tag means + classic 91, standardised": ("both, each standardised", False,
                                                 lambda a, b, y: [np.hstack(p) for p in zip(
                                                     standardise(a["tags"], b["tags"]),
                                                     standardise(a["classic"], b["classic"]), strict=True)]),
        "tag means + classic 91, LDA 9": ("discriminant projection of both", False,
                                          lambda a, b, y: lda_of("both")(a, b, y)),
        "tag means, LDA 9": ("discriminant projection (9 dims)", True, lda_only),
    }
    for weight in WEIGHTS:
        recipes[f"centred tags + {weight:g} x LDA 9"] = ("both parts unit length, then the whole", True,
                                                        combined(weight))
    return recipes


def reference_parts(shared: Path) -> dict[str, dict[str, object]]:
    """Per split (train, test): clip names, genres, artists, tag means and stds, classic features."""
    import pandas as pd

    import functions_reference as fr

    taggram = fr.read_taggram(shared / fr.TAGGRAM_FILE).sort_values(["file", "patch"], kind="stable")
    grouped = taggram.groupby("file", sort=True)
    tags = list(fr.TAG_COLUMNS)
    means, stds, genres = grouped[tags].mean(), grouped[tags].std(ddof=0), grouped["genre"].first()
    features = pd.read_csv(shared / fr.FEATURES_FILE).set_index("file")
    artists = pd.read_csv(shared / "gtzan_artists.tsv", sep="\t").set_index("file")["artist"]
    parts = {}
    for split in ("train", "test"):
        files = [line.strip() for line in (shared / "splits" / "gtzan_fault_filtered" / f"{split}.txt")
                 .read_text().splitlines() if line.strip()]
        tag_means = means.loc[files].to_numpy(np.float64)
        classic = features.loc[files, list(audio.CLASSIC_COLUMNS)].to_numpy(np.float64)
        parts[split] = {"files": files, "genres": genres.loc[files].to_numpy(), "tags": tag_means,
                        "stds": stds.loc[files].to_numpy(np.float64), "classic": classic,
                        "both": np.hstack([tag_means, classic]),
                        "artists": [a if isinstance(a, str) and a else f"unknown {f}"
                                    for f, a in artists.reindex(files).items()]}
    return parts


def subset(part: dict[str, object], rows: np.ndarray) -> dict[str, object]:
    return {key: (value[rows] if isinstance(value, np.ndarray) else [value[i] for i in rows])
            for key, value in part.items()}


def quality(shared: Path, write: bool) -> fproj.Projection:
    from sklearn.model_selection import GroupKFold

    parts = reference_parts(shared)
    train, test = parts["train"], parts["test"]
    print(f"(a) precision@10, artist-filtered split: {len(test['files'])} test clips against "
          f"{len(train['files'])} train clips (cv: artist-grouped 5-fold inside train)")
    rows = []
    for name, (what, runtime, transform) in vector_recipes().items():
        cv = []
        for fit_rows, held_rows in GroupKFold(5).split(train["tags"], train["genres"], train["artists"]):
            a, b = subset(train, fit_rows), subset(train, held_rows)
            fitted, held = transform(a, b, a["genres"])
            cv.append(precision_at(fitted, held, a["genres"], b["genres"]).mean())
        fitted, queries = transform(train, test, train["genres"])
        per_query = precision_at(fitted, queries, train["genres"], test["genres"])
        rows.append((name, what, runtime, 100 * float(np.mean(cv)), 100 * float(per_query.mean()), per_query))
    best_cv = max(cv for _, _, runtime, cv, _, _ in rows if runtime)
    combos = [(w, next(r for r in rows if r[0] == f"centred tags + {w:g} x LDA 9")) for w in WEIGHTS]
    weight, chosen = next((w, r) for w, r in combos if r[3] >= best_cv - CV_TOLERANCE)
    print("| vector | what | at run time | cv P@10 | test P@10 |\n| --- | --- | --- | --- | --- |")
    for name, what, runtime, cv, score, _ in rows:
        mark = " (**shipped**)" if name == chosen[0] else ""
        print(f"| {name}{mark} | {what} | {'yes' if runtime else 'no'} | {cv:.1f} % | {score:.1f} % |")
    rng = np.random.default_rng(0)
    per_query = chosen[5]
    draws = [per_query[rng.integers(0, per_query.size, per_query.size)].mean() for _ in range(2000)]
    low, high = np.percentile(draws, [2.5, 97.5]) * 100
    print(f"chosen: {chosen[0]} (the smallest LDA weight within {CV_TOLERANCE:g} point of the best cv, "
          f"{best_cv:.1f} %): test {chosen[4]:.1f} % (95 % bootstrap interval over test clips {low:.1f}-{high:.1f} %)")
    projection = fproj.fit_projection(train["tags"], train["genres"], weight, name=f"gtzan-train-lda9x{weight:g}")
    if write:
        write_projection(projection)
    elif not np.allclose(projection.scalings, fproj.PROJECTION.scalings, atol=1e-5) or \
            projection.weight != fproj.PROJECTION.weight:
        print("note: functions_projection.PROJECTION differs from this fit (run with --write-projection)")
    shipped = precision_at(fproj.PROJECTION(train["tags"]), fproj.PROJECTION(test["tags"]), train["genres"],
                           test["genres"]).mean()
    print(f"functions_projection.PROJECTION as shipped ({fproj.PROJECTION.name}): test P@10 {shipped * 100:.1f} %")
    return projection


def write_projection(projection: fproj.Projection) -> None:
    """Replace the PROJECTION block of functions_projection.py by ``projection`` (7 significant digits)."""
    def number(x: float) -> str:
        return f"{x:.7g}"

    scalings = ",\n".join("    [" + ", ".join(number(v) for v in row) + "]" for row in projection.scalings)
    centre = ",\n".join("    " + ", ".join(number(v) for v in projection.centre[i:i + 8])
                        for i in range(0, projection.centre.size, 8))
    block = (f"# PROJECTION-BEGIN (written by bench/bench_similarity.py --write-projection)\n"
             f"PROJECTION_NAME = {projection.name!r}\n"
             f"PROJECTION_WEIGHT = {projection.weight!r}\n"
             f"PROJECTION_CENTRE: list[float] = [\n{centre},\n]\n"
             f"PROJECTION_SCALINGS: list[list[float]] = [  # (50 tags, {projection.scalings.shape[1]} directions)\n"
             f"{scalings},\n]\n# PROJECTION-END")
    path = PROJECT_DIR / "functions_projection.py"
    text = path.read_text()
    new = re.sub(r"# PROJECTION-BEGIN.*?# PROJECTION-END", lambda _m: block, text, count=1, flags=re.S)
    path.write_text(new)
    print(f"projection written into {path}")


# ---------------------------------------------------------------------------------------------------------
# (b) the penultimate layer, from audio (gtzan_mini)
# ---------------------------------------------------------------------------------------------------------
def mini_vectors(shared: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Run-time tag means and penultimate means of the gtzan_mini clips (cached)."""
    import hashlib

    import functions_musicnn as fm
    from functions_parallel import single_blas_thread

    cache = CACHE_DIR / "gtzan_mini_vectors.npz"
    folder = shared / "gtzan_mini"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.wav"))
    code = hashlib.sha256(b"".join((PROJECT_DIR / name).read_bytes() for name in (
        "functions_musicnn.py", "functions_audio.py"))).hexdigest()  # what made them
    if cache.is_file():
        kept = np.load(cache)
        if list(kept["files"]) == files and "code" in kept.files and str(kept["code"]) == code:
            return files, kept["tags"], kept["penultimate"]
    single_blas_thread()
    network = fm.load_network()
    tags, penultimate = [], []
    started = time.perf_counter()
    for number, file in enumerate(files, 1):  # a 30-s clip: every patch, as 00 and the analysis take them
        taggram = fm.taggram_of(audio.load_audio(folder / file), network=network)
        tags.append(taggram.tags.mean(axis=0))
        penultimate.append(taggram.penultimate.mean(axis=0))
        print(f"\r  analysing gtzan_mini {number}/{len(files)} ({time.perf_counter() - started:.0f} s)", end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, files=np.array(files), tags=np.array(tags), penultimate=np.array(penultimate), code=code)
    return files, np.array(tags), np.array(penultimate)


def mini(shared: Path) -> None:
    import functions_reference as fr

    files, tags, penultimate = mini_vectors(shared)
    genres = np.array([f.split("/")[0] for f in files])

    def leave_one_out(X: np.ndarray) -> float:
        similarity = fproj.unit_rows(X.astype(np.float64)) @ fproj.unit_rows(X.astype(np.float64)).T
        np.fill_diagonal(similarity, -np.inf)
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :10]
        return 100 * float((genres[nearest] == genres[:, None]).mean())

    def standardised(X: np.ndarray) -> np.ndarray:
        return standardise(X)[0]

    print(f"\n(b) run-time vectors of the {len(files)} gtzan_mini clips, leave-one-out precision@10 among them "
          "(random clips, artists on both sides: compare the rows, not with (a))")
    print("| vector | plain cosine | centred | standardised |\n| --- | --- | --- | --- |")
    for name, X in (("tag means (50)", tags), ("penultimate layer (200)", penultimate)):
        print(f"| {name} | {leave_one_out(X):.1f} % | {leave_one_out(X - X.mean(axis=0)):.1f} % | "
              f"{leave_one_out(standardised(X)):.1f} % |")
    print(f"| tag means, shipped projection ({fproj.PROJECTION.name}; fitted on train clips, "
          f"some of these among them) | {leave_one_out(fproj.PROJECTION(tags)):.1f} % | | |")
    taggram = fr.read_taggram(shared / fr.TAGGRAM_FILE)
    reference = taggram.groupby("file")[list(fr.TAG_COLUMNS)].mean()
    common = [i for i, f in enumerate(files) if f in reference.index]
    if not common:
        return
    ref = reference.loc[[files[i] for i in common]].to_numpy(np.float64)
    difference = np.abs(tags[common] - ref)
    train = [line.strip() for line in (shared / "splits/gtzan_fault_filtered/train.txt").read_text().splitlines()
             if line.strip()]
    pool = reference.loc[train].to_numpy(np.float64)
    overlaps = []
    for i, row in zip(common, ref, strict=True):
        others = [k for k, f in enumerate(train) if f != files[i]]
        vectors = fproj.PROJECTION(pool[others])
        near_runtime = set(np.argsort(-(vectors @ fproj.PROJECTION(tags[i])[0]))[:10])
        near_reference = set(np.argsort(-(vectors @ fproj.PROJECTION(row)[0]))[:10])
        overlaps.append(len(near_runtime & near_reference))
    print(f"{len(common)} of these clips have reference taggram rows: run-time tag means against the reference, "
          f"largest difference {difference.max():.4f}, mean {difference.mean():.4f}; their ten nearest train clips "
          f"(shipped projection) with the run-time vector and with the reference vector share "
          f"{np.mean(overlaps):.1f} of 10 on average (fewest {min(overlaps)})")
    test = {line.strip() for line in (shared / "splits/gtzan_fault_filtered/test.txt").read_text().splitlines()}
    print(f"not measurable: the penultimate layer on the split itself ({sum(files[i] in test for i in common)} "
          "gtzan_mini clips are test clips; the reference data holds tags only)")


# ---------------------------------------------------------------------------------------------------------
# (c) scale
# ---------------------------------------------------------------------------------------------------------
def synthetic_results(path: Path, songs: int, music: Path) -> None:
    """A results file of ``songs`` records as the scan writes them (functions_library.record_for): a 4-minute
    song's six windows, its tags and a 50-value vector; each song's file exists (empty) below ``music``."""
    import functions_analysis as fa
    import functions_library as fl

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
            windows = [fa.WindowResult(start_s=40.0 * w, genre=genres[int(np.argmax(q))],
                                       probabilities=dict(zip(genres, map(float, q), strict=True)))
                       for w, q in enumerate(rng.dirichlet(np.ones(10), size=6))]
            tags = np.clip(centres[i % 40] + rng.normal(0, 0.05, frec.EMBEDDING_DIM), 0, 1).astype(np.float32)
            result = fa.SongResult(input=str(song), title=song.stem, duration_s=240.0 + i % 60,
                                   genre=genres[int(np.argmax(p))], probabilities=dict(zip(genres, map(float, p),
                                                                                          strict=True)),
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
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rng = np.random.default_rng(1)
times = []
for row in rng.integers(0, len(library.paths), int(sys.argv[2])):
    t = time.perf_counter()
    found, _, _ = library.neighbours(library.raw[row], 10, exclude={int(row)})
    [library.record(r) for r, _ in found]
    times.append(time.perf_counter() - t)
vectors = library.raw.nbytes + library.vectors.nbytes + library.offsets.nbytes
with open("/proc/self/statm") as statm:
    resident = int(statm.read().split()[1]) * resource.getpagesize()
print(json.dumps({"songs": len(library.paths), "import_s": imported - started, "load_s": loaded - imported,
                  "rss_after_mb": resident / 2**20,
                  "query_median_s": statistics.median(times), "query_max_s": max(times),
                  "vectors_mb": vectors / 2**20, "rss_before_mb": before / 1024, "rss_peak_mb": peak / 1024}))
"""


def scale(songs: int, repeats: int, grow: list[int]) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    try:
        results = work / "library.jsonl"
        started = time.perf_counter()
        synthetic_results(results, songs, work / "music")
        print(f"\n(c) scale: a results file of {songs:,} synthetic records as a scan writes them "
              f"({results.stat().st_size / 2**20:.0f} MB, {results.stat().st_size / songs:.0f} bytes a record; made in "
              f"{time.perf_counter() - started:.0f} s); load average before: {os.getloadavg()[0]:.2f}")
        env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        runs = []
        for _ in range(repeats):
            run = subprocess.run([sys.executable, "-c", LOAD_AND_QUERY, str(results), "200"], capture_output=True,
                                 text=True, env=env, cwd=PROJECT_DIR, timeout=600)
            if run.returncode != 0:
                raise SystemExit(run.stderr)
            runs.append(json.loads(run.stdout))
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
              f"included), peak {pick['rss_peak_mb']:.0f} MB | <= 100 MB |")
        cold = []
        for _ in range(repeats):
            t = time.perf_counter()
            run = subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), "--like",
                                  str(work / "music" / "artist 000" / "000007 some song title.mp3"), "--results",
                                  str(results)], capture_output=True, text=True, env=env, cwd=PROJECT_DIR, timeout=600)
            cold.append(time.perf_counter() - t)
            assert run.returncode == 0, run.stderr
        print(f"| `03 --like SONG --results FILE` (a song of the library), whole command | median "
              f"{statistics.median(cold):.2f} s | |")
        full_answer(results, work / "music" / "artist 000" / "000007 some song title.mp3", songs, repeats, env)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from functions_parallel import single_blas_thread

    single_blas_thread()  # as 03 runs
    for count in sorted({songs, 10 * songs, *grow}):
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


# Runs a command and prints its peak RSS in KB and its exit status (wait4): a small process of its own, so that
# the figure is the command's, not this benchmark's.
PEAK_RSS = ("import os, subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
            "_, status, usage = os.wait4(child.pid, 0)\n"
            "sys.stderr.write(child.stderr.read().decode(errors='replace'))\n"
            "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n")


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


def full_answer(results: Path, song: Path, songs: int, repeats: int, env: dict[str, str]) -> None:
    """``03 --like SONG --top SONGS``: every song of the library listed, as text and as JSON lines."""
    print(f"\n| `03 --like SONG --top {songs:,}` (every song listed) | median of {repeats} | lines | target |")
    print("| --- | --- | --- | --- |")
    for name, extra in (("text", []), ("--json", ["--json"])):
        times, lines = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            run = subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), "--like", str(song),
                                  "--results", str(results), "--top", str(songs), *extra], capture_output=True,
                                 text=True, env=env, cwd=PROJECT_DIR, timeout=3600)
            times.append(time.perf_counter() - started)
            assert run.returncode == 0, run.stderr
            lines = len(run.stdout.splitlines())
            if extra:
                parsed = [strict_json(line) for line in run.stdout.splitlines()]
                assert [p["rank"] for p in parsed] == list(range(1, len(parsed) + 1))
        print(f"| {name} | {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}) | "
              f"{lines:,}{' (each parsed as strict JSON)' if extra else ''} | <= 3 s |")
    run = subprocess.run([sys.executable, "-c", ANSWER_PARTS, str(results), str(song)], capture_output=True,
                         text=True, env=env, cwd=PROJECT_DIR, timeout=3600)
    assert run.returncode == 0, run.stderr
    print(f"where the time goes (one process, in-process parts): {run.stdout.strip()}")


def junk_line(junk_mb: int = 300, songs: int = 1000) -> None:
    """``03 --like`` on a results file with one ``junk_mb`` MB line of junk in the middle of ``songs`` records."""
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
        song = work / "music" / "artist 000" / "000007 some song title.mp3"
        env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        print(f"\n(d) `03 --like SONG --results FILE` on {songs:,} records, and on the same with a {junk_mb} MB "
              "line of junk in their middle")
        print("| results file | wall time | peak RSS | stderr |\n| --- | --- | --- | --- |")
        for name, results in (("clean", clean), (f"{junk_mb} MB junk line", damaged)):
            started = time.perf_counter()
            run = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable,
                                  str(PROJECT_DIR / "03_launch_classifier.py"), "--like", str(song), "--results",
                                  str(results)], capture_output=True, text=True, env=env, cwd=PROJECT_DIR, timeout=600)
            seconds = time.perf_counter() - started
            peak_kb, code = run.stdout.split()[-2:]
            notes = " / ".join(line for line in run.stderr.splitlines() if line) or "-"
            print(f"| {name} (exit {code}) | {seconds:.2f} s | {int(peak_kb) / 1024:.0f} MB | {notes} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--part", default="quality,mini,scale,junk", help="which parts, comma-separated")
    parser.add_argument("--songs", type=int, default=100_000, help="library size for the scale part")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes for the load time")
    parser.add_argument("--grow", type=int, action="append", default=[], metavar="SONGS",
                        help="also time the brute-force query over this many vectors (e.g. 10000000: 2.2 GB)")
    parser.add_argument("--write-projection", action="store_true",
                        help="write the chosen projection into functions_projection.py")
    args = parser.parse_args(argv)
    parts = set(args.part.split(","))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; peak RSS so far "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    shared = audio.shared_data_dir()
    if parts & {"quality", "mini"} and shared is None:
        print("shared data not found (../shared/data or $GENRE_SHARED_DATA): quality and mini parts skipped")
    elif shared is not None:
        if "quality" in parts:
            quality(shared, args.write_projection)
        if "mini" in parts:
            mini(shared)
    if "scale" in parts:
        scale(args.songs, args.repeats, args.grow)
    if "junk" in parts:
        junk_line()
    return 0


if __name__ == "__main__":
    sys.exit(main())
