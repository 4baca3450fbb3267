"""Measurements for issue 12 ("faults real users meet"), each on real processes, real files and a loopback server.

(a) a never-ending HLS stream on 127.0.0.1 with a 200 KB cap and a 5-s deadline: seconds until it is refused,
    largest size of the temporary folder, segments requested;
(b) a download that stalls after 100 KB (yt-dlp reports nothing), deadline 5 s: seconds until it is stopped;
(c) an endless internet-radio stream with a 200 KB cap: largest size of the temporary folder;
(d) a 3-hour MP3 (8 kbit/s, 10.8 MB) as a direct link with the default 20-minute cap: largest size of the
    temporary folder and seconds until "too long"; then Cancel during its conversion (no cap): seconds from
    Cancel to the end, and whether any process of the download is left;
(e) a 3-hour M4A (no frame count in its header) classified by 03_launch_classifier.py: wall time and peak
    memory (RSS of the process tree, from wait4).

    python bench/bench_faults.py [--model DIR] [--skip-m4a]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_common import PROJECT_DIR, tests_on_path  # first: it puts the project on the import path

tests_on_path()
from helpers_classify import (  # noqa: E402
    LoopbackServer,
    PeakSize,
    Route,
    add_live_hls,
    encode,
    processes_mentioning,
    synthetic_song,
    write_wav,
)

import functions_audio as audio  # noqa: E402
import functions_fetch as ff  # noqa: E402

MB = 1024 * 1024


def looped(source: Path, target: Path, copies: int) -> Path:
    """``copies`` times ``source`` one after the other, without re-encoding (ffmpeg -stream_loop, -c copy)."""
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-y", "-v", "error", "-stream_loop", str(copies - 1), "-i",
                    str(source), "-c", "copy", str(target)], check=True, timeout=600)
    return target


def fetch_measured(url: str, temp_root: Path, **options: object) -> tuple[str, float, int]:
    """(outcome, seconds, largest folder size in bytes) of fetching ``url``."""
    started = time.monotonic()
    with PeakSize(temp_root) as peak:
        try:
            with ff.fetched_audio(url, temp_root=temp_root, **options) as fetched:  # type: ignore[arg-type]
                outcome = f"fetched {fetched.duration_s:.0f} s"
        except (ff.FetchError, ff.Cancelled) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
    return outcome, time.monotonic() - started, peak.peak


def streams(server: LoopbackServer, work: Path) -> None:
    song = write_wav(work / "song.wav", synthetic_song([("metal", 20), ("reggae", 20)], seed=3))
    segment = encode(song, work / "segment.ts", "-t", "2", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts")
    url = add_live_hls(server, "/live/index.m3u8", segment, segment_s=2.0)
    outcome, seconds, peak = fetch_measured(url, work / "tmp_a", max_bytes=200 * 1024, deadline_s=5.0)
    segments = sum("segment.ts" in request for request in server.requests)
    print(f"(a) live HLS, cap 200 KB, deadline 5 s: {outcome[:60]}... after {seconds:.2f} s, folder peak "
          f"{peak} B, {segments} segments requested")
    server.routes["/stalled.wav"] = Route(song.read_bytes(), "audio/wav", stall_after=100_000)
    outcome, seconds, peak = fetch_measured(server.url("/stalled.wav"), work / "tmp_b", deadline_s=5.0,
                                            socket_timeout_s=60.0)
    print(f"(b) stalled download, deadline 5 s: {outcome[:60]}... after {seconds:.2f} s, folder peak "
          f"{peak / 1024:.0f} KB")
    mp3 = encode(song, work / "song.mp3", "-b:a", "128k")
    server.routes["/radio.mp3"] = Route(mp3.read_bytes(), "audio/mpeg", repeat_forever=True)
    outcome, seconds, peak = fetch_measured(server.url("/radio.mp3"), work / "tmp_c", max_bytes=200 * 1024)
    print(f"(c) endless radio stream, cap 200 KB: {outcome[:40]}... after {seconds:.2f} s, folder peak "
          f"{peak / 1024:.0f} KB")


def three_hour_mp3(server: LoopbackServer, work: Path) -> None:
    clip = encode(write_wav(work / "clip.wav", synthetic_song([("blues", 30)], seed=1)), work / "clip.mp3",
                  "-ac", "1", "-b:a", "8k")
    hours = looped(clip, work / "three-hours.mp3", 360)
    server.add_file("/three-hours.mp3", hours, "audio/mpeg")
    outcome, seconds, peak = fetch_measured(server.url("/three-hours.mp3"), work / "tmp_d")
    print(f"(d) 3-hour MP3 ({hours.stat().st_size / MB:.1f} MB), cap 20 min: {outcome[:70]}... after {seconds:.2f} s,"
          f" folder peak {peak / MB:.1f} MB")
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def press_cancel() -> None:
        cancelled_at.append(time.monotonic())
        cancel.set()

    def on_progress(report: ff.Progress) -> None:
        if report.stage == "convert" and not cancelled_at:
            threading.Timer(1.0, press_cancel).start()

    temp_root = work / "tmp_d2"
    outcome, _, peak = fetch_measured(server.url("/three-hours.mp3"), temp_root, max_duration_s=4 * 3600.0,
                                      progress=on_progress, cancel=cancel)
    after = time.monotonic() - cancelled_at[0] if cancelled_at else float("nan")
    left = processes_mentioning(str(temp_root))
    print(f"    Cancel 1 s into its conversion (no cap): {outcome}, {after:.2f} s after Cancel, folder peak "
          f"{peak / MB:.1f} MB, processes left: {len(left)}, files left: {len(list(temp_root.iterdir()))}")


def three_hour_m4a(work: Path, model: str | None) -> None:
    clip = encode(write_wav(work / "clip.wav", synthetic_song([("reggae", 30)], seed=6)), work / "clip.m4a",
                  "-c:a", "aac", "-b:a", "64k")
    hours = looped(clip, work / "three-hours.m4a", 360)
    command = [sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), str(hours), "--json"]
    command += ["--model", model] if model else []
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    print(f"(e) 3-hour M4A ({hours.stat().st_size / MB:.0f} MB) classified by 03: exit "
          f"{os.waitstatus_to_exitcode(status)}, {time.perf_counter() - started:.1f} s, peak RSS "
          f"{usage.ru_maxrss / 1024:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder for (e) (default: the shipped model)")
    parser.add_argument("--skip-m4a", action="store_true", help="skip (e), the slowest part")
    args = parser.parse_args()
    server = LoopbackServer()
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            for name in ("tmp_a", "tmp_b", "tmp_c", "tmp_d", "tmp_d2"):
                (work / name).mkdir()
            streams(server, work)
            three_hour_mp3(server, work)
            if not args.skip_m4a:
                three_hour_m4a(work, args.model)
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
