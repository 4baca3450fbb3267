"""A Dask cluster on 127.0.0.1 started the way users start one: `dask scheduler` and `dask worker` as processes.

They run from a folder of their own where the project is not importable, each in its own process group, so that
`stop()` leaves no process behind (a test that fails included). Used by the cluster tests and bench_cluster.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))
# Root reads every file: workers drop the capabilities that bypass file permissions, like any other user.
DROP_ROOT_READ = (["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                   "--bounding-set=-dac_override,-dac_read_search"]
                  if os.geteuid() == 0 and shutil.which("setpriv") else [])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CliCluster:
    """`dask scheduler` plus one `dask worker --nworkers N --nthreads 1` on 127.0.0.1, from `folder`."""

    def __init__(self, folder: Path, workers: int = 2, pythonpath: Path | None = None,
                 allowed_failures: int | None = None) -> None:
        self.folder = folder
        self.workers = workers
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if allowed_failures is not None:  # worker deaths a task survives (Dask's default: 3)
            self.env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(allowed_failures)
        if pythonpath is not None:  # e.g. a folder shadowing a package, for a worker missing it
            self.env["PYTHONPATH"] = str(pythonpath)
        self.scheduler: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.groups: list[int] = []

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _spawn(self, command: list[str], log: str, env: dict[str, str]) -> subprocess.Popen:
        with open(self.folder / log, "ab") as out:
            process = subprocess.Popen(command, cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.groups.append(process.pid)
        return process

    def start(self) -> CliCluster:
        """Start the scheduler and the workers; return once every worker has joined."""
        self.folder.mkdir(parents=True, exist_ok=True)
        probe = subprocess.run([sys.executable, "-c", "import functions_audio"], cwd=self.folder, env=self.env,
                               capture_output=True)
        assert probe.returncode != 0, "the project must not be importable where the cluster runs"
        plain = {k: v for k, v in self.env.items() if k != "PYTHONPATH"}
        self.scheduler = self._spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--no-dashboard"], "scheduler.log", plain)
        self.worker = self._spawn([*DROP_ROOT_READ, DASK, "worker", self.address, "--nworkers", str(self.workers),
                                   "--nthreads", "1", "--no-dashboard", "--local-directory",
                                   str(self.folder / "scratch")], "worker.log", self.env)
        self.wait_for_workers(self.workers)
        return self

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout=f"{timeout}s") as client:
            client.wait_for_workers(count, timeout=timeout)

    def worker_pids(self) -> list[int]:
        """The worker processes (children of `dask worker`, beside multiprocessing's resource tracker)."""
        return [pid for pid, ppid in _processes() if ppid == self.worker.pid
                and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def kill_scheduler(self) -> None:
        os.killpg(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait()

    def restart(self) -> None:
        """After a scheduler crash (its workers leave with it): everything again, on the same port."""
        assert not self.stop(), "processes of the crashed cluster were left behind"
        self.start()

    def stop(self) -> list[int]:
        """SIGTERM (a clean shutdown) to every process group, SIGKILL to whatever is left after 20 s; returns the
        processes still alive after that (none, or the test fails)."""
        for group in self.groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.2)
        for group in self.groups:
            _signal_group(group, signal.SIGKILL)
        for process in (self.scheduler, self.worker):
            if process is not None:
                process.wait()
        deadline = time.monotonic() + 10
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        left, self.groups = self.leftovers(), []
        return left

    def leftovers(self) -> list[int]:
        """Live processes of the cluster's process groups."""
        return [pid for pid, _ in _processes(self.groups)]


def _processes(groups: list[int] | None = None) -> list[tuple[int, int]]:
    """(pid, parent pid) of every live process, or of those in the process `groups`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and (groups is None or int(fields[2]) in groups):
            found.append((int(stat.parent.name), int(fields[1])))
    return found


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def unsent_imports(modules: list, sent_first: tuple[str, ...] = ()) -> list[str]:
    """The upload list ``modules`` (a step's dask_worker_modules()) checked in its order: each module's top-level
    project imports must come before it (a worker imports each module as it arrives), or be among ``sent_first``.
    Returns one 'module: missing' entry per module that imports one sent later or never."""
    import ast

    names = [m.__name__ for m in modules]
    problems = []
    for i, module in enumerate(modules):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
        missing = {m for m in imported if m and m.startswith("functions_")} - set(sent_first) - set(names[:i])
        problems += [f"{module.__name__}: {m}" for m in sorted(missing)]
    return problems
