"""Benchmark of feature extraction on the shared GTZAN clips, both runs measured here, in one run.

(a) the original project's way: a plain sequential loop calling librosa's feature functions one by one on the
    waveform (each of them computes its own STFT / mel spectrogram);
(b) `00_preprocess_music.py` with 2 worker processes (one STFT per clip, every feature derived from it).

Both run as fresh processes (each pays its imports). Prints both wall times, their ratio (target >= 2.5 on a
2-core machine) and how far (a)'s values are from (b)'s.

    python bench/bench_preprocess.py [--clips N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_common import gtzan_mini, timed  # first: it puts the project on the import path

import functions_audio as audio
import functions_dataset

NAIVE_LOOP = r'''
import sys, csv
import numpy as np, librosa
paths, out = sys.argv[1:-1], sys.argv[-1]
with open(out, "w", newline="") as stream:
    writer = csv.writer(stream)
    for path in paths:
        y, sr = librosa.load(path)
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=30)
        chroma = librosa.feature.chroma_stft(y=y, sr=sr)
        tempo = librosa.feature.tempo(y=y, sr=sr)[0]
        zcr = librosa.feature.zero_crossing_rate(y)
        rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr)
        centroid = librosa.feature.spectral_centroid(y=y, sr=sr)
        row = [*np.mean(mfcc, axis=1), *np.std(mfcc, axis=1), *np.mean(chroma, axis=1), *np.std(chroma, axis=1),
               tempo, np.mean(zcr), np.std(zcr), np.mean(rolloff), np.std(rolloff), np.mean(centroid),
               np.std(centroid)]
        writer.writerow([path, *row])
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100, help="clips of gtzan_mini to use (default: all 100)")
    args = parser.parse_args()
    clips, _ = functions_dataset.scan_dataset(gtzan_mini())
    clips = clips[: args.clips]
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset"
        for clip in clips:  # the same clips for both runs
            (subset / clip.genre).mkdir(parents=True, exist_ok=True)
            (subset / clip.file).symlink_to(clip.path)
        naive_s = timed([sys.executable, "-c", NAIVE_LOOP, *[str(c.path) for c in clips], f"{tmp}/naive.csv"])
        ours_s = timed([sys.executable, "00_preprocess_music.py", str(subset), "-o", f"{tmp}/ours.csv",
                        "--workers", "2", "--overwrite", "--no-progress"])
        import numpy as np
        import pandas as pd

        naive = pd.read_csv(f"{tmp}/naive.csv", header=None).iloc[:, 1:].to_numpy()
        ours = pd.read_csv(f"{tmp}/ours.csv")[list(audio.FEATURE_COLUMNS)].to_numpy()
        spread = np.maximum(ours.std(axis=0), 1e-9)
        gap = np.abs(naive - ours) / spread
    print(f"clips: {len(clips)}")
    print(f"(a) sequential librosa loop, one call per feature: {naive_s:7.2f} s  ({naive_s / len(clips):.3f} s/clip)")
    print(f"(b) 00_preprocess_music.py --workers 2:           {ours_s:7.2f} s  ({ours_s / len(clips):.3f} s/clip)")
    print(f"ratio (a)/(b): {naive_s / ours_s:.2f}   (target >= 2.5)")
    print(f"agreement of (a) and (b): {np.mean(gap <= 0.02) * 100:.2f} % of values within 2 % of the column's "
          f"std, largest gap {gap.max() * 100:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
