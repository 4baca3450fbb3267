"""Test helpers for classifying songs (03, 04, YouTube fetching): a model, audio files, a loopback web server.

Owned by the classifier tests (tests/test_classifier*.py, test_youtube*.py, test_gui*.py).
"""

from __future__ import annotations

import contextlib
import csv
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import functions_audio as audio  # noqa: E402
import functions_dataset  # noqa: E402
import functions_features  # noqa: E402
import functions_synthetic  # noqa: E402

SR = audio.SAMPLE_RATE


# -------------------------------------------------------------------------------------------------------------
# Audio files
# -------------------------------------------------------------------------------------------------------------
def synthetic_song(parts: list[tuple[str, float]], seed: int = 0) -> np.ndarray:
    """A "song" made of synthetic genre clips one after the other, e.g. [("metal", 20), ("blues", 25)]."""
    return np.concatenate([functions_synthetic.synthesize_clip(genre, seed + i, seconds=seconds)
                           for i, (genre, seconds) in enumerate(parts)]).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), y, sr, subtype="PCM_16")
    return path


def encode(source: Path, target: Path, *codec_args: str) -> Path:
    """Encode ``source`` into ``target`` (format from the suffix) with the imageio-ffmpeg binary."""
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-y", "-v", "error", "-i", str(source), *codec_args,
                    str(target)], check=True, capture_output=True, timeout=120)
    return target


def ffmpeg_to_training_wav(source: Path, target: Path) -> Path:
    """The conversion the yt-dlp path runs (22.05 kHz mono WAV by the same ffmpeg), for reference results."""
    return encode(source, target, "-vn", "-ar", str(SR), "-ac", "1")


# -------------------------------------------------------------------------------------------------------------
# A tiny model, trained by the project's own 02_train_model.py on features of synthetic clips
# -------------------------------------------------------------------------------------------------------------
def synthetic_features_csv(dataset: Path, out: Path) -> Path:
    """Features CSV (the 00 step's format) of a synthetic collection, computed with functions_audio."""
    clips, _ = functions_dataset.scan_dataset(dataset)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(audio.CSV_COLUMNS)
        for clip in clips:
            values = functions_features.extract_clip_features(clip.path)
            writer.writerow([clip.file, clip.genre, *map(functions_features.format_feature, values)])
    return out




def tiny_model(tmp_path_factory: object, dataset: Path) -> Path:
    """The tiny test model (conftest's session fixture `model_dir` calls this once per test session).

    ``dataset`` is conftest's ``synthetic_dataset`` (a few short synthetic clips of four genres); the model is
    trained on their features by 02_train_model.py. GENRE_TEST_MODEL_DIR=folder uses that model instead.
    """
    override = os.environ.get("GENRE_TEST_MODEL_DIR")
    if override:
        return Path(override)
    folder = tmp_path_factory.mktemp("tiny_model")  # type: ignore[attr-defined]
    return train_tiny_model(synthetic_features_csv(dataset, folder / "features.csv"), folder)


def train_tiny_model(csv_path: Path, folder: Path) -> Path:
    """Train a small model with 02_train_model.py and return its folder (model.keras, weights.npz, model.json)."""
    script = PROJECT_DIR / "02_train_model.py"
    if not script.is_file():
        import pytest

        pytest.skip("02_train_model.py is not there yet: no model to classify with")
    model_dir = folder / "model"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(script), "--features", str(csv_path), "--output-dir", str(model_dir),
               "--epochs", "60", "--seed", "1"]
    result = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, env=env)
    if result.returncode != 0 or not (model_dir / "weights.npz").is_file():
        raise RuntimeError(f"02_train_model.py failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return model_dir


# -------------------------------------------------------------------------------------------------------------
# A loopback web server
# -------------------------------------------------------------------------------------------------------------
@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    chunk_delay_s: float = 0.0  # > 0: send 16 KB chunks with this pause (a slow download)
    hang: bool = False  # accept the request and never answer (time-outs)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with fixed routes; ``url(path)`` gives the address."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self._stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, with_body: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    route = Route(b"<html><body>not found</body></html>", "text/html", status=404)
                if route.hang:
                    server._stop.wait(60)
                    return
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if not with_body:
                        return
                    if route.chunk_delay_s <= 0:
                        self.wfile.write(route.body)
                        return
                    for start in range(0, len(route.body), 16384):
                        if server._stop.is_set():
                            return
                        self.wfile.write(route.body[start:start + 16384])
                        self.wfile.flush()
                        time.sleep(route.chunk_delay_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def add_file(self, path: str, file: Path, content_type: str, **options: object) -> str:
        self.routes[path] = Route(file.read_bytes(), content_type, **options)  # type: ignore[arg-type]
        return self.url(path)

    def close(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port_refusing_connections() -> int:
    """A loopback port with nothing listening (connections are refused): 'no network' without a network."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -------------------------------------------------------------------------------------------------------------
# Running the scripts
# -------------------------------------------------------------------------------------------------------------
def script_env(tmp_dir: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if tmp_dir is not None:
        env["TMPDIR"] = str(tmp_dir)  # where the fetcher's private temporary folder goes
    return env


def run_classifier(*args: str | Path, tmp_dir: Path | None = None, timeout: float = 180
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), *map(str, args)],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout,
                          env=script_env(tmp_dir))


@contextlib.contextmanager
def private_tmp(base: Path) -> Iterator[Path]:
    """An empty folder to use as TMPDIR; tests assert it is empty again afterwards."""
    folder = base / "tmpdir"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
