"""Fetching audio from URLs through the real yt-dlp path, against a loopback HTTP server (no network)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers_classify import (
    PROJECT_DIR,
    LoopbackServer,
    PeakSize,
    Route,
    add_live_hls,
    encode,
    ffmpeg_to_training_wav,
    free_port_refusing_connections,
    processes_mentioning,
    run_classifier,
    script_env,
    synthetic_song,
    write_wav,
)

import functions_analysis as fa
import functions_audio
import functions_fetch as ff


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 40-s synthetic song as WAV and encoded to MP3, M4A (AAC) and OGG (Vorbis) by the ffmpeg binary."""
    folder = tmp_path_factory.mktemp("media")
    wav = write_wav(folder / "song.wav", synthetic_song([("metal", 20), ("reggae", 20)], seed=3))
    return {
        "wav": wav,
        "mp3": encode(wav, folder / "song.mp3", "-c:a", "libmp3lame", "-b:a", "128k"),
        "m4a": encode(wav, folder / "song.m4a", "-c:a", "aac", "-b:a", "128k"),
        "ogg": encode(wav, folder / "song.ogg", "-c:a", "libvorbis", "-q:a", "4"),
        "short": write_wav(folder / "short.wav", synthetic_song([("blues", 8)], seed=4)),
    }


CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg"}


@pytest.fixture()
def server(media: dict[str, Path]):
    server = LoopbackServer()
    for kind, content_type in CONTENT_TYPES.items():
        server.add_file(f"/song.{kind}", media[kind], content_type)
    server.add_file("/short.wav", media["short"], "audio/wav")
    server.routes["/page.html"] = Route(b"<html><head><title>Hello</title></head><body>No media here.</body></html>",
                                        "text/html")
    server.routes["/broken.mp3"] = Route(bytes(range(256)) * 200, "audio/mpeg")
    yield server
    server.close()


def collect_progress() -> tuple[list[ff.Progress], ff.ProgressCallback]:
    reports: list[ff.Progress] = []
    return reports, reports.append


# --- classification through yt-dlp ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mp3", "m4a", "ogg"])
def test_url_is_downloaded_converted_and_classified_like_the_same_audio_on_disk(kind, model_dir, media, server,
                                                                                tmp_path):
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    run = run_classifier(server.url(f"/song.{kind}"), "--model", model_dir, "--json", tmp_dir=temp_root)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["error"] is None and record["title"] == "song"
    assert record["duration_s"] == pytest.approx(40.0, abs=0.1)
    # reference: the same file converted by the same ffmpeg to 22.05 kHz mono, classified from disk
    reference = fa.SongAnalyser.from_model_dir(model_dir).analyse_file(
        ffmpeg_to_training_wav(media[kind], tmp_path / "reference.wav"))
    assert record["genre"] == reference.genre
    assert record["probabilities"] == pytest.approx(reference.probabilities, abs=1e-6)
    assert [w["start_s"] for w in record["windows"]] == pytest.approx([w.start_s for w in reference.windows])
    assert list(temp_root.iterdir()) == []  # the private download folder is gone


def test_progress_reports_percent_and_conversion(server, tmp_path):
    reports, callback = collect_progress()
    with ff.fetched_audio(server.url("/song.wav"), progress=callback, temp_root=tmp_path) as fetched:
        folder = fetched.path.parent
        assert fetched.path.suffix == ".wav" and folder.parent == tmp_path
        assert oct(folder.stat().st_mode & 0o777) == "0o700"  # private
        import soundfile

        info = soundfile.info(str(fetched.path))
        assert (info.samplerate, info.channels) == (22050, 1)  # converted straight to the training format
    assert not folder.exists()
    fractions = [r.fraction for r in reports if r.stage == "download" and r.fraction is not None]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(r.message.startswith("downloading") and "%" in r.message for r in reports)
    assert any(r.stage == "convert" for r in reports)


# --- refusals and errors: one clear line each, no temporary files left -------------------------------------
@pytest.mark.parametrize("target, message", [
    ("file:///etc/passwd", "only http:// and https://"),
    ("ftp://127.0.0.1/song.mp3", "only http:// and https://"),
    ("javascript:alert(1)", "only http:// and https://"),
    ("http:///song.mp3", "no host name"),
])
def test_other_schemes_are_refused(target, message, tmp_path):
    with pytest.raises(ff.FetchError, match=message):
        with ff.fetched_audio(target, temp_root=tmp_path):
            pass
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_file_url_and_goes_on_with_the_next_input(model_dir, media, tmp_path):
    run = run_classifier(f"file://{media['short']}", media["short"], "--model", model_dir, "--json")
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 0, run.stderr
    assert "only http:// and https://" in records[0]["error"] and records[1]["error"] is None


@pytest.mark.parametrize("path, options, message", [
    ("/missing.mp3", {}, "not found (HTTP 404)"),
    ("/page.html", {}, "not a media page"),
    ("/broken.mp3", {}, "ffmpeg found no decodable audio"),
    ("/song.wav", {"max_duration_s": 30.0}, "too long: more than the --max-duration of 0:30"),
    ("/song.wav", {"max_bytes": 100_000}, "too large"),
])
def test_errors_are_one_clear_line_and_leave_no_files(server, tmp_path, path, options, message):
    reports, callback = collect_progress()
    with pytest.raises(ff.FetchError) as caught:
        with ff.fetched_audio(server.url(path), progress=callback, temp_root=tmp_path, **options):
            pytest.fail("no audio expected")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    if options.get("max_bytes"):  # aborted early: the size is known from the first progress report
        assert all((r.fraction or 0) < 0.5 for r in reports)


def test_no_network_and_time_out(server, tmp_path):
    port = free_port_refusing_connections()
    with pytest.raises(ff.FetchError, match="no network connection"):
        with ff.fetched_audio(f"http://127.0.0.1:{port}/song.mp3", temp_root=tmp_path):
            pass
    server.routes["/hang.mp3"] = Route(hang=True)
    started = time.monotonic()
    with pytest.raises(ff.FetchError, match="time-out"):
        with ff.fetched_audio(server.url("/hang.mp3"), socket_timeout_s=1.0, temp_root=tmp_path):
            pass
    assert time.monotonic() - started < 15
    assert list(tmp_path.iterdir()) == []


def test_media_longer_than_the_cap_is_refused_before_download_when_the_page_says_so(server, tmp_path):
    """A page whose schema.org metadata announces 25 minutes: yt-dlp knows, nothing is downloaded."""
    page = {"@context": "https://schema.org", "@type": "AudioObject", "name": "A very long mix",
            "contentUrl": server.url("/song.wav"), "duration": "PT25M"}
    html = f'<html><head><script type="application/ld+json">{json.dumps(page)}</script></head></html>'
    server.routes["/mix.html"] = Route(html.encode(), "text/html")
    reports, callback = collect_progress()
    with pytest.raises(ff.FetchError, match="too long: 25:00 > the --max-duration of 20:00"):
        with ff.fetched_audio(server.url("/mix.html"), progress=callback, temp_root=tmp_path):
            pass
    assert not any(r.stage == "download" and r.fraction is not None for r in reports)
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_the_download_and_removes_the_files(server, media, tmp_path):
    server.add_file("/slow.wav", media["wav"], "audio/wav", chunk_delay_s=0.05)
    cancel = threading.Event()
    reports: list[ff.Progress] = []

    def on_progress(report: ff.Progress) -> None:
        reports.append(report)
        if report.fraction is not None and report.fraction > 0.05:
            cancel.set()

    with pytest.raises(ff.Cancelled):
        with ff.fetched_audio(server.url("/slow.wav"), progress=on_progress, cancel=cancel, temp_root=tmp_path):
            pass
    assert max(r.fraction or 0 for r in reports) < 0.5
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_a_download_removes_the_temporary_folder(model_dir, media, server, tmp_path):
    server.add_file("/slow.wav", media["wav"], "audio/wav", chunk_delay_s=0.05)
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "03_launch_classifier.py"), server.url("/slow.wav"), "--model",
         str(model_dir)], cwd=PROJECT_DIR, env=script_env(temp_root), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(temp_root.glob("genre-fetch-*/*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(temp_root.glob("genre-fetch-*/*")), "the download never started"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Traceback" not in err
    assert list(temp_root.iterdir()) == []


def test_search_words_become_a_first_youtube_result_query():
    assert ff.search_target("  Miles   Davis  So What ") == "ytsearch1:Miles Davis So What"
    assert ff.validate_fetch_target("ytsearch1:Miles Davis") == "ytsearch1:Miles Davis"
    with pytest.raises(ff.FetchError, match="empty search"):
        ff.search_target("   ")
    assert ff.looks_like_url("https://youtu.be/x") and ff.looks_like_url("ytsearch1:x")
    assert not ff.looks_like_url("C:/music/song.mp3") and not ff.looks_like_url("music/song.mp3")


@pytest.mark.parametrize("message, expected", [
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", "private video"),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "video unavailable"),
    ("ERROR: [youtube] abc: Requested format is not available", "no audio stream"),
    ("ERROR: Unable to download webpage: <urlopen error [Errno -3] Temporary failure in name resolution>",
     "no network connection"),
    ("ERROR: Postprocessing: audio conversion failed: Invalid data", "ffmpeg could not convert"),
])
def test_youtube_error_messages_become_one_clear_line(message, expected):
    """yt-dlp's wording for cases a loopback server cannot produce (YouTube-only states, DNS failure)."""
    text = ff.describe_download_error(message, "https://www.youtube.com/watch?v=abc")
    assert text.startswith(expected) and "\n" not in text and "youtube.com/watch?v=abc" in text


def test_downloaded_audio_equals_ffmpeg_decoding_of_the_source(server, media, tmp_path):
    """The yt-dlp path neither resamples nor alters the audio beyond the ffmpeg conversion to 22.05 kHz mono."""
    with ff.fetched_audio(server.url("/song.ogg"), temp_root=tmp_path) as fetched:
        fetched_samples = functions_audio.load_audio(fetched.path, max_seconds=None)
    reference = functions_audio.load_audio(ffmpeg_to_training_wav(media["ogg"], tmp_path / "ref.wav"),
                                           max_seconds=None)
    np.testing.assert_array_equal(fetched_samples, reference)


# --- faults real users met (issue 12): caps the project enforces itself -------------------------------------
@pytest.fixture(scope="module")
def live_segment(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-s MPEG-TS segment (AAC) for a never-ending HLS playlist."""
    folder = tmp_path_factory.mktemp("hls")
    return encode(media["wav"], folder / "segment.ts", "-t", "2", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts")


@pytest.fixture(scope="module")
def hour_mp3(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An hour of audio as a small MP3 (8 kbit/s mono, 3.6 MB): the 40-s song encoded once, its frames looped."""
    folder = tmp_path_factory.mktemp("hour")
    short = encode(media["wav"], folder / "short.mp3", "-ac", "1", "-b:a", "8k")
    subprocess.run([functions_audio.ffmpeg_exe(), "-nostdin", "-y", "-v", "error", "-stream_loop", "89", "-i",
                    str(short), "-c", "copy", str(folder / "hour.mp3")], check=True, timeout=60)
    return folder / "hour.mp3"


def test_a_live_stream_is_refused_before_anything_is_downloaded(model_dir, server, live_segment, tmp_path):
    """A never-ending HLS playlist with a 200 KB cap used to fill the temporary folder until Ctrl-C."""
    url = add_live_hls(server, "/live/index.m3u8", live_segment, segment_s=2.0)
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    started = time.monotonic()
    with PeakSize(temp_root) as peak:
        run = run_classifier(url, "--model", model_dir, "--json", "--max-size", "0.2", tmp_dir=temp_root, timeout=60)
    record = json.loads(run.stdout)
    assert run.returncode == 1 and record["error"].startswith("live stream: ") and url in record["error"]
    assert time.monotonic() - started < 30
    assert peak.peak == 0 and not any("segment.ts" in request for request in server.requests)
    assert list(temp_root.iterdir()) == []


def test_the_deadline_holds_while_the_downloader_reports_nothing(server, media, tmp_path):
    """A download that stalls (no progress report from yt-dlp) stops at the deadline, not at the socket time-out."""
    server.routes["/stalled.wav"] = Route(media["wav"].read_bytes(), "audio/wav", stall_after=100_000)
    started = time.monotonic()
    with pytest.raises(ff.FetchError) as caught:
        with ff.fetched_audio(server.url("/stalled.wav"), deadline_s=3.0, socket_timeout_s=60.0, temp_root=tmp_path):
            pytest.fail("no audio expected")
    assert time.monotonic() - started < 6.0
    assert str(caught.value).startswith("time-out: the download took longer than 3 s, stopped")
    assert list(tmp_path.iterdir()) == [] and processes_mentioning(str(tmp_path)) == []


def test_an_endless_radio_stream_stops_at_the_size_cap(server, media, tmp_path):
    server.routes["/radio.mp3"] = Route(media["mp3"].read_bytes(), "audio/mpeg", repeat_forever=True)
    with PeakSize(tmp_path) as peak, pytest.raises(ff.FetchError, match="too large"):
        with ff.fetched_audio(server.url("/radio.mp3"), max_bytes=200 * 1024, temp_root=tmp_path):
            pytest.fail("no audio expected")
    assert peak.peak <= 2 * 200 * 1024
    assert list(tmp_path.iterdir()) == [] and processes_mentioning(str(tmp_path)) == []


def test_a_long_direct_link_is_converted_only_up_to_the_duration_cap(server, hour_mp3, tmp_path):
    """A direct link says nothing about its length: ffmpeg stops converting just past --max-duration."""
    server.add_file("/hour.mp3", hour_mp3, "audio/mpeg")
    with PeakSize(tmp_path) as peak, pytest.raises(ff.FetchError) as caught:
        with ff.fetched_audio(server.url("/hour.mp3"), max_duration_s=60.0, temp_root=tmp_path):
            pytest.fail("no audio expected")
    converted_cap = (60 + 1) * functions_audio.SAMPLE_RATE * 2  # 16-bit mono WAV
    assert peak.peak <= hour_mp3.stat().st_size + converted_cap + 65536  # the whole hour would be 159 MB
    assert str(caught.value).startswith("too long: more than the --max-duration of 1:00")
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_the_conversion_at_once(server, hour_mp3, tmp_path):
    server.add_file("/hour.mp3", hour_mp3, "audio/mpeg")
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def on_progress(report: ff.Progress) -> None:
        if report.stage == "convert" and not cancel.is_set():
            cancel.set()
            cancelled_at.append(time.monotonic())

    with pytest.raises(ff.Cancelled):
        with ff.fetched_audio(server.url("/hour.mp3"), max_duration_s=7200.0, progress=on_progress, cancel=cancel,
                              temp_root=tmp_path):
            pytest.fail("cancelled: no audio expected")
    assert time.monotonic() - cancelled_at[0] < 1.0  # converting the hour takes several seconds
    assert list(tmp_path.iterdir()) == [] and processes_mentioning(str(tmp_path)) == []


def test_no_yt_dlp_plugin_is_loaded_from_the_users_home(model_dir, server, tmp_path, monkeypatch):
    home = tmp_path / "home"
    plugin = home / ".config" / "yt-dlp" / "plugins" / "spy" / "yt_dlp_plugins" / "extractor" / "spy.py"
    plugin.parent.mkdir(parents=True)
    marker = tmp_path / "plugin-code-ran"
    plugin.write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    run = run_classifier(server.url("/short.wav"), "--model", model_dir, "--json")
    assert run.returncode == 0 and json.loads(run.stdout)["error"] is None, run.stdout + run.stderr
    assert not marker.exists()


def test_a_killed_caller_leaves_no_download_behind(server, media, tmp_path):
    """SIGKILL leaves the caller no chance to clean up: the helper notices, removes the folder and ends its group."""
    server.add_file("/slow.wav", media["wav"], "audio/wav", chunk_delay_s=0.05)
    code = (f"import functions_fetch as ff\nwith ff.fetched_audio({server.url('/slow.wav')!r}, "
            f"temp_root={str(tmp_path)!r}):\n    pass\n")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_DIR, env=script_env())
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("genre-fetch-*/*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob("genre-fetch-*/*")), "the download never started"
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 5
    while (list(tmp_path.iterdir()) or processes_mentioning(str(tmp_path))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(str(tmp_path)) == []
    assert list(tmp_path.rglob('*')) == []
