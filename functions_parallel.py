"""Running work in parallel: local worker processes and Dask clusters, shared by 00, 01 and 03.

One home for what every parallel runner of the project needs: how a worker process is set up (one BLAS thread,
Ctrl-C left to the parent, no orphan after the parent dies) and how a Dask cluster is reached and given the
project's code. Only the standard library is imported at module level.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType


def limit_worker_threads() -> None:
    """Worker processes: one BLAS thread each (the cores are already shared out), and Ctrl-C is the parent's."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    single_blas_thread()


def single_blas_thread() -> None:
    """One BLAS thread in this process: the classifier's matrices are small, and several BLAS threads on them
    cost more in waiting than they gain (2x slower songs on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def exit_with_parent(parent_pid: int, poll_seconds: float = 1.0,
                     before_exit: Callable[[], None] | None = None) -> None:
    """Start a watcher thread that ends this (worker) process as soon as `parent_pid` is gone.

    `before_exit` runs first (e.g. remove this process's files and end the processes it started).
    """
    import threading
    import time

    def watch_parent() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent_pid:  # the parent was killed: do not linger as an orphan
                if before_exit is not None:
                    before_exit()
                os._exit(1)

    threading.Thread(target=watch_parent, daemon=True, name="exit-with-parent").start()


def connect_dask(scheduler: str, modules: Sequence[ModuleType], error: type[Exception]):
    """A `distributed.Client` for `scheduler` whose workers can import `modules` (the project's own files).

    Raises `error` with one line when dask.distributed is missing or the scheduler cannot be reached. The
    modules go to the workers only: `client.upload_file` would also load them into the scheduler, which for an
    in-process LocalCluster is the caller's own interpreter (it would replace the caller's modules).
    """
    try:
        from distributed import Client
        from distributed.diagnostics.plugin import UploadFile
    except ImportError:
        raise error("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise error(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    try:
        for module in modules:
            client.register_plugin(UploadFile(module.__file__, load=True), name=f"{module.__name__}-upload")
    except BaseException:
        client.close()
        raise
    return client
