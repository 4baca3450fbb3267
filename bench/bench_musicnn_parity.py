"""Parity of functions_musicnn with the original musicnn code, on the shared GTZAN clips that have reference rows.

``../shared/data/gtzan_musicnn_msd_taggram.csv`` holds the outputs of the original ``musicnn`` extractor
(MSD_musicnn, 3-s patches every second) for the ``train`` and ``test`` clips of the artist-filtered split; the
``gtzan_mini/`` clips among them are computed here with functions_musicnn (and with the original's resampler,
resampy 0.2's kaiser_best, ported to NumPy) and compared:

(a) the absolute difference of the 50 tag probabilities, per clip (mean over the clip's patches: mean, p99, max
    over clips x tags) and per patch (mean, p99, max over patches x tags); how many clips keep the same top tag
    and the same set of 5 top tags;
(b) the genre read from our features and from the reference rows: a logistic regression on standardised clip
    features (mean and std of each tag over the clip's patches, the 100 musicnn columns), trained on the
    reference rows of the ``train`` clips that are NOT compared here; the count of compared clips where both
    read the same genre (and how many each gets right). ``--model DIR`` reads the genre with a project model
    folder instead (its musicnn columns from the taggrams, classic columns from gtzan_features.csv).

    python bench/bench_musicnn_parity.py [--clips N] [--model DIR]

Measured (44 clips, 1232 patches): functions_musicnn with soxr HQ differs per patch by 0.0026 on average (max
0.110), clip means by 0.0023 (max 0.068), same top-5 on 32/44 clips, same genre on 42/44. The difference is the
resampler: with resampy 0.2's kaiser_best (what librosa 0.7 used; resampy 0.3+ ships a different kaiser_best)
it falls to 1e-6 (max 1e-4), 44/44 on every count; every other step (padding, power, mel basis, float16 cast)
moves the outputs by 2e-5 or less (``bench/bench_musicnn_ablation.py``: each step's variants).

Needs the converted musicnn weights (``pip install --no-deps musicnn==0.1.0``) and the shared data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_common import doc_parser, load_line  # puts the project on the import path
from musicnn_steps import EXACT, HEADER, ClipResult, Variant, format_row, run_variant, summary

import functions_audio as audio
import functions_musicnn as musicnn
import functions_musicnn_weights as fmw

TAG_COLUMNS = [f"tag_{i:02d}" for i in range(1, fmw.N_TAGS + 1)]
REFERENCE_FILE = "gtzan_musicnn_msd_taggram.csv"


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------
def shared_folder(path: str | None) -> Path:
    """The shared data folder (``path``, else the project's), checked to hold the reference rows and the clips."""
    folder = Path(path) if path else audio.shared_data_dir()
    if folder is None or not (folder / REFERENCE_FILE).is_file() or not (folder / "gtzan_mini").is_dir():
        raise SystemExit(f"{Path(sys.argv[0]).stem}: no {REFERENCE_FILE} and gtzan_mini/ in "
                         f"{folder or '../shared/data'} (set GENRE_SHARED_DATA or --shared)")
    return folder


def reference_taggrams(shared: Path) -> dict[str, np.ndarray]:
    """{file: (patches, 50) reference tag probabilities in patch order}."""
    rows = pd.read_csv(shared / REFERENCE_FILE).sort_values(["file", "patch"])
    return {name: group[TAG_COLUMNS].to_numpy(np.float64) for name, group in rows.groupby("file", sort=True)}


def split_of(shared: Path) -> dict[str, str]:
    """{file: train, valid or test} of the artist-filtered split."""
    split = {}
    for name in ("train", "valid", "test"):
        path = shared / "splits" / "gtzan_fault_filtered" / f"{name}.txt"
        if path.is_file():
            split.update({line.strip(): name for line in path.read_text().splitlines() if line.strip()})
    return split


def clip_features(tags: np.ndarray) -> np.ndarray:
    """The 100 musicnn columns of a clip: mean then std (ddof 0) of each tag over its patches."""
    return np.concatenate([tags.mean(axis=0), tags.std(axis=0)])


def load_clip(path: Path, scaling: str = "32768") -> tuple[np.ndarray, int]:
    """Mono float32 samples of a 16-bit WAV: int16 / 32768 (soundfile's and audioread's scaling) or / 32767."""
    import soundfile

    if scaling == "32768":
        y, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    else:
        raw, sr = soundfile.read(str(path), dtype="int16", always_2d=True)
        y = raw.astype(np.float32) / np.float32(32767)
    return np.ascontiguousarray(y.mean(axis=1) if y.shape[1] > 1 else y[:, 0], dtype=np.float32), sr


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the clips compared (this bench's and the ablation's)."""
    parser.add_argument("--shared", help="the shared data folder (default ../shared/data or $GENRE_SHARED_DATA)")
    parser.add_argument("--clips", type=int, default=0, help="compare only the first N clips (default all)")


def load_inputs(args: argparse.Namespace) -> tuple[Path, dict[str, np.ndarray], dict[str, str],
                                                   list[tuple[str, np.ndarray, int]], dict[str, np.ndarray]]:
    """The shared folder, the reference taggrams, the split, the compared clips (name, samples, rate) and the
    network's weights; the clips counted in one line. Ends the bench with one line when something is missing."""
    name = Path(sys.argv[0]).stem
    if args.clips < 0:
        raise SystemExit(f"{name}: --clips {args.clips}: a number of clips, 0 for all")
    shared = shared_folder(args.shared)
    reference = reference_taggrams(shared)
    split = split_of(shared)
    files = [f for f in sorted(reference) if (shared / "gtzan_mini" / f).is_file()]
    if args.clips:
        files = files[:args.clips]
    if not files:
        raise SystemExit(f"{name}: no gtzan_mini clip has reference rows")
    try:
        arrays = fmw.read_weights(fmw.ensure_weights())
    except fmw.MusicnnUnavailable as exc:
        raise SystemExit(f"{name}: {exc}") from None
    genres = pd.Series([f.split("/")[0] for f in files]).value_counts()
    counts = pd.Series([split.get(f, "none") for f in files]).value_counts().to_dict()
    print(f"{len(files)} gtzan_mini clips with reference rows ({', '.join(f'{v} {k}' for k, v in counts.items())}; "
          f"{', '.join(f'{g} {n}' for g, n in genres.items())}); {load_line()}")
    clips = [(f, *load_clip(shared / "gtzan_mini" / f)) for f in files]
    return shared, reference, split, clips, arrays


# --------------------------------------------------------------------------------------------------------------
# Genre read from the features
# --------------------------------------------------------------------------------------------------------------
def genre_reader(reference: dict[str, np.ndarray], split: dict[str, str], exclude: set[str]):
    """A logistic regression on standardised musicnn clip features of the reference ``train`` clips not in
    ``exclude``; returns (predict function, number of training clips)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = [f for f in sorted(reference) if split.get(f) == "train" and f not in exclude]
    X = np.stack([clip_features(reference[f]) for f in names])
    y = [f.split("/")[0] for f in names]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, y)
    return (lambda features: list(model.predict(np.atleast_2d(features)))), len(names)


def model_reader(model_dir: str, shared: Path):
    """A project model folder's genre reader: musicnn columns from the taggram, classic ones from the shared CSV."""
    import functions_nn

    classifier = functions_nn.load_classifier(model_dir)
    known = set(audio.MUSICNN_COLUMNS) | set(audio.CLASSIC_COLUMNS)
    unknown = [c for c in classifier.feature_columns if c not in known]
    if unknown:
        raise SystemExit(f"bench_musicnn_parity: {model_dir}: columns neither musicnn nor classic: {unknown[:5]}")
    classic = pd.read_csv(shared / "gtzan_features.csv").set_index("file")

    def predict(files: list[str], taggrams: list[np.ndarray]) -> list[str]:
        rows = []
        for name, tags in zip(files, taggrams, strict=True):
            values = dict(zip(audio.MUSICNN_COLUMNS, clip_features(tags), strict=True))
            values.update({c: float(classic.at[name, c]) for c in classifier.feature_columns if c not in values})
            rows.append([values[c] for c in classifier.feature_columns])
        return classifier.predict(np.asarray(rows))
    return predict


def print_genre_read(args: argparse.Namespace, shared: Path, reference: dict[str, np.ndarray], split: dict[str, str],
                     compared: list[tuple[str, list[ClipResult]]]) -> None:
    """(b): the genre read from each row of ``compared`` (label, results) against the one read from the reference
    rows, by the logistic regression or the ``--model`` folder."""
    names = [r.file for r in compared[0][1]]
    if args.model:
        read = model_reader(args.model, shared)
        how = f"model {args.model}"
    else:
        predict, n_train = genre_reader(reference, split, set(names))
        how = (f"logistic regression on standardised musicnn clip mean+std (100 columns), trained on the reference "
               f"rows of the {n_train} train clips not compared here")

        def read(names: list[str], taggrams: list[np.ndarray]) -> list[str]:
            return predict(np.stack([clip_features(t) for t in taggrams]))
    genres = {f: f.split("/")[0] for f in names}
    ref_genre = read(names, [r.reference for r in compared[0][1]])
    right_ref = sum(g == genres[f] for g, f in zip(ref_genre, names, strict=True))
    print(f"\ngenre read ({how}); the reference rows read {right_ref}/{len(names)} right")
    for label, results in compared:
        ours_genre = read(names, [r.ours for r in results])
        same = sum(a == b for a, b in zip(ours_genre, ref_genre, strict=True))
        right = sum(g == genres[f] for g, f in zip(ours_genre, names, strict=True))
        differs = [f"{f} (ours {a}, reference {b})" for f, a, b in zip(names, ours_genre, ref_genre, strict=True)
                   if a != b]
        print(f"  {label}: same genre as from the reference rows on {same}/{len(names)} clips, right on {right}"
              + (f"; differs: {', '.join(differs)}" if differs else ""))


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(__doc__)
    add_data_arguments(parser)
    parser.add_argument("--model", help="read the genre with this project model folder (musicnn [+classic] "
                                        "columns) instead of a logistic regression")
    args = parser.parse_args(argv)
    if args.model and not (Path(args.model) / "model.json").is_file():
        parser.error(f"--model {args.model}: no model.json in that folder")
    shared, reference, split, clips, arrays = load_inputs(args)

    cache: dict = {}
    started = time.perf_counter()
    base = run_variant(Variant(), clips, reference, arrays, cache)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    exact = run_variant(EXACT, clips, reference, arrays, cache)
    exact_seconds = time.perf_counter() - started
    print(f"\nfunctions_musicnn as it is (spectrogram_of + taggram, patch hop {musicnn.PATCH_HOP}): "
          f"{seconds:.1f} s for {len(clips)} clips; with the resampler of the original (resampy 0.2's kaiser_best, "
          f"NumPy port, the rest as the module): {exact_seconds:.1f} s")
    print("|diff| of the 50 tag probabilities against the reference rows; 'loud' patches hold a mel value whose "
          "10000*S overflows float16")
    print(HEADER)
    print(format_row("functions_musicnn (soxr HQ)", summary(base)))
    print(format_row("with resampy 0.2 kaiser_best (NumPy port)", summary(exact)))
    s = summary(base)
    print(f"patches: {s['loud_patches']} loud, {s['quiet_patches']} quiet; patch count equal to the reference's "
          f"in {s['patch_count_equal']}/{s['clips']} clips")
    worst = sorted(base, key=lambda r: -r.clip_diff().mean())[:5]
    print("functions_musicnn, largest clip-mean differences: "
          + ", ".join(f"{r.file} {r.clip_diff().mean():.4f}" for r in worst))
    by_genre = pd.Series({r.file: r.patch_diff().mean() for r in base}).groupby(lambda f: f.split("/")[0]).mean()
    print("functions_musicnn, per-patch mean |diff| by genre: "
          + ", ".join(f"{g} {v:.4f}" for g, v in by_genre.items()))
    print_genre_read(args, shared, reference, split,
                     [("functions_musicnn", base), ("with resampy 0.2 kaiser_best", exact)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
