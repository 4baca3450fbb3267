"""Running work in parallel: local worker processes and Dask clusters, shared by 00, 01 and 03.

One home for what every parallel runner of the project needs: the local worker pool (`run_in_workers`: a worker
that dies costs only the item it held, Ctrl-C stops every worker at once, no worker outlives its parent), how a
worker process is set up (one BLAS thread, Ctrl-C left to the parent), and how a Dask cluster is reached, given
the project's code and its faults turned into one-line errors. Only the standard library is imported at module
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
    reuse_freed_memory()


def reuse_freed_memory(limit_bytes: int = 1 << 28) -> None:
    """Keep memory this process frees for its next arrays (glibc's malloc; elsewhere nothing happens).

    By default glibc gives every freed block over 32 MB (and, until it adapts, over 128 KB) back to the system,
    and the next array of that size touches fresh pages again: a 4-minute song made ~8,700 page faults, about
    0.5 CPU-s of a 2-CPU-s analysis on this machine. Blocks up to ``limit_bytes`` now come from the heap and
    stay there for the next song (the heap stays at the largest song's working set)."""
    set_malloc_thresholds(mmap_bytes=limit_bytes, trim_bytes=2 * limit_bytes)


def set_malloc_thresholds(mmap_bytes: int, trim_bytes: int) -> None:
    """glibc's malloc thresholds: blocks up to ``mmap_bytes`` come from the heap (larger ones are mapped), and the
    heap's free top is given back to the system only above ``trim_bytes``. No-op where the C library has no
    mallopt (not Linux, or not glibc: musl has none)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    try:
        libc = ctypes.CDLL(None)  # this process's own symbols, the C library's among them
        libc.mallopt(m_mmap_threshold, mmap_bytes)
        libc.mallopt(m_trim_threshold, trim_bytes)
    except (OSError, AttributeError, TypeError):
        pass


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
# The local worker pool of 00, 01 and 03
# --------------------------------------------------------------------------------------------------------------
WORKER_DIED = "worker process died"
STOP_GRACE_SECONDS = 0.5  # stopping early: workers get this long to clean up (temporary folders), then SIGKILL
MAX_START_FAILURES = 3  # workers dying before they are ready, in a row, before the pool gives up


@dataclass(frozen=True)
class TaskFailed:
    """What `run_in_workers` gives for an item instead of its result: one line saying why."""

    error: str
    worker_died: bool = False  # the worker process died while it held the item (kill -9, out of memory)


class PoolError(Exception):
    """The worker processes cannot be started (their set-up fails); one line for the user."""


def run_in_workers(function: Callable[[Any], Any], items: Sequence[Any], workers: int, *,
                   initializer: Callable[..., None] | None = None, initargs: tuple = (),
                   start_method: str | None = None, retries: int = 0,
                   on_progress: Callable[[Any], None] | None = None) -> Iterator[tuple[int, Any]]:
    """Run `function(item)` for every item in `workers` processes; yield `(index, result)` as each finishes.

    Each worker holds one item at a time. An exception in `function` gives `TaskFailed(one line)`. A worker that
    dies (kill -9, the out-of-memory killer) is replaced, and the item it held is tried `retries` more times,
    then given as `TaskFailed(..., worker_died=True)`: the other items go on. When the caller stops early
    (Ctrl-C, an error, closing this generator) every worker and its child processes are stopped at once, and
    workers end by themselves when this process dies. Whatever `function` puts on `worker_progress()` reaches
    `on_progress`. Workers are forked where possible (they inherit what is loaded), or `start_method`.
    """
    import multiprocessing
    from collections import deque
    from multiprocessing.connection import wait

    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    context = multiprocessing.get_context(method)
    pending, attempts, left = deque(range(len(items))), [0] * len(items), len(items)
    pool: list[_Worker] = []
    start_failures = 0
    stopped_early = True
    try:
        while left:
            while len(pool) < min(max(1, workers), left):
                pool.append(_Worker(context, function, initializer, initargs))
            for worker in pool:
                if worker.ready and worker.task is None and pending:
                    worker.give(pending.popleft(), items)
            outcomes = []
            ready = set(wait([w.conn for w in pool] + [w.process.sentinel for w in pool]))
            for worker in [w for w in pool if w.conn in ready or w.process.sentinel in ready]:
                for message in worker.messages():
                    if message[0] == "ready":
                        worker.ready, start_failures = True, 0
                    elif message[0] == "progress" and on_progress is not None:
                        on_progress(message[1])
                    elif message[0] == "done":
                        outcomes.append(message[1:])
                        worker.task, left = None, left - 1
                    elif message[0] == "failed":
                        raise PoolError(f"worker processes cannot start: {message[1]}")
                if worker.process.is_alive():
                    continue
                pool.remove(worker)
                worker.conn.close()
                if not worker.ready:
                    start_failures += 1
                    if start_failures >= MAX_START_FAILURES:
                        raise PoolError(f"worker processes cannot start ({_how_it_died(worker.process.exitcode)})")
                if worker.task is not None:
                    attempts[worker.task] += 1
                    if attempts[worker.task] <= retries:
                        pending.appendleft(worker.task)
                    else:
                        error = f"{WORKER_DIED} ({_how_it_died(worker.process.exitcode)})"
                        outcomes.append((worker.task, TaskFailed(error, worker_died=True)))
                        left -= 1
            yield from outcomes
        stopped_early = False
    finally:
        _stop_workers(pool, at_once=stopped_early)


def worker_progress() -> _Progress | None:
    """In a `run_in_workers` worker: where `function` puts progress messages (`put(message)`); None elsewhere."""
    return _PROGRESS


class _Progress:
    """A worker's line to the parent's `on_progress`; `put` as on a queue."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def put(self, message: Any) -> None:
        self.conn.send(("progress", message))


_PROGRESS: _Progress | None = None


class _Worker:
    """One worker process of `run_in_workers`, its end of the pipe, and the index of the item it holds."""

    def __init__(self, context: Any, function: Callable, initializer: Callable | None, initargs: tuple) -> None:
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_worker_main, daemon=True, name="worker",
                                       args=(child_conn, os.getpid(), function, initializer, initargs))
        self.process.start()
        child_conn.close()
        self.ready = False
        self.task: int | None = None

    def give(self, index: int, items: Sequence[Any]) -> None:
        self.task = index
        try:
            self.conn.send((index, items[index]))
        except OSError:  # it died just now: its death is noticed, and the item handled, like any other
            pass

    def messages(self) -> Iterator[tuple]:
        """Everything the worker has sent so far (a message cut short by its death is dropped)."""
        try:
            while self.conn.poll():
                yield self.conn.recv()
        except (EOFError, OSError):
            return


def _worker_main(conn: Any, parent_pid: int, function: Callable, initializer: Callable | None,
                 initargs: tuple) -> None:
    """A worker's life: set up, then run the items it is given until told to stop (None) or orphaned."""
    global _PROGRESS
    _become_worker(parent_pid)
    _PROGRESS = _Progress(conn)
    try:
        if initializer is not None:
            initializer(*initargs)
    except Exception as exc:
        conn.send(("failed", describe_error(exc)))
        return
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone: end quietly
            return
        if task is None:
            return
        index, item = task
        try:
            result = function(item)
        except Exception as exc:  # one item's failure is that item's result
            result = TaskFailed(describe_error(exc))
        try:
            conn.send(("done", index, result))
        except Exception as exc:  # a result that cannot be pickled
            conn.send(("done", index, TaskFailed(f"result cannot be sent back ({describe_error(exc)})")))


def _become_worker(parent_pid: int) -> None:
    """A process group of its own (the terminal's Ctrl-C reaches the parent only, and stopping the group ends
    the worker's own child processes too); SIGTERM ends it cleanly; it ends when the parent dies."""
    import signal
    import sys

    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if sys.platform.startswith("linux"):  # the kernel signals at once when the parent dies (the thread below polls)
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)
    exit_with_parent(parent_pid)


def _stop_workers(pool: list[_Worker], at_once: bool) -> None:
    """Finished: tell idle workers to stop. Early (Ctrl-C, an error): SIGTERM every worker's process group,
    give them STOP_GRACE_SECONDS to clean up, then SIGKILL what is left."""
    import signal
    from multiprocessing.connection import wait

    for worker in pool:
        if at_once:
            _signal_group(worker.process.pid, signal.SIGTERM)
        else:
            try:
                worker.conn.send(None)
            except OSError:
                pass
    wait([w.process.sentinel for w in pool], timeout=STOP_GRACE_SECONDS if at_once else 5.0)
    for worker in pool:
        _signal_group(worker.process.pid, signal.SIGKILL)  # its children too; the worker is not reaped yet
        worker.process.join()
        worker.conn.close()


def _signal_group(pid: int | None, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:  # not (yet) a group leader: signal the process alone
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    except PermissionError:
        pass


def _how_it_died(exitcode: int | None) -> str:
    import signal

    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    return f"killed by {name}" + (", e.g. out of memory or kill -9" if name == "SIGKILL" else "")


def describe_error(exc: BaseException) -> str:
    """An exception as one line for the user: `Type: message`, the message folded and cut at 200 characters."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__


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
    set_malloc_thresholds(mmap_bytes=32 * 2**20, trim_bytes=64 * 2**20)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "(unknown)"
