"""Remake docs/screenshot.png: the real 04 window on an Xvfb display after classifying a link.

    python docs/make_screenshot.py [--model DIR] [-o docs/screenshot.png]

A 90-s medley of three GTZAN clips (classical, jazz, metal) from ../shared/data is encoded to MP3 and served
from a loopback HTTP server; the window is driven as in tests/test_gui_window.py (real key and mouse events)
and captured. Needs Xvfb (and xdotool for real input events); the medley is synthetic where the shared data
is absent.
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


def medley(folder: Path) -> Path:
    shared = audio.shared_data_dir()
    genres = ("classical", "jazz", "metal")
    if shared is not None and (shared / "gtzan_mini").is_dir():
        parts = [audio.load_audio(shared / "gtzan_mini" / g / f"{g}.00000.wav") for g in genres]
    else:
        parts = [functions_synthetic.synthesize_clip(g, 0, seconds=30.0) for g in genres]
    from helpers_classify import encode, write_wav

    wav = write_wav(folder / "medley.wav", np.concatenate(parts))
    return encode(wav, folder / "gtzan-medley.mp3", "-b:a", "160k")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(audio.PRETRAINED_MODEL_DIR), help="model folder (default: shipped)")
    parser.add_argument("-o", "--output", default=str(PROJECT_DIR / "docs" / "screenshot.png"))
    args = parser.parse_args()
    if shutil.which("Xvfb") is None:
        print("make_screenshot: Xvfb is not installed (apt-get install xvfb)", file=sys.stderr)
        return 1
    from helpers_classify import LoopbackServer
    from PIL import Image
    from test_gui_window import Driver

    display = ":77"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = LoopbackServer()
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory() as tmp:
            url = server.add_file("/gtzan-medley.mp3", medley(Path(tmp)), "audio/mpeg")
            driver = Driver(display, Path(args.model))
            driver.root.geometry("900x620+0+0")
            driver.pump(0.5)
            result = driver.classify(url)
            if not result.ok:
                print(f"make_screenshot: {result.error}", file=sys.stderr)
                return 1
            shot = driver.screenshot(Path(tmp) / "window.png")
            driver.close()
            image = Image.open(shot).convert("RGB")
            small = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            small.save(args.output, optimize=True)
        print(f"{args.output}: {result.genre} ({result.probabilities[result.genre]:.0%}), "
              f"windows {[w.genre for w in result.windows]}")
    finally:
        server.close()
        xvfb.terminate()
        xvfb.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
