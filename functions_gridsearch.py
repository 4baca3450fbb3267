"""01's grid search: candidates x epochs x batch sizes with K-fold CV or on an artist-filtered split (train on
``train``, score on ``valid``, never read ``test``; or, where the CSV has no valid rows, artist-grouped K-fold CV
inside ``train``), run in local processes or on a Dask cluster, resumable, with its results files, ranked table
and plots; and reading a finished run (used by 02).

Reading order: the search itself (GridSearch), then its steps: preparation (CSV, folds, jobs), resuming, the
results writer, the runners (local processes, Dask), one grid job, the ranked table, reading a finished run.
Only NumPy and the standard library at module level; pandas, tqdm, Dask and the plots are imported where needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from functions_audio import ALL_FEATURE_COLUMNS
from functions_candidates import CANDIDATES, RECIPES
from functions_evaluation import (
    ARTIST_COLUMN,
    DataError,
    Split,
    accuracy_interval,
    column_groups,
    cv_train_masks,
    file_sha256,
    genres_in_order,
    group_cv_masks,
    load_features_csv,
    read_artist_groups,
    read_split,
    stratified_holdout,
)
from functions_gridjobs import METRICS, GridError, GridJob, run_dask, run_local

if TYPE_CHECKING:
    import pandas as pd

GRID_EPOCHS = (100, 500, 800)
GRID_BATCHES = (32, 200, 300)
QUICK_EPOCHS = (20, 100)
QUICK_BATCHES = (32, 200)
SPLIT_REPEATS = 3  # with --split: independently initialised trainings per cell, all scored on valid
GROUP_FOLDS = 5  # with --split and --artists: artist-grouped folds inside train
# the protocols of a run (run.json "protocol"; k-fold runs have none): 02 takes its cell from a run of its own
SPLIT_PROTOCOL = "split"  # trained on train, scored on valid
GROUP_CV_PROTOCOL = "group-cv"  # artist-grouped K-fold CV inside train (test and valid rows never read)
FOLD_COLUMNS = ("candidate", "epochs", "batch_size", "fold", *METRICS)

# the files of a run folder
RESULTS_FILE = "results.csv"  # one row per cell, appended as jobs finish
FOLDS_FILE = "folds.csv"  # one row per cell and fold
RUN_FILE = "run.json"  # the settings and the features CSV's SHA-256


def parse_int_list(text: str) -> tuple[int, ...]:
    """'100,500' -> (100, 500); ValueError naming the bad item."""
    values = []
    for item in text.split(","):
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"not a whole number: {item!r}") from None
        if value < 1:
            raise ValueError(f"must be positive: {item!r}")
        values.append(value)
    return tuple(sorted(set(values)))


# --------------------------------------------------------------------------------------------------------
# The search: prepare, run the pending jobs, report
# --------------------------------------------------------------------------------------------------------


@dataclass
class GridSearch:
    """A resumable grid search over candidates x epochs x batch sizes with K-fold CV, on a split's train and
    valid lists (its "folds" are then repeats of the training, all scored on valid), or with artist-grouped K-fold
    CV inside a split's train list (test and valid rows dropped when the CSV is read); see 01_nn_hyperparam.py."""

    features_csv: Path
    output_dir: Path
    jobs: list[GridJob]
    settings: dict
    genres: list[str]
    done_keys: set[str]
    df: pd.DataFrame | None = field(repr=False, default=None)

    @property
    def results_csv(self) -> Path:
        """One row per cell (candidate x epochs x batch size), appended as jobs finish."""
        return self.output_dir / RESULTS_FILE

    @property
    def folds_csv(self) -> Path:
        """One row per cell and fold."""
        return self.output_dir / FOLDS_FILE

    @classmethod
    def prepare(cls, features_csv: Path, output_dir: Path, candidates: Sequence[str], epochs: Sequence[int],
                batches: Sequence[int], n_folds: int, seed: int = 0, groups_column: str | None = None,
                split_dir: Path | None = None, allow_missing: bool = False, train_share: float = 1.0,
                artists: Path | None = None) -> GridSearch:
        """Read the CSV, make the folds (with ``split_dir``: ``n_folds`` repeats of training on its train list, or
        on a ``train_share`` of it; with ``split_dir`` and ``artists``: ``n_folds`` artist-grouped folds inside its
        train list), and work out which jobs a previous run already finished."""
        split, scored, n_groups = None, None, None
        if split_dir is None:
            df, genres, y, masks = read_folds(features_csv, candidates, n_folds, seed, groups_column)
        elif artists is not None:
            df, genres, y, masks, split, groups = read_group_cv_rows(features_csv, candidates, split_dir, artists,
                                                                    n_folds, seed, allow_missing)
            n_groups = len(set(groups.tolist()))
        else:
            df, genres, y, masks, split = read_split_rows(features_csv, candidates, split_dir, n_folds, allow_missing,
                                                          train_share, seed)
            scored = split.masks["valid"][split.masks["train"] | split.masks["valid"]]
        settings = {
            "features_csv": str(features_csv), "features_sha256": file_sha256(features_csv),
            "n_rows": len(df), "genres": genres, "folds": n_folds, "seed": seed, "groups": groups_column,
            "epochs": list(epochs), "batches": list(batches),
            "recipes": {name: asdict(r) for name, r in RECIPES.items()},
        }
        if split is not None and artists is not None:
            settings.update(protocol=GROUP_CV_PROTOCOL, split=split.to_json(), artists=str(artists),
                            artists_sha256=file_sha256(artists), n_groups=n_groups)
        elif split is not None:  # only then: k-fold runs keep the settings (and the resume) they always had
            settings.update(protocol=SPLIT_PROTOCOL, split=split.to_json())
            if train_share < 1.0:
                settings["train_share"] = train_share
        members = {name: CANDIDATES[name].members for name in candidates if CANDIDATES[name].members > 1}
        if members:
            settings["members"] = members
        output_dir.mkdir(parents=True, exist_ok=True)
        done = finished_keys(output_dir, settings)
        jobs = make_jobs(df, y, masks, candidates, epochs, batches, seed, scored)
        run_info = dict(settings, candidates=list(candidates))
        (output_dir / RUN_FILE).write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
        return cls(Path(features_csv), output_dir, jobs, settings, genres, done, df)

    @property
    def pending(self) -> list[GridJob]:
        """The jobs still to run, the longest first."""
        return sorted((j for j in self.jobs if _cell_key(j.candidate, j.batch_size) not in self.done_keys),
                      key=lambda j: -j.cost)

    def describe(self) -> str:
        """What the search covers, and how much of it an earlier run already did."""
        s = self.settings
        n_cells = sum(len(j.epochs) if j.batch_size else 1 for j in self.jobs)
        resumed = len(self.jobs) - len(self.pending)
        n_candidates = len({j.candidate for j in self.jobs})
        text = (f"{self.features_csv}: {s['n_rows']} rows, {len(self.genres)} genres; {n_candidates}"
                f" candidates, {n_cells} cells, {self.scheme} (seed {s['seed']}"
                f"{', groups ' + s['groups'] if s['groups'] else ''}); epochs {s['epochs']}, batches {s['batches']}")
        text += split_description(s)
        if resumed:
            text += f"\nresuming: {resumed} of {len(self.jobs)} jobs already in {self.results_csv}"
        return text

    @property
    def scheme(self) -> str:
        """How cells are scored: '10-fold CV', 'valid accuracy over 3 training repeats' or '5-fold
        artist-grouped CV inside train'."""
        folds = self.settings["folds"]
        if self.settings.get("protocol") == GROUP_CV_PROTOCOL:
            return f"{folds}-fold artist-grouped CV inside train"
        return f"valid accuracy over {folds} training repeats" if "split" in self.settings else f"{folds}-fold CV"

    def run(self, scheduler: str | None = None, workers: int | None = None, progress: bool = True) -> float:
        """Run the pending jobs (local processes, or a Dask cluster); returns the wall time in seconds."""
        import time

        from tqdm import tqdm

        pending = self.pending
        started = time.perf_counter()
        if not pending:
            return 0.0
        total = sum(j.fold_cells for j in pending)
        bar = tqdm(total=total, unit="fold-cell", desc="grid", disable=not progress, dynamic_ncols=True)
        try:
            if scheduler:
                failures = run_dask(pending, scheduler, self._finished, bar.update)
            else:
                failures = run_local(pending, workers or os.cpu_count() or 1, self._finished, bar.update)
        finally:
            bar.close()
        if failures:
            raise GridError(f"{len(failures)} job(s) failed: " + "; ".join(failures[:3]))
        return time.perf_counter() - started

    def _finished(self, job: GridJob, rows: list[dict]) -> None:
        """A job's rows go to disk at once; a rerun will not repeat it."""
        append_results(self.results_csv, self.folds_csv, rows)
        self.done_keys.add(_cell_key(job.candidate, job.batch_size))

    def results(self) -> pd.DataFrame:
        """The results table (pandas DataFrame) of this run's candidates."""
        import pandas as pd

        df = pd.read_csv(self.results_csv)
        return df[df["candidate"].isin({j.candidate for j in self.jobs})]

    def ranked_table(self, top: int = 15) -> str:
        """The cells ranked by mean CV accuracy, and each candidate's best cell."""
        df = self.results().sort_values(["accuracy_mean", "epochs"], ascending=[False, True])
        best = df.drop_duplicates("candidate")
        group_cv = self.settings.get("protocol") == GROUP_CV_PROTOCOL
        spread = "repeats" if "split" in self.settings and not group_cv else "folds"
        text = (f"\nbest cell per candidate ({self.scheme}, mean ± std over {spread}):\n{cell_table(best)}\n"
                f"\ntop {min(top, len(df))} of {len(df)} cells:\n{cell_table(df.head(top))}\n"
                f"(fit s: wall time of the run up to that epoch count, all folds together)")
        if group_cv and len(best):
            text += "\n" + out_of_fold_noise_note(float(best["accuracy_mean"].iloc[0]),
                                                  self.settings["split"]["n_train"])
        elif "split" in self.settings and len(best):
            text += "\n" + valid_noise_note(float(best["accuracy_mean"].iloc[0]), self.settings["split"]["n_valid"])
        return text

    def plot(self, example_clip: Path | None = None) -> list[Path]:
        """The PNG plots of the run (see ``plot_search``)."""
        return plot_search(self, example_clip)


def split_description(s: dict) -> str:
    """The lines of ``GridSearch.describe`` about a run's split (none for a k-fold run)."""
    text = ""
    if s.get("protocol") == GROUP_CV_PROTOCOL:
        split = s["split"]
        valid = f"valid: {split['n_valid']} clips in the CSV" + (
            f" (its {split['not_in_csv']['valid']} listed clips are not)" if "valid" in split.get("not_in_csv", {})
            else "")
        text += (f"\nsplit {split['folder']}: {s['folds']}-fold artist-grouped CV inside the {split['n_train']}"
                 f" train clips ({s['n_groups']} artist groups from {s['artists']}; a clip of unknown artist is a"
                 f" group of its own); the {split['n_test']} test clips are never read here; {valid}, not"
                 f" used; {split['n_left_out']} clips in no list are left out")
    elif "split" in s:
        split = s["split"]
        share = s.get("train_share", 1.0)
        trained = f"{split['n_train']} train clips" if share == 1.0 else \
            f"a {share:g} share of the {split['n_train']} train clips"
        text += (f"\nsplit {split['folder']}: training on {trained}, scoring on"
                 f" {split['n_valid']} valid clips; the {split['n_test']} test clips are never read here,"
                 f" {split['n_left_out']} clips in no list are left out")
    return text


def plot_search(search: GridSearch, example_clip: Path | None = None) -> list[Path]:
    """The PNG plots of a run (see functions_dataviz): every candidate's accuracy per cell, each network's metrics
    against epochs, and the feature-exploration page."""
    import pandas as pd

    import functions_dataviz as viz

    folds = pd.read_csv(search.folds_csv)
    folds = folds[folds["candidate"].isin({j.candidate for j in search.jobs})]
    order = [c for c in CANDIDATES if c in set(folds["candidate"])]
    written = [viz.plot_all_models(folds, order, search.output_dir / "all_models.png", search.scheme)]
    for name in order:
        if CANDIDATES[name].kind == "mlp":
            written.append(viz.plot_candidate_metrics(folds[folds["candidate"] == name], name,
                                                      search.output_dir / f"candidate_{_safe(name)}.png",
                                                      search.scheme))
    written += viz.plot_feature_exploration(search.df, search.genres, search.output_dir, search.features_csv,
                                            example_clip)
    return written


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


# --------------------------------------------------------------------------------------------------------
# Preparation: the labelled rows, their folds, the jobs
# --------------------------------------------------------------------------------------------------------


def _needed_columns(candidates: Sequence[str]) -> list[str]:
    """The feature columns any of the candidates reads, in ALL_FEATURE_COLUMNS order (classic, then musicnn)."""
    return sorted({c for name in candidates for c in CANDIDATES[name].feature_columns},
                  key=list(ALL_FEATURE_COLUMNS).index)


def read_split_rows(features_csv: Path, candidates: Sequence[str], split_dir: Path, repeats: int,
                    allow_missing: bool = False, train_share: float = 1.0, seed: int = 0
                    ) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray, Split]:
    """Only the train and valid rows of the CSV (test rows are dropped here, before any job sees them), their
    genres and integer labels, ``repeats`` training masks (the train rows, or with ``train_share`` < 1 a seeded
    stratified share of them, another one per repeat: a learning curve), and the split; DataError if unusable."""
    df = load_features_csv(features_csv, _needed_columns(candidates))
    split = read_split(split_dir, df["file"].tolist(), allow_missing)
    keep = split.masks["train"] | split.masks["valid"]
    df = df[keep].reset_index(drop=True)
    genres = genres_in_order(df["genre"])
    y = np.array([genres.index(g) for g in df["genre"]])
    masks = np.repeat(split.masks["train"][keep][None], repeats, axis=0)
    if train_share < 1.0:
        train_rows = np.flatnonzero(masks[0])
        for r in range(repeats):
            dropped = stratified_holdout(y[train_rows], 1.0 - train_share, seed + r)
            masks[r, train_rows[dropped]] = False
    return df, genres, y, masks, split


def read_group_cv_rows(features_csv: Path, candidates: Sequence[str], split_dir: Path, artists: Path, n_folds: int,
                       seed: int = 0, allow_missing: bool = False
                       ) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray, Split, np.ndarray]:
    """Only the train rows of the CSV (test and valid rows are dropped here, before any job sees them; the CSV
    may lack valid rows altogether), their genres and integer labels, the (n_folds, N) training masks of a
    seeded stratified artist-grouped K-fold over them (groups from the ``artists`` TSV; a clip of unknown artist
    is a group of its own), the split and the groups; DataError (one line) if unusable."""
    df = load_features_csv(features_csv, _needed_columns(candidates))
    split = read_split(split_dir, df["file"].tolist(), allow_missing, absent_ok=("valid",))
    df = df[split.masks["train"]].reset_index(drop=True)
    genres = genres_in_order(df["genre"])
    y = np.array([genres.index(g) for g in df["genre"]])
    groups = read_artist_groups(artists, df["file"].tolist())
    masks = group_cv_masks(y, groups, n_folds, seed, source=str(split_dir / "train.txt"))
    return df, genres, y, masks, split, groups


def read_folds(features_csv: Path, candidates: Sequence[str], n_folds: int, seed: int,
               groups_column: str | None = None) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """The features CSV (the columns the candidates need) as a DataFrame, its genres, integer labels and the
    (n_folds, N) training masks of a seeded stratified (group-aware) split; DataError (one line) if unusable."""
    df = load_features_csv(features_csv, _needed_columns(candidates))
    if groups_column is not None and groups_column not in df.columns:
        raise DataError(f"{features_csv}: no column {groups_column!r} for --groups")
    genres = genres_in_order(df["genre"])
    y = np.array([genres.index(g) for g in df["genre"]])
    counts = np.bincount(y)
    if len(genres) < 2:
        raise DataError(f"{features_csv}: only one genre ({genres[0]}, {len(y)} rows): comparing networks needs two "
                        "or more genres")
    if counts.min() < 2:
        raise DataError(f"{features_csv}: genre {genres[int(counts.argmin())]!r} has a single row: cross-validation "
                        "needs two or more rows of every genre (merge it or drop it)")
    if n_folds > counts.max():
        raise DataError(f"{features_csv}: {n_folds} folds but no genre has more than {counts.max()} rows")
    groups = column_groups(df, groups_column) if groups_column else None
    if groups is not None and len(set(groups)) < n_folds:
        raise DataError(f"{features_csv}: the {groups_column} column has {len(set(groups))} group(s) (no group's "
                        f"rows on both sides of a fold), fewer than the {n_folds} folds"
                        + (": tag songs of more artists" if groups_column == ARTIST_COLUMN else ""))
    masks = cv_train_masks(y, n_folds, seed, groups) if groups is None else group_cv_masks(y, groups, n_folds, seed)
    return df, genres, y, masks


def make_jobs(df: pd.DataFrame, y: np.ndarray, masks: np.ndarray, candidates: Sequence[str], epochs: Sequence[int],
              batches: Sequence[int], seed: int, scored: np.ndarray | None = None) -> list[GridJob]:
    """One job per MLP candidate and batch size, one per baseline (no batch size); ``scored``: the rows every fold
    is scored on (default: each fold's rows outside its training mask)."""
    jobs = []
    for name in candidates:
        cand = CANDIDATES[name]
        X = df[list(cand.feature_columns)].to_numpy(dtype=np.float64)
        for batch in (batches if cand.kind == "mlp" else [None]):
            jobs.append(GridJob(name, batch, tuple(epochs), X, y, masks, seed=seed, scored=scored))
    return jobs


# --------------------------------------------------------------------------------------------------------
# Resuming: which jobs an earlier run with the same settings finished
# --------------------------------------------------------------------------------------------------------


def finished_keys(output_dir: Path, settings: dict) -> set[str]:
    """Keys of jobs an earlier run with the same settings finished: every epoch count in results.csv, each with
    its fold rows in folds.csv. The rows of unfinished jobs (cut short by a kill) are removed from both files, so
    that rerunning them adds no duplicates; the files of a run with other settings are set aside."""
    results, folds, run = output_dir / RESULTS_FILE, output_dir / FOLDS_FILE, output_dir / RUN_FILE
    try:
        previous = json.loads(run.read_text(encoding="utf-8"))
        same = all(previous.get(k) == v for k, v in settings.items())
    except (OSError, ValueError, AttributeError):
        same = False
    if not same:
        for path in (results, folds):
            if path.exists():
                os.replace(path, path.with_suffix(".previous.csv"))
        return set()
    result_columns, result_rows = _complete_rows(results)
    fold_columns, fold_rows = _complete_rows(folds)
    folds_on_disk: dict[tuple[str, str], set[str]] = {}
    for row in fold_rows:
        folds_on_disk.setdefault(_cell(row), set()).add(row.get("fold"))
    done: dict[str, set] = {}
    for row in result_rows:  # a results row is written after its folds: it is the job's commit record
        if len(folds_on_disk.get(_cell(row), ())) >= int(float(row.get("folds") or 1)):
            done.setdefault(_cell_key(row["candidate"], row["batch_size"]), set()).add(_cell(row)[1])
    want = {str(e) for e in settings["epochs"]}
    keys = {k for k, e in done.items() if k.endswith("|None") or want <= e}
    _keep_rows(results, result_columns, result_rows, keys)
    _keep_rows(folds, fold_columns, fold_rows, keys)
    return keys


def _complete_rows(path: Path) -> tuple[list[str], list[dict]]:
    """Header and rows of a results file; a last line cut short by a kill (no newline, fields missing) is left
    out, and a file without the columns of a cell gives no rows."""
    import csv
    import io

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [], []
    reader = csv.DictReader(io.StringIO(text[:text.rfind("\n") + 1]))
    columns = list(reader.fieldnames or ())
    if not {"candidate", "epochs", "batch_size"} <= set(columns):
        return [], []
    return columns, [row for row in reader if None not in row and None not in row.values()]


def _keep_rows(path: Path, columns: list[str], rows: list[dict], keys: set[str]) -> None:
    """Rewrite ``path`` (atomically, if anything changes) with the rows of the jobs in ``keys`` only, one per
    cell (and fold)."""
    import csv
    import io

    if not columns:  # no such file, or not one of ours: leave it alone
        return
    kept = {(*_cell(row), row.get("fold")): row for row in rows
            if _cell_key(row["candidate"], row["batch_size"]) in keys}
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\r\n")  # the csv module's default
    writer.writeheader()
    writer.writerows(kept.values())
    try:
        if path.read_text(encoding="utf-8") == text.getvalue():
            return
    except (OSError, UnicodeDecodeError):
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        fh.write(text.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _cell(row: dict) -> tuple[str, str]:
    """(job key, epochs) of a results.csv or folds.csv row; epochs '' for a baseline."""
    epochs = row["epochs"]
    return _cell_key(row["candidate"], row["batch_size"]), str(int(float(epochs))) if epochs else ""


def _cell_key(candidate: str, batch) -> str:
    """GridJob.key of a job, also from a results.csv row (batch size '', '32' or '32.0')."""
    batch = "" if batch is None or (isinstance(batch, float) and np.isnan(batch)) or batch == "" else int(float(batch))
    return f"{candidate}|{batch if batch != '' else None}"


# --------------------------------------------------------------------------------------------------------
# The results writer
# --------------------------------------------------------------------------------------------------------


def append_results(results_csv: Path, folds_csv: Path, rows: list[dict]) -> None:
    """Append a finished job's rows to folds.csv (one per cell and fold), then to results.csv (one per cell).

    The results rows go last: they record the job as finished (`finished_keys`), so a kill between the two
    leaves a job that is rerun, never one that counts as done without its folds.
    """
    result_columns = [k for k in rows[0] if k != "folds_detail"]
    _append_csv(folds_csv, list(FOLD_COLUMNS),
                [{"candidate": r["candidate"], "epochs": r["epochs"], "batch_size": r["batch_size"], "fold": k, **m}
                 for r in rows for k, m in enumerate(r["folds_detail"])])
    _append_csv(results_csv, result_columns, [{k: r[k] for k in result_columns} for r in rows])


def _append_csv(path: Path, columns: list[str], records: list[dict]) -> None:
    """Append ``records`` to a CSV (header first if new), on disk before returning."""
    import csv

    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(records)
        fh.flush()
        os.fsync(fh.fileno())


# --------------------------------------------------------------------------------------------------------
# Reporting and reading a finished run (02_train_model.py takes its default cell from it)
# --------------------------------------------------------------------------------------------------------


def valid_noise_note(accuracy: float, n_valid: int) -> str:
    """One line on how much a valid accuracy can move with the draw of valid clips alone (the std over repeats
    only shows the training's randomness): the 95 % Wilson interval of the best cell's accuracy."""
    low, high = accuracy_interval(round(accuracy * n_valid), n_valid)
    return (f"(valid has {n_valid} clips: on another draw of as many clips the best cell's {accuracy:.1%} could be "
            f"anywhere in {low:.1%}-{high:.1%} (95 % Wilson interval); the std over repeats shows only the "
            f"training's randomness)")


def out_of_fold_noise_note(accuracy: float, n_train: int) -> str:
    """One line on how much an artist-grouped CV accuracy can move with the draw of clips: every train clip is
    scored once, out of fold, so the best cell's accuracy is about a count over ``n_train`` clips (95 % Wilson
    interval); the std over folds is mostly the spread between small folds."""
    low, high = accuracy_interval(round(accuracy * n_train), n_train)
    return (f"(every one of the {n_train} train clips is scored once, out of fold: on another draw of as many clips "
            f"the best cell's {accuracy:.1%} could be anywhere in {low:.1%}-{high:.1%} (95 % Wilson interval); "
            f"candidates closer than that are not told apart)")


def cell_table(frame: pd.DataFrame) -> str:
    """Rows of a results table (pandas DataFrame) as ranked text lines, one cell a line."""
    width = max([15, *(len(str(name)) for name in frame["candidate"])])
    lines = [f"{'#':>3} {'candidate':<{width}} {'epochs':>6} {'batch':>5}  {'accuracy':>13} {'macro F1':>13}"
             f" {'train acc':>9} {'fit s':>7}"]
    for rank, (_, r) in enumerate(frame.iterrows(), 1):
        epochs = "-" if np.isnan(r["epochs"]) else f"{int(r['epochs'])}"
        batch = "-" if np.isnan(r["batch_size"]) else f"{int(r['batch_size'])}"
        lines.append(f"{rank:>3} {r['candidate']:<{width}} {epochs:>6} {batch:>5}  "
                     f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} "
                     f"{r['f1_mean']:.3f} ± {r['f1_std']:.3f}"
                     f" {r['train_accuracy_mean']:9.3f} {r['fit_seconds']:7.1f}")
    return "\n".join(lines)


def best_cell(results_csv: Path, candidate: str) -> dict | None:
    """The row of ``candidate`` with the best mean CV accuracy (ties: fewer epochs, then larger batch)."""
    import csv

    try:
        with open(results_csv, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("candidate") == candidate]
    except OSError:
        return None
    best = None
    for row in rows:
        try:
            key = (float(row["accuracy_mean"]), -float(row["epochs"]), float(row["batch_size"]))
        except (KeyError, TypeError, ValueError):
            continue
        if best is None or key > best[0]:
            best = (key, row)
    return None if best is None else best[1]


def find_hyperparam_run(features_csv: Path, features_sha256: str, extra: Sequence[Path] = (),
                        protocol: str = "kfold") -> Path | None:
    """The most recent 01 run folder made from this very features CSV (same SHA-256) with ``protocol`` ("kfold",
    "split" for runs scored on a split's valid clips, "group-cv" for artist-grouped CV inside train), or None.

    Looked for in ``extra``, then ``<features folder>/hyperparam[_split|_groupcv]`` and
    ``outputs/hyperparam[_split|_groupcv]``.
    """
    from functions_audio import OUTPUTS_DIR

    found = []
    parent = Path(features_csv).parent
    names = ("hyperparam", "hyperparam_split", "hyperparam_groupcv")
    for folder in (*extra, *(parent / name for name in names), *(OUTPUTS_DIR / name for name in names)):
        run, results = Path(folder) / RUN_FILE, Path(folder) / RESULTS_FILE
        try:
            info = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (isinstance(info, dict) and info.get("features_sha256") == features_sha256 and results.is_file()
                and info.get("protocol", "kfold") == protocol):
            found.append((results.stat().st_mtime, Path(folder)))
    return max(found)[1] if found else None
