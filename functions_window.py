"""The tkinter window of ``04_interface.py``, in named parts that each do one job.

What lives here, top-down:

* ``ClassifierWindow``: the whole window; it wires the parts below together and holds the actions (classify,
  open a file, cancel) and what happens when a result comes back;
* ``InputRow``: the entry with its Classify, Open file… and Cancel buttons;
* ``StatusPanel``: the progress bar and the status line (red for errors);
* ``ResultPanel``: title, genre and timeline of the last result above its chart (a matplotlib figure in Tk);
* ``LibraryPanel``: a scanned folder as a sortable table, with Export CSV…, Write tags… and Save playlists…, and
  More like this (the table shows a song's nearest neighbours, functions_similarity), Whole library and Save
  playlist… (what the table shows); it is in the window only while a library is open (a folder scanned): a song
  classified on its own takes the whole height, with "Back to the library" one click away;
* ``ConfirmDialog``: the question asked before tags are written;
* ``JobRunner``: runs one job at a time (a song, a folder scan, tags) in a worker thread and polls its messages
  on the Tk thread; closing the window (or Ctrl-C) cancels the job and waits for it to remove its files and end
  its processes;
* ``target_for`` and ``audio_filetypes``: what the entry's text means, and the Open dialog's file types.

matplotlib is imported when the window is built; the chart is drawn by ``functions_dataviz.draw_result``.
"""

from __future__ import annotations

import os
import queue
import threading
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

import numpy as np

import functions_audio
import functions_dataviz as viz
import functions_library as fl
from functions_analysis import SongResult
from functions_audio import same_file
from functions_fetch import (
    Cancelled,
    FetchError,
    Progress,
    format_seconds,
    looks_like_path,
    looks_like_url,
    search_target,
)
from functions_interface import UNKNOWN_LABEL, ClassificationJob, ModelUnavailable, expand_inputs, timeline_runs

POLL_MS = 50
LIKE_TOP = 25  # songs shown by More like this
BG_ERROR = "#b00020"
CLOSE_TIMEOUT_S = 15.0  # closing waits this long at most for the job to stop and remove its files
FG_UNCERTAIN = "#9a5b00"  # the headline of an uncertain answer: amber, smaller, two genres
DEFAULT_SIZE = (940, 740)  # the window's size when it opens (at most the screen's)
MIN_SIZE = (780, 640)  # the smallest size at which every part and the chart read well (tests/test_gui_window.py)
TABLE_ROWS = (4, 12)  # the library table's rows: 4 at the minimum height, one more for every 40 px, at most 12
TIMELINE_LINES = 2  # the timeline in words takes at most two lines (the chart shows all of it)
REDRAW_DELAY_MS = 80  # the chart is drawn again for its new size this long after the last resize


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
        root.minsize(*MIN_SIZE)
        width = min(DEFAULT_SIZE[0], max(MIN_SIZE[0], root.winfo_screenwidth() - 40))
        height = min(DEFAULT_SIZE[1], max(MIN_SIZE[1], root.winfo_screenheight() - 80))
        root.geometry(f"{width}x{height}")
        root.report_callback_exception = self._report_callback_exception
        outer = ttk.Frame(root, padding=10)
        outer.pack(fill="both", expand=True)
        self.inputs = InputRow(outer, on_classify=self.classify, on_open=self.open_file, on_cancel=self.cancel,
                               on_open_folder=self.open_folder)
        self.status = StatusPanel(outer)
        self.library = LibraryPanel(outer, on_select=self._show_row, on_export=self.export_csv,
                                    on_tags=self.write_tags, on_playlists=self.save_playlists,
                                    on_like=self.more_like_this, on_whole=self.whole_library,
                                    on_playlist=self.save_playlist)
        self.results = ResultPanel(outer, on_library=self.toggle_library)
        self.confirm_dialog: ConfirmDialog | None = None
        self._name_the_widgets()
        self.entry.focus_set()
        self._load_model()
        self.runner = JobRunner(root, job, on_progress=self.status.show_progress, on_result=self._show_result,
                                on_cancelled=self._show_cancelled)
        self.runner.handlers.update({"row": self.library.add, "scan_done": self._scan_done,
                                     "tag_plan": self._confirm_tags, "tags_done": self._tags_done})
        self.closed = False
        self.closed_by: int | None = None  # the signal that closed the window, if one did
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.bind("<Configure>", self._resized, add="+")

    def _resized(self, event: tk.Event) -> None:
        """The library table gets more rows in a taller window (the chart keeps the height it needs)."""
        if event.widget is self.root:
            low, high = TABLE_ROWS
            self.library.set_rows(max(low, min(high, low + (event.height - MIN_SIZE[1]) // 40)))

    def _name_the_widgets(self) -> None:
        """The parts' widgets under the window's names (see the class docstring)."""
        inputs, status, results = self.inputs, self.status, self.results
        self.entry, self.entry_text = inputs.entry, inputs.entry_text
        self.classify_button, self.open_button = inputs.classify_button, inputs.open_button
        self.cancel_button, self.open_folder_button = inputs.cancel_button, inputs.open_folder_button
        self.table = self.library.tree
        self.export_button, self.tags_button = self.library.export_button, self.library.tags_button
        self.playlists_button = self.library.playlists_button
        self.like_button, self.whole_button = self.library.like_button, self.library.whole_button
        self.playlist_button = self.library.playlist_button
        self.library_button = results.library_button
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
        if not looks_like_url(text.strip()) and Path(text.strip()).expanduser().is_dir():
            self.scan_folder(Path(text.strip()).expanduser())
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

    # -- a folder: the library table ----------------------------------------------------------------------
    def show_library(self) -> None:
        """The library table and its buttons above the result (the figure gets the height that is left)."""
        self.library.show(before=self.results.frame)
        self.results.offer_library(len(self.library.results), shown=True)

    def hide_library(self) -> None:
        """The result takes the whole height; "Back to the library (N songs)" brings the table back."""
        self.library.hide()
        self.results.offer_library(len(self.library.results), shown=False)

    def toggle_library(self) -> None:
        """The button right of the song's title: "Hide the library" or "Back to the library (N songs)"."""
        if self.library.visible:
            self.hide_library()
        else:
            self.show_library()

    def open_folder(self) -> None:
        folder = filedialog.askdirectory(parent=self.root, title="Open a music folder", mustexist=True)
        if folder:
            self.entry_text.set(folder)
            self.scan_folder(Path(folder))

    def scan_folder(self, folder: Path) -> None:
        """Classify every song below ``folder`` in the worker thread, one row of the table each."""
        if self.busy or self.model_error:
            return
        self.library.clear(folder)
        self.show_library()
        self._set_busy(True)
        self.status.set(f"Scanning {folder}…")
        job = self.job

        def work(post: Callable[[str, Any], None], cancel: threading.Event) -> None:
            plan = fl.plan_scan(expand_inputs([str(folder)]), {}, "")
            for number, (item, error) in enumerate(plan.todo, 1):
                if cancel.is_set():
                    raise Cancelled("cancelled")
                post("progress", Progress("analyse", (number - 1) / len(plan.todo),
                                          f"classifying {number}/{len(plan.todo)}: {Path(item).name}"))
                post("row", SongResult(input=item, error=error) if error else job.classify(item, cancel=cancel))
            post("scan_done", len(plan.todo))

        self.runner.submit(work)

    def _scan_done(self, count: int) -> None:
        self._set_busy(False)
        failed = sum(not result.ok for result in self.library.results.values())
        self.status.set(f"Done: {count - failed} songs classified, {failed} failed. Click a row to see it.")
        self.status.complete()

    def _show_row(self, result: SongResult) -> None:
        self.last_result = result
        self.results.show(result)

    def export_csv(self) -> None:
        path = filedialog.asksaveasfilename(parent=self.root, title="Export the table", defaultextension=".csv",
                                            filetypes=[("CSV files", "*.csv")], initialfile="genres.csv")
        if path and not self._overwrites_a_song(path):
            self._library_action(lambda: fl.export_csv(self.library.entries(), path), f"Table saved to {path}.")

    def save_playlists(self) -> None:
        folder = filedialog.askdirectory(parent=self.root, title="Save the playlists in")
        if folder and not any(self._overwrites_a_song(Path(folder) / f"{name}.m3u8")
                              for name in [*self.job.load().genres, fl.UNCERTAIN_PLAYLIST]):
            genres = self.job.load().genres
            self._library_action(lambda: fl.write_playlists(fl.plan_playlists(self.library.entries(), genres),
                                                            folder), f"Playlists saved in {folder}.")

    def more_like_this(self) -> None:
        """Fill the table with the songs of the open library most like the song shown (a row of the table, or a
        song classified on its own), most similar first."""
        import functions_similarity as fsim

        query = self.last_result
        if self.busy or query is None or not query.ok or not self.library.results:
            self.status.set("Open a folder, then choose a song (a row, or a song classified on its own) first.",
                            error=True)
            return
        name = query.title or Path(query.input).name
        vector = fsim.song_vector(query)
        if vector is None:
            self.status.set(f"No similarity vector for {name}: the model reads only classic features, so the musicnn "
                            "network did not run.", error=True)
            return
        songs = [(path, fsim.song_vector(result)) for path, result in self.library.results.items()]
        songs = [(path, raw) for path, raw in songs if raw is not None]
        if not songs:
            self.status.set("No song of the table has a similarity vector (the model reads only classic features).",
                            error=True)
            return
        index = fsim.LibraryVectors.from_vectors([path for path, _ in songs], np.vstack([raw for _, raw in songs]))
        query_file = None
        if not looks_like_url(query.input):
            try:
                info = os.stat(query.input)
                query_file = (info.st_dev, info.st_ino)
            except OSError:
                pass
        self.show_library()
        exclude = {index.index[query.input]} if query.input in index.index else set()
        found, _, _ = index.neighbours(vector, LIKE_TOP, exclude=exclude, query_file=query_file)
        self.library.show_neighbours(name, [(index.paths[row], similarity) for row, similarity in found])
        self.status.set(f"{len(found)} song{'s' if len(found) != 1 else ''} like {name}, most similar first "
                        "(Whole library shows every song again).")

    def whole_library(self) -> None:
        self.show_library()
        self.library.show_all()
        self.status.set(f"The whole library: {len(self.library.results)} songs.")

    def save_playlist(self) -> None:
        """What the table shows (the neighbours of a song, or the whole library) as one M3U8 playlist."""
        import functions_similarity as fsim

        shown = [entry for entry in self.library.shown_entries() if entry.ok]
        if not shown:
            self.status.set("No classified song in the table to put in a playlist.", error=True)
            return
        name = f"like {self.library.like_query}.m3u8" if self.library.like_query else "library.m3u8"
        path = filedialog.asksaveasfilename(parent=self.root, title="Save the playlist", defaultextension=".m3u8",
                                            filetypes=[("Playlists", "*.m3u8")], initialfile=name)
        if path and not self._overwrites_a_song(path):
            self._library_action(lambda: fsim.write_playlist(shown, path),
                                 f"Playlist of {len(shown)} songs saved to {path}.")

    def _overwrites_a_song(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is a song of the table (then the status line says so and nothing is written)."""
        for song in self.library.results:
            if not looks_like_url(song) and same_file(path, song):
                self.status.set(f"Not saved: {path} is a song of the library; choose another name.", error=True)
                return True
        return False

    def _library_action(self, action: Callable[[], Any], done: str) -> None:
        import functions_similarity as fsim

        try:
            action()
        except (fl.LibraryError, fsim.SimilarityError, OSError) as exc:
            self.status.set(f"Error: {exc}", error=True)
        else:
            self.status.set(done)

    def write_tags(self) -> None:
        """Plan the tags in the worker thread, ask (``ConfirmDialog``), then write them there."""
        if self.busy or not self.library.results:
            return
        import functions_tags as ft

        entries = self.library.entries()
        self._set_busy(True)
        self.status.set("Reading the tags…")
        self.runner.submit(lambda post, _cancel: post(
            "tag_plan", ft.plan_tags(entries, fl.DEFAULT_MIN_CONFIDENCE, overwrite=False)))

    def _confirm_tags(self, plan: Any) -> None:
        self._set_busy(False)
        if not plan.changes:
            self.status.set("No tag to write: " + plan.line(dry_run=True) + ".")
            return
        count = len(plan.changes)
        text = (f"{count} file{'s' if count != 1 else ''} will change: the genre is written into "
                f"{'its' if count == 1 else 'their'} tags.\n\n{plan.line(dry_run=True)}.")
        self.confirm_dialog = ConfirmDialog(self.root, "Write genre tags", text, "Write tags",
                                            on_confirm=lambda: self._apply_tags(plan))

    def _apply_tags(self, plan: Any) -> None:
        import functions_tags as ft

        self.confirm_dialog = None
        self._set_busy(True)
        self.status.set("Writing tags…")
        self.runner.submit(lambda post, _cancel: (ft.apply_tags(plan), post("tags_done", plan)))

    def _tags_done(self, plan: Any) -> None:
        self._set_busy(False)
        problems = "; ".join(f"{Path(path).name}: {reason}" for path, reason in plan.problems[:2])
        self.status.set(plan.line(dry_run=False) + (f" ({problems})" if problems else "") + ".",
                        error=bool(plan.problems))

    # -- what comes back from the worker (on the Tk thread) -----------------------------------------------
    def _show_result(self, result: SongResult) -> None:
        self._set_busy(False)
        self.last_result = result
        if self.library.visible:  # a song on its own: the whole height is its, the library one click away
            self.hide_library()
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
        self.library.set_busy(busy)
        if not busy:
            self.status.reset()

    def _report_callback_exception(self, exc_type: type, exc: BaseException, tb: Any) -> None:
        """A bug in a Tk callback: show it in the window instead of a traceback in the terminal."""
        self._set_busy(self.busy)
        self.status.set(f"Internal error: {exc_type.__name__}: {exc}", error=True)


class InputRow:
    """The question, the entry (Return classifies) and the Classify, Open file… and Cancel buttons."""

    def __init__(self, parent: tk.Misc, *, on_classify: Callable[[], None], on_open: Callable[[], None],
                 on_cancel: Callable[[], None], on_open_folder: Callable[[], None]) -> None:
        frame = ttk.Frame(parent)
        frame.pack(fill="x")
        ttk.Label(frame, text="YouTube link, any media URL, search words, or a music folder:").pack(anchor="w")
        row = ttk.Frame(frame)
        row.pack(fill="x", pady=(2, 6))
        self.entry_text = tk.StringVar()
        self.entry = ttk.Entry(row, textvariable=self.entry_text, width=40)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda _event: on_classify())
        self.classify_button = ttk.Button(row, text="Classify", command=on_classify)
        self.classify_button.pack(side="left", padx=(6, 0))
        self.open_button = ttk.Button(row, text="Open file…", command=on_open)
        self.open_button.pack(side="left", padx=(6, 0))
        self.open_folder_button = ttk.Button(row, text="Open folder…", command=on_open_folder)
        self.open_folder_button.pack(side="left", padx=(6, 0))
        self.cancel_button = ttk.Button(row, text="Cancel", command=on_cancel, state="disabled")
        self.cancel_button.pack(side="left", padx=(6, 0))

    def set_busy(self, busy: bool) -> None:
        """While a job runs only Cancel can be pressed; otherwise everything but Cancel."""
        for button in (self.classify_button, self.open_button, self.open_folder_button):
            button.configure(state="disabled" if busy else "normal")
        self.cancel_button.configure(state="normal" if busy else "disabled")

    def disable(self) -> None:
        """No model: nothing can be classified."""
        for button in (self.classify_button, self.open_button, self.open_folder_button):
            button.configure(state="disabled")


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
    """The last result: title (with the song's length), genre and confidence (or, for an uncertain answer, an amber
    headline naming the two most probable genres; for a song of none of the model's genres, an amber "not one of
    the N genres this model knows (nearest: ...)"), the song's strongest musicnn tags ("Sounds like: ..."), the
    timeline as text (at most TIMELINE_LINES lines), the chart.

    Every line wraps at the panel's width, and the chart is drawn again for its new size after a resize
    (functions_dataviz.draw_result fits fonts, rows and legend to it). Right of the title, while a library is
    open, the button "Hide the library" / "Back to the library (N songs)"."""

    GENRE_FONT = ("TkDefaultFont", 30, "bold")
    UNCERTAIN_FONT = ("TkDefaultFont", 22, "bold")
    UNKNOWN_FONT = ("TkDefaultFont", 18, "bold")  # a longer line: it wraps onto two at the window's width

    def __init__(self, parent: tk.Misc, *, on_library: Callable[[], None]) -> None:
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
        from matplotlib.figure import Figure

        self.frame = frame = ttk.Frame(parent)
        frame.pack(fill="both", expand=True, pady=(8, 0))
        header = ttk.Frame(frame)
        header.pack(fill="x")
        self.library_button = ttk.Button(header, text="Back to the library", command=on_library)
        self.title_text = tk.StringVar(value="")
        self.title_label = ttk.Label(header, textvariable=self.title_text, font=("TkDefaultFont", 14))
        self.title_label.pack(side="left", anchor="w")
        self.genre_text = tk.StringVar(value="")
        self.genre_label = tk.Label(frame, textvariable=self.genre_text, font=self.GENRE_FONT, anchor="w",
                                    justify="left")
        self.genre_label.pack(anchor="w")
        self._genre_colour = self.genre_label.cget("foreground")
        self.tags_text = tk.StringVar(value="")
        self.tags_label = ttk.Label(frame, textvariable=self.tags_text, font=("TkDefaultFont", 12, "italic"))
        self.timeline_text = tk.StringVar(value="")
        self.timeline_label = ttk.Label(frame, textvariable=self.timeline_text)
        self.timeline_label.pack(anchor="w")  # the tags line goes above it when a result has tags
        self.figure = Figure(figsize=(8, 3.4), dpi=100)
        self.canvas = FigureCanvasTkAgg(self.figure, master=frame)
        self.canvas.get_tk_widget().pack(fill="both", expand=True)
        self.result: SongResult | None = None
        self.timeline_runs: list[str] = []  # the timeline in words, one "0:00–0:30 genre" a run
        self._redraw_after: str | None = None
        frame.bind("<Configure>", lambda event: self._wrap(event.width), add="+")
        self.canvas.get_tk_widget().bind("<Configure>", lambda _event: self._schedule_redraw(), add="+")

    def offer_library(self, songs: int, shown: bool) -> None:
        """The library's button right of the title: "Hide the library" while the table is ``shown``, else "Back to
        the library (N songs)"."""
        self.library_button.configure(text="Hide the library" if shown else
                                      f"Back to the library ({songs} song{'s' if songs != 1 else ''})")
        if not self.library_button.winfo_manager():
            self.library_button.pack(side="right", anchor="n", before=self.title_label)
        self._wrap(self.frame.winfo_width())

    def _wrap(self, width: int) -> None:
        """The texts wrap at the panel's width (the title leaves room for the library button)."""
        button = self.library_button.winfo_reqwidth() + 12 if self.library_button.winfo_manager() else 0
        self.title_label.configure(wraplength=max(100, width - button))
        for label in (self.genre_label, self.tags_label, self.timeline_label):
            label.configure(wraplength=max(100, width - 4))
        self._fit_timeline()

    def _fit_timeline(self) -> None:
        """The timeline in words, its runs up to what fits in TIMELINE_LINES lines, then "… (N more)"."""
        if not self.timeline_runs:
            self.timeline_text.set("")
            return
        import tkinter.font

        font = tkinter.font.nametofont(str(self.timeline_label.cget("font") or "TkDefaultFont"))
        budget = TIMELINE_LINES * (int(self.timeline_label.cget("wraplength") or 780) - 40)
        runs = self.timeline_runs
        for shown in range(len(runs), 0, -1):
            rest = len(runs) - shown
            text = "Timeline: " + ", ".join(runs[:shown]) + (f", … ({rest} more in the chart)" if rest else "")
            if font.measure(text) <= budget:
                break
        self.timeline_text.set(text)

    def _schedule_redraw(self) -> None:
        """Draw the chart again for its new size once the resizing has paused (fonts, rows, legend follow it)."""
        widget = self.canvas.get_tk_widget()
        if self._redraw_after is not None:
            widget.after_cancel(self._redraw_after)
        self._redraw_after = widget.after(REDRAW_DELAY_MS, self.redraw)

    def redraw(self) -> None:
        """The shown result's chart at the figure's present size."""
        self._redraw_after = None
        if self.result is not None:
            viz.draw_result(self.figure, self.result, use_seaborn=False, title=False)
            self.canvas.draw_idle()

    def show(self, result: SongResult) -> None:
        """Texts and chart of ``result``; for an error, the input as title and the error in the chart."""
        self.timeline_runs = []
        if not result.ok:
            self.title_text.set(result.input if len(result.input) < 90 else result.input[:87] + "...")
            self.genre_text.set("")
            self.tags_text.set("")
            self.tags_label.pack_forget()
            self.timeline_text.set("")
        else:
            assert result.probabilities is not None and result.genre is not None
            length = f"  ({format_seconds(result.duration_s)})" if result.duration_s else ""
            self.title_text.set(f"{result.title or result.input}{length}")
            hedged = result.uncertain or result.unknown
            if hedged:
                text = result.unknown_text() if result.unknown else result.uncertain_text()
                self.genre_text.set(text[:1].upper() + text[1:])
            else:
                self.genre_text.set(f"{result.genre}  {result.probabilities[result.genre] * 100:.0f} %")
            self.genre_label.configure(foreground=FG_UNCERTAIN if hedged else self._genre_colour,
                                       font=self.UNKNOWN_FONT if result.unknown else self.UNCERTAIN_FONT if hedged
                                       else self.GENRE_FONT)
            self.tags_text.set(f"Sounds like: {result.tags_text()}" if result.tags else "")
            if not result.tags:
                self.tags_label.pack_forget()
            else:
                self.tags_label.pack(anchor="w", before=self.timeline_label)
            self.timeline_runs = [f"{format_seconds(a)}–{format_seconds(b)} {g}" for a, b, g in timeline_runs(result)]
            self._fit_timeline()
        self.result = result
        self.redraw()


class LibraryPanel:
    """A scanned folder: a table of its songs (click a heading to sort, a row to show its chart) and the buttons
    Export CSV…, Write tags… and Save playlists…. Results are kept by path; ``entries`` gives them to
    functions_library and functions_tags, which apply the same rules as the command line.

    More like this shows only a song's neighbours (``show_neighbours``: the Similarity column appears, the other
    rows are detached, not deleted); Whole library (``show_all``) shows every row again; Save playlist… saves the
    rows shown (``shown_entries``)."""

    COLUMNS = (("file", "File", 210, "w"), ("title", "Title", 150, "w"), ("genre", "Genre", 210, "w"),
               ("confidence", "Confidence", 90, "e"), ("uncertain", "Uncertain", 80, "center"),
               ("similarity", "Similarity", 95, "e"))
    LIBRARY_COLUMNS = tuple(c[0] for c in COLUMNS if c[0] != "similarity")  # shown outside More like this

    def __init__(self, parent: tk.Misc, *, on_select: Callable[[SongResult], None], on_export: Callable[[], None],
                 on_tags: Callable[[], None], on_playlists: Callable[[], None], on_like: Callable[[], None],
                 on_whole: Callable[[], None], on_playlist: Callable[[], None]) -> None:
        self.frame = frame = ttk.Frame(parent)  # packed by ``show``: not in the window until a library is open
        table = ttk.Frame(frame)
        table.pack(fill="x")
        self.tree = ttk.Treeview(table, columns=[c[0] for c in self.COLUMNS], show="headings", height=6,
                                 selectmode="browse", displaycolumns=self.LIBRARY_COLUMNS)
        for key, text, width, anchor in self.COLUMNS:
            self.tree.heading(key, text=text, command=lambda key=key: self.sort_by(key))
            self.tree.column(key, width=width, anchor=anchor, stretch=key in ("file", "title"))
        scrollbar = ttk.Scrollbar(table, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scrollbar.set)
        self.tree.pack(side="left", fill="x", expand=True)
        scrollbar.pack(side="left", fill="y")
        self.tree.bind("<<TreeviewSelect>>", lambda _event: self._selected(on_select))
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(4, 0))
        self.export_button = ttk.Button(buttons, text="Export CSV…", command=on_export)
        self.tags_button = ttk.Button(buttons, text="Write tags…", command=on_tags)
        self.playlists_button = ttk.Button(buttons, text="Save playlists…", command=on_playlists)
        self.like_button = ttk.Button(buttons, text="More like this", command=on_like)
        self.whole_button = ttk.Button(buttons, text="Whole library", command=on_whole)
        self.playlist_button = ttk.Button(buttons, text="Save playlist…", command=on_playlist)
        for button in (self.export_button, self.tags_button, self.playlists_button, self.like_button,
                       self.whole_button, self.playlist_button):
            button.pack(side="left", padx=(0, 6))
        self.results: dict[str, SongResult] = {}
        self.folder: Path | None = None
        self.sorted_by: tuple[str, bool] | None = None
        self.like_query: str | None = None  # the song whose neighbours are shown (None: the whole library)
        self.saved_sort: tuple[str, bool] | None = None  # the library's sort while neighbours are shown
        self.busy = False
        self.set_busy(False)

    def set_rows(self, rows: int) -> None:
        if int(self.tree.cget("height")) != rows:
            self.tree.configure(height=rows)

    @property
    def visible(self) -> bool:
        return bool(self.frame.winfo_manager())

    def show(self, before: tk.Misc) -> None:
        """Put the table and its buttons in the window, above ``before``."""
        if not self.visible:
            self.frame.pack(fill="x", pady=(6, 0), before=before)

    def hide(self) -> None:
        self.frame.pack_forget()

    def clear(self, folder: Path) -> None:
        self.show_all()
        self.tree.delete(*self.tree.get_children())
        self.results.clear()
        self.folder = folder
        self.sorted_by = self.saved_sort = None

    def add(self, result: SongResult) -> None:
        """One row for ``result`` (its path is the row's id)."""
        path = Path(result.input)
        name = path.relative_to(self.folder).as_posix() if self.folder and path.is_relative_to(self.folder) \
            else path.name
        if result.ok:
            assert result.probabilities is not None and result.genre is not None
            genre = f"{UNKNOWN_LABEL} (nearest: {result.genre})" if result.unknown else result.genre
            values = (name, result.title or "", genre, f"{result.probabilities[result.genre] * 100:.1f} %",
                      "yes" if result.uncertain else "no")
        else:
            values = (name, result.error or "", "error", "", "")
        self.results[result.input] = result
        self.tree.insert("", "end", iid=result.input, values=values)
        self.set_busy(self.busy)

    def sort_by(self, key: str) -> None:
        """Sort the rows by a column; the same heading again reverses the order."""
        reverse = self.sorted_by == (key, False)
        column = [c[0] for c in self.COLUMNS].index(key)

        def value(iid: str) -> Any:
            text = self.tree.item(iid, "values")[column]
            number = key in ("confidence", "similarity")
            return float(text.split()[0]) if number and text else (-1.0 if number else str(text).casefold())

        for index, iid in enumerate(sorted(self.tree.get_children(), key=value, reverse=reverse)):
            self.tree.move(iid, "", index)
        self.sorted_by = (key, reverse)
        self._show_sort()

    def _show_sort(self) -> None:
        """The sort arrow on the heading of the sorted column."""
        key, reverse = self.sorted_by or ("", False)
        for other, text, _, _ in self.COLUMNS:
            self.tree.heading(other, text=text + ((" ▼" if reverse else " ▲") if other == key else ""))

    def entries(self) -> list[fl.LibraryEntry]:
        return [fl.LibraryEntry.from_record(fl.record_for(result, None, "")) for result in self.results.values()]

    def shown_entries(self) -> list[fl.LibraryEntry]:
        """The songs of the rows shown, in the order shown."""
        return [fl.LibraryEntry.from_record(fl.record_for(self.results[iid], None, ""))
                for iid in self.tree.get_children()]

    def show_neighbours(self, query: str, neighbours: list[tuple[str, float]]) -> None:
        """Show only ``neighbours`` (row id, similarity), in that order, with the Similarity column."""
        self.show_all()
        self.tree.detach(*self.tree.get_children())
        for index, (iid, similarity) in enumerate(neighbours):
            self.tree.set(iid, "similarity", f"{similarity:.3f}")
            self.tree.move(iid, "", index)
        self.tree.configure(displaycolumns=[c[0] for c in self.COLUMNS])
        self.like_query, self.saved_sort, self.sorted_by = query, self.sorted_by, ("similarity", True)
        self._show_sort()
        self.set_busy(self.busy)

    def show_all(self) -> None:
        """Every row again, in the library's order (sorted as it was), without the Similarity column."""
        if self.like_query is None:
            return
        for index, iid in enumerate(self.results):
            self.tree.set(iid, "similarity", "")
            self.tree.move(iid, "", index)
        self.tree.configure(displaycolumns=self.LIBRARY_COLUMNS)
        self.like_query, self.sorted_by = None, None
        saved, self.saved_sort = self.saved_sort, None
        if saved is not None:
            self.sorted_by = (saved[0], not saved[1])  # sort_by reverses a repeated key: this restores the order
            self.sort_by(saved[0])
        self._show_sort()
        self.set_busy(self.busy)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        state = "disabled" if busy or not self.results else "normal"
        for button in (self.export_button, self.tags_button, self.playlists_button, self.like_button,
                       self.playlist_button):
            button.configure(state=state)
        self.whole_button.configure(state="disabled" if busy or self.like_query is None else "normal")

    def _selected(self, on_select: Callable[[SongResult], None]) -> None:
        chosen = self.tree.selection()
        if chosen:
            on_select(self.results[chosen[0]])


class ConfirmDialog:
    """A small modal question with a confirm button and Cancel; ``on_confirm`` runs only on confirmation."""

    def __init__(self, root: tk.Misc, title: str, text: str, confirm: str, on_confirm: Callable[[], None]) -> None:
        self.top = tk.Toplevel(root)
        self.top.title(title)
        self.top.transient(root)
        self.text = text
        ttk.Label(self.top, text=text, wraplength=420, padding=12).pack()
        row = ttk.Frame(self.top, padding=(12, 0, 12, 12))
        row.pack(fill="x")
        self.cancel_button = ttk.Button(row, text="Cancel", command=self.top.destroy)
        self.cancel_button.pack(side="right")
        self.confirm_button = ttk.Button(row, text=confirm, command=lambda: (self.top.destroy(), on_confirm()))
        self.confirm_button.pack(side="right", padx=(0, 6))
        self.top.bind("<Escape>", lambda _event: self.top.destroy())
        self.top.wait_visibility()
        self.top.grab_set()
        self.confirm_button.focus_set()


class JobRunner:
    """Runs one job at a time (a song, a folder scan, tags) in a worker thread; the Tk thread polls its messages
    every POLL_MS.

    The worker makes no Tk calls: it puts ``(job number, kind, payload)`` messages on a queue, and ``_poll`` (on
    the Tk thread) hands each message of the current job to the handler of its kind (``handlers``: "progress",
    "result", "cancelled", and any a window adds). ``start`` classifies one input; ``submit`` runs any
    ``work(post, cancel)``. A job is busy from ``submit`` until its worker has ended and its messages have been
    handed over, so a new job can never start between the worker's end and the window showing its result.
    """

    PARTIAL_KINDS = frozenset({"progress", "row"})  # messages that do not end a job

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
        self.ended = False  # the current job has sent a message that ends it
        self._next_poll = root.after(POLL_MS, self._poll)

    @property
    def busy(self) -> bool:
        return self.running

    def start(self, item: str) -> None:
        """Classify ``item`` (a file, URL or search target) in a new worker thread with a fresh cancel flag."""

        def work(post: Callable[[str, Any], None], cancel: threading.Event) -> None:
            post("result", self.job.classify(item, progress=lambda report: post("progress", report), cancel=cancel))

        self.submit(work, item)

    def submit(self, work: Callable[[Callable[[str, Any], None], threading.Event], Any], item: str = "") -> None:
        """Run ``work(post, cancel)`` in a new worker thread; ``post(kind, payload)`` sends a message."""
        self.job_number += 1
        self.item, self.running, self.ended = item, True, False
        self.cancel_event = threading.Event()
        self.worker = threading.Thread(target=self._work, args=(self.job_number, work, self.cancel_event),
                                       daemon=True, name="job")
        self.worker.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def stop(self, timeout_s: float) -> None:
        """Cancel the job and wait (at most ``timeout_s``) until its worker has cleaned up and ended."""
        self.cancel_event.set()
        self.root.after_cancel(self._next_poll)
        if self.worker is not None:
            self.worker.join(timeout_s)

    def _work(self, number: int, work: Callable[[Callable[[str, Any], None], threading.Event], Any],
              cancel: threading.Event) -> None:
        """The worker thread: no Tk calls here, only queue messages; the last one is always "done"."""
        try:
            work(lambda kind, payload: self.events.put((number, kind, payload)), cancel)
        except Cancelled:
            self.events.put((number, "cancelled", None))
        except Exception as exc:  # never a traceback in the terminal: the window shows it
            self.events.put((number, "result", SongResult(input=self.item, error=f"{type(exc).__name__}: {exc}")))
        finally:
            self.events.put((number, "done", None))

    def _poll(self) -> None:
        try:
            while True:
                number, kind, payload = self.events.get_nowait()
                if number != self.job_number:
                    continue  # from a job that is over
                if kind == "done":
                    self._job_over()
                    continue
                self.ended = self.ended or kind not in self.PARTIAL_KINDS
                self.handlers[kind](payload)
        except queue.Empty:
            pass
        self._next_poll = self.root.after(POLL_MS, self._poll)

    def _job_over(self) -> None:
        """The worker has ended: the job is no longer busy; one that never said how it ended is an error."""
        self.running = False
        if not self.ended:
            self.handlers["result"](SongResult(input=self.item, error="the job stopped unexpectedly"))


def target_for(text: str) -> str:
    """What the entry means: a URL as it is, an existing local file, or else words for a YouTube search.

    Text that is written like a path but names no file is "no such file", never a search (a folder is scanned
    by ``ClassifierWindow.classify`` before this is asked).
    """
    text = text.strip()
    if looks_like_url(text):
        return text
    path = Path(text).expanduser()
    if path.is_file():
        return str(path)
    if looks_like_path(text):
        raise FetchError(f"No such file: {text}")
    return search_target(text)


def audio_filetypes() -> list[tuple[str, str]]:
    """The Open dialog's choices: every audio extension the project reads, or all files."""
    patterns = " ".join("*" + extension for extension in sorted(functions_audio.AUDIO_EXTENSIONS))
    return [("Audio files", patterns), ("All files", "*")]
