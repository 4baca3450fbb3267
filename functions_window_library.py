"""The window's library: a scanned folder as a sortable table with its buttons, and what they do.

* ``LibraryPanel``: the table (click a heading to sort, a row to show its chart) with Export CSV…, Write tags…,
  Save playlists…, More like this (the table shows a song's nearest neighbours, functions_similarity), Whole
  library and Save playlist… (what the table shows); it is in the window only while a library is open (a folder
  scanned): a song classified on its own takes the whole height, with "Back to the library" one click away;
* ``LibraryActions``: the folder scan (Open folder…, or a folder typed in the entry) and every button but
  Write tags…, and the table shown or hidden;
* ``TagWriter`` with its ``ConfirmDialog``: Write tags… plans the tags, asks, then writes them;
* ``nearest_songs``: the songs of the library most like a song (More like this).

The slow work (the scan, the tags) runs in the job runner's worker thread; the rest is quick and runs on the Tk
thread. functions_library, functions_tags and functions_similarity apply the same rules as the command line.
"""

from __future__ import annotations

import os
import threading
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TYPE_CHECKING, Any

import numpy as np

import functions_library as fl
import functions_playlists as fp
from functions_audio import same_file
from functions_fetch import Cancelled, Progress, looks_like_url
from functions_interface import UNKNOWN_LABEL, ClassificationJob, expand_inputs
from functions_song_result import SongResult

if TYPE_CHECKING:
    from functions_window_jobs import JobRunner
    from functions_window_song import InputRow, SongView
    from functions_window_status import StatusPanel

LIKE_TOP = 25  # songs shown by More like this
TABLE_ROWS = (4, 12)  # the library table's rows: 4 at the minimum height, one more for every 40 px, at most 12


class LibraryPanel:
    """A scanned folder: a table of its songs and the buttons below it (what a row's click and each button do is
    set by ``connect``). Results are kept by path; ``entries`` gives them to functions_library and functions_tags.

    More like this shows only a song's neighbours (``show_neighbours``: the Similarity column appears, the other
    rows are detached, not deleted); Whole library (``show_all``) shows every row again; Save playlist… saves the
    rows shown (``shown_entries``)."""

    COLUMNS = (("file", "File", 210, "w"), ("title", "Title", 150, "w"), ("genre", "Genre", 210, "w"),
               ("confidence", "Confidence", 90, "e"), ("uncertain", "Uncertain", 80, "center"),
               ("similarity", "Similarity", 95, "e"))
    LIBRARY_COLUMNS = tuple(c[0] for c in COLUMNS if c[0] != "similarity")  # shown outside More like this
    BUTTONS = (("export", "Export CSV…"), ("tags", "Write tags…"), ("playlists", "Save playlists…"),
               ("like", "More like this"), ("whole", "Whole library"), ("playlist", "Save playlist…"))

    def __init__(self, parent: tk.Misc) -> None:
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
        row = ttk.Frame(frame)
        row.pack(fill="x", pady=(4, 0))
        self.buttons = {name: ttk.Button(row, text=text) for name, text in self.BUTTONS}
        for button in self.buttons.values():
            button.pack(side="left", padx=(0, 6))
        (self.export_button, self.tags_button, self.playlists_button, self.like_button, self.whole_button,
         self.playlist_button) = self.buttons.values()
        self.results: dict[str, SongResult] = {}
        self.folder: Path | None = None
        self.sorted_by: tuple[str, bool] | None = None
        self.like_query: str | None = None  # the song whose neighbours are shown (None: the whole library)
        self.saved_sort: tuple[str, bool] | None = None  # the library's sort while neighbours are shown
        self.busy = False
        self.set_busy(False)

    def connect(self, on_select: Callable[[SongResult], None], **commands: Callable[[], None]) -> None:
        """``on_select(result)`` when a row is chosen; ``commands`` by button name (``export=...``, ...)."""
        self.tree.bind("<<TreeviewSelect>>", lambda _event: self._selected(on_select))
        for name, command in commands.items():
            self.buttons[name].configure(command=command)

    def fit_height(self, extra_px: int) -> None:
        """Rows for a window ``extra_px`` taller than its minimum: one more for every 40 px (TABLE_ROWS)."""
        low, high = TABLE_ROWS
        rows = max(low, min(high, low + extra_px // 40))
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
        self.results[result.input] = result
        self.tree.insert("", "end", iid=result.input, values=row_values(result, self.folder))
        self.set_busy(self.busy)

    def sort_by(self, key: str) -> None:
        """Sort the rows by a column; the same heading again reverses the order."""
        reverse = self.sorted_by == (key, False)
        column, number = [c[0] for c in self.COLUMNS].index(key), key in ("confidence", "similarity")

        def value(iid: str) -> float | str:
            return sort_value(self.tree.item(iid, "values")[column], number)

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
        return [library_entry(result) for result in self.results.values()]

    def shown_entries(self) -> list[fl.LibraryEntry]:
        """The songs of the rows shown, in the order shown."""
        return [library_entry(self.results[iid]) for iid in self.tree.get_children()]

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
        for button in self.buttons.values():
            button.configure(state=state)
        self.whole_button.configure(state="disabled" if busy or self.like_query is None else "normal")

    def _selected(self, on_select: Callable[[SongResult], None]) -> None:
        chosen = self.tree.selection()
        if chosen:
            on_select(self.results[chosen[0]])


def row_values(result: SongResult, folder: Path | None) -> tuple[str, ...]:
    """The table's row for ``result``: file (below ``folder``), title, genre, confidence, uncertain."""
    path = Path(result.input)
    name = path.relative_to(folder).as_posix() if folder and path.is_relative_to(folder) else path.name
    if not result.ok:
        return (name, result.error or "", "error", "", "")
    assert result.probabilities is not None and result.genre is not None
    genre = f"{UNKNOWN_LABEL} (nearest: {result.genre})" if result.unknown else result.genre
    return (name, result.title or "", genre, f"{result.probabilities[result.genre] * 100:.1f} %",
            "yes" if result.uncertain else "no")


def sort_value(text: str, number: bool) -> float | str:
    """A cell's sort key: a number column by its number (empty cells first), the others by their text."""
    if number:
        return float(text.split()[0]) if text else -1.0
    return str(text).casefold()


def library_entry(result: SongResult) -> fl.LibraryEntry:
    """A result as functions_library and functions_tags take it (the command line's rules)."""
    return fl.LibraryEntry.from_record(fl.record_for(result, None, ""))


class LibraryActions:
    """The library's actions on the Tk thread: Open folder… (or a folder typed in the entry, ``scan_folder``) fills
    the table in the job runner; Export CSV…, Save playlists…, More like this, Whole library, Save playlist…; the
    table above the song view (``show``) or out of the way (``hide``, "Back to the library"). Write tags… is the
    ``TagWriter``'s (``tags``).

    ``set_busy`` turns the window busy or idle; ``can_start`` says whether a new job may start."""

    def __init__(self, root: tk.Misc, job: ClassificationJob, inputs: InputRow, panel: LibraryPanel, view: SongView,
                 status: StatusPanel, runner: JobRunner, *, set_busy: Callable[[bool], None],
                 can_start: Callable[[], bool]) -> None:
        self.root, self.job, self.inputs, self.panel, self.view = root, job, inputs, panel, view
        self.status, self.runner, self.set_busy, self.can_start = status, runner, set_busy, can_start
        inputs.open_folder_button.configure(command=self.open_folder)
        self.tags = TagWriter(root, panel, status, runner, set_busy=set_busy, model_dir=job.model_dir)
        panel.connect(view.show, export=self.export_csv, tags=self.tags.write_tags, playlists=self.save_playlists,
                      like=self.more_like_this, whole=self.whole_library, playlist=self.save_playlist)
        view.library_button.configure(command=self.toggle)
        runner.handlers.update({"row": panel.add, "scan_done": self._scan_done})

    # -- the table in the window, or out of the way ---------------------------------------------------------------
    def show(self) -> None:
        """The library table and its buttons above the song view (the figure gets the height that is left)."""
        self.panel.show(before=self.view.frame)
        self.view.offer_library(len(self.panel.results), shown=True)

    def hide(self) -> None:
        """The song view takes the whole height; "Back to the library (N songs)" brings the table back."""
        self.panel.hide()
        self.view.offer_library(len(self.panel.results), shown=False)

    def toggle(self) -> None:
        """The button right of the song's title: "Hide the library" or "Back to the library (N songs)"."""
        if self.panel.visible:
            self.hide()
        else:
            self.show()

    def step_aside(self) -> None:
        """A song classified on its own is coming: the whole height is its, the library one click away."""
        if self.panel.visible:
            self.hide()

    # -- a folder scanned into the table ------------------------------------------------------------------------
    def open_folder(self) -> None:
        folder = filedialog.askdirectory(parent=self.root, title="Open a music folder", mustexist=True)
        if folder:
            self.inputs.entry_text.set(folder)
            self.scan_folder(Path(folder))

    def scan_folder(self, folder: Path) -> None:
        """Classify every song below ``folder`` in the worker thread, one row of the table each."""
        if not self.can_start():
            return
        self.panel.clear(folder)
        self.show()
        self.set_busy(True)
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
        self.set_busy(False)
        failed = sum(not result.ok for result in self.panel.results.values())
        self.status.set(f"Done: {count - failed} songs classified, {failed} failed. Click a row to see it.")
        self.status.complete()

    # -- the buttons below the table ------------------------------------------------------------------------------
    def export_csv(self) -> None:
        path = filedialog.asksaveasfilename(parent=self.root, title="Export the table", defaultextension=".csv",
                                            filetypes=[("CSV files", "*.csv")], initialfile="genres.csv")
        if path and not self._overwrites_a_song(path):
            self._save(lambda: fl.export_csv(self.panel.entries(), path), f"Table saved to {path}.")

    def save_playlists(self) -> None:
        folder = filedialog.askdirectory(parent=self.root, title="Save the playlists in")
        if folder and not any(self._overwrites_a_song(Path(folder) / f"{name}.m3u8")
                              for name in fp.every_playlist_name(self.job.load().genres)):
            genres = self.job.load().genres
            self._save(lambda: fp.write_playlists(fp.plan_playlists(self.panel.entries(), genres), folder),
                       f"Playlists saved in {folder}.")  # playlists it did not write there: a one-line error

    def more_like_this(self) -> None:
        """Fill the table with the songs of the open library most like the song shown (a row of the table, or a
        song classified on its own), most similar first."""
        query = self.view.result
        if self.runner.busy or query is None or not query.ok or not self.panel.results:
            self.status.set("Open a folder, then choose a song (a row, or a song classified on its own) first.",
                            error=True)
            return
        try:
            found = nearest_songs(query, self.panel.results)
        except NoNeighbours as exc:
            self.status.set(str(exc), error=True)
            return
        self.show()
        self.panel.show_neighbours(song_name(query), found)
        self.status.set(f"{len(found)} song{'s' if len(found) != 1 else ''} like {song_name(query)}, most similar "
                        "first (Whole library shows every song again).")

    def whole_library(self) -> None:
        self.show()
        self.panel.show_all()
        self.status.set(f"The whole library: {len(self.panel.results)} songs.")

    def save_playlist(self) -> None:
        """What the table shows (the neighbours of a song, or the whole library) as one M3U8 playlist."""
        import functions_similarity as fsim

        shown = [entry for entry in self.panel.shown_entries() if entry.ok]
        if not shown:
            self.status.set("No classified song in the table to put in a playlist.", error=True)
            return
        name = f"like {self.panel.like_query}.m3u8" if self.panel.like_query else "library.m3u8"
        path = filedialog.asksaveasfilename(parent=self.root, title="Save the playlist", defaultextension=".m3u8",
                                            filetypes=[("Playlists", "*.m3u8")], initialfile=name)
        if path and not self._overwrites_a_song(path):
            self._save(lambda: fsim.write_playlist(shown, path), f"Playlist of {len(shown)} songs saved to {path}.")

    def _overwrites_a_song(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is a song of the table (then the status line says so and nothing is written)."""
        for song in self.panel.results:
            if not looks_like_url(song) and same_file(path, song):
                self.status.set(f"Not saved: {path} is a song of the library; choose another name.", error=True)
                return True
        return False

    def _save(self, action: Callable[[], Any], done: str) -> None:
        """Run ``action`` (it writes a file); the status line says ``done`` or the error."""
        import functions_similarity as fsim

        try:
            action()
        except (fl.LibraryError, fsim.SimilarityError, OSError) as exc:
            self.status.set(f"Error: {exc}", error=True)
        else:
            self.status.set(done)


class TagWriter:
    """Write tags…: the tags planned in the worker thread, a question (``ConfirmDialog``, kept as
    ``confirm_dialog`` while it is open), then the tags written there; the status line says what changed."""

    def __init__(self, root: tk.Misc, panel: LibraryPanel, status: StatusPanel, runner: JobRunner, *,
                 set_busy: Callable[[bool], None], model_dir: str | None = None) -> None:
        self.root, self.panel, self.status, self.runner, self.set_busy = root, panel, status, runner, set_busy
        self.model_dir = model_dir  # its model.json may name the genres' tag spellings (a model of your genres)
        self.confirm_dialog: ConfirmDialog | None = None
        runner.handlers.update({"tag_plan": self._confirm, "tags_done": self._done})

    def write_tags(self) -> None:
        """Plan the tags in the worker thread; ``_confirm`` asks once the plan is back."""
        if self.runner.busy or not self.panel.results:
            return
        import functions_tags as ft

        entries = self.panel.entries()
        self.set_busy(True)
        self.status.set("Reading the tags…")
        self.runner.submit(lambda post, _cancel: post(
            "tag_plan", ft.plan_tags(entries, fl.DEFAULT_MIN_CONFIDENCE, overwrite=False,
                                     spellings=ft.model_spellings(self.model_dir))))

    def _confirm(self, plan: Any) -> None:
        self.set_busy(False)
        if not plan.changes:
            self.status.set("No tag to write: " + plan.line(dry_run=True) + ".")
            return
        count = len(plan.changes)
        text = (f"{count} file{'s' if count != 1 else ''} will change: the genre is written into "
                f"{'its' if count == 1 else 'their'} tags.\n\n{plan.line(dry_run=True)}.")
        self.confirm_dialog = ConfirmDialog(self.root, "Write genre tags", text, "Write tags",
                                            on_confirm=lambda: self._apply(plan))

    def _apply(self, plan: Any) -> None:
        import functions_tags as ft

        self.confirm_dialog = None
        self.set_busy(True)
        self.status.set("Writing tags…")
        self.runner.submit(lambda post, _cancel: (ft.apply_tags(plan), post("tags_done", plan)))

    def _done(self, plan: Any) -> None:
        self.set_busy(False)
        problems = "; ".join(f"{Path(path).name}: {reason}" for path, reason in plan.problems[:2])
        self.status.set(plan.line(dry_run=False) + (f" ({problems})" if problems else "") + ".",
                        error=bool(plan.problems))


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


class NoNeighbours(Exception):
    """More like this can show no song; the message is the status line's."""


def song_name(result: SongResult) -> str:
    """How the status line names a song: its title, else its file name."""
    return result.title or Path(result.input).name


def nearest_songs(query: SongResult, results: dict[str, SongResult]) -> list[tuple[str, float]]:
    """The songs of ``results`` (by path) most like ``query``, most similar first, at most LIKE_TOP, as ``(path,
    similarity)``; the query itself (the same path, or the same file under another path) is left out. Raises
    NoNeighbours when the query or every song lacks a similarity vector (a model of classic features only)."""
    import functions_similarity as fsim

    vector = fsim.song_vector(query)
    if vector is None:
        raise NoNeighbours(f"No similarity vector for {song_name(query)}: the model reads only classic features, "
                           "so the musicnn network did not run.")
    songs = [(path, fsim.song_vector(result)) for path, result in results.items()]
    songs = [(path, raw) for path, raw in songs if raw is not None]
    if not songs:
        raise NoNeighbours("No song of the table has a similarity vector (the model reads only classic features).")
    index = fsim.LibraryVectors.from_vectors([path for path, _ in songs], np.vstack([raw for _, raw in songs]))
    query_file = None
    if not looks_like_url(query.input):
        try:
            info = os.stat(query.input)
            query_file = (info.st_dev, info.st_ino)
        except OSError:
            pass
    exclude = {index.index[query.input]} if query.input in index.index else set()
    found, _, _ = index.neighbours(vector, LIKE_TOP, exclude=exclude, query_file=query_file)
    return [(index.paths[row], similarity) for row, similarity in found]
