"""01_nn_hyperparam.py: quick grid, results/plots on disk, resume after an interruption, a Dask cluster started
with the dask command-line tools."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_DIR, child_processes, process_alive, run_script
from helpers_cluster import unsent_imports
from test_nn_export import make_features_csv

import functions_evaluation as evaluation
import functions_gridjobs as gridjobs
import functions_gridsearch as gridsearch

pytestmark = pytest.mark.slow

GENRES4 = ("blues", "classical", "metal", "pop")
SMALL = ["--candidates", "30col,85col+reg,svm-rbf91", "--epochs", "2,4", "--batches", "8,16", "--folds", "2"]


def _small_grid(small_csv: Path, out: Path, candidates: str) -> list[str]:
    """01 on quick jobs in one worker process, no plots: a run to interrupt."""
    return [sys.executable, str(PROJECT_DIR / "01_nn_hyperparam.py"), str(small_csv), "-o", str(out), "--candidates",
            candidates, "--epochs", "2,30", "--batches", "4", "--folds", "2", "--workers", "1", "--no-plots"]


def _wait_for_a_finished_job(results: Path) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and (not results.exists() or len(results.read_text().splitlines()) < 2):
        time.sleep(0.1)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_features_csv(tmp_path_factory.mktemp("hp") / "features.csv", rows_per_genre=8, genres=GENRES4)


@pytest.fixture(scope="module")
def quick_run(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("hp_out") / "hyperparam"
    result = run_script("01_nn_hyperparam.py", small_csv, "-o", out, *SMALL, "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result


def test_results_table_and_plots(quick_run: tuple[Path, subprocess.CompletedProcess], small_csv: Path) -> None:
    out, result = quick_run
    results = pd.read_csv(out / "results.csv")
    # 2 MLP candidates x 2 epochs x 2 batches + 1 baseline row
    assert len(results) == 9
    mlp = results[results["kind"] == "mlp"]
    assert set(zip(mlp["candidate"], mlp["epochs"], mlp["batch_size"], strict=True)) == {
        (c, e, b) for c in ("30col", "85col+reg") for e in (2, 4) for b in (8, 16)}
    for metric in gridsearch.METRICS:
        assert results[f"{metric}_mean"].between(0, 1).all() and (results[f"{metric}_std"] >= 0).all()
    assert (results["folds"] == 2).all()
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 9 * 2
    # the means in results.csv are the means of the per-fold figures
    key = ["epochs", "batch_size"]
    folds[key], results[key] = folds[key].fillna(-1), results[key].fillna(-1)  # baselines: no epochs/batch
    merged = folds.groupby(["candidate", *key])["accuracy"].mean()
    for _, row in results.iterrows():
        key = (row["candidate"], row["epochs"], row["batch_size"])
        assert abs(merged.loc[key] - row["accuracy_mean"]) < 1e-9
    run = json.loads((out / "run.json").read_text())
    assert run["features_sha256"] == evaluation.file_sha256(small_csv) and run["folds"] == 2
    for name in ("all_models.png", "candidate_30col.png", "candidate_85col_reg.png", "features_by_genre.png",
                 "example_clip.png"):
        assert (out / name).stat().st_size > 10_000, name
    assert "best cell per candidate" in result.stdout and "svm-rbf91" in result.stdout


def test_interrupted_search_resumes(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "hp"
    args = _small_grid(small_csv, out, "svm-rbf91,30col,42col,60col")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    results = out / "results.csv"
    _wait_for_a_finished_job(results)
    children = child_processes(proc.pid)
    assert children, "the grid runs in worker processes"
    proc.send_signal(signal.SIGKILL)  # as hard as it gets: no clean-up code runs
    proc.wait(timeout=30)
    deadline = time.time() + 15
    while time.time() < deadline and any(process_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not [pid for pid in children if process_alive(pid)], "worker processes outlived the killed run"
    done_before = pd.read_csv(results)
    assert 1 <= len(done_before) < 7
    resumed = subprocess.run(args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming" in resumed.stdout
    after = pd.read_csv(results)
    assert len(after) == 7  # 3 MLPs x 2 epoch counts + 1 baseline, nothing duplicated
    assert not after.duplicated(["candidate", "epochs", "batch_size"]).any()
    # the rows finished before the interruption were kept as they were
    pd.testing.assert_frame_equal(after.head(len(done_before)), done_before, check_dtype=False)
    # a rerun with nothing left to do trains nothing
    again = subprocess.run(args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(pd.read_csv(results)) == 7


def test_a_cli_started_dask_cluster_gives_the_same_results(quick_run: tuple[Path, subprocess.CompletedProcess],
                                                           small_csv: Path, tmp_path: Path, cli_cluster) -> None:
    local_out, _ = quick_run
    out = tmp_path / "hp_dask"
    result = run_script("01_nn_hyperparam.py", small_csv, "-o", out, *SMALL, "--no-plots",
                        "--scheduler", cli_cluster.address)
    assert result.returncode == 0, result.stdout + result.stderr
    key = ["candidate", "epochs", "batch_size"]
    local = pd.read_csv(local_out / "folds.csv").sort_values([*key, "fold"]).reset_index(drop=True)
    remote = pd.read_csv(out / "folds.csv").sort_values([*key, "fold"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(local[[*key, "fold", *gridsearch.METRICS]],
                                  remote[[*key, "fold", *gridsearch.METRICS]], atol=1e-9)


def test_unreachable_scheduler_and_bad_input(small_csv: Path, tmp_path: Path) -> None:
    result = run_script("01_nn_hyperparam.py", small_csv, "-o", tmp_path / "x", *SMALL,
                        "--scheduler", "tcp://127.0.0.1:9")
    assert result.returncode != 0
    assert "Dask scheduler" in result.stderr and "Traceback" not in result.stderr
    result = run_script("01_nn_hyperparam.py", tmp_path / "missing.csv", "-o", tmp_path / "y", "--quick")
    assert result.returncode == 2 and "missing.csv" in result.stderr and "Traceback" not in result.stderr
    result = run_script("01_nn_hyperparam.py", small_csv, "--candidates", "nope", "-o", tmp_path / "z")
    assert result.returncode == 2 and "unknown candidate" in result.stderr
    result = run_script("01_nn_hyperparam.py", small_csv, "-o", tmp_path / "g", "--groups", "artist", "--quick")
    assert result.returncode == 2 and "artist" in result.stderr


def test_groups_keep_rows_together(small_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(small_csv)
    df["artist"] = [f"{g}-{i // 2}" for g, i in zip(df["genre"], range(len(df)), strict=True)]
    csv_path = tmp_path / "with_artist.csv"
    df.to_csv(csv_path, index=False)
    out = tmp_path / "hp"
    result = run_script("01_nn_hyperparam.py", csv_path, "-o", out, "--candidates", "svm-rbf91", "--folds", "2",
                        "--groups", "artist", "--no-plots")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((out / "run.json").read_text())["groups"] == "artist"


def test_dask_workers_get_every_project_module_a_grid_job_imports() -> None:
    """The upload list names every project module that importing functions_gridjobs (what a worker runs) loads,
    each after the project modules it imports itself (the workers cannot import the project otherwise)."""
    import ast

    names = [m.__name__ for m in gridjobs.dask_worker_modules()]
    code = "import sys, functions_gridjobs; print(sorted(m for m in sys.modules if m.startswith('functions_')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert sorted(names) == ast.literal_eval(out.stdout.strip()), out.stderr
    assert not unsent_imports(gridjobs.dask_worker_modules())


def test_results_writer_and_resume(tmp_path: Path) -> None:
    """Rows go to results.csv and folds.csv (one header each); a rerun with the same settings skips the jobs
    whose every epoch count is on disk, a rerun with other settings sets the old files aside."""
    folds = [dict.fromkeys(gridsearch.METRICS, 0.5), dict.fromkeys(gridsearch.METRICS, 0.7)]

    def row(candidate: str, epochs: int | None, batch: int | None) -> dict:
        return {"candidate": candidate, "epochs": epochs, "batch_size": batch, "accuracy_mean": 0.6,
                "folds_detail": folds}

    settings = {"features_sha256": "abc", "epochs": [2, 4]}
    (tmp_path / gridsearch.RUN_FILE).write_text(json.dumps(settings))
    results, folds_csv = tmp_path / gridsearch.RESULTS_FILE, tmp_path / gridsearch.FOLDS_FILE
    gridsearch.append_results(results, folds_csv, [row("30col", 2, 8), row("30col", 4, 8)])
    gridsearch.append_results(results, folds_csv, [row("30col", 2, 16)])  # 4 epochs missing: not finished
    gridsearch.append_results(results, folds_csv, [row("svm-rbf91", None, None)])
    assert len(pd.read_csv(results)) == 4 and len(pd.read_csv(folds_csv)) == 8
    assert list(pd.read_csv(folds_csv).columns) == list(gridsearch.FOLD_COLUMNS)
    assert gridsearch.finished_keys(tmp_path, settings) == {"30col|8", "svm-rbf91|None"}
    assert gridsearch.finished_keys(tmp_path, {**settings, "epochs": [2]}) == set()
    assert not results.exists() and (tmp_path / "results.previous.csv").is_file()
    assert (tmp_path / "folds.previous.csv").is_file()


def test_a_job_whose_worker_is_killed_runs_again(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "hp"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(_small_grid(small_csv, out, "svm-rbf91,30col,42col"), cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        results = out / "results.csv"
        _wait_for_a_finished_job(results)
        workers = child_processes(proc.pid)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)  # the worker, busy with the next job: the out-of-memory killer's way
        output, _ = proc.communicate(timeout=240)  # it used to wait forever for that job
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    after = pd.read_csv(results)
    assert len(after) == 5 and not after.duplicated(["candidate", "epochs", "batch_size"]).any()


def test_a_rerun_after_a_kill_between_the_two_results_files_runs_the_job_again(small_csv: Path,
                                                                               tmp_path: Path) -> None:
    out = tmp_path / "hp"
    args = [small_csv, "-o", out, "--candidates", "svm-rbf91", "--folds", "2"]
    assert run_script("01_nn_hyperparam.py", *args, "--no-plots").returncode == 0
    (out / "folds.csv").unlink()  # killed after results.csv was written, before folds.csv (the old order)
    result = run_script("01_nn_hyperparam.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming" not in result.stdout  # the job was not taken as done
    assert len(pd.read_csv(out / "results.csv")) == 1 and len(pd.read_csv(out / "folds.csv")) == 2
    assert (out / "all_models.png").is_file()


def test_a_job_is_recorded_whole_or_not_at_all(tmp_path: Path) -> None:
    """folds.csv is written first, results.csv last (the job's commit record); on resume, a job whose rows are
    not all there (a kill between or inside the writes) is rerun, and its leftover rows are removed first."""
    settings = {"features_sha256": "abc", "epochs": [2, 4]}
    (tmp_path / gridsearch.RUN_FILE).write_text(json.dumps(settings))
    results, folds_csv = tmp_path / gridsearch.RESULTS_FILE, tmp_path / gridsearch.FOLDS_FILE

    def job(candidate: str, batch: int | None) -> list[dict]:
        per_fold = [dict.fromkeys(gridsearch.METRICS, 0.5), dict.fromkeys(gridsearch.METRICS, 0.7)]
        return [{"candidate": candidate, "epochs": epochs, "batch_size": batch, "folds": 2, "accuracy_mean": 0.6,
                 "folds_detail": per_fold} for epochs in ([2, 4] if batch else [None])]

    for candidate, batch in [("30col", 8), ("42col", 8), ("60col", 8), ("svm-rbf91", None)]:
        gridsearch.append_results(results, folds_csv, job(candidate, batch))
    lines = results.read_text().splitlines(keepends=True)
    # 42col: killed after its folds, before its results; 60col: results without folds (written the other way
    # round, as 01 did until now); svm-rbf91: its one results line cut short by the kill
    results.write_text(lines[0] + lines[1] + lines[2] + lines[5] + lines[6] + lines[7][:12])
    folds = pd.read_csv(folds_csv)
    folds[folds["candidate"] != "60col"].to_csv(folds_csv, index=False, lineterminator="\r\n")
    assert gridsearch.finished_keys(tmp_path, settings) == {"30col|8"}
    assert set(pd.read_csv(results)["candidate"]) == set(pd.read_csv(folds_csv)["candidate"]) == {"30col"}
    for candidate, batch in [("42col", 8), ("60col", 8), ("svm-rbf91", None)]:  # the rerun
        gridsearch.append_results(results, folds_csv, job(candidate, batch))
    assert gridsearch.finished_keys(tmp_path, settings) == {"30col|8", "42col|8", "60col|8", "svm-rbf91|None"}
    assert len(pd.read_csv(results)) == 7 and len(pd.read_csv(folds_csv)) == 14  # nothing twice
