"""A small window to classify a song: paste a YouTube link (or type search words), or open a local file.

    python 04_interface.py [--model DIR]

The download and the analysis run in a worker thread; the window stays responsive, shows the progress
(downloading 37 %, analysing window 3/8, ...) and can cancel. The result shows the song's title and genre,
a bar chart of all genre probabilities and the per-window timeline. Errors are shown in the window.
The window itself is functions_window.ClassifierWindow.
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
    ClassifierWindow(root, fi.ClassificationJob(model_dir=args.model))  # loads the model, shows a failure itself
    try:
        root.mainloop()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
