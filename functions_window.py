"""The tkinter window of ``04_interface.py``: ``ClassifierWindow`` builds its parts and wires them together.

The parts, each in a module of its own (none of them imports this one: the window hands each the parts and
callbacks it needs):

* functions_window_song: ``InputRow`` (the entry with Classify, Open file…, Open folder… and Cancel),
  ``SongView`` (title, genre and timeline of the song shown, above its chart) and ``SongActions`` (the model
  loaded; classify, open a file, cancel; a result shown);
* functions_window_library: ``LibraryPanel`` (a scanned folder as a sortable table with its buttons, in the window
  only while a library is open), ``LibraryActions`` (the scan; Export CSV…, Save playlists…, More like this, Whole
  library, Save playlist…) and ``TagWriter`` (Write tags…, with its ``ConfirmDialog``);
* functions_window_jobs: ``JobRunner`` (one job at a time in a worker thread, its messages handed over on the Tk
  thread; closing the window or Ctrl-C cancels the job and waits for it to remove its files and end its
  processes);
* functions_window_status: ``StatusPanel`` (the progress bar and the status line, red for errors).

The names that code driving the window uses (the tests, docs/make_screenshot.py) are importable from here too:
``BG_ERROR``, ``FG_UNCERTAIN``, ``REDRAW_DELAY_MS``, ``LibraryPanel``, ``target_for``, ``filedialog``, ...
"""

from __future__ import annotations

import tkinter as tk
from tkinter import filedialog, ttk
from typing import Any

from functions_interface import ClassificationJob
from functions_song_result import SongResult
from functions_window_jobs import JobRunner, call_on_signals
from functions_window_library import ConfirmDialog, LibraryActions, LibraryPanel
from functions_window_song import (
    FG_UNCERTAIN,
    REDRAW_DELAY_MS,
    InputRow,
    SongActions,
    SongView,
    audio_filetypes,
    target_for,
)
from functions_window_status import BG_ERROR, StatusPanel

__all__ = ["BG_ERROR", "CLOSE_TIMEOUT_S", "DEFAULT_SIZE", "FG_UNCERTAIN", "MIN_SIZE", "REDRAW_DELAY_MS",
           "ClassifierWindow", "LibraryPanel", "audio_filetypes", "filedialog", "target_for"]

CLOSE_TIMEOUT_S = 15.0  # closing waits this long at most for the job to stop and remove its files
DEFAULT_SIZE = (940, 740)  # the window's size when it opens (at most the screen's)
MIN_SIZE = (780, 640)  # the smallest size at which every part and the chart read well (tests/test_gui_window.py)


class ClassifierWindow:
    """The tkinter window; all slow work happens in one worker thread (``JobRunner``) that reports through a queue.

    The parts' widgets are reachable under the window's own names (``entry``, ``classify_button``,
    ``status_text``, ``genre_text``, ``table``, ...) for code that drives it: the GUI tests and make_screenshot.
    """

    def __init__(self, root: tk.Tk, job: ClassificationJob) -> None:
        self.root, self.job = root, job
        self.closed = False
        self.closed_by: int | None = None  # the signal that closed the window, if one did
        root.title("Music genre classifier")
        root.minsize(*MIN_SIZE)
        width = min(DEFAULT_SIZE[0], max(MIN_SIZE[0], root.winfo_screenwidth() - 40))
        height = min(DEFAULT_SIZE[1], max(MIN_SIZE[1], root.winfo_screenheight() - 80))
        root.geometry(f"{width}x{height}")
        root.report_callback_exception = self._report_callback_exception
        outer = ttk.Frame(root, padding=10)
        outer.pack(fill="both", expand=True)
        # top to bottom; the library table is packed above the song view only while a library is open (the song
        # view is ``results``, the name code driving the window knows it by)
        self.inputs, self.status = InputRow(outer), StatusPanel(outer)
        self.library, self.results = LibraryPanel(outer), SongView(outer)
        self.runner = JobRunner(root, job)

        def set_busy(busy: bool) -> None:  # the window's own, looked up at each call (code may wrap it)
            self._set_busy(busy)

        self.library_actions = LibraryActions(root, job, self.inputs, self.library, self.results, self.status,
                                              self.runner, set_busy=set_busy,
                                              can_start=lambda: self.song_actions.can_start())
        self.song_actions = SongActions(root, job, self.inputs, self.results, self.status, self.runner,
                                        set_busy=set_busy, on_folder=self.library_actions.scan_folder,
                                        on_own_song=self.library_actions.step_aside)
        self._name_the_widgets()
        self.entry.focus_set()
        self.song_actions.load_model()
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.bind("<Configure>", self._resized, add="+")

    def _resized(self, event: tk.Event) -> None:
        """The library table gets more rows in a taller window (the chart keeps the height it needs)."""
        if event.widget is self.root:
            self.library.fit_height(event.height - MIN_SIZE[1])

    def _name_the_widgets(self) -> None:
        """The parts' widgets under the window's names (see the class docstring)."""
        inputs, status, results, library = self.inputs, self.status, self.results, self.library
        self.entry, self.entry_text = inputs.entry, inputs.entry_text
        self.classify_button, self.open_button = inputs.classify_button, inputs.open_button
        self.cancel_button, self.open_folder_button = inputs.cancel_button, inputs.open_folder_button
        self.table, self.export_button, self.tags_button = library.tree, library.export_button, library.tags_button
        self.playlists_button, self.like_button = library.playlists_button, library.like_button
        self.whole_button, self.playlist_button = library.whole_button, library.playlist_button
        self.progress, self.status_text, self.status_label = status.progress, status.text, status.label
        self.title_text, self.genre_text, self.library_button = results.title_text, results.genre_text, \
            results.library_button
        self.timeline_text, self.figure, self.canvas = results.timeline_text, results.figure, results.canvas

    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def last_result(self) -> SongResult | None:
        """The song shown: the last one classified, or the row of the table chosen last."""
        return self.results.result

    @property
    def confirm_dialog(self) -> ConfirmDialog | None:
        """The question before tags are written, while it is open."""
        return self.library_actions.tags.confirm_dialog

    def classify(self, target: str | None = None) -> None:
        self.song_actions.classify(target)

    def show_library(self) -> None:
        self.library_actions.show()

    def _show_result(self, result: SongResult) -> None:
        self.song_actions.show_result(result)

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

        def on_signal(number: int) -> None:
            if self.closed_by is None:
                self.closed_by = number
                self.root.after(0, self.close)

        call_on_signals(on_signal)

    def _set_busy(self, busy: bool) -> None:
        self.inputs.set_busy(busy)
        self.library.set_busy(busy)
        if not busy:
            self.status.reset()

    def _report_callback_exception(self, exc_type: type, exc: BaseException, tb: Any) -> None:
        """A bug in a Tk callback: show it in the window instead of a traceback in the terminal."""
        self._set_busy(self.busy)
        self.status.set(f"Internal error: {exc_type.__name__}: {exc}", error=True)
