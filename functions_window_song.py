"""The window's song side: the entry row that asks for a song, the song view that shows its answer, and the
actions between them.

* ``InputRow``: the entry (Return classifies) with its Classify, Open file…, Open folder… and Cancel buttons;
* ``SongView``: title, genre and timeline of the song shown above its chart (a matplotlib figure in Tk);
* ``SongActions``: loads the model; classifies the entry's text (a folder goes to the library), Open file…,
  Cancel; shows what comes back from the job runner;
* ``target_for`` and ``audio_filetypes``: what the entry's text means, and the Open dialog's file types.

matplotlib is imported when the song view is built; the chart is drawn by ``functions_dataviz.draw_result``.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TYPE_CHECKING

import functions_audio
import functions_dataviz as viz
from functions_fetch import FetchError, format_seconds, looks_like_path, looks_like_url, search_target
from functions_interface import ClassificationJob, ModelUnavailable, timeline_runs
from functions_song_result import SongResult

if TYPE_CHECKING:
    from functions_window_jobs import JobRunner
    from functions_window_status import StatusPanel

FG_UNCERTAIN = "#9a5b00"  # the headline of an uncertain answer: amber, smaller, two genres
TIMELINE_LINES = 2  # the timeline in words takes at most two lines (the chart shows all of it)
REDRAW_DELAY_MS = 80  # the chart is drawn again for its new size this long after the last resize


class InputRow:
    """The question, the entry and the Classify, Open file…, Open folder… and Cancel buttons (their commands are
    set by the actions: ``SongActions``, and the library's for Open folder…)."""

    def __init__(self, parent: tk.Misc) -> None:
        frame = ttk.Frame(parent)
        frame.pack(fill="x")
        ttk.Label(frame, text="YouTube link, any media URL, search words, or a music folder:").pack(anchor="w")
        row = ttk.Frame(frame)
        row.pack(fill="x", pady=(2, 6))
        self.entry_text = tk.StringVar()
        self.entry = ttk.Entry(row, textvariable=self.entry_text, width=40)
        self.entry.pack(side="left", fill="x", expand=True)
        self.classify_button = ttk.Button(row, text="Classify")
        self.open_button = ttk.Button(row, text="Open file…")
        self.open_folder_button = ttk.Button(row, text="Open folder…")
        self.cancel_button = ttk.Button(row, text="Cancel", state="disabled")
        for button in (self.classify_button, self.open_button, self.open_folder_button, self.cancel_button):
            button.pack(side="left", padx=(6, 0))

    def set_busy(self, busy: bool) -> None:
        """While a job runs only Cancel can be pressed; otherwise everything but Cancel."""
        for button in (self.classify_button, self.open_button, self.open_folder_button):
            button.configure(state="disabled" if busy else "normal")
        self.cancel_button.configure(state="normal" if busy else "disabled")

    def disable(self) -> None:
        """No model: nothing can be classified."""
        for button in (self.classify_button, self.open_button, self.open_folder_button):
            button.configure(state="disabled")


class SongView:
    """The song shown (``result``): title (with the song's length), genre and confidence (or, for an uncertain
    answer, an amber headline naming the two most probable genres; for a song of none of the model's genres, an
    amber "not one of the N genres this model knows (nearest: ...)"), the song's strongest musicnn tags ("Sounds
    like: ..."), the timeline as text (at most TIMELINE_LINES lines), the chart.

    Every line wraps at the panel's width, and the chart is drawn again for its new size after a resize
    (functions_dataviz.draw_result fits fonts, rows and legend to it). Right of the title, while a library is
    open, the button "Hide the library" / "Back to the library (N songs)" (its command is the library's)."""

    GENRE_FONT = ("TkDefaultFont", 30, "bold")
    UNCERTAIN_FONT = ("TkDefaultFont", 22, "bold")
    UNKNOWN_FONT = ("TkDefaultFont", 18, "bold")  # a longer line: it wraps onto two at the window's width

    def __init__(self, parent: tk.Misc) -> None:
        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
        from matplotlib.figure import Figure

        self.frame = frame = ttk.Frame(parent)
        frame.pack(fill="both", expand=True, pady=(8, 0))
        header = ttk.Frame(frame)
        header.pack(fill="x")
        self.library_button = ttk.Button(header, text="Back to the library")
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
            if result.cut_short is not None:  # the whole line would not fit: the gist, the rest in the CLI/JSON
                length += f"  (cut short: {format_seconds(result.cut_short[1])} in its header)"
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


class SongActions:
    """What the entry row asks for and what comes back: the model loaded (``load_model``; without it nothing can be
    classified), the entry's text classified in the job runner (a folder goes to ``on_folder``), Open file…,
    Cancel; a song's result (``show_result``) or its cancellation shown in the song view and on the status line.

    ``set_busy`` turns the window busy or idle; ``on_own_song`` is called before a song classified on its own is
    shown (the library table steps aside)."""

    def __init__(self, root: tk.Misc, job: ClassificationJob, inputs: InputRow, view: SongView, status: StatusPanel,
                 runner: JobRunner, *, set_busy: Callable[[bool], None], on_folder: Callable[[Path], None],
                 on_own_song: Callable[[], None]) -> None:
        self.root, self.job, self.inputs, self.view, self.status, self.runner = root, job, inputs, view, status, runner
        self.set_busy, self.on_folder, self.on_own_song = set_busy, on_folder, on_own_song
        self.model_error: str | None = None
        inputs.entry.bind("<Return>", lambda _event: self.classify())
        inputs.classify_button.configure(command=self.classify)
        inputs.open_button.configure(command=self.open_file)
        inputs.cancel_button.configure(command=self.cancel)
        runner.handlers.update({"progress": status.show_progress, "result": self.show_result,
                                "cancelled": lambda _payload: self.show_cancelled()})

    def load_model(self) -> None:
        """Load the model now; without it the status line says why and the buttons that classify are off."""
        try:
            self.job.load()
        except ModelUnavailable as exc:
            self.model_error = str(exc)
            self.status.set(f"Cannot load the model: {exc}", error=True)
            self.inputs.disable()

    def can_start(self) -> bool:
        """Whether a new job may start: none is running and the model is loaded."""
        return not self.runner.busy and self.model_error is None

    def classify(self, target: str | None = None) -> None:
        """Start classifying the entry's text (or ``target``) in the worker thread; a folder is scanned."""
        if not self.can_start():
            return
        text = target if target is not None else self.inputs.entry_text.get()
        if not text.strip():
            self.status.set("Paste a YouTube link or type some search words first.", error=True)
            return
        if not looks_like_url(text.strip()) and Path(text.strip()).expanduser().is_dir():
            self.on_folder(Path(text.strip()).expanduser())
            return
        try:
            item = target_for(text)
        except FetchError as exc:
            self.status.set(str(exc), error=True)
            return
        self.set_busy(True)
        self.status.set("Starting…")
        self.runner.start(item)

    def open_file(self) -> None:
        path = filedialog.askopenfilename(parent=self.root, title="Open a song", filetypes=audio_filetypes())
        if path:
            self.inputs.entry_text.set(path)
            self.classify(path)

    def cancel(self) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self.status.set("Cancelling…")

    def show_result(self, result: SongResult) -> None:
        """A song's answer (or its error) from the job runner: the song view shows it, the window is idle again."""
        self.set_busy(False)
        self.on_own_song()
        self.view.show(result)
        if not result.ok:
            self.status.set(f"Error: {result.error}", error=True)
            return
        self.status.set(f"Done: {len(result.windows)} window{'s' if len(result.windows) != 1 else ''} analysed.")
        self.status.complete()

    def show_cancelled(self) -> None:
        self.set_busy(False)
        self.status.set("Cancelled.")


def target_for(text: str) -> str:
    """What the entry means: a URL as it is, an existing local file, or else words for a YouTube search.

    Text that is written like a path but names no file is "no such file", never a search (a folder is scanned
    by ``SongActions.classify`` before this is asked).
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
