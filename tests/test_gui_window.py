"""04_interface.py for real: the tkinter window on an Xvfb display, driven with real key and mouse events.

Needs Debian's ``xvfb`` (the X server) and, for real input events, ``xdotool``; without Xvfb the tests skip
with the reason. Set GENRE_SCREENSHOT=path.png to keep the screenshot of the window showing a result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers_classify import (
    PROJECT_DIR,
    LoopbackServer,
    encode,
    processes_mentioning,
    run_classifier,
    script_env,
    synthetic_song,
    write_wav,
)

import functions_analysis as fa
import functions_interface as fi
import functions_window as fw

tk = pytest.importorskip("tkinter")


# --- an X server of our own ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """Start Xvfb on a free display number; skip (with the reason) where it cannot run."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb): cannot open a window")
    for number in range(91, 160):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        server = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        if server.poll() is None and Path(f"/tmp/.X11-unix/X{number}").exists():
            try:
                yield f":{number}"
            finally:
                server.terminate()
                server.wait(timeout=10)
            return
        if server.poll() is None:
            server.kill()
            server.wait()
    pytest.skip("Xvfb could not start on any display from :91 to :159")


def load_gui_module():
    spec = importlib.util.spec_from_file_location("interface_04", PROJECT_DIR / "04_interface.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Driver:
    """The window under test, with helpers that send real X input events (xdotool) and pump Tk's loop."""

    def __init__(self, display: str, model_dir: Path) -> None:
        self.display = display
        self.gui = load_gui_module()
        self.root = tk.Tk(screenName=display)
        self.root.geometry("+0+0")
        self.window = self.gui.ClassifierWindow(self.root, fi.ClassificationJob(model_dir=str(model_dir)))
        self.max_gap_s = 0.0
        self.pump(0.5)
        self.xdotool = shutil.which("xdotool")

    def pump(self, seconds: float = 0.0, until: Callable[[], bool] | None = None, timeout: float = 120) -> None:
        """Run Tk's event loop for ``seconds``, or until ``until()`` is true; records the longest stall."""
        deadline = time.monotonic() + (timeout if until else seconds)
        last = time.monotonic()
        while time.monotonic() < deadline:
            self.root.update()
            now = time.monotonic()
            self.max_gap_s = max(self.max_gap_s, now - last)
            last = now
            if until is not None and until():
                return
            time.sleep(0.01)
        if until is not None:
            raise AssertionError(f"timed out after {timeout} s; status: {self.window.status_text.get()!r}")

    def _run_xdotool(self, *args: str) -> None:
        process = subprocess.Popen([self.xdotool, *args], env={**os.environ, "DISPLAY": self.display})
        self.pump(until=lambda: process.poll() is not None, timeout=30)
        assert process.returncode == 0, f"xdotool {args} failed"

    def type_into_entry(self, text: str) -> None:
        entry = self.window.entry
        entry.delete(0, "end")
        if self.xdotool is None:  # no X input tool: the same text through Tk itself
            entry.insert(0, text)
            return
        self.click(entry)
        entry.focus_force()
        self.pump(0.2)
        self._run_xdotool("type", "--delay", "2", text)
        self.pump(0.2)
        assert self.window.entry_text.get() == text

    def click(self, widget: tk.Widget) -> None:
        self.pump(0.1)
        if self.xdotool is None:
            widget.invoke()
            return
        x = widget.winfo_rootx() + widget.winfo_width() // 2
        y = widget.winfo_rooty() + widget.winfo_height() // 2
        # xdotool can exit before Tk has read the button release from the X server: a tag after the widget's
        # own bindings sees the release once the click has acted, and the pump waits for it.
        released: list[bool] = []
        tag = f"test-release-{id(widget)}"
        widget.bind_class(tag, "<ButtonRelease-1>", lambda _event: released.append(True))
        widget.bindtags((*widget.bindtags(), tag))
        try:
            self._run_xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
            self.pump(until=lambda: bool(released) or not widget.winfo_exists(), timeout=10)
        finally:
            if widget.winfo_exists():
                widget.bindtags(tuple(t for t in widget.bindtags() if t != tag))

    def classify(self, text: str) -> fa.SongResult:
        self.type_into_entry(text)
        before = self.window.last_result
        self.click(self.window.classify_button)
        self.pump(until=lambda: not self.window.busy and self.window.last_result is not before, timeout=120)
        self.pump(0.3)  # let the chart draw
        return self.window.last_result

    def scan_folder(self, folder: Path, monkeypatch: pytest.MonkeyPatch, timeout: float = 120) -> None:
        """Open ``folder`` with the window's "Open folder" button (its dialog answered with the folder) and wait
        for the scan to end."""
        monkeypatch.setattr(fw.filedialog, "askdirectory", lambda **kw: str(folder))
        self.click(self.window.open_folder_button)
        self.pump(until=lambda: not self.window.busy, timeout=timeout)

    def screenshot(self, path: Path) -> Path:
        from PIL import ImageGrab

        self.pump(0.3)
        x, y = self.root.winfo_rootx(), self.root.winfo_rooty()
        image = ImageGrab.grab(bbox=(x, y, x + self.root.winfo_width(), y + self.root.winfo_height()),
                               xdisplay=self.display)
        image.save(path)
        return path

    def close(self) -> None:
        self.window.close()  # what the close button does: the job is cancelled and waited for
        # Tk variables and images must be freed on the Tk (main) thread, not by a later collection elsewhere
        del self.window, self.root
        gc.collect()



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackServer]:
    folder = tmp_path_factory.mktemp("gui_media")
    song = write_wav(folder / "song.wav", synthetic_song([("classical", 25), ("metal", 25), ("reggae", 20)], seed=9))
    server = LoopbackServer()
    server.add_file("/demo-song.mp3", encode(song, folder / "demo-song.mp3", "-b:a", "128k"), "audio/mpeg")
    server.add_file("/slow.wav", song, "audio/wav", chunk_delay_s=0.05)
    yield server
    server.close()


@pytest.fixture()
def driver(display: str, model_dir: Path) -> Iterator[Driver]:
    driver = Driver(display, model_dir)
    yield driver
    driver.close()


# --- the tests -----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_typed_url_is_classified_as_by_the_cli_and_the_window_is_captured(driver, server, model_dir, tmp_path):
    url = server.url("/demo-song.mp3")
    result = driver.classify(url)
    assert result.ok, result.error
    shown_genre = driver.window.genre_text.get().split()[0]
    cli = run_classifier(url, "--model", model_dir, "--json")
    assert cli.returncode == 0, cli.stderr
    record = json.loads(cli.stdout)
    assert shown_genre == record["genre"]
    assert driver.window.genre_text.get().endswith(f"{record['probabilities'][shown_genre] * 100:.0f} %")
    assert driver.window.title_text.get().startswith("demo-song")
    assert driver.window.timeline_text.get().startswith("Timeline: 0:00")
    assert driver.window.status_text.get().startswith(f"Done: {len(record['windows'])} windows")
    assert driver.max_gap_s < 2.0, f"the window stalled for {driver.max_gap_s:.2f} s"  # work is off the Tk thread

    shot = driver.screenshot(tmp_path / "window.png")
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (driver.root.winfo_width(), driver.root.winfo_height())
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 50  # text, bars and chart, not a blank window
    if os.environ.get("GENRE_SCREENSHOT"):
        shutil.copy(shot, os.environ["GENRE_SCREENSHOT"])


def test_errors_show_in_the_window_and_the_next_try_works(driver, server, tmp_path, capfd):
    driver.window.entry_text.set(str(tmp_path))  # a folder without audio: scanned, one failed row
    driver.click(driver.window.classify_button)
    driver.pump(until=lambda: not driver.window.busy, timeout=60)
    assert driver.window.status_text.get().startswith("Done: 0 songs classified, 1 failed")
    driver.window.entry_text.set("   ")
    driver.click(driver.window.classify_button)
    assert driver.window.status_text.get().startswith("Paste a YouTube link")
    refused = driver.classify("ftp://127.0.0.1/song.mp3")
    assert not refused.ok
    assert driver.window.status_text.get().startswith("Error: refused URL")
    assert str(driver.window.status_label.cget("foreground")) == fw.BG_ERROR
    missing = driver.classify(server.url("/missing.mp3"))
    assert "not found (HTTP 404)" in missing.error
    assert str(driver.window.classify_button.cget("state")) == "normal"
    fine = driver.classify(server.url("/demo-song.mp3"))  # at once, same window
    assert fine.ok and driver.window.genre_text.get().split()[0] == fine.genre
    terminal = capfd.readouterr()
    assert "Traceback" not in terminal.err + terminal.out  # errors went to the window, not the terminal


def test_cancel_stops_a_slow_download_and_the_window_is_ready_again(driver, server):
    driver.type_into_entry(server.url("/slow.wav"))
    driver.click(driver.window.classify_button)
    driver.pump(until=lambda: driver.window.status_text.get().startswith("Downloading"), timeout=60)
    assert str(driver.window.cancel_button.cget("state")) == "normal"
    driver.click(driver.window.cancel_button)
    driver.pump(until=lambda: not driver.window.busy, timeout=30)
    driver.pump(0.2)
    assert driver.window.status_text.get() == "Cancelled."
    assert str(driver.window.classify_button.cget("state")) == "normal"
    assert str(driver.window.cancel_button.cget("state")) == "disabled"


def test_missing_model_is_reported_in_the_window(display, tmp_path):
    gui = load_gui_module()
    root = tk.Tk(screenName=display)
    try:
        window = gui.ClassifierWindow(root, fi.ClassificationJob(model_dir=str(tmp_path / "nowhere")))
        root.update()
        assert "Cannot load the model" in window.status_text.get()
        assert str(window.classify_button.cget("state")) == "disabled"
    finally:
        root.destroy()
        del window, root
        gc.collect()


def test_an_uncertain_answer_gets_its_own_headline(display, model_dir, tmp_path):
    """Below the model's uncertain threshold the window names the top two genres, in amber; above it, one genre."""
    from helpers_classify import model_with_threshold

    never_sure = model_with_threshold(model_dir, tmp_path / "never_sure", threshold=1.0)
    song = write_wav(tmp_path / "song.wav", synthetic_song([("jazz", 14)], seed=12))
    driver = Driver(display, never_sure)
    try:
        label = driver.window.results.genre_label
        normal_colour = str(label.cget("foreground"))
        result = driver.classify(str(song))
        assert result.ok and result.uncertain
        (first, p1), (second, p2) = result.top_two()
        assert driver.window.genre_text.get() == f"Uncertain: {first} {p1 * 100:.0f} % or {second} {p2 * 100:.0f} %"
        assert str(label.cget("foreground")) == fw.FG_UNCERTAIN != normal_colour
        driver.window.job.load().classifier.uncertain_threshold = 0.0  # the same model, now always sure
        sure = driver.classify(str(song))
        assert not sure.uncertain and sure.probabilities == result.probabilities
        assert driver.window.genre_text.get() == f"{first}  {p1 * 100:.0f} %"
        assert str(label.cget("foreground")) == normal_colour
    finally:
        driver.close()


def test_an_unknown_answer_replaces_the_genre_line_and_the_table_says_unknown(display, tmp_path):
    """The shipped model (it has a novelty score) on a sine tone: the big line says it is not music and names the
    nearest genre, in amber; in a folder's table the row says unknown (nearest: ...)."""
    import numpy as np

    import functions_audio as audio

    t = np.arange(12 * audio.SAMPLE_RATE) / audio.SAMPLE_RATE
    tone = write_wav(tmp_path / "folder" / "tone.wav", (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    driver = Driver(display, audio.PRETRAINED_MODEL_DIR)
    try:
        result = driver.classify(str(tone))
        assert result.ok and result.known is False
        nearest = result.top_two()[0]
        assert result.not_music and driver.window.genre_text.get() == (
            f"Not music: a steady sound such as noise, a tone or a hum (nearest genre: {nearest[0]} "
            f"{nearest[1] * 100:.0f} %)")
        assert str(driver.window.results.genre_label.cget("foreground")) == fw.FG_UNCERTAIN
        assert f"unknown (nearest: {nearest[0]})" in _row_values(driver, result)
    finally:
        driver.close()


def _row_values(driver: Driver, result: fa.SongResult) -> tuple[str, ...]:
    """The values of the table row that ``result`` gets."""
    panel = driver.window.library
    panel.clear(Path(result.input).parent)
    panel.add(result)
    return tuple(panel.tree.item(result.input, "values"))


def test_open_file_classifies_the_chosen_file(driver, model_dir, tmp_path, monkeypatch):
    """The Open file… button: Tk's own dialog is replaced by the file a user would pick in it."""
    song = write_wav(tmp_path / "picked.wav", synthetic_song([("blues", 12)], seed=11))
    asked: list[dict] = []
    monkeypatch.setattr(fw.filedialog, "askopenfilename", lambda **kw: asked.append(kw) or str(song))
    before = driver.window.last_result
    driver.click(driver.window.open_button)
    driver.pump(until=lambda: not driver.window.busy and driver.window.last_result is not before, timeout=60)
    assert "*.wav" in asked[0]["filetypes"][0][1]
    expected = fa.SongAnalyser.from_model_dir(model_dir).analyse_file(song)
    assert driver.window.last_result.probabilities == pytest.approx(expected.probabilities, abs=1e-9)
    assert driver.window.genre_text.get().split()[0] == expected.genre
    assert driver.window.entry_text.get() == str(song)


# --- faults real users met (issue 12) ------------------------------------------------------------------------
def test_enter_between_the_end_of_a_job_and_the_next_poll_starts_nothing_unseen(driver, tmp_path):
    """Enter pressed after the worker ended but before the window polled its result: the window is still busy.

    The key press is a Tk event on the entry (``event_generate``), so that it lands exactly in that gap.
    """
    song = write_wav(tmp_path / "song.wav", synthetic_song([("blues", 6)], seed=2))
    driver.window.entry_text.set(str(song))
    driver.window.classify()
    first = driver.window.runner.worker
    first.join(60)  # the job is over; no Tk event has run since, so its result is not shown yet
    driver.window.entry.event_generate("<Return>")
    assert driver.window.runner.worker is first, "a second job started before the first one's result was shown"
    assert driver.window.busy and str(driver.window.cancel_button.cget("state")) == "normal"
    driver.pump(until=lambda: not driver.window.busy, timeout=30)
    assert driver.window.last_result.ok and driver.window.last_result.input == str(song)
    assert driver.window.status_text.get().startswith("Done: 1 window")
    assert str(driver.window.cancel_button.cget("state")) == "disabled"
    assert str(driver.window.classify_button.cget("state")) == "normal"


def test_a_mistyped_path_is_no_such_file_not_a_youtube_search(driver, tmp_path):
    typo = str(tmp_path / "Music" / "sng.mp3")
    driver.type_into_entry(typo)
    driver.click(driver.window.classify_button)
    driver.pump(0.2)
    assert driver.window.status_text.get() == f"No such file: {typo}"
    assert str(driver.window.status_label.cget("foreground")) == fw.BG_ERROR
    assert driver.window.runner.worker is None and not driver.window.busy  # nothing was started
    assert fw.target_for("AC/DC back in black") == "ytsearch1:AC/DC back in black"  # words stay a search
    for text in ("~/no-such-folder/song", "./sng.flac", "song.mp3"):
        with pytest.raises(fa.FetchError, match="No such file"):
            fw.target_for(text)


def send_close_request(display: str, window_id: int) -> None:
    """What a window manager does when the close button is clicked: a WM_DELETE_WINDOW client message."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    connection = x11.XOpenDisplay(display.encode())
    assert connection, f"cannot open the X display {display}"
    try:
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window_id
        event.xclient.message_type = x11.XInternAtom(connection, b"WM_PROTOCOLS", False)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(connection, b"WM_DELETE_WINDOW", False)
        x11.XSendEvent(connection, window_id, False, 0, ctypes.byref(event))
        x11.XFlush(connection)
    finally:
        x11.XCloseDisplay(connection)


def xdotool(display: str, *args: str) -> str:
    run = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, f"xdotool {args}: {run.stderr}"
    return run.stdout


@pytest.mark.parametrize("how", ["close button", "Ctrl-C"])
def test_closing_the_window_mid_download_stops_the_job_and_removes_its_files(display, model_dir, server, tmp_path,
                                                                              how):
    """04 as a user runs it: a URL typed, Enter, then the window closed (or Ctrl-C) while it downloads."""
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed: cannot type into another process's window")
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "04_interface.py"), "--model", str(model_dir)],
                               cwd=PROJECT_DIR, env={**script_env(temp_root), "DISPLAY": display},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window_id = int(xdotool(display, "search", "--sync", "--name", "^Music genre classifier$").split()[0])
        xdotool(display, "windowfocus", "--sync", str(window_id))
        xdotool(display, "type", "--delay", "2", server.url("/slow.wav"))
        xdotool(display, "key", "Return")
        deadline = time.monotonic() + 60
        while not list(temp_root.glob("genre-fetch-*/*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(temp_root.glob("genre-fetch-*/*")), "the download never started"
        closed_at = time.monotonic()
        if how == "close button":
            send_close_request(display, window_id)
        else:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        seconds_to_exit = time.monotonic() - closed_at
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    print(f"{how}: exit after {seconds_to_exit:.2f} s")
    assert list(temp_root.iterdir()) == []  # no download.wav.part left behind
    assert processes_mentioning(str(temp_root)) == []  # no yt-dlp helper or ffmpeg left writing
    assert seconds_to_exit < 5.0
    assert process.returncode == (0 if how == "close button" else 130), err
    assert "Traceback" not in err


# --- a folder: the library table -----------------------------------------------------------------------------
def table_rows(window) -> list[tuple[str, ...]]:
    return [tuple(window.table.item(iid, "values")) for iid in window.table.get_children()]


def click_heading(driver: Driver, key: str) -> None:
    tree = driver.window.table
    columns = [c[0] for c in fw.LibraryPanel.COLUMNS]
    left = sum(int(tree.column(c, "width")) for c in columns[:columns.index(key)])
    x = tree.winfo_rootx() + left + int(tree.column(key, "width")) // 2
    driver._run_xdotool("mousemove", "--sync", str(x), str(tree.winfo_rooty() + 10), "click", "1") \
        if driver.xdotool else tree.heading(key)["command"]()
    driver.pump(0.2)


def click_row(driver: Driver, iid: str) -> None:
    tree = driver.window.table
    tree.see(iid)
    driver.pump(0.2)
    x, y, _, height = tree.bbox(iid)
    driver._run_xdotool("mousemove", "--sync", str(tree.winfo_rootx() + x + 30), str(tree.winfo_rooty() + y +
                                                                                      height // 2), "click", "1")
    driver.pump(0.3)


@pytest.fixture()
def music_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "My Music"
    for i, (name, genre) in enumerate([("a song.wav", "metal"), ("Ünïcode ballad.wav", "classical"),
                                       ("sub/c.wav", "reggae"), ("d.wav", "blues"), ("e.wav", "metal")]):
        write_wav(folder / name, synthetic_song([(genre, 8.0)], seed=i))
    (folder / "broken.mp3").write_bytes(b"not audio")
    return folder


@pytest.mark.slow
def test_open_folder_fills_a_sortable_table_whose_buttons_act_on_it(driver, music_folder, tmp_path, monkeypatch):
    import functions_tags as ft

    window = driver.window
    monkeypatch.setattr(fw.filedialog, "askdirectory", lambda **kw: str(music_folder))
    # The window's state each time it turns busy or idle: a short scan can end before the click's pump returns,
    # so the state is recorded as it changes rather than read afterwards.
    states: list[tuple[bool, str, str]] = []
    set_busy = window._set_busy

    def recording_set_busy(busy: bool) -> None:
        set_busy(busy)
        states.append((busy, str(window.cancel_button.cget("state")), str(window.open_folder_button.cget("state"))))

    monkeypatch.setattr(window, "_set_busy", recording_set_busy)
    started = time.monotonic()
    driver.click(window.open_folder_button)
    assert states, f"the click started nothing; status {window.status_text.get()!r}"
    assert states[0] == (True, "normal", "disabled")  # scanning: Cancel on, Open folder… off
    driver.pump(until=lambda: not window.busy, timeout=120)
    print(f"scan of 6 files: {time.monotonic() - started:.2f} s")
    assert states[-1] == (False, "disabled", "normal")
    assert window.status_text.get() == "Done: 5 songs classified, 1 failed. Click a row to see it."
    assert driver.max_gap_s < 2.0, f"the window stalled for {driver.max_gap_s:.2f} s"
    rows = table_rows(window)
    assert {r[0] for r in rows} == {"a song.wav", "broken.mp3", "d.wav", "e.wav", "sub/c.wav", "Ünïcode ballad.wav"}
    assert next(r for r in rows if r[0] == "broken.mp3")[2] == "error"

    click_heading(driver, "confidence")
    shown = [float(r[3].split()[0]) if r[3] else -1.0 for r in table_rows(window)]
    assert shown == sorted(shown) and window.table.heading("confidence")["text"].endswith("▲")
    click_heading(driver, "confidence")
    shown = [float(r[3].split()[0]) if r[3] else -1.0 for r in table_rows(window)]
    assert shown == sorted(shown, reverse=True)

    chosen = str(music_folder / "Ünïcode ballad.wav")
    click_row(driver, chosen)
    result = window.library.results[chosen]
    assert window.last_result is result and window.title_text.get().startswith("Ünïcode ballad")
    assert window.genre_text.get().split()[0] == result.genre
    assert "cut short" not in window.title_text.get()
    window.results.show(replace(result, duration_s=10.2, cut_short=(10.2, 30.0)))  # a file cut short says so
    assert window.title_text.get() == "Ünïcode ballad  (0:10)  (cut short: 0:30 in its header)"
    window.results.show(result)

    monkeypatch.setattr(fw.filedialog, "asksaveasfilename", lambda **kw: str(tmp_path / "genres.csv"))
    driver.click(window.export_button)
    lines = (tmp_path / "genres.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("path,title,genre,confidence") and len(lines) == 7
    monkeypatch.setattr(fw.filedialog, "askdirectory", lambda **kw: str(tmp_path / "playlists"))
    driver.click(window.playlists_button)
    assert (tmp_path / "playlists" / "uncertain.m3u8").is_file()
    assert window.status_text.get() == f"Playlists saved in {tmp_path / 'playlists'}."

    expected = ft.plan_tags(window.library.entries(), 0.5, overwrite=False)
    assert expected.changes, "the test model is sure of none of the songs"
    if os.environ.get("GENRE_SCREENSHOT_LIBRARY"):
        driver.screenshot(Path(os.environ["GENRE_SCREENSHOT_LIBRARY"]))
    driver.click(window.tags_button)
    driver.pump(until=lambda: window.confirm_dialog is not None, timeout=60)
    dialog = window.confirm_dialog
    assert dialog.text.startswith(f"{len(expected.changes)} file{'s' if len(expected.changes) > 1 else ''} will "
                                  "change")
    assert all(ft.read_genre(change.path) is None for change in expected.changes)  # nothing before the answer
    driver.click(dialog.confirm_button)
    driver.pump(until=lambda: not window.busy and window.status_text.get().startswith("tags:"), timeout=60)
    assert window.status_text.get().startswith(f"tags: {len(expected.changes)} written")
    assert [ft.read_genre(change.path) for change in expected.changes] == [change.new for change in expected.changes]


@pytest.mark.slow
def test_cancel_stops_a_folder_scan_and_keeps_the_rows_so_far(driver, tmp_path):
    folder = tmp_path / "many"
    for i in range(8):  # 3-minute songs: the scan lasts long enough for a click to land in the middle of it
        write_wav(folder / f"song {i}.wav", np.tile(synthetic_song([("metal", 20.0)], seed=i), 9))
    driver.type_into_entry(str(folder))
    driver.click(driver.window.classify_button)
    driver.pump(until=lambda: len(table_rows(driver.window)) >= 1, timeout=120)
    started = time.monotonic()
    driver.click(driver.window.cancel_button)
    driver.pump(until=lambda: not driver.window.busy, timeout=60)
    print(f"cancelled after the first row in {time.monotonic() - started:.2f} s")
    assert driver.window.status_text.get() == "Cancelled."
    assert 1 <= len(table_rows(driver.window)) < 8
    assert str(driver.window.open_folder_button.cget("state")) == "normal"


# --- More like this ------------------------------------------------------------------------------------------
def shown_column(window, key: str) -> list[str]:
    return [window.table.set(iid, key) for iid in window.table.get_children()]


def test_more_like_this_shows_a_songs_neighbours_and_saves_them_as_a_playlist(display, tmp_path, monkeypatch):
    """A row of the folder table, then a song classified on its own: the table shows their nearest songs, most
    similar first (a copy with equal audio is the same song), Whole library shows every row again, and Save
    playlist… saves what the table shows. The model reads the musicnn columns (written by tests/test_similarity)."""
    import soundfile
    from test_similarity import write_model

    import functions_audio as audio

    model = write_model(tmp_path / "musicnn model", audio.MUSICNN_COLUMNS)
    folder = tmp_path / "My Music"
    for i, (name, genre) in enumerate([("metal a.wav", "metal"), ("metal b.wav", "metal"), ("classical.wav",
                                       "classical"), ("reggae.wav", "reggae"), ("blues.wav", "blues")]):
        write_wav(folder / name, synthetic_song([(genre, 6.0)], seed=i))
    samples, rate = soundfile.read(folder / "metal a.wav", dtype="int16")
    soundfile.write(folder / "sub" / "metal a copy.flac" if (folder / "sub").mkdir() is None else "", samples, rate)
    driver = Driver(display, model)
    try:
        window = driver.window
        driver.scan_folder(folder, monkeypatch)
        assert len(table_rows(window)) == 6 and str(window.whole_button.cget("state")) == "disabled"
        assert "similarity" not in window.table["displaycolumns"]

        query = str(folder / "metal a.wav")
        click_row(driver, query)
        assert window.last_result is window.library.results[query]
        driver.click(window.like_button)
        shown = list(window.table.get_children())
        assert sorted(Path(iid).name for iid in shown) == ["blues.wav", "classical.wav", "metal b.wav", "reggae.wav"]
        similarities = [float(text) for text in shown_column(window, "similarity")]
        assert similarities == sorted(similarities, reverse=True)
        assert "similarity" in window.table["displaycolumns"]
        assert window.table.heading("similarity")["text"].endswith("▼")
        assert window.status_text.get().startswith("4 songs like metal a, most similar first")
        assert str(window.whole_button.cget("state")) == "normal"

        monkeypatch.setattr(fw.filedialog, "asksaveasfilename", lambda **kw: str(tmp_path / "lists" / "like.m3u8"))
        driver.click(window.playlist_button)
        lines = (tmp_path / "lists" / "like.m3u8").read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#EXTM3U" and [(tmp_path / "lists" / line).resolve() for line in lines[2::2]] == \
            [Path(iid).resolve() for iid in shown]
        assert window.status_text.get() == f"Playlist of 4 songs saved to {tmp_path / 'lists' / 'like.m3u8'}."

        driver.click(window.whole_button)
        assert len(table_rows(window)) == 6 and "similarity" not in window.table["displaycolumns"]
        assert set(shown_column(window, "similarity")) == {""}
        assert str(window.whole_button.cget("state")) == "disabled"

        # a song classified on its own while the library is open: its neighbours come from the library
        single = write_wav(tmp_path / "elsewhere" / "new metal.wav", synthetic_song([("metal", 6.0)], seed=0))
        result = driver.classify(str(single))  # the same audio as metal a.wav and its copy
        assert result.ok and result.tag_means is not None
        assert not window.table.winfo_ismapped()  # a song on its own takes the whole height; the library:
        assert window.library_button.cget("text") == "Back to the library (6 songs)"
        driver.click(window.library_button)  # one click away, the song still shown
        assert window.table.winfo_ismapped() and window.last_result is result
        driver.click(window.like_button)
        names = [Path(iid).name for iid in window.table.get_children()]
        assert sorted(names) == ["blues.wav", "classical.wav", "metal b.wav", "reggae.wav"]
        assert window.status_text.get().startswith("4 songs like new metal")
    finally:
        driver.close()


def test_more_like_this_with_a_model_that_reads_only_classic_features_says_why_not(display, tmp_path, monkeypatch):
    from test_similarity import write_model

    import functions_audio as audio

    model = write_model(tmp_path / "classic model", audio.CLASSIC_COLUMNS)
    folder = tmp_path / "music"
    for i, genre in enumerate(("metal", "blues")):
        write_wav(folder / f"{genre}.wav", synthetic_song([(genre, 4.0)], seed=i))
    driver = Driver(display, model)
    try:
        window = driver.window
        driver.scan_folder(folder, monkeypatch, timeout=60)
        click_row(driver, str(folder / "metal.wav"))
        driver.click(window.like_button)
        assert window.status_text.get() == ("No similarity vector for metal: the model reads only classic features, "
                                            "so the musicnn network did not run.")
        assert str(window.status_label.cget("foreground")) == fw.BG_ERROR
        assert len(table_rows(window)) == 2
    finally:
        driver.close()


# --- the window at its minimum and default size (issue 24) -------------------------------------------------------
def figure_problems(driver: Driver) -> list[str]:
    """The chart drawn again at the window's present size, checked as tests/test_result_plot checks any figure:
    no text over another or outside the figure, bars of at least 12 px; and every line above it shown whole."""
    from test_result_plot import layout_problems

    window = driver.window
    driver.pump(fw.REDRAW_DELAY_MS / 1000 + 0.3)  # the redraw that follows a resize
    window.canvas.draw()
    widget = window.canvas.get_tk_widget()
    problems = layout_problems(window.figure)
    if (round(window.figure.bbox.width), round(window.figure.bbox.height)) != (widget.winfo_width(),
                                                                               widget.winfo_height()):
        problems.append(f"the figure is {window.figure.bbox.width} x {window.figure.bbox.height}, its widget "
                        f"{widget.winfo_width()} x {widget.winfo_height()}")
    for label in (window.results.title_label, window.results.genre_label, window.results.tags_label,
                  window.results.timeline_label, window.library_button):
        if not label.winfo_ismapped():
            continue
        if label.winfo_height() < label.winfo_reqheight() or label.winfo_width() < label.winfo_reqwidth():
            problems.append(f"{label.cget('text') or label.winfo_name()!r} is cut")
    bottom = widget.winfo_rooty() + widget.winfo_height()
    if bottom > driver.root.winfo_rooty() + driver.root.winfo_height():
        problems.append("the figure goes below the window")
    return problems


def text_width(tree: tk.Widget, text: str) -> int:
    """The width in pixels of ``text`` in the table's font."""
    import tkinter.font
    from tkinter import ttk

    return tkinter.font.nametofont(str(ttk.Style(tree).lookup("Treeview", "font") or "TkDefaultFont")).measure(text)


def library_of(results: list[fa.SongResult], folder: Path) -> list[fa.SongResult]:
    """Twelve songs of a folder: the given results under the folder's file names."""
    import dataclasses

    return [dataclasses.replace(results[i % len(results)], input=str(folder / f"song {i:02d}.wav"),
                                title=f"song {i:02d}") for i in range(12)]


@pytest.mark.parametrize("size", ["minimum", "default"])
def test_the_window_reads_well_at_its_minimum_and_default_size(display, model_dir, tmp_path, size):
    """One clip, a four-minute song (and an unknown answer) on their own, then a library of 12 songs, at the
    window's minimum and default size: no text of the chart over another or outside it, bars >= 12 px, the lines
    above the chart shown whole. No table before a library is open; a song classified on its own hides it, and
    "Back to the library" brings it back."""
    import dataclasses

    from test_result_plot import GENRES, clip_result, four_minute_result

    started = time.monotonic()
    driver = Driver(display, model_dir)
    print(f"window built in {time.monotonic() - started - 0.5:.2f} s (+0.5 s of pumping)")
    try:
        window, root = driver.window, driver.root
        width, height = fw.MIN_SIZE if size == "minimum" else fw.DEFAULT_SIZE
        root.geometry(f"{width}x{height}")
        driver.pump(until=lambda: (root.winfo_width(), root.winfo_height()) == (width, height), timeout=10)
        assert not window.library.visible and not window.table.winfo_ismapped()
        assert not window.export_button.winfo_ismapped() and not window.library_button.winfo_ismapped()
        unknown_windows = four_minute_result()
        unknown_windows.windows = [dataclasses.replace(w, known=i % 3 != 0) for i, w in
                                   enumerate(unknown_windows.windows)]
        songs = {"clip": clip_result(), "four-minute song": four_minute_result(), "not music": clip_result(True),
                 "unknown windows": dataclasses.replace(unknown_windows, known=False)}
        for name, result in songs.items():
            window._show_result(result)
            problems = figure_problems(driver)
            print(f"{size} {width}x{height}, {name}: figure {window.figure.bbox.width:.0f} x "
                  f"{window.figure.bbox.height:.0f} px, {len(window.figure.axes[0].patches)} bars")
            assert problems == [], name

        folder = tmp_path / "Music"
        window.library.clear(folder)
        window.show_library()
        for result in library_of(list(songs.values()), folder):
            window.library.add(result)
        driver.pump(0.2)
        assert window.table.winfo_ismapped() and window.library_button.cget("text") == "Hide the library"
        buttons = (window.export_button, window.tags_button, window.playlists_button, window.like_button,
                   window.whole_button, window.playlist_button, window.library_button)
        for button in buttons:  # whole, inside the window
            assert button.winfo_ismapped() and button.winfo_width() >= button.winfo_reqwidth() and \
                button.winfo_rootx() + button.winfo_width() <= root.winfo_rootx() + root.winfo_width(), \
                button.cget("text")
        genre_width = int(window.table.column("genre", "width"))  # every row's genre shown whole
        longest = max(text_width(window.table, window.table.set(iid, "genre")) for iid in window.table.get_children())
        assert longest + 8 <= genre_width, f"a genre of {longest} px in a column of {genre_width} px"
        for iid in list(window.table.get_children())[:4]:
            click_row(driver, iid)
            assert window.last_result is window.library.results[iid]
            problems = figure_problems(driver)
            print(f"{size}, library, {Path(iid).name}: figure {window.figure.bbox.width:.0f} x "
                  f"{window.figure.bbox.height:.0f} px, {len(window.figure.axes[0].patches)} bars")
            assert problems == [], iid
            assert len(window.figure.axes[0].patches) >= (4 if size == "minimum" else len(GENRES))

        window._show_result(songs["four-minute song"])  # a song on its own: the library one click away
        driver.pump(0.2)
        assert not window.table.winfo_ismapped()
        assert window.library_button.winfo_ismapped() and window.library_button.cget("text") == \
            "Back to the library (12 songs)"
        assert figure_problems(driver) == []
        driver.click(window.library_button)
        assert window.table.winfo_ismapped() and window.library_button.cget("text") == "Hide the library"
        assert len(table_rows(window)) == 12 and figure_problems(driver) == []
        driver.click(window.library_button)
        assert not window.table.winfo_ismapped() and window.library_button.cget("text").startswith("Back to")
    finally:
        driver.close()
