"""Remake docs/screenshot.png: the real 04 window on an Xvfb display after classifying a link.

    python docs/make_screenshot.py [--model DIR] [-o docs/screenshot.png]
    python docs/make_screenshot.py --long-song [-o docs/screenshot_long_song.png]
    python docs/make_screenshot.py --library [-o docs/screenshot_library.png]
    python docs/make_screenshot.py --size minimum ...   # the same at the window's minimum size (*_min.png)
    python docs/make_screenshot.py --all                # all six: three views, default and minimum size

A 90-s medley of three GTZAN clips (classical, jazz, metal) from ../shared/data is encoded to MP3 and served
from a loopback HTTP server; the window is driven as in tests/test_gui_window.py (real key and mouse events)
and captured. ``--long-song`` makes a 4-minute medley of eight 30-s clips instead, analysed in 15 windows, to
show the timeline of a whole song. ``--library`` opens a folder of twelve GTZAN clips (linked from the shared
data) with Open folder…, sorts the table by confidence and shows one row. The window has its default size
(functions_window.DEFAULT_SIZE) or, with ``--size minimum``, its minimum size (MIN_SIZE).
Needs Xvfb (and xdotool for real input events); the medley is synthetic
where the shared data is absent. The audio only lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR), str(PROJECT_DIR / "tests")]

import numpy as np  # noqa: E402

import functions_audio as audio  # noqa: E402
import functions_synthetic  # noqa: E402

SHORT_MEDLEY = ("classical", "jazz", "metal")
LONG_MEDLEY = ("classical", "jazz", "metal", "reggae", "hiphop", "country", "disco", "blues")  # 8 x 30 s = 4 min


def save_small_png(shot: Path, output: Path) -> None:
    """``shot`` as a palette PNG: 256 colours keep every genre's colour even where it covers a few pixels (with
    64, median cut merged the legend's small swatches into the large areas' colours)."""
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(output, optimize=True)


def medley(folder: Path, genres: tuple[str, ...], name: str, clip_seconds: float | None = None) -> Path:
    """The first GTZAN clip of each genre (or a synthetic one), one after the other, as an MP3 in ``folder``;
    each clip cut to ``clip_seconds`` when given."""
    shared = audio.shared_data_dir()
    if shared is not None and (shared / "gtzan_mini").is_dir():
        parts = [audio.load_audio(shared / "gtzan_mini" / g / f"{g}.00000.wav") for g in genres]
    else:
        parts = [functions_synthetic.synthesize_clip(g, 0, seconds=30.0) for g in genres]
    if clip_seconds is not None:
        parts = [part[:int(round(clip_seconds * audio.SAMPLE_RATE))] for part in parts]
    from helpers_classify import encode, write_wav

    wav = write_wav(folder / "medley.wav", np.concatenate(parts))
    return encode(wav, folder / f"{name}.mp3", "-b:a", "160k")


def library_view(driver, work: Path) -> Path:
    """Open a folder of twelve GTZAN clips (links into the shared data) in the window, sort by confidence, show
    the first row, and capture the window."""
    from test_gui_window import click_heading, click_row

    import functions_window

    folder = work / "Music"
    folder.mkdir()
    shared = audio.shared_data_dir()
    for genre in ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
                  "jazz", "metal")[:12]:
        clips = sorted((shared / "gtzan_mini" / genre).glob("*.wav"))
        taken = len(list(folder.glob(f"{genre}.*")))
        (folder / clips[taken].name).symlink_to(clips[taken])
    functions_window.filedialog.askdirectory = lambda **kw: str(folder)
    driver.click(driver.window.open_folder_button)
    driver.pump(until=lambda: not driver.window.busy, timeout=300)
    click_heading(driver, "confidence")
    click_heading(driver, "confidence")
    click_row(driver, driver.window.table.get_children()[0])
    return driver.screenshot(work / "window.png")


def window_size(size: str) -> tuple[int, int]:
    """The window's default or minimum size (functions_window)."""
    import functions_window

    return functions_window.MIN_SIZE if size == "minimum" else functions_window.DEFAULT_SIZE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(audio.PRETRAINED_MODEL_DIR), help="model folder (default: shipped)")
    parser.add_argument("--long-song", action="store_true",
                        help="a 4-minute song in 15 windows (default output docs/screenshot_long_song.png)")
    parser.add_argument("--library", action="store_true", help="the folder view (docs/screenshot_library.png)")
    parser.add_argument("--size", choices=("default", "minimum"), default="default",
                        help="the window's size (default: its default size; minimum: *_min.png)")
    parser.add_argument("--all", action="store_true", help="every view at both sizes, with their default names")
    parser.add_argument("-o", "--output", default=None, help="PNG to write (default docs/screenshot.png)")
    args = parser.parse_args()
    if args.all:
        for view in ([], ["--long-song"], ["--library"]):
            for size in ("default", "minimum"):
                run = subprocess.run([sys.executable, __file__, "--model", args.model, "--size", size, *view])
                if run.returncode:
                    return run.returncode
        return 0
    if args.output is None:
        name = "screenshot_long_song" if args.long_song else "screenshot_library" if args.library else "screenshot"
        args.output = str(PROJECT_DIR / "docs" / f"{name}{'_min' if args.size == 'minimum' else ''}.png")
    width, height = window_size(args.size)
    if shutil.which("Xvfb") is None:
        print("make_screenshot: Xvfb is not installed (apt-get install xvfb)", file=sys.stderr)
        return 1
    from helpers_classify import LoopbackServer
    from test_gui_window import Driver

    display = ":77"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = LoopbackServer()
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory() as tmp:
            if args.library:
                driver = Driver(display, Path(args.model))
                driver.root.geometry(f"{width}x{height}+0+0")
                shot = library_view(driver, Path(tmp))
                driver.close()
                save_small_png(Path(shot), Path(args.output))
                print(f"{args.output}: the folder view, {width}x{height}")
                return 0
            if args.long_song:
                song = medley(Path(tmp), LONG_MEDLEY, "gtzan-4-minutes", clip_seconds=30.0)
            else:
                song = medley(Path(tmp), SHORT_MEDLEY, "gtzan-medley")
            url = server.add_file("/" + song.name, song, "audio/mpeg")
            driver = Driver(display, Path(args.model))
            driver.root.geometry(f"{width}x{height}+0+0")
            driver.pump(0.5)
            result = driver.classify(url)
            if not result.ok:
                print(f"make_screenshot: {result.error}", file=sys.stderr)
                return 1
            shot = driver.screenshot(Path(tmp) / "window.png")
            driver.close()
            save_small_png(shot, Path(args.output))
        print(f"{args.output}: {width}x{height}, {result.genre} ({result.probabilities[result.genre]:.0%}), "
              f"{len(result.windows)} windows {[w.genre for w in result.windows]}")
    finally:
        server.close()
        xvfb.terminate()
        xvfb.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
