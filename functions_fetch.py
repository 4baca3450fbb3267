"""Fetching audio from URLs with yt-dlp: http(s) links (YouTube and every site yt-dlp knows) and YouTube searches.

What lives here, top-down:

* the progress and cancellation protocol shared by every slow step (``Progress``, ``ProgressCallback``,
  ``report_progress``, ``Cancelled``, ``check_cancel``) and ``format_seconds`` (m:ss, used in messages);
* what a target is (``looks_like_url``, ``looks_like_path``, ``search_target``, ``validate_fetch_target``) and
  one-line error messages (``FetchError``, ``describe_download_error``);
* the download itself (``fetched_audio``): best audio, converted by ffmpeg to the training format in a private
  temporary folder, with caps on duration, size and time. yt-dlp runs in a helper process (this file run as a
  script, ``_helper_main``) in a process group of its own; the caller's ``_supervise`` relays its progress,
  measures the folder and the clock itself and kills the whole group (yt-dlp's ffmpeg included) when a cap,
  Cancel or Ctrl-C stops it. Live streams are refused before download, yt-dlp plugins are never loaded.

Start-up cost: only the standard library, NumPy and functions_audio at module level; yt-dlp (~0.4 s) is
imported by the helper process when a URL is actually fetched.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions_audio

DEFAULT_MAX_DURATION_S = 20 * 60.0
DEFAULT_MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024
DEFAULT_SOCKET_TIMEOUT_S = 20.0
DEFAULT_FETCH_DEADLINE_S = 15 * 60.0
ALLOWED_URL_SCHEMES = ("http", "https")
SEARCH_PREFIX = "ytsearch1:"


# ---------------------------------------------------------------------------------------------------------
# Progress, cancellation and times (shared by fetching and analysis)
# ---------------------------------------------------------------------------------------------------------
class Cancelled(Exception):
    """The user cancelled the running job (GUI Cancel button)."""


@dataclass(frozen=True)
class Progress:
    """One progress report: ``stage`` is "download", "convert", "analyse" or "done"."""

    stage: str
    fraction: float | None
    message: str


ProgressCallback = Callable[[Progress], None]


def report_progress(progress: ProgressCallback | None, stage: str, fraction: float | None, message: str) -> None:
    """Send one ``Progress`` to ``progress`` (nothing when no callback is given)."""
    if progress is not None:
        progress(Progress(stage, fraction, message))


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise Cancelled once ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def format_seconds(seconds: float) -> str:
    """``m:ss``, e.g. 75.4 -> "1:15"."""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


# ---------------------------------------------------------------------------------------------------------
# Targets and error messages
# ---------------------------------------------------------------------------------------------------------
class FetchError(Exception):
    """A URL could not be turned into a local audio file; the message is one line for the user."""


def looks_like_url(text: str) -> bool:
    """True if ``text`` has a URL scheme (``xyz://``) or is a ``ytsearch`` query: it is not a local path."""
    text = text.strip()
    if text.lower().startswith("ytsearch"):
        return True
    scheme = urllib.parse.urlsplit(text).scheme
    return len(scheme) > 1 and "://" in text  # one letter would be a Windows drive such as C:


def looks_like_path(text: str) -> bool:
    """True if ``text`` is meant as a local file, even one that does not exist: it starts like a path (``/``,
    ``~``, ``./``, ``../``, ``C:\\``), ends in an audio extension, or names a file in an existing folder.

    Search words stay search words, slashes included ("AC/DC back in black").
    """
    text = text.strip()
    if not text or looks_like_url(text):
        return False
    if text.startswith(("/", "~", "./", "../", "\\", ".\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return True
    path = Path(text).expanduser()
    if path.suffix.lower() in functions_audio.AUDIO_EXTENSIONS:
        return True
    return len(path.parts) > 1 and path.parent.is_dir()


def search_target(words: str) -> str:
    """The yt-dlp target for "the first YouTube search result for these words"."""
    words = " ".join(words.split())
    if not words:
        raise FetchError("empty search: give some words, e.g. --search \"artist title\"")
    return SEARCH_PREFIX + words


def validate_fetch_target(target: str) -> str:
    """Return the target if it is an http(s) URL or a ``ytsearch1:`` query; raise FetchError otherwise."""
    target = target.strip()
    if target.startswith(SEARCH_PREFIX):
        if not target[len(SEARCH_PREFIX):].strip():
            raise FetchError("empty search: give some words to search for")
        return target
    parts = urllib.parse.urlsplit(target)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_URL_SCHEMES:
        shown = f"{scheme}://" if scheme else "no scheme"
        raise FetchError(
            f"refused URL {target!r}: only http:// and https:// links are accepted ({shown}); "
            "give local files as plain paths"
        )
    if not parts.hostname:
        raise FetchError(f"refused URL {target!r}: no host name")
    return target


def describe_download_error(message: str, target: str) -> str:
    """Turn a yt-dlp error message into one clear line naming what went wrong."""
    text = " ".join(str(message).split())
    if text.startswith("ERROR: "):
        text = text[len("ERROR: "):]
    low = text.lower()
    where = target if len(target) <= 100 else target[:97] + "..."
    if target.startswith(SEARCH_PREFIX):
        where = f'the YouTube search "{target[len(SEARCH_PREFIX):]}"'
    if "http error 404" in low or "404: not found" in low:
        return f"not found (HTTP 404): {where}"
    if "http error 403" in low:
        return f"access refused by the server (HTTP 403): {where}"
    if "http error" in low:
        code = low.split("http error", 1)[1].strip().split(":")[0]
        return f"the server answered with an error (HTTP {code}): {where}"
    if "unsupported url" in low:
        return f"not a media page: no audio or video found at {where}"
    if "requested format is not available" in low or "no video formats found" in low:
        return f"no audio stream found at {where}"
    if "private video" in low or "video is private" in low:
        return f"private video, cannot be fetched: {where}"
    if any(s in low for s in ("video unavailable", "has been removed", "no longer available",
                              "video is not available", "account associated with this video has been terminated")):
        return f"video unavailable (removed or blocked): {where}"
    if "sign in to confirm" in low or "members-only" in low or "age-restricted" in low:
        return f"video needs a signed-in account (age or membership restricted): {where}"
    if any(s in low for s in ("timed out", "timeout")):
        return f"time-out while fetching {where}"
    if any(s in low for s in ("name or service not known", "temporary failure in name resolution",
                              "nodename nor servname", "network is unreachable", "no route to host",
                              "connection refused", "getaddrinfo failed", "failed to resolve",
                              "connection reset", "remote end closed connection")):
        return f"no network connection (cannot reach the server): {where}"
    if "unable to obtain file audio codec" in low:
        return f"ffmpeg found no decodable audio in the file downloaded from {where}"
    if "ffmpeg" in low or "postprocessing" in low or "conversion failed" in low:
        return f"ffmpeg could not convert the audio of {where}: {text[:160]}"
    if "playlist" in low and "no entries" in low:
        return f"no result for {where}"
    return f"download failed for {where}: {text[:200]}"


# ---------------------------------------------------------------------------------------------------------
# Downloading: yt-dlp in a helper process that this process supervises
# ---------------------------------------------------------------------------------------------------------
WATCH_INTERVAL_S = 0.05  # how often the supervisor measures the download folder and the clock
WAV_BYTES_PER_S = functions_audio.SAMPLE_RATE * 2  # the converted file: 16-bit mono PCM at SAMPLE_RATE
CONVERT_MARGIN_S = 1.0  # ffmpeg converts at most max_duration_s + this: longer is "too long"
LIVE_STATUSES = ("is_live", "is_upcoming")


@dataclass(frozen=True)
class FetchedAudio:
    """A downloaded and converted audio file inside a private temporary folder."""

    path: Path
    title: str
    duration_s: float | None
    webpage_url: str


@dataclass(frozen=True)
class _Caps:
    """The limits of one download: media duration, bytes, and wall time from the start."""

    max_duration_s: float
    max_bytes: int
    deadline_s: float

    def folder_limit(self, converting: bool) -> int:
        """Bytes the temporary folder may hold: the download, plus the converted WAV once ffmpeg converts."""
        if not converting:
            return self.max_bytes
        return self.max_bytes + int((self.max_duration_s + CONVERT_MARGIN_S) * WAV_BYTES_PER_S) + 65536


@contextlib.contextmanager
def fetched_audio(
    target: str,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
    deadline_s: float = DEFAULT_FETCH_DEADLINE_S,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    temp_root: str | os.PathLike[str] | None = None,
) -> Iterator[FetchedAudio]:
    """Download the best audio of ``target`` with yt-dlp and convert it to a 22.05 kHz mono WAV.

    yt-dlp and its ffmpeg run in a helper process group of their own, watched from here: the size cap, the
    deadline and Cancel kill the whole group at once, whatever yt-dlp's downloader reports. Yields a
    ``FetchedAudio`` whose file lives in a private temporary folder; the folder is removed when the ``with``
    block ends, also on errors, cancellation and Ctrl-C. Raises FetchError (one line) or Cancelled.
    """
    target = validate_fetch_target(target)
    work_dir = Path(tempfile.mkdtemp(prefix="genre-fetch-", dir=temp_root))  # mode 0700
    try:
        request = {"target": target, "work_dir": str(work_dir), "max_duration_s": max_duration_s,
                   "max_bytes": max_bytes, "socket_timeout_s": socket_timeout_s, "parent_pid": os.getpid()}
        done = _supervise(request, _Caps(max_duration_s, max_bytes, deadline_s), progress, cancel)
        yield FetchedAudio(path=work_dir / done["file"], title=done["title"], duration_s=done["duration_s"],
                           webpage_url=done["webpage_url"])
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _supervise(request: dict[str, Any], caps: _Caps, progress: ProgressCallback | None,
               cancel: threading.Event | None) -> dict[str, Any]:
    """Run the helper process for ``request``, relay its progress and enforce the caps; return its result."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), json.dumps(request)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=errors, start_new_session=True, env={**os.environ, "YTDLP_NO_PLUGINS": "1"})
        messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=_read_messages, args=(process.stdout, messages), daemon=True,
                         name="fetch-messages").start()
        try:
            outcome = _watch(messages, Path(request["work_dir"]), request["target"], caps, progress, cancel)
        finally:
            _end_process_group(process)
        if outcome is None:  # the helper died without a word (killed, crashed): its last line says why
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            raise FetchError(f"the download stopped unexpectedly for {request['target']}"
                             + (f": {lines[-1][:200]}" if lines else f" (exit code {process.returncode})"))
    if "error" in outcome:
        raise FetchError(outcome["error"])
    return outcome["done"]


def _watch(messages: queue.Queue[dict[str, Any] | None], work_dir: Path, target: str, caps: _Caps,
           progress: ProgressCallback | None, cancel: threading.Event | None) -> dict[str, Any] | None:
    """Relay the helper's messages until it ends, measuring the folder and the clock every WATCH_INTERVAL_S."""
    started = time.monotonic()
    converting = False
    outcome: dict[str, Any] | None = None
    while True:
        try:
            message = messages.get(timeout=WATCH_INTERVAL_S)
        except queue.Empty:
            message = {}
        if message is None:  # the helper closed its output: it has ended
            return outcome
        if "progress" in message:
            stage, fraction, text = message["progress"]
            converting = converting or stage == "convert"
            report_progress(progress, stage, fraction, text)
        elif message:
            outcome, converting = message, True
        check_cancel(cancel)
        if time.monotonic() - started > caps.deadline_s:
            raise FetchError(f"time-out: the download took longer than {caps.deadline_s:.0f} s, stopped ({target})")
        size = _folder_bytes(work_dir)
        if size > caps.folder_limit(converting):
            raise FetchError(f"too large: {_format_bytes(size)} written, over the cap of "
                             f"{_format_bytes(caps.max_bytes)}: download stopped ({target})")


def _read_messages(stream: Any, messages: queue.Queue[dict[str, Any] | None]) -> None:
    """The reader thread: one JSON message per line of the helper's output, then None at its end."""
    with contextlib.suppress(ValueError, OSError):
        for line in stream:
            with contextlib.suppress(ValueError):
                messages.put(json.loads(line))
    messages.put(None)


def _end_process_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the helper and everything it started (yt-dlp's ffmpeg) at once, then reap it."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its own group (start_new_session); not reaped yet
    else:
        process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _folder_bytes(folder: Path) -> int:
    """Bytes of all files below ``folder`` (files that vanish while counting count as 0)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


# ---------------------------------------------------------------------------------------------------------
# The helper process: ``python functions_fetch.py REQUEST_JSON`` (started by ``_supervise`` only)
# ---------------------------------------------------------------------------------------------------------
def _helper_main(request_json: str) -> None:
    """Look up, check, download and convert one target; every message is one JSON line on the real stdout."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else prints goes to stderr, never into the messages
    request = json.loads(request_json)
    work_dir = Path(request["work_dir"])

    def orphaned() -> None:  # the supervisor died without cleaning up: remove the files, end ffmpeg too
        shutil.rmtree(work_dir, ignore_errors=True)
        os.killpg(0, signal.SIGKILL)

    def send(message: dict[str, Any]) -> None:
        try:
            channel.write(json.dumps(message) + "\n")
            channel.flush()
        except OSError:  # nobody reads any more: the supervisor is gone
            orphaned()

    from functions_parallel import exit_with_parent

    exit_with_parent(request["parent_pid"], poll_seconds=0.5, before_exit=orphaned)
    try:
        send({"done": _download(request, lambda p: send({"progress": [p.stage, p.fraction, p.message]}))})
    except FetchError as exc:
        send({"error": str(exc)})
    channel.close()


class _QuietLogger:
    """yt-dlp logger that prints nothing and remembers the last error."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        self.errors.append(str(msg))


class _DownloadAborted(Exception):
    """Raised inside a yt-dlp progress hook to stop a download that announces a size over the cap."""


class _ProgressHooks:
    """yt-dlp's progress and post-processor hooks: report progress (at most every 0.1 s), refuse a size over the cap.

    The hooks run only when yt-dlp's downloader reports (its ffmpeg downloader does so at the end): the caps that
    must hold are enforced by the supervising process, not here.
    """

    def __init__(self, max_bytes: int, progress: ProgressCallback) -> None:
        self.max_bytes = max_bytes
        self.progress = progress
        self.last_report = 0.0

    def on_download(self, status: dict[str, Any]) -> None:
        if status.get("status") != "downloading":
            return
        done = status.get("downloaded_bytes") or 0
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if (total and total > self.max_bytes) or done > self.max_bytes:
            raise _DownloadAborted(f"too large: {_format_bytes(max(done, total or 0))} > the cap of "
                                   f"{_format_bytes(self.max_bytes)}, download aborted")
        now = time.monotonic()
        if now - self.last_report < 0.1 and not (total and done >= total):
            return
        self.last_report = now
        speed = status.get("speed")
        speed_text = f" at {_format_bytes(speed)}/s" if speed else ""
        if total:
            fraction = min(1.0, done / total)
            report_progress(self.progress, "download", fraction, f"downloading {fraction * 100:.0f} %{speed_text}")
        else:
            report_progress(self.progress, "download", None, f"downloading {_format_bytes(done)}{speed_text}")

    def on_postprocess(self, status: dict[str, Any]) -> None:
        if status.get("status") == "started" and status.get("postprocessor") == "ExtractAudio":
            report_progress(self.progress, "convert", None, "converting the audio with ffmpeg")


def _ydl_options(work_dir: Path, logger: _QuietLogger, hooks: _ProgressHooks, socket_timeout_s: float,
                 max_duration_s: float) -> dict[str, Any]:
    """yt-dlp options: first entry only, quiet, no cache, best audio converted to the training format.

    ffmpeg converts at most ``max_duration_s`` + CONVERT_MARGIN_S seconds, so a long file whose length was not
    announced never fills the disk with its whole conversion.
    """
    convert_args = ["-ar", str(functions_audio.SAMPLE_RATE), "-ac", "1", "-rematrix_maxval", "1",  # the mean
                    "-t", f"{max_duration_s + CONVERT_MARGIN_S:.3f}"]
    return {
        "format": "bestaudio/best",
        "outtmpl": {"default": str(work_dir / "download.%(ext)s")},
        "paths": {"home": str(work_dir), "temp": str(work_dir)},
        "noplaylist": True,
        "playlist_items": "1",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "cachedir": False,
        "socket_timeout": socket_timeout_s,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 0,
        "overwrites": True,
        "updatetime": False,
        "ffmpeg_location": functions_audio.ffmpeg_exe(),
        "postprocessors": [{"key": "FFmpegExtractAudio", "preferredcodec": "wav"}],
        # straight to the training format, so loading needs no resampling
        "postprocessor_args": {"extractaudio+ffmpeg_o": convert_args},
        "progress_hooks": [hooks.on_download],
        "postprocessor_hooks": [hooks.on_postprocess],
    }


def _without_plugins() -> None:
    """yt-dlp runs only its own code: no plugins from ~/.config/yt-dlp/plugins or other user folders."""
    os.environ["YTDLP_NO_PLUGINS"] = "1"
    with contextlib.suppress(ImportError, AttributeError):
        from yt_dlp.globals import plugin_dirs

        plugin_dirs.value = []


def _pick_entry(info: dict[str, Any], target: str) -> dict[str, Any]:
    """A search or playlist result holds entries: take the first one."""
    while info.get("_type") in ("playlist", "multi_video"):
        entries = [e for e in (info.get("entries") or []) if e]
        if not entries:
            raise FetchError(f"no search result or media entry for {target}")
        info = entries[0]
    return info


def _check_caps(info: dict[str, Any], target: str, max_duration_s: float, max_bytes: int) -> None:
    """Refuse, before downloading, a live stream and media whose announced duration or size exceeds the caps."""
    if info.get("is_live") or info.get("live_status") in LIVE_STATUSES:
        raise FetchError(f"live stream: a broadcast without an end cannot be classified ({target})")
    duration = info.get("duration")
    if duration and duration > max_duration_s:
        raise FetchError(
            f"too long: {format_seconds(duration)} > the --max-duration of "
            f"{format_seconds(max_duration_s)} for {target}"
        )
    size = info.get("filesize") or info.get("filesize_approx")
    if not size and info.get("requested_formats"):
        sizes = [f.get("filesize") or f.get("filesize_approx") for f in info["requested_formats"]]
        size = sum(s for s in sizes if s) or None
    if size and size > max_bytes:
        raise FetchError(f"too large: {_format_bytes(size)} > the cap of {_format_bytes(max_bytes)} for {target}")


def _download(request: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """Look the target up, check the caps, download and convert it; every failure becomes one FetchError line."""
    _without_plugins()
    import yt_dlp  # ~0.4 s: only paid when a URL is classified

    target, work_dir = request["target"], Path(request["work_dir"])
    logger = _QuietLogger()
    options = _ydl_options(work_dir, logger, _ProgressHooks(request["max_bytes"], progress),
                           request["socket_timeout_s"], request["max_duration_s"])
    report_progress(progress, "download", None, "looking up " + target)
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(target, download=False)
            if info is None:
                raise FetchError(describe_download_error(logger.errors[-1] if logger.errors else "", target))
            info = _pick_entry(info, target)
            _check_caps(info, target, request["max_duration_s"], request["max_bytes"])
            info = ydl.process_ie_result(info, download=True)
    except FetchError:
        raise
    except _DownloadAborted as exc:
        raise FetchError(f"{exc} ({target})") from None
    except yt_dlp.utils.YoutubeDLError as exc:
        raise FetchError(describe_download_error(str(exc), target)) from None
    except OSError as exc:
        raise FetchError(describe_download_error(str(exc), target)) from None
    return _converted_file(work_dir, info, target, logger, request["max_duration_s"])


def _converted_file(work_dir: Path, info: dict[str, Any], target: str, logger: _QuietLogger,
                    max_duration_s: float) -> dict[str, Any]:
    """The WAV ffmpeg wrote, checked against the duration cap (the announced duration can be missing)."""
    wavs = sorted(work_dir.glob("*.wav"))
    if not wavs:
        produced = sorted(p.name for p in work_dir.iterdir())
        detail = logger.errors[-1] if logger.errors else f"no audio file produced (found {produced})"
        raise FetchError(describe_download_error(detail, target))
    duration = functions_audio.audio_duration(wavs[0])
    if duration > max_duration_s:  # ffmpeg stopped converting just past the cap
        raise FetchError(f"too long: more than the --max-duration of {format_seconds(max_duration_s)} for {target}")
    title = info.get("title") or info.get("id") or target
    return {"file": wavs[0].name, "title": str(title), "duration_s": float(duration),
            "webpage_url": str(info.get("webpage_url") or target)}


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: python functions_fetch.py REQUEST_JSON\n\nThe download helper process that 03 and 04 start for "
              "a URL (one JSON request in, one JSON message per line out). Not a command for people: use "
              "03_launch_classifier.py URL.")
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    _helper_main(sys.argv[1])
