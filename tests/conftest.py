"""Shared fixtures: where the project and the shared real data are, and small data the tests make themselves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

import functions_audio as audio  # noqa: E402
import functions_synthetic  # noqa: E402


def run_script(script: str, *args: str | Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run one of the project's numbered scripts as a user would, from the project folder."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, str(PROJECT_DIR / script), *map(str, args)], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def child_processes(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc), but multiprocessing's resource tracker (one per session that
    spawns workers)."""
    try:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [child for child in children if b"resource_tracker" not in command_line(child)]


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def process_alive(pid: int) -> bool:
    """`pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The team's real data (GTZAN clips, reference features); tests needing it skip where it is absent."""
    path = audio.shared_data_dir()
    if path is None or not (path / "gtzan_features.csv").is_file():
        pytest.skip("shared real data not found at ../shared/data (set GENRE_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic collection: 4 genres x 3 clips of 4 s (made by the project's own generator)."""
    root = tmp_path_factory.mktemp("synthetic") / "dataset"
    return functions_synthetic.make_synthetic_collection(root, clips_per_genre=3, seconds=4.0,
                                           genres=("blues", "classical", "metal", "reggae"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_dataset: Path) -> Path:
    """A tiny model trained once per session by 02_train_model.py on `synthetic_dataset` (classifier tests)."""
    from helpers_classify import tiny_model

    return tiny_model(tmp_path_factory, synthetic_dataset)


@pytest.fixture(scope="module")
def cli_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A loopback Dask cluster started with the `dask` command-line tools (2 workers), one per test module."""
    from helpers_cluster import CliCluster

    cluster = CliCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster.start()
    finally:
        assert not cluster.stop(), "Dask processes were left behind"
