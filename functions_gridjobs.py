"""01's grid jobs and their runners. One job is one candidate at one batch size: every fold and every epoch
checkpoint, trained side by side (``run_grid_job``; plain data in, result rows out, so a local worker process or a
Dask worker can run it). The runners (``run_local``: fresh local processes, a job whose process dies runs once
more; ``run_dask``: a Dask cluster) run the pending jobs and hand each job's rows back as it ends. The search that
makes the jobs and writes their rows is functions_gridsearch. NumPy and the standard library at module level.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

import numpy as np

from functions_candidates import ARCHITECTURES, CANDIDATES, RECIPES
from functions_evaluation import fold_metrics
from functions_training import configure_tf_threads, cv_mlp, make_sklearn_model

METRICS = ("accuracy", "precision", "recall", "f1", "train_accuracy")


class GridError(Exception):
    """The grid search could not finish; finished cells stay on disk."""


# --------------------------------------------------------------------------------------------------------
# The runners: each runs the pending jobs, calls ``finished(job, rows)`` here as each ends and ``advance(n)``
# as fold-cells get done, and returns one line per failed job (one failure must not lose the others)
# --------------------------------------------------------------------------------------------------------

Finished = Callable[["GridJob", list[dict]], None]
Advance = Callable[[int], None]


def run_local(pending: Sequence[GridJob], workers: int, finished: Finished, advance: Advance) -> list[str]:
    """Run the jobs in ``workers`` fresh (spawned) processes. A job whose worker process dies (killed, out of
    memory) is run once more, then reported as failed; Ctrl-C or an error stops every worker at once."""
    from functions_parallel import TaskFailed, run_in_workers

    shown: dict[str, int] = {}  # fold-cells already advanced per job

    def progress(update: tuple[str, int]) -> None:
        key, units = update
        shown[key] = shown.get(key, 0) + units
        advance(units)

    failures = []
    # spawn: fresh interpreters, no TensorFlow state is forked
    outcomes = run_in_workers(_pool_run_grid_job, pending, min(workers, len(pending)), start_method="spawn",
                              retries=1, on_progress=progress)
    for index, outcome in outcomes:
        job = pending[index]
        if isinstance(outcome, TaskFailed):  # one failed job must not lose the others
            failures.append(f"{job.key}: {outcome.error}")
            continue
        finished(job, outcome)
        advance(job.fold_cells - shown.get(job.key, 0))
        shown[job.key] = job.fold_cells
    return failures


def _pool_run_grid_job(job: GridJob) -> list[dict]:
    from functions_parallel import worker_progress

    return run_grid_job(job, worker_progress())


def run_dask(pending: Sequence[GridJob], scheduler: str, finished: Finished, advance: Advance) -> list[str]:
    """Run the jobs on the Dask cluster at ``scheduler``; GridError (one line) if it cannot be reached or is lost."""
    from functions_parallel import connect_dask

    failures = []
    with connect_dask(scheduler, dask_worker_modules(), GridError, DASK_PACKAGES) as cluster:
        futures = {cluster.submit(run_grid_job, job): job for job in pending}
        for job, rows, failure in cluster.finished(futures):
            if failure is not None:
                failures.append(_failure(job, failure))
                continue
            finished(job, rows)
            advance(job.fold_cells)
    return failures


# What a grid job imports on a Dask worker, checked there before it runs.
DASK_PACKAGES = ("numpy", "sklearn", "tensorflow", "keras")


def dask_worker_modules() -> list[ModuleType]:
    """Every project module a Dask worker imports to run a grid job, each after the project modules it imports."""
    import functions_audio
    import functions_calibration
    import functions_candidates
    import functions_evaluation
    import functions_folds
    import functions_nn
    import functions_training

    return [functions_audio, functions_calibration, functions_candidates, functions_nn, functions_folds,
            functions_evaluation, functions_training, sys.modules[__name__]]


def _failure(job: GridJob, exc: Exception) -> str:
    return f"{job.key}: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}"


# --------------------------------------------------------------------------------------------------------
# Grid jobs: one job = one candidate at one batch size, all folds and all epoch checkpoints
# --------------------------------------------------------------------------------------------------------


class Progress(Protocol):
    """Where a worker reports progress (a multiprocessing queue): put((job key, fold-cells done))."""

    def put(self, item: tuple[str, int]) -> None: ...


@dataclass
class GridJob:
    """Everything a worker (local process or Dask) needs; plain data, picklable."""

    candidate: str
    batch_size: int | None  # None for scikit-learn baselines (no epochs/batches)
    epochs: tuple[int, ...]
    X: np.ndarray  # (N, F) raw features of the candidate's columns
    y: np.ndarray  # (N,) integer labels
    train_masks: np.ndarray  # (K, N)
    seed: int = 0
    tf_threads: int | None = 1
    scored: np.ndarray | None = None  # (N,) rows every fold is scored on (a split's valid rows); None: ~train

    @property
    def key(self) -> str:
        """'candidate|batch size' ('candidate|None' for a baseline)."""
        return f"{self.candidate}|{self.batch_size}"

    @property
    def fold_cells(self) -> int:
        """The job's units of progress: folds x epoch counts (folds alone for a baseline)."""
        return len(self.train_masks) * (len(self.epochs) if self.batch_size else 1)

    @property
    def cost(self) -> float:
        """Rough relative cost, to start the longest jobs first."""
        cand = CANDIDATES[self.candidate]
        if cand.kind != "mlp":
            return 0.0
        arch = ARCHITECTURES[cand.architecture]
        sizes = [len(arch.feature_columns)] + [u for u, _ in arch.hidden] + [10]
        macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False)) * cand.members
        steps = max(self.epochs) * -(-int(self.train_masks.sum(axis=1).max()) // (self.batch_size or 1))
        return steps * (2e-3 + macs * 1e-8 * (self.batch_size or 1))


def run_grid_job(job: GridJob, progress: Progress | None = None) -> list[dict]:
    """Train/evaluate one job; returns one result row per epochs value (or one row for a baseline), each
    with per-fold metrics under "folds". ``progress`` (optional, a queue) receives (key, n_fold_cells_done)."""
    if CANDIDATES[job.candidate].kind == "sklearn":
        return _run_baseline_job(job, progress)
    return _run_mlp_job(job, progress)


def _run_baseline_job(job: GridJob, progress: Progress | None) -> list[dict]:
    """A scikit-learn baseline fitted on each fold's training rows: one result row."""
    import time

    cand = CANDIDATES[job.candidate]
    started = time.perf_counter()
    per_fold = []
    n_classes = int(job.y.max()) + 1
    for mask in job.train_masks:
        model = make_sklearn_model(cand.sklearn_model, job.seed).fit(job.X[mask], job.y[mask])
        per_fold.append(fold_metrics(job.y, model.predict(job.X), mask, n_classes, job.scored))
        if progress is not None:
            progress.put((job.key, 1))
    return [_result_row(job, None, per_fold, time.perf_counter() - started)]


def _run_mlp_job(job: GridJob, progress: Progress | None) -> list[dict]:
    """An MLP at one batch size, all folds side by side: one result row per epoch checkpoint."""
    cand = CANDIDATES[job.candidate]
    n_folds = len(job.train_masks)
    rows: list[dict] = []
    configure_tf_threads(job.tf_threads)

    def checkpoint(epochs: int, per_fold: list[dict[str, float]], seconds: float) -> None:
        rows.append(_result_row(job, epochs, per_fold, seconds))
        if progress is not None:
            progress.put((job.key, n_folds))

    cv_mlp(job.X, job.y, job.train_masks, ARCHITECTURES[cand.architecture], RECIPES[cand.recipe],
           int(job.batch_size), job.epochs, seed=job.seed, on_checkpoint=checkpoint, members=cand.members,
           scored=job.scored)
    return rows


def _result_row(job: GridJob, epochs: int | None, per_fold: list[dict[str, float]], seconds: float) -> dict:
    """One results.csv row: mean and std over the folds of each metric (the folds themselves under folds_detail)."""
    cand = CANDIDATES[job.candidate]
    row = {"candidate": job.candidate, "kind": cand.kind, "architecture": cand.architecture or "",
           "recipe": cand.recipe or cand.sklearn_model, "epochs": epochs, "batch_size": job.batch_size,
           "folds": len(job.train_masks), "n_features": job.X.shape[1]}
    for name in METRICS:
        values = np.array([m[name] for m in per_fold])
        row[f"{name}_mean"] = float(values.mean())
        row[f"{name}_std"] = float(values.std())
    row["fit_seconds"] = round(seconds, 2)
    row["folds_detail"] = per_fold
    return row
