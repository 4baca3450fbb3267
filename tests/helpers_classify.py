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
from collections.abc import Callable, Iterator
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


def model_with_threshold(model_dir: Path, folder: Path, threshold: float, temperature: float = 1.0) -> Path:
    """A copy of ``model_dir`` whose model.json records this calibration (what 02 --split writes): with threshold
    1.0 every answer is uncertain, with 0.0 none is."""
    import json

    shutil.copytree(model_dir, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["calibration"] = {"temperature": temperature, "uncertain_threshold": threshold}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


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
    stall_after: int | None = None  # send this many bytes of the body, then nothing more (a stalled download)
    make_body: Callable[[], bytes] | None = None  # a body made anew for each request (a live playlist)
    repeat_forever: bool = False  # send the body again and again, no length (an internet radio stream)


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
                body = route.make_body() if route.make_body is not None else route.body
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    if not route.repeat_forever:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not with_body:
                        return
                    while route.repeat_forever and not server._stop.is_set():
                        self.wfile.write(body)
                    if route.stall_after is not None:
                        self.wfile.write(body[:route.stall_after])
                        self.wfile.flush()
                        server._stop.wait(120)
                        return
                    if route.chunk_delay_s <= 0:
                        self.wfile.write(body)
                        return
                    for start in range(0, len(body), 16384):
                        if server._stop.is_set():
                            return
                        self.wfile.write(body[start:start + 16384])
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


def add_live_hls(server: LoopbackServer, path: str, segment: Path, segment_s: float) -> str:
    """A never-ending HLS stream at ``path``: a sliding playlist (no #EXT-X-ENDLIST) of copies of ``segment``.

    Like a live broadcast, a new segment appears every ``segment_s`` seconds; returns the playlist's URL.
    """
    started = time.monotonic()
    segment_path = path.rsplit("/", 1)[0] + "/segment.ts"
    server.routes[segment_path] = Route(segment.read_bytes(), "video/mp2t")

    def playlist() -> bytes:
        newest = int((time.monotonic() - started) / segment_s)
        first = max(0, newest - 2)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(round(segment_s))}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        for number in range(first, newest + 1):
            lines += [f"#EXTINF:{segment_s:.3f},", f"{server.url(segment_path)}?n={number}"]
        return ("\n".join(lines) + "\n").encode()

    server.routes[path] = Route(content_type="application/vnd.apple.mpegurl", make_body=playlist)
    return server.url(path)


def folder_bytes(folder: Path) -> int:
    """Bytes of all files below ``folder`` now."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class PeakSize:
    """Measures the largest size ``folder`` reaches (every 10 ms in a thread) while the ``with`` block runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._measure, daemon=True)

    def _measure(self) -> None:
        while not self._stop.wait(0.01):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, folder_bytes(self.folder))

    def __enter__(self) -> PeakSize:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running (not zombie) processes whose arguments contain ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if text in command and state != "Z":
                found.append(command)
    return found


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
