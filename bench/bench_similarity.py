"""Benchmark of "More like this" (functions_similarity), how good the neighbours are; how fast they come at the
size of a large library is bench/bench_similarity_scale.py.

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

    python bench/bench_similarity.py [--part quality] [--part mini] [--write-projection]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from bench_common import PROJECT_DIR, doc_parser, load_line  # puts the project on the import path

import functions_audio as audio
import functions_projection as fproj
from functions_evaluation import read_clip_list

WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
CV_TOLERANCE = 1.0  # points of cv precision@10 a combination may give up for more weight on the tags themselves
CACHE_DIR = audio.OUTPUTS_DIR / "similarity"
SPLIT = Path("splits") / "gtzan_fault_filtered"  # the artist-filtered split, below the shared data folder


# ---------------------------------------------------------------------------------------------------------
# (a) quality on the shared reference data
# ---------------------------------------------------------------------------------------------------------
def precision_at(train: np.ndarray, queries: np.ndarray, train_genres: np.ndarray, query_genres: np.ndarray,
                 k: int = 10, leave_one_out: bool = False) -> np.ndarray:
    """Per query: the share of its ``k`` most cosine-similar ``train`` rows of the same genre (with
    ``leave_one_out``, the queries are the train rows themselves and each is left out of its own neighbours)."""
    similarity = fproj.unit_rows(queries.astype(np.float64)) @ fproj.unit_rows(train.astype(np.float64)).T
    if leave_one_out:
        np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return (train_genres[nearest] == query_genres[:, None]).mean(axis=1)


def standardise(fit: np.ndarray, *rows: np.ndarray) -> list[np.ndarray]:
    """``fit`` and ``rows`` standardised by the mean and standard deviation of ``fit``."""
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    std[std <= 0] = 1.0
    return [(r - mean) / std for r in (fit, *rows)]


def logit(p: np.ndarray) -> np.ndarray:
    """The log-odds of probabilities ``p`` (clipped away from 0 and 1)."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def vector_recipes() -> dict[str, tuple[str, bool, object]]:
    """name -> (what it is, available at run time, transform(train_parts, other_parts, train_genres))."""

    def plain(key):
        return lambda a, b, y: (a[key], b[key])

    def centred(a, b, y):
        return a["tags"] - a["tags"].mean(axis=0), b["tags"] - a["tags"].mean(axis=0)

    def lda_of(key, standardised=True):
        def f(a, b, y):
            fit, other = standardise(a[key], b[key]) if standardised else (a[key], b[key])
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
        "tag means + classic 91, LDA 9": ("discriminant projection of both", False, lda_of("both")),
        "tag means, LDA 9": ("discriminant projection (9 dims)", True, lda_of("tags", standardised=False)),
    }
    for weight in WEIGHTS:
        recipes[f"centred tags + {weight:g} x LDA 9"] = ("both parts unit length, then the whole", True,
                                                        combined(weight))
    return recipes


def clip_vectors(shared: Path):
    """The reference rows by clip (``file``): genre, then the tag means and standard deviations over its patches
    (functions_reference.musicnn_clip_features of the shared taggram)."""
    import functions_reference as fr

    return fr.musicnn_clip_features(fr.read_taggram(shared / fr.TAGGRAM_FILE)).set_index("file")


def reference_parts(shared: Path) -> dict[str, dict[str, object]]:
    """Per split (train, test): clip names, genres, artists, tag means and stds, classic features."""
    import pandas as pd

    import functions_reference as fr

    clips = clip_vectors(shared)
    tags = len(audio.MUSICNN_TAGS)
    means, stds = list(audio.MUSICNN_COLUMNS[:tags]), list(audio.MUSICNN_COLUMNS[tags:])
    features = pd.read_csv(shared / fr.FEATURES_FILE).set_index("file")
    artists = pd.read_csv(shared / "gtzan_artists.tsv", sep="\t").set_index("file")["artist"]
    parts = {}
    for split in ("train", "test"):
        files = read_clip_list(shared / SPLIT / f"{split}.txt")
        tag_means = clips.loc[files, means].to_numpy(np.float64)
        classic = features.loc[files, list(audio.CLASSIC_COLUMNS)].to_numpy(np.float64)
        parts[split] = {"files": files, "genres": clips.loc[files, "genre"].to_numpy(), "tags": tag_means,
                        "stds": clips.loc[files, stds].to_numpy(np.float64), "classic": classic,
                        "both": np.hstack([tag_means, classic]),
                        "artists": [a if isinstance(a, str) and a else f"unknown {f}"
                                    for f, a in artists.reindex(files).items()]}
    return parts


def subset(part: dict[str, object], rows: np.ndarray) -> dict[str, object]:
    """The ``rows`` of every array and list of ``part``."""
    return {key: (value[rows] if isinstance(value, np.ndarray) else [value[i] for i in rows])
            for key, value in part.items()}


def quality(shared: Path, write: bool) -> fproj.Projection:
    """(a): precision@10 of every vector recipe (cv in train, then test); the shipped choice; its projection."""
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
        print(f"projection written into {fproj.write_projection(projection)}")
    elif not np.allclose(projection.scalings, fproj.PROJECTION.scalings, atol=1e-5) or \
            projection.weight != fproj.PROJECTION.weight:
        print("note: functions_projection.PROJECTION differs from this fit (run with --write-projection)")
    shipped = precision_at(fproj.PROJECTION(train["tags"]), fproj.PROJECTION(test["tags"]), train["genres"],
                           test["genres"]).mean()
    print(f"functions_projection.PROJECTION as shipped ({fproj.PROJECTION.name}): test P@10 {shipped * 100:.1f} %")
    return projection


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
    """(b): leave-one-out precision@10 of the run-time vectors of the gtzan_mini clips, and the run-time tag means
    against the reference rows of those clips."""
    files, tags, penultimate = mini_vectors(shared)
    genres = np.array([f.split("/")[0] for f in files])

    def leave_one_out(X: np.ndarray) -> float:
        return 100 * float(precision_at(X, X, genres, genres, leave_one_out=True).mean())

    print(f"\n(b) run-time vectors of the {len(files)} gtzan_mini clips, leave-one-out precision@10 among them "
          "(random clips, artists on both sides: compare the rows, not with (a))")
    print("| vector | plain cosine | centred | standardised |\n| --- | --- | --- | --- |")
    for name, X in (("tag means (50)", tags), ("penultimate layer (200)", penultimate)):
        print(f"| {name} | {leave_one_out(X):.1f} % | {leave_one_out(X - X.mean(axis=0)):.1f} % | "
              f"{leave_one_out(standardise(X)[0]):.1f} % |")
    print(f"| tag means, shipped projection ({fproj.PROJECTION.name}; fitted on train clips, "
          f"some of these among them) | {leave_one_out(fproj.PROJECTION(tags)):.1f} % | | |")
    reference = clip_vectors(shared)[list(audio.MUSICNN_COLUMNS[:len(audio.MUSICNN_TAGS)])]
    common = [i for i, f in enumerate(files) if f in reference.index]
    if not common:
        return
    ref = reference.loc[[files[i] for i in common]].to_numpy(np.float64)
    difference = np.abs(tags[common] - ref)
    train = read_clip_list(shared / SPLIT / "train.txt")
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
    test = set(read_clip_list(shared / SPLIT / "test.txt"))
    print(f"not measurable: the penultimate layer on the split itself ({sum(files[i] in test for i in common)} "
          "gtzan_mini clips are test clips; the reference data holds tags only)")


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(__doc__)
    parser.add_argument("--part", action="append", choices=("quality", "mini"),
                        help="a part to run, repeatable (default: both; scale, junk: bench_similarity_scale.py)")
    parser.add_argument("--write-projection", action="store_true",
                        help="write the chosen projection into functions_projection.py")
    args = parser.parse_args(argv)
    parts = set(args.part or ("quality", "mini"))
    shared = audio.shared_data_dir()
    if shared is None:
        raise SystemExit("bench_similarity.py: shared data not found (../shared/data or $GENRE_SHARED_DATA)")
    print(load_line())
    if "quality" in parts:
        quality(shared, args.write_projection)
    if "mini" in parts:
        mini(shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
