"""The window's status line: a progress bar (a percentage, or a busy animation when the total is unknown) above
one line of text, red for an error."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from functions_fetch import Progress

BG_ERROR = "#b00020"  # the status line's colour for an error


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

