"""A small window to classify a song: paste a YouTube link (or type search words), or open a local file.

    python 04_interface.py [--model DIR]

The download and the analysis run in a worker thread; the window stays responsive, shows the progress
(downloading 37 %, analysing window 3/8, ...) and can cancel. The result shows the song's title and genre,
a bar chart of all genre probabilities and the per-window timeline. Errors are shown in the window. Closing the
window, or Ctrl-C in the terminal (exit status 130), stops a running job and removes its temporary files first.
The window itself is functions_window.ClassifierWindow; its parts (the song view, the library table, the job
runner, the status line) are in functions_window_song, functions_window_library, functions_window_jobs and
functions_window_status.
"""

from __future__ import annotations

import argparse
import sys
import tkinter as tk

import functions_interface as fi
from functions_window import ClassifierWindow


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", metavar="DIR", default=None,
                        help="model folder (model.json + weights.npz); default: the shipped pretrained model")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        print(f"error: cannot open a window ({exc}); is a display available (DISPLAY)?", file=sys.stderr)
        return 2
    window = ClassifierWindow(root, fi.ClassificationJob(model_dir=args.model))  # loads the model, shows failures
    window.close_on_signals()  # Ctrl-C in the terminal closes it like its close button: job cancelled, files removed
    try:
        root.mainloop()
    except KeyboardInterrupt:  # a Ctrl-C that came before the handlers
        window.close()
    return 0 if window.closed_by is None else 128 + window.closed_by


if __name__ == "__main__":
    sys.exit(main())
