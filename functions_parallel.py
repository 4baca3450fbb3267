"""Running work in parallel: local worker processes and Dask clusters, shared by 00, 01 and 03.

One home for what every parallel runner of the project needs: how a worker process is set up (one BLAS thread,
Ctrl-C left to the parent, no orphan after the parent dies) and how a Dask cluster is reached, given the
project's code and its faults turned into one-line errors. Only the standard library is imported at module
level: this module is uploaded to Dask workers too.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from distributed import Client, Future

T = TypeVar("T")


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


# --------------------------------------------------------------------------------------------------------------
# Dask clusters: the scheduler never sees project code
# --------------------------------------------------------------------------------------------------------------
# A real cluster's scheduler and workers are started by the `dask` command-line tools, where the project is not
# importable. The workers get the project's modules (distributed's UploadFile plugin, re-applied to a restarted
# worker); the scheduler gets nothing: it deserialises every task graph, so each call goes to it as
# `pickle.loads(bytes)`, and only a worker, unpickling those bytes, imports and runs the project function.
WORKER_JOIN_SECONDS = 30


class MissingPackageError(ImportError):
    """A Dask worker cannot import a package the project needs there (raised on the worker, one line)."""


@dataclass
class DaskCluster:
    """A connection (from `connect_dask`) that runs project functions on a Dask cluster's workers."""

    client: Client
    scheduler: str
    error: type[Exception]
    packages: tuple[str, ...] = ()

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run `function(*args, **kwargs)` on a worker: a module-level function of an uploaded module, with
        picklable arguments."""
        import uuid

        call = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        payload = pickle.dumps(_WorkerCall(self.packages, call), protocol=pickle.HIGHEST_PROTOCOL)
        return self.client.submit(pickle.loads, payload, pure=False, key=f"{function.__name__}-{uuid.uuid4().hex}")

    def finished(self, futures: Mapping[Future, T]) -> Iterator[tuple[T, Any, BaseException | None]]:
        """(item, result, None) or (item, None, the task's own exception) as each future finishes; `error` (one
        line) when the scheduler is lost or a worker lacks a package."""
        from concurrent.futures import CancelledError

        from distributed import as_completed

        for future in as_completed(futures):
            try:
                failure = future.exception() if future.status == "error" else None
                result = future.result() if failure is None else None
            except (CancelledError, OSError):  # cancelled by the client, or a closed connection, mid-fetch
                raise self.lost() from None
            if isinstance(failure, MissingPackageError):
                raise self.error(str(failure))
            yield futures[future], result, failure

    def lost(self) -> Exception:
        """The one-line `error` for a scheduler that went away."""
        return self.error(f"lost the Dask scheduler at {self.scheduler}: restart it and its workers, then run the "
                          f"same command again to resume (finished work is kept)")

    def close(self) -> None:
        """Cancel what is left and disconnect; quietly and at once if the scheduler is gone."""
        import logging

        if self.client.status == "running":
            self.client.close()
            return
        previous = logging.root.manager.disable
        logging.disable(logging.CRITICAL)  # distributed's reconnection tracebacks would bury our one line
        try:
            self.client.close(timeout=2)
        except Exception:  # the client may already be closing itself: nothing is left to release
            pass
        finally:
            logging.disable(previous)

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect_dask(scheduler: str, modules: Sequence[ModuleType], error: type[Exception],
                 packages: Sequence[str] = ()) -> DaskCluster:
    """A `DaskCluster` for `scheduler` whose workers can import `modules` (the project's own files, each after
    the project modules it imports) and are checked for `packages` before they run a call.

    Raises `error` with one line when dask.distributed is missing, the scheduler cannot be reached, no worker
    joins within WORKER_JOIN_SECONDS or a worker cannot import a module. Nothing is loaded into the scheduler
    or into this process.
    """
    try:
        from distributed import Client
    except ImportError:
        raise error("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise error(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    cluster = DaskCluster(client, scheduler, error, tuple(packages))
    try:
        _upload_modules(cluster, [_this_module(), *modules])
        _wait_for_a_worker(cluster)
    except OSError:  # the scheduler went away while we set up
        cluster.close()
        raise cluster.lost() from None
    except BaseException:
        cluster.close()
        raise
    return cluster


def _this_module() -> ModuleType:
    import sys

    return sys.modules[__name__]


def _upload_modules(cluster: DaskCluster, modules: Sequence[ModuleType]) -> None:
    """Every worker, and every worker that joins later, writes and imports `modules` in this order."""
    from distributed.diagnostics.plugin import UploadFile

    for module in modules:
        try:
            cluster.client.register_plugin(UploadFile(module.__file__, load=True), name=f"{module.__name__}-upload")
        except ImportError as exc:
            raise cluster.error(_missing_package_line("a Dask worker", exc)) from None


def _wait_for_a_worker(cluster: DaskCluster) -> None:
    try:
        cluster.client.wait_for_workers(1, timeout=WORKER_JOIN_SECONDS)
    except TimeoutError:
        raise cluster.error(f"no Dask worker joined the scheduler at {cluster.scheduler} within "
                            f"{WORKER_JOIN_SECONDS} s: start some with `dask worker {cluster.scheduler}`") from None


def _missing_package_line(where: str, exc: ImportError, name: str | None = None) -> str:
    reason = " ".join(str(exc).split())
    return (f"{where} cannot import {name or exc.name or 'a required package'} ({reason}): install "
            f"requirements.txt on every worker (pip install -r requirements.txt)")


@dataclass(frozen=True)
class _WorkerCall:
    """A call that pickles as `_run_on_worker(packages, call)`: unpickling it on a worker runs it."""

    packages: tuple[str, ...]
    call: bytes  # pickle of (function, args, kwargs)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[tuple[str, ...], bytes]]:
        return _run_on_worker, (self.packages, self.call)


_IMPORTED_PACKAGES: set[str] = set()
_MALLOC_RESTORED = False


def _run_on_worker(packages: tuple[str, ...], call: bytes) -> Any:
    """On a Dask worker: check `packages`, then run the pickled call; an import failure is one line."""
    import importlib

    global _MALLOC_RESTORED
    if not _MALLOC_RESTORED:  # the first call in this worker process
        restore_malloc_thresholds()
        _MALLOC_RESTORED = True
    for name in packages:
        if name not in _IMPORTED_PACKAGES:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                raise MissingPackageError(_missing_package_line(f"Dask worker {_worker_address()}", exc, name),
                                          name=name) from None
            _IMPORTED_PACKAGES.add(name)
    try:
        function, args, kwargs = pickle.loads(call)
        return function(*args, **kwargs)
    except ImportError as exc:
        raise MissingPackageError(_missing_package_line(f"Dask worker {_worker_address()}", exc),
                                  name=exc.name) from None


def restore_malloc_thresholds() -> None:
    """glibc's malloc thresholds at the highest values it would itself adapt to (mmap above 32 MiB, trim above
    64 MiB). Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes the mmap
    threshold at 128 KiB: every array of a few MB is then mapped, zeroed and unmapped again, and feature
    extraction costs 1.8x the CPU (three times the system time). A worker keeps up to 64 MiB more; no-op where
    the C library has no mallopt."""
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    try:
        libc = ctypes.CDLL(None)  # this process's own symbols, the C library's among them
        libc.mallopt(m_mmap_threshold, 32 * 2**20)
        libc.mallopt(m_trim_threshold, 64 * 2**20)
    except (OSError, AttributeError, TypeError):
        pass


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "(unknown)"
