"""A small window to classify a song: paste a YouTube link (or type search words), or open a local file.

    python 04_interface.py [--model DIR]

The download and the analysis run in a worker thread; the window stays responsive, shows the progress
(downloading 37 %, analysing window 3/8, ...) and can cancel. The result shows the song's title and genre,
a bar chart of all genre probabilities and the per-window timeline. Errors are shown in the window.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

import functions_analysis as fa
import functions_dataviz as viz
import functions_fetch as ff
import functions_interface as fi

POLL_MS = 50
BG_ERROR = "#b00020"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", metavar="DIR", default=None,
                        help="model folder (model.json + weights.npz); default: the shipped pretrained model")
    return parser.parse_args(argv)


def target_for(text: str) -> str:
    """What the entry means: a URL as it is, an existing local file, or else words for a YouTube search."""
    text = text.strip()
    if ff.looks_like_url(text):
        return text
    path = Path(text).expanduser()
    if path.is_file():
        return str(path)
    if path.is_dir():
        raise ff.FetchError(f"{text} is a folder: pick one song (the command line classifies whole folders)")
    return ff.search_target(text)


class ClassifierWindow:
    """The tkinter window; all slow work happens in one worker thread that reports through a queue."""

    def __init__(self, root: tk.Tk, job: fi.ClassificationJob) -> None:
        self.root = root
        self.job = job
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.cancel_event = threading.Event()
        self.worker: threading.Thread | None = None
        self.last_result: fa.SongResult | None = None
        self.model_error: str | None = None
        root.title("Music genre classifier")
        root.minsize(820, 560)
        root.report_callback_exception = self._report_callback_exception
        self._build()
        self._load_model()
        root.after(POLL_MS, self._poll)

    # -- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
        from matplotlib.figure import Figure

        outer = ttk.Frame(self.root, padding=10)
        outer.pack(fill="both", expand=True)

        ask = ttk.Frame(outer)
        ask.pack(fill="x")
        ttk.Label(ask, text="YouTube link, any media URL, or search words:").pack(anchor="w")
        row = ttk.Frame(ask)
        row.pack(fill="x", pady=(2, 6))
        self.entry_text = tk.StringVar()
        self.entry = ttk.Entry(row, textvariable=self.entry_text, width=60)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda _event: self.classify())
        self.classify_button = ttk.Button(row, text="Classify", command=self.classify)
        self.classify_button.pack(side="left", padx=(6, 0))
        self.open_button = ttk.Button(row, text="Open file…", command=self.open_file)
        self.open_button.pack(side="left", padx=(6, 0))
        self.cancel_button = ttk.Button(row, text="Cancel", command=self.cancel, state="disabled")
        self.cancel_button.pack(side="left", padx=(6, 0))

        status = ttk.Frame(outer)
        status.pack(fill="x")
        self.progress = ttk.Progressbar(status, mode="determinate", maximum=100)
        self.progress.pack(fill="x")
        self.status_text = tk.StringVar(value="Ready.")
        self.status_label = tk.Label(status, textvariable=self.status_text, anchor="w")
        self.status_label.pack(fill="x")
        self._status_colour = self.status_label.cget("foreground")

        result = ttk.Frame(outer)
        result.pack(fill="both", expand=True, pady=(8, 0))
        self.title_text = tk.StringVar(value="")
        ttk.Label(result, textvariable=self.title_text, font=("TkDefaultFont", 14)).pack(anchor="w")
        self.genre_text = tk.StringVar(value="")
        self.genre_label = tk.Label(result, textvariable=self.genre_text, font=("TkDefaultFont", 30, "bold"),
                                    anchor="w")
        self.genre_label.pack(anchor="w")
        self.timeline_text = tk.StringVar(value="")
        ttk.Label(result, textvariable=self.timeline_text, wraplength=780).pack(anchor="w")
        self.figure = Figure(figsize=(8, 3.4), dpi=100)
        self.canvas = FigureCanvasTkAgg(self.figure, master=result)
        self.canvas.get_tk_widget().pack(fill="both", expand=True)
        self.entry.focus_set()

    def _load_model(self) -> None:
        try:
            self.job.load()
        except fi.ModelUnavailable as exc:
            self.model_error = str(exc)
            self._set_status(f"Cannot load the model: {exc}", error=True)
            self.classify_button.configure(state="disabled")
            self.open_button.configure(state="disabled")

    # -- actions ------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None and self.worker.is_alive()

    def classify(self, target: str | None = None) -> None:
        """Start classifying the entry's text (or ``target``) in the worker thread."""
        if self.busy or self.model_error:
            return
        text = target if target is not None else self.entry_text.get()
        if not text.strip():
            self._set_status("Paste a YouTube link or type some search words first.", error=True)
            return
        try:
            item = target_for(text)
        except ff.FetchError as exc:
            self._set_status(str(exc), error=True)
            return
        self.cancel_event = threading.Event()
        self._set_busy(True)
        self._set_status("Starting…")
        self.worker = threading.Thread(target=self._work, args=(item, self.cancel_event), daemon=True,
                                       name="classify")
        self.worker.start()

    def open_file(self) -> None:
        types = sorted(fi_audio_extensions())
        path = filedialog.askopenfilename(
            parent=self.root, title="Open a song",
            filetypes=[("Audio files", " ".join("*" + e for e in types)), ("All files", "*")])
        if path:
            self.entry_text.set(path)
            self.classify(path)

    def cancel(self) -> None:
        if self.busy:
            self.cancel_event.set()
            self._set_status("Cancelling…")

    # -- worker thread: no Tk calls here, only queue messages ----------------------------------------------
    def _work(self, item: str, cancel: threading.Event) -> None:
        try:
            result = self.job.classify(item, progress=lambda report: self.events.put(("progress", report)),
                                       cancel=cancel)
            self.events.put(("result", result))
        except ff.Cancelled:
            self.events.put(("cancelled", None))
        except Exception as exc:  # never a traceback in the terminal: the window shows it
            self.events.put(("result", fa.SongResult(input=item, error=f"{type(exc).__name__}: {exc}")))

    # -- Tk thread ----------------------------------------------------------------------------------------
    def _poll(self) -> None:
        try:
            while True:
                kind, payload = self.events.get_nowait()
                if kind == "progress":
                    self._show_progress(payload)
                elif kind == "result":
                    self._show_result(payload)
                elif kind == "cancelled":
                    self._set_busy(False)
                    self._set_status("Cancelled.")
        except queue.Empty:
            pass
        self.root.after(POLL_MS, self._poll)

    def _show_progress(self, report: ff.Progress) -> None:
        if report.fraction is None:
            if str(self.progress.cget("mode")) != "indeterminate":
                self.progress.configure(mode="indeterminate")
                self.progress.start(15)
        else:
            if str(self.progress.cget("mode")) != "determinate":
                self.progress.stop()
                self.progress.configure(mode="determinate")
            self.progress["value"] = report.fraction * 100
        self._set_status(report.message[:1].upper() + report.message[1:] + "…")

    def _show_result(self, result: fa.SongResult) -> None:
        self._set_busy(False)
        self.last_result = result
        if not result.ok:
            self.title_text.set(result.input if len(result.input) < 90 else result.input[:87] + "...")
            self.genre_text.set("")
            self.timeline_text.set("")
            self._set_status(f"Error: {result.error}", error=True)
            viz.draw_result(self.figure, result, use_seaborn=False)
            self.canvas.draw_idle()
            return
        assert result.probabilities is not None and result.genre is not None
        length = f"  ({ff.format_seconds(result.duration_s)})" if result.duration_s else ""
        self.title_text.set(f"{result.title or result.input}{length}")
        self.genre_text.set(f"{result.genre}  {result.probabilities[result.genre] * 100:.0f} %")
        runs = fi.timeline_runs(result)
        self.timeline_text.set("Timeline: " + ", ".join(
            f"{ff.format_seconds(a)}–{ff.format_seconds(b)} {g}" for a, b, g in runs))
        viz.draw_result(self.figure, result, use_seaborn=False)
        self.canvas.draw_idle()
        self._set_status(f"Done: {len(result.windows)} window{'s' if len(result.windows) != 1 else ''} analysed.")
        self.progress.configure(mode="determinate")
        self.progress["value"] = 100

    def _set_busy(self, busy: bool) -> None:
        state = "disabled" if busy else "normal"
        self.classify_button.configure(state=state)
        self.open_button.configure(state=state)
        self.cancel_button.configure(state="normal" if busy else "disabled")
        if not busy:
            self.progress.stop()
            self.progress.configure(mode="determinate")
            self.progress["value"] = 0

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_text.set(text)
        self.status_label.configure(foreground=BG_ERROR if error else self._status_colour)

    def _report_callback_exception(self, exc_type: type, exc: BaseException, tb: Any) -> None:
        """A bug in a Tk callback: show it in the window instead of a traceback in the terminal."""
        self._set_busy(self.busy)
        self._set_status(f"Internal error: {exc_type.__name__}: {exc}", error=True)


def fi_audio_extensions() -> set[str]:
    import functions_audio

    return set(functions_audio.AUDIO_EXTENSIONS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        print(f"error: cannot open a window ({exc}); is a display available (DISPLAY)?", file=sys.stderr)
        return 2
    ClassifierWindow(root, fi.ClassificationJob(model_dir=args.model))
    try:
        root.mainloop()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
