"""The window's job runner: one job at a time (a song, a folder scan, tags) in a worker thread, its messages
handed to the window's parts on the Tk thread; and the signals (Ctrl-C, SIGTERM, SIGHUP) that close the window.

The worker makes no Tk calls; closing the window cancels the job and waits for it to remove its files and end
its processes (``JobRunner.stop``).
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from collections.abc import Callable
from typing import Any

from functions_fetch import Cancelled
from functions_interface import ClassificationJob
from functions_song_result import SongResult

POLL_MS = 50  # the Tk thread reads the worker's messages this often


class JobRunner:
    """Runs one job at a time (a song, a folder scan, tags) in a worker thread; the Tk thread polls its messages
    every POLL_MS.

    The worker makes no Tk calls: it puts ``(job number, kind, payload)`` messages on a queue, and ``_poll`` (on
    the Tk thread) hands each message of the current job to the handler of its kind (``handlers``, filled by the
    window's parts: "progress", "result" and "cancelled" by the song's, "row", "scan_done", "tag_plan" and
    "tags_done" by the library's). ``start`` classifies one input; ``submit`` runs any ``work(post, cancel)``. A
    job is busy from ``submit`` until its worker has ended and its messages have been handed over, so a new job
    can never start between the worker's end and the window showing its result.
    """

    PARTIAL_KINDS = frozenset({"progress", "row"})  # messages that do not end a job

    def __init__(self, root: tk.Misc, job: ClassificationJob) -> None:
        self.root = root
        self.job = job
        self.handlers: dict[str, Callable[[Any], None]] = {}  # by message kind; "result" is needed by every job
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


def call_on_signals(on_signal: Callable[[int], None]) -> None:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closing) call ``on_signal(number)`` instead of ending the
    process (the window closes itself like its close button: the job cancelled, its files removed)."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda number, _frame: on_signal(number))
