"""functions_parallel.run_in_workers, the local pool of 00, 01 and 03, with real processes and real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, child_processes, process_alive

import functions_parallel as parallel


def square_or_die(item: tuple[int, str]) -> int:
    """Squares a number; "die" kills its own process (kill -9), "die-once" only on the first attempt."""
    number, fate = item
    marker = Path(f"{fate}.{number}") if fate.startswith("/") else None
    if fate == "die" or (marker is not None and not marker.exists()):
        if marker is not None:
            marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if fate == "raise":
        raise ValueError("no good\nat all")
    parallel.worker_progress().put(number)
    return number * number


def test_a_worker_killed_mid_item_costs_only_that_item() -> None:
    items = [(n, "die" if n == 2 else "raise" if n == 5 else "") for n in range(8)]
    progress: list[int] = []
    outcomes = dict(parallel.run_in_workers(square_or_die, items, 2, on_progress=progress.append))
    died, raised = outcomes.pop(2), outcomes.pop(5)
    assert outcomes == {n: n * n for n in (0, 1, 3, 4, 6, 7)}  # the others went on, on a fresh worker
    assert died.worker_died and died.error.startswith(parallel.WORKER_DIED) and "SIGKILL" in died.error
    assert not raised.worker_died and raised.error == "ValueError: no good at all"
    assert sorted(progress) == [0, 1, 3, 4, 6, 7]
    assert not child_processes(os.getpid())  # no worker left behind


def test_an_item_whose_worker_dies_is_tried_again_as_often_as_asked(tmp_path: Path) -> None:
    once = str(tmp_path / "tried")
    items = [(0, once), (1, "die"), (2, "")]
    outcomes = dict(parallel.run_in_workers(square_or_die, items, 2, retries=1, start_method="spawn"))
    assert outcomes[0] == 0 and outcomes[2] == 4  # died once, then done on the second attempt
    assert outcomes[1].worker_died  # died twice: reported, not waited on


def sleep_long(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_stopping_early_ends_busy_workers_at_once() -> None:
    outcomes = parallel.run_in_workers(sleep_long, [0.01, 60, 60, 60], 3)
    assert next(outcomes) == (0, 0.01)
    workers = child_processes(os.getpid())
    assert len(workers) == 3
    started = time.monotonic()
    outcomes.close()  # what Ctrl-C or an error in the caller does
    assert time.monotonic() - started < 1.5
    assert not [pid for pid in workers if process_alive(pid)]


def test_workers_end_when_their_parent_is_killed() -> None:
    code = ("import functions_parallel as p, time\n"
            "print(list(p.run_in_workers(time.sleep, [60, 60], 2)))\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_DIR, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(child_processes(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = child_processes(parent.pid)
    assert len(workers) == 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 3
    while any(process_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if process_alive(pid)], "workers outlived their killed parent"


def fail_to_start() -> None:
    raise RuntimeError("no model here")


def test_workers_that_cannot_start_stop_the_pool_with_one_line() -> None:
    with pytest.raises(parallel.PoolError, match="cannot start: RuntimeError: no model here"):
        list(parallel.run_in_workers(abs, [1, 2], 2, initializer=fail_to_start))
    assert not [pid for pid in child_processes(os.getpid()) if process_alive(pid)]
