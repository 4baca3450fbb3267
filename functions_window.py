"""The tkinter window of ``04_interface.py``, in named parts that each do one job.

What lives here, top-down:

* ``ClassifierWindow``: the whole window; it wires the parts below together and holds the actions (classify,
  open a file, cancel, close) and what happens when a result comes back;
* ``InputRow``: the entry with its Classify, Open file… and Cancel buttons;
* ``StatusPanel``: the progress bar and the status line (red for errors);
* ``ResultPanel``: title, genre and timeline of the last result above its chart (a matplotlib figure in Tk);
* ``JobRunner``: runs one classification at a time in a worker thread and polls its messages on the Tk thread;
  closing the window (or Ctrl-C) cancels the job and waits for it to remove its files and end its processes;
* ``target_for`` and ``audio_filetypes``: what the entry's text means, and the Open dialog's file types.

matplotlib is imported when the window is built; the chart is drawn by ``functions_dataviz.draw_result``.
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

import functions_audio
import functions_dataviz as viz
from functions_analysis import SongResult
from functions_fetch import (
    Cancelled,
    FetchError,
    Progress,
    format_seconds,
    looks_like_path,
    looks_like_url,
    search_target,
)
from functions_interface import ClassificationJob, ModelUnavailable, timeline_runs

POLL_MS = 50
BG_ERROR = "#b00020"
CLOSE_TIMEOUT_S = 15.0  # closing waits this long at most for the job to stop and remove its files


class ClassifierWindow:
    """The tkinter window; all slow work happens in one worker thread (``JobRunner``) that reports through a queue.

    The widgets are reachable under the window's own attribute names (``entry``, ``classify_button``,
    ``status_text``, ``genre_text``, ...) for code that drives it: the GUI tests and docs/make_screenshot.py.
    """

    def __init__(self, root: tk.Tk, job: ClassificationJob) -> None:
        self.root = root
        self.job = job
        self.last_result: SongResult | None = None
        self.model_error: str | None = None
        root.title("Music genre classifier")
        root.minsize(820, 560)
        root.report_callback_exception = self._report_callback_exception
        outer = ttk.Frame(root, padding=10)
        outer.pack(fill="both", expand=True)
        self.inputs = InputRow(outer, on_classify=self.classify, on_open=self.open_file, on_cancel=self.cancel)
        self.status = StatusPanel(outer)
        self.results = ResultPanel(outer)
        self._name_the_widgets()
        self.entry.focus_set()
        self._load_model()
        self.runner = JobRunner(root, job, on_progress=self.status.show_progress, on_result=self._show_result,
                                on_cancelled=self._show_cancelled)
        self.closed = False
        self.closed_by: int | None = None  # the signal that closed the window, if one did
        root.protocol("WM_DELETE_WINDOW", self.close)

    def _name_the_widgets(self) -> None:
        """The parts' widgets under the window's names (see the class docstring)."""
        inputs, status, results = self.inputs, self.status, self.results
        self.entry, self.entry_text = inputs.entry, inputs.entry_text
        self.classify_button, self.open_button = inputs.classify_button, inputs.open_button
        self.cancel_button = inputs.cancel_button
        self.progress, self.status_text, self.status_label = status.progress, status.text, status.label
        self.title_text, self.genre_text = results.title_text, results.genre_text
        self.timeline_text, self.figure, self.canvas = results.timeline_text, results.figure, results.canvas

    def _load_model(self) -> None:
        try:
            self.job.load()
        except ModelUnavailable as exc:
            self.model_error = str(exc)
            self.status.set(f"Cannot load the model: {exc}", error=True)
            self.inputs.disable()

    # -- actions ------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    def classify(self, target: str | None = None) -> None:
        """Start classifying the entry's text (or ``target``) in the worker thread."""
        if self.busy or self.model_error:
            return
        text = target if target is not None else self.entry_text.get()
        if not text.strip():
            self.status.set("Paste a YouTube link or type some search words first.", error=True)
            return
        try:
            item = target_for(text)
        except FetchError as exc:
            self.status.set(str(exc), error=True)
            return
        self._set_busy(True)
        self.status.set("Starting…")
        self.runner.start(item)

    def open_file(self) -> None:
        path = filedialog.askopenfilename(parent=self.root, title="Open a song", filetypes=audio_filetypes())
        if path:
            self.entry_text.set(path)
            self.classify(path)

    def cancel(self) -> None:
        if self.busy:
            self.runner.cancel()
            self.status.set("Cancelling…")

    def close(self) -> None:
        """Close the window: cancel the running job, wait for it to remove its files and processes, then go."""
        if self.closed:
            return
        self.closed = True
        if self.busy:
            self.status.set("Closing: stopping the running job…")
            self.root.update_idletasks()
        self.runner.stop(CLOSE_TIMEOUT_S)
        self.root.destroy()

    def close_on_signals(self) -> None:
        """Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closing) close the window like its close button."""
        import signal

        def on_signal(number: int, _frame: Any) -> None:
            if self.closed_by is None:
                self.closed_by = number
                self.root.after(0, self.close)

        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), on_signal)

    # -- what comes back from the worker (on the Tk thread) -----------------------------------------------
    def _show_result(self, result: SongResult) -> None:
        self._set_busy(False)
        self.last_result = result
        self.results.show(result)
        if not result.ok:
            self.status.set(f"Error: {result.error}", error=True)
            return
        self.status.set(f"Done: {len(result.windows)} window{'s' if len(result.windows) != 1 else ''} analysed.")
        self.status.complete()

    def _show_cancelled(self) -> None:
        self._set_busy(False)
        self.status.set("Cancelled.")

    def _set_busy(self, busy: bool) -> None:
        self.inputs.set_busy(busy)
        if not busy:
            self.status.reset()

    def _report_callback_exception(self, exc_type: type, exc: BaseException, tb: Any) -> None:
        """A bug in a Tk callback: show it in the window instead of a traceback in the terminal."""
        self._set_busy(self.busy)
        self.status.set(f"Internal error: {exc_type.__name__}: {exc}", error=True)


class InputRow:
    """The question, the entry (Return classifies) and the Classify, Open file… and Cancel buttons."""

    def __init__(self, parent: tk.Misc, *, on_classify: Callable[[], None], on_open: Callable[[], None],
                 on_cancel: Callable[[], None]) -> None:
        frame = ttk.Frame(parent)
        frame.pack(fill="x")
        ttk.Label(frame, text="YouTube link, any media URL, or search words:").pack(anchor="w")
        row = ttk.Frame(frame)
        row.pack(fill="x", pady=(2, 6))
        self.entry_text = tk.StringVar()
        self.entry = ttk.Entry(row, textvariable=self.entry_text, width=60)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda _event: on_classify())
        self.classify_button = ttk.Button(row, text="Classify", command=on_classify)
        self.classify_button.pack(side="left", padx=(6, 0))
        self.open_button = ttk.Button(row, text="Open file…", command=on_open)
        self.open_button.pack(side="left", padx=(6, 0))
        self.cancel_button = ttk.Button(row, text="Cancel", command=on_cancel, state="disabled")
        self.cancel_button.pack(side="left", padx=(6, 0))

    def set_busy(self, busy: bool) -> None:
        """While a job runs only Cancel can be pressed; otherwise everything but Cancel."""
        state = "disabled" if busy else "normal"
        self.classify_button.configure(state=state)
        self.open_button.configure(state=state)
        self.cancel_button.configure(state="normal" if busy else "disabled")

    def disable(self) -> None:
        """No model: nothing can be classified."""
        self.classify_button.configure(state="disabled")
        self.open_button.configure(state="disabled")


class StatusPanel:
    """The progress bar (a percentage, or a busy animation when the total is unknown) and the status line."""

    def __init__(self, parent: tk.Misc) -> None:
        frame = ttk.Frame(parent)
        frame.pack(fill="x")
        self.progress = ttk.Progressbar(frame, mode="determinate", maximum=100)
        self.progress.pack(fill="x")
        self.text = tk.StringVar(value="Ready.")
        self.label = tk.Label(frame, textvariable=self.text, anchor="w")
        self.label.pack(fill="x")
        self._normal_colour = self.label.cget("foreground")

    def set(self, text: str, error: bool = False) -> None:
        """Show ``text`` on the status line, in red for an error."""
        self.text.set(text)
        self.label.configure(foreground=BG_ERROR if error else self._normal_colour)

    def show_progress(self, report: Progress) -> None:
        if report.fraction is None:
            if str(self.progress.cget("mode")) != "indeterminate":
                self.progress.configure(mode="indeterminate")
                self.progress.start(15)
        else:
            if str(self.progress.cget("mode")) != "determinate":
                self.progress.stop()
                self.progress.configure(mode="determinate")
            self.progress["value"] = report.fraction * 100
        self.set(report.message[:1].upper() + report.message[1:] + "…")

    def reset(self) -> None:
        """An empty bar, ready for the next job."""
        self.progress.stop()
        self.progress.configure(mode="determinate")
        self.progress["value"] = 0

    def complete(self) -> None:
        """A full bar: the job is done."""
        self.progress.configure(mode="determinate")
        self.progress["value"] = 100


class ResultPanel:
    """The last result: title (with the song's length), genre and confidence, the timeline as text, the chart."""

    def __init__(self, parent: tk.Misc) -> None:
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
        from matplotlib.figure import Figure

        frame = ttk.Frame(parent)
        frame.pack(fill="both", expand=True, pady=(8, 0))
        self.title_text = tk.StringVar(value="")
        ttk.Label(frame, textvariable=self.title_text, font=("TkDefaultFont", 14)).pack(anchor="w")
        self.genre_text = tk.StringVar(value="")
        self.genre_label = tk.Label(frame, textvariable=self.genre_text, font=("TkDefaultFont", 30, "bold"),
                                    anchor="w")
        self.genre_label.pack(anchor="w")
        self.timeline_text = tk.StringVar(value="")
        ttk.Label(frame, textvariable=self.timeline_text, wraplength=780).pack(anchor="w")
        self.figure = Figure(figsize=(8, 3.4), dpi=100)
        self.canvas = FigureCanvasTkAgg(self.figure, master=frame)
        self.canvas.get_tk_widget().pack(fill="both", expand=True)

    def show(self, result: SongResult) -> None:
        """Texts and chart of ``result``; for an error, the input as title and the error in the chart."""
        if not result.ok:
            self.title_text.set(result.input if len(result.input) < 90 else result.input[:87] + "...")
            self.genre_text.set("")
            self.timeline_text.set("")
        else:
            assert result.probabilities is not None and result.genre is not None
            length = f"  ({format_seconds(result.duration_s)})" if result.duration_s else ""
            self.title_text.set(f"{result.title or result.input}{length}")
            self.genre_text.set(f"{result.genre}  {result.probabilities[result.genre] * 100:.0f} %")
            self.timeline_text.set("Timeline: " + ", ".join(
                f"{format_seconds(a)}–{format_seconds(b)} {g}" for a, b, g in timeline_runs(result)))
        viz.draw_result(self.figure, result, use_seaborn=False)
        self.canvas.draw_idle()


class JobRunner:
    """Runs one classification at a time in a worker thread; the Tk thread polls its messages every POLL_MS.

    The worker makes no Tk calls: it puts ``(job number, "progress" | "result" | "cancelled", payload)`` on a
    queue, and ``_poll`` (on the Tk thread) hands each message of the current job to ``on_progress``,
    ``on_result`` or ``on_cancelled``. A job is busy from ``start`` until its last message has been handed over,
    so a new job can never start between the worker's end and the window showing its result.
    """

    def __init__(self, root: tk.Misc, job: ClassificationJob, *, on_progress: Callable[[Progress], None],
                 on_result: Callable[[SongResult], None], on_cancelled: Callable[[], None]) -> None:
        self.root = root
        self.job = job
        self.handlers: dict[str, Callable[[Any], None]] = {
            "progress": on_progress, "result": on_result, "cancelled": lambda _payload: on_cancelled()}
        self.events: queue.Queue[tuple[int, str, Any]] = queue.Queue()
        self.cancel_event = threading.Event()
        self.worker: threading.Thread | None = None
        self.job_number = 0
        self.item = ""
        self.running = False
        self._next_poll = root.after(POLL_MS, self._poll)

    @property
    def busy(self) -> bool:
        return self.running

    def start(self, item: str) -> None:
        """Classify ``item`` (a file, URL or search target) in a new worker thread with a fresh cancel flag."""
        self.job_number += 1
        self.item = item
        self.running = True
        self.cancel_event = threading.Event()
        self.worker = threading.Thread(target=self._work, args=(self.job_number, item, self.cancel_event),
                                       daemon=True, name="classify")
        self.worker.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def stop(self, timeout_s: float) -> None:
        """Cancel the job and wait (at most ``timeout_s``) until its worker has cleaned up and ended."""
        self.cancel_event.set()
        self.root.after_cancel(self._next_poll)
        if self.worker is not None:
            self.worker.join(timeout_s)

    def _work(self, number: int, item: str, cancel: threading.Event) -> None:
        """The worker thread: no Tk calls here, only queue messages."""
        try:
            result = self.job.classify(item, progress=lambda report: self.events.put((number, "progress", report)),
                                       cancel=cancel)
            self.events.put((number, "result", result))
        except Cancelled:
            self.events.put((number, "cancelled", None))
        except Exception as exc:  # never a traceback in the terminal: the window shows it
            self.events.put((number, "result", SongResult(input=item, error=f"{type(exc).__name__}: {exc}")))

    def _poll(self) -> None:
        try:
            while True:
                number, kind, payload = self.events.get_nowait()
                if number != self.job_number:
                    continue  # from a job that is over
                if kind != "progress":
                    self.running = False
                self.handlers[kind](payload)
        except queue.Empty:
            pass
        worker = self.worker
        if self.running and worker is not None and not worker.is_alive() and self.events.empty():
            self.running = False  # the worker ended without a last message
            self.handlers["result"](SongResult(input=self.item, error="the job stopped unexpectedly"))
        self._next_poll = self.root.after(POLL_MS, self._poll)


def target_for(text: str) -> str:
    """What the entry means: a URL as it is, an existing local file, or else words for a YouTube search.

    Text that is written like a path but names no file is "no such file", never a search.
    """
    text = text.strip()
    if looks_like_url(text):
        return text
    path = Path(text).expanduser()
    if path.is_file():
        return str(path)
    if path.is_dir():
        raise FetchError(f"{text} is a folder: pick one song (the command line classifies whole folders)")
    if looks_like_path(text):
        raise FetchError(f"No such file: {text}")
    return search_target(text)


def audio_filetypes() -> list[tuple[str, str]]:
    """The Open dialog's choices: every audio extension the project reads, or all files."""
    patterns = " ".join("*" + extension for extension in sorted(functions_audio.AUDIO_EXTENSIONS))
    return [("Audio files", patterns), ("All files", "*")]
