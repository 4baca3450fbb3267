"""What the novelty benches share (bench_novelty.py, bench_novelty_cv.py, bench_novelty_alternatives.py,
bench_novelty_netcv.py, bench_nonmusic.py; issue 20, "knows what it doesn't know"): the shipped recipe's settings,
the reference rows of the artist-filtered split (``Data``), the settings grid of the score, and a bench's command
line (its parts, its JSON report).

Data: the shared reference rows (functions_reference: the 443 ``train`` and 290 ``test`` clips of the
artist-filtered GTZAN split, 85 classic + 100 musicnn columns, the shipped model's inputs) and the artists TSV.
Every choice is made inside ``train``; ``test`` is only read to report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # a shared 2-core machine: one BLAS thread

import bench_common  # noqa: E402  (puts the project on the import path)
import numpy as np  # noqa: E402

import functions_audio as audio  # noqa: E402
import functions_candidates as candidates  # noqa: E402
import functions_evaluation as evaluation  # noqa: E402
import functions_novelty as fnov  # noqa: E402

CANDIDATE = candidates.CANDIDATES[candidates.MUSICNN_CANDIDATE]  # musicnn185+reg-ens10, the shipped recipe
EPOCHS, BATCH = 100, 32  # the shipped model's cell (docs/models.md, "The shipped model")
GROUP_FOLDS = 5
SEED = 0
GRID = {"transform": ("sqrt", "none"), "shrinkage": (0.3, 0.6, 0.9), "temperature": (8.0, 16.0, 32.0, 64.0),
        "entropy_weight": (0.0, 0.5, 1.0, 1.5, 2.0)}
QUICK_GRID = {"transform": ("sqrt",), "shrinkage": (0.6,), "temperature": (16.0,), "entropy_weight": (0.0, 1.0)}


class Data:
    """The reference rows of the artist-filtered split: train and test rows of the shipped model's columns."""

    def __init__(self) -> None:
        import functions_reference

        shared = audio.shared_data_dir()
        if shared is None:
            sys.exit("error: the shared data folder is not there (../shared/data or $GENRE_SHARED_DATA)")
        csv = functions_reference.REFERENCE_CSV
        if not csv.is_file():
            functions_reference.build_reference_features(shared, csv)
        self.columns = list(candidates.ARCHITECTURES[CANDIDATE.architecture].feature_columns)
        df = evaluation.load_features_csv(csv, self.columns)
        files = df["file"].tolist()
        split = evaluation.read_split(shared / "splits" / "gtzan_fault_filtered", files, absent_ok=("valid",))
        self.genres = evaluation.genres_in_order(df["genre"])
        y = np.array([self.genres.index(g) for g in df["genre"]])
        X = df[self.columns].to_numpy(dtype=np.float64)
        train, test = split.masks["train"], split.masks["test"]
        self.X_train, self.y_train, self.X_test, self.y_test = X[train], y[train], X[test], y[test]
        self.train_files = [f for f, t in zip(files, train, strict=True) if t]
        self.groups = evaluation.read_artist_groups(shared / "gtzan_artists.tsv", self.train_files)


def grid_settings(grid: dict) -> list[fnov.NoveltySettings]:
    """Every combination of the grid (entropy weight 0: one temperature only), guard as the module's default."""
    out = []
    for transform in grid["transform"]:
        for shrinkage in grid["shrinkage"]:
            for weight in grid["entropy_weight"]:
                for temperature in (grid["temperature"] if weight else grid["temperature"][:1]):
                    out.append(fnov.NoveltySettings(transform=transform, shrinkage=shrinkage,
                                                    temperature=temperature, entropy_weight=weight))
    return out


def describe(s: fnov.NoveltySettings) -> str:
    """The settings in a few words, for the tables the benches print."""
    if s == fnov.NEAREST_MEAN:
        return "nearest genre mean (baseline)"
    if s == fnov.CLASSIC_ONLY:
        return "classic columns only (CLASSIC_ONLY)"
    guard = "guard" if s.guard_prefix else "no guard"
    still = "" if s.still_prefix else " no not-music test"
    entropy = f"+ {s.entropy_weight:g} H(T={s.temperature:g})" if s.entropy_weight else ""
    return f"{s.transform} a={s.shrinkage:g} d_min {entropy} {guard}{still}".replace("  ", " ")


def shipped_scorer(data: Data) -> fnov.NoveltyScorer:
    """The scorer as 02 fits it for the shipped model: the module's defaults on all the train clips."""
    return fnov.fit_novelty(data.X_train, data.y_train, data.groups, data.columns)


PartFunction = Callable[[Data, argparse.Namespace], dict]


def run_bench(doc: str, parts: dict[str, PartFunction], default: str, json_name: str, argv: Sequence[str] | None,
              options: Callable[[argparse.ArgumentParser], None] | None = None,
              before: Callable[[Data, argparse.Namespace], bool] | None = None) -> int:
    """A novelty bench's command line: ``--part`` (comma-separated names of ``parts``, ``default`` when not given),
    the bench's own ``options``, ``--json`` (default outputs/novelty/<json_name>.json). Loads the data, runs
    ``before`` (when it returns True, the bench stops there), then each part in the order given, and writes what
    they return with the run's settings to the JSON report."""
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))  # the first paragraph
    if len(parts) > 1:
        parser.add_argument("--part", default=default, help=f"comma-separated: {', '.join(parts)} (default {default})")
    if options is not None:
        options(parser)
    parser.add_argument("--json", type=Path, default=audio.OUTPUTS_DIR / "novelty" / f"{json_name}.json",
                        help="where the figures go (JSON)")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in getattr(args, "part", default).split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(parts))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    import functions_nn as nn

    nn.quiet_tensorflow()
    data = Data()
    if before is not None and before(data, args):
        return 0
    print(bench_common.load_line())
    report: dict = {key: value for key, value in vars(args).items() if key not in ("part", "json")}
    for name in chosen:
        report[name] = parts[name](data, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0
