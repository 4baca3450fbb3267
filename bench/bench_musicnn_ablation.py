"""Which step of the musicnn input accounts for the difference to the original's outputs: each step changed alone.

The comparison of bench_musicnn_parity.py (our taggrams against the original musicnn code's reference rows, on the
shared ``gtzan_mini`` clips that have them), for variants of each step of the input computation:

(a) the resampler, everything else as functions_musicnn: soxr VHQ and MQ (the module uses HQ), today's resampy
    kaiser_best and kaiser_fast, scipy's resample_poly and FFT resampling, resampy 0.2's kaiser_best (what librosa
    0.7 used) through resampy and as the NumPy port;
(b) every other step, changed alone from the pipeline with resampy 0.2's kaiser_best (NumPy port): int16 scaling,
    STFT padding, power, mel basis precision, librosa's melspectrogram, the float16 cast, the patch hop and the
    batch-norm epsilon.

Each row has the table's columns of bench_musicnn_parity.py and 'moved': the per-patch mean |diff| of the
variant's outputs to those of the row it changes (how much the step alone moves them).

    python bench/bench_musicnn_ablation.py [--clips N]

Needs what bench_musicnn_parity.py needs; the resampy variants need ``resampy`` (not a project dependency: they
are skipped without it).
"""

from __future__ import annotations

import time
from dataclasses import replace
from math import gcd

import numpy as np
from bench_common import doc_parser
from bench_musicnn_parity import add_data_arguments, load_inputs  # puts the project on the import path
from musicnn_steps import (
    EXACT,
    HEADER,
    ClipResult,
    Resampler,
    Variant,
    format_row,
    kaiser_best_v02,
    run_variant,
    summary,
)

import functions_musicnn as musicnn


def _resampy(kind: object) -> Resampler:
    """resampy's resampler with filter ``kind`` (a name, or a function making the filter)."""
    def run(y: np.ndarray, sr: int) -> np.ndarray:
        import resampy  # experiments only: not a project dependency

        out = resampy.resample(y, sr, musicnn.INPUT_SAMPLE_RATE, filter=kind)
        n = int(np.ceil(y.size * musicnn.INPUT_SAMPLE_RATE / sr))  # librosa.resample(fix=True): fix_length
        return out[:n] if out.size >= n else np.pad(out, (0, n - out.size))
    return run


def _resampy_02_kaiser_best() -> tuple[np.ndarray, int, float]:
    """resampy 0.2's ``kaiser_best`` (librosa 0.7's default): 64 zero crossings, 512 taps per crossing, Kaiser beta
    14.7697, roll-off 0.9476 of Nyquist. resampy 0.3 replaced it (50 crossings, roll-off 0.9173, beta 12.98)."""
    import resampy
    from scipy.signal import get_window

    return resampy.filters.sinc_window(num_zeros=64, precision=9, rolloff=0.9475937167399596,
                                       window=lambda n: get_window(("kaiser", 14.769656459379492), n, fftbins=False))


def _soxr(quality: str) -> Resampler:
    def run(y: np.ndarray, sr: int) -> np.ndarray:
        import soxr

        return soxr.resample(y, sr, musicnn.INPUT_SAMPLE_RATE, quality=quality)
    return run


def _poly(y: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = gcd(sr, musicnn.INPUT_SAMPLE_RATE)
    return resample_poly(y, musicnn.INPUT_SAMPLE_RATE // g, sr // g)


def _fft(y: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import resample

    return resample(y, int(np.ceil(y.size * musicnn.INPUT_SAMPLE_RATE / sr)))


RESAMPY_BEST, RESAMPY_FAST = _resampy("kaiser_best"), _resampy("kaiser_fast")  # today's resampy's filters
RESAMPY_V02 = _resampy(_resampy_02_kaiser_best)
RESAMPY = (RESAMPY_BEST, RESAMPY_FAST, RESAMPY_V02)  # skipped without resampy
RESAMPLERS: dict[str, Resampler] = {  # (a), in the order of the table; the module's soxr HQ is the first row
    "soxr VHQ": _soxr("VHQ"),
    "soxr MQ": _soxr("MQ"),
    "resampy 0.4 kaiser_best": RESAMPY_BEST,
    "resampy 0.4 kaiser_fast": RESAMPY_FAST,
    "scipy resample_poly 320/441": _poly,
    "scipy FFT resample": _fft,
    "resampy 0.2 kaiser_best (resampy)": RESAMPY_V02,
    "resampy 0.2 kaiser_best (NumPy)": kaiser_best_v02,
}
STEPS: dict[str, dict[str, object]] = {  # (b): each row's changes to EXACT
    "resampy 0.2 filter, resampy, float64 in": {"resampler": RESAMPY_V02, "resample_dtype": "float64"},
    "int16 / 32767 (not / 32768)": {"scaling": "32767"},
    "STFT padding constant (librosa >= 0.10)": {"pad_mode": "constant"},
    "power |z|**2 (complex64)": {"power": "abs2"},
    "power in float64 (no complex64)": {"power": "float64"},
    "mel basis float64": {"basis_dtype": "float64"},
    "librosa 0.11 melspectrogram (reflect)": {"spectrogram": "librosa"},
    "no float16 cast": {"cast": "none"},
    "float16 cast, 10000 S saturating at 65504": {"cast": "float16-overflow-clipped"},
    "patch hop 62 frames (data README)": {"hop": 62},
    "batch-norm epsilon 1e-5 (not 1e-3)": {"epsilon": 1e-5},
}


def ablation_variants() -> list[tuple[str, Variant, list[Variant]]]:
    """(title, the variant the others are compared with, variants): the resampler changed from the module's
    pipeline, then every other step changed from the pipeline with the original's resampler."""
    module = Variant(name="custom steps (= module: soxr HQ)", spectrogram="custom")
    resamplers = [module, *(replace(module, name=f"resampler {name}", resampler=function)
                            for name, function in RESAMPLERS.items())]
    steps = [EXACT, *(replace(EXACT, name=name, **changes) for name, changes in STEPS.items())]
    try:
        import resampy  # noqa: F401
    except ImportError:
        print("(resampy not installed: its variants are skipped)")
        resamplers = [v for v in resamplers if v.resampler not in RESAMPY]
        steps = [v for v in steps if v.resampler not in RESAMPY]
    return [("the resampler, all else as the module", module, resamplers),
            ("every other step, from the pipeline with resampy 0.2's kaiser_best (NumPy port)", EXACT, steps)]


def moved(results: list[ClipResult], anchor_results: list[ClipResult]) -> float:
    """The per-patch mean |diff| of a variant's outputs to its anchor's (the same patches)."""
    return float(np.mean([np.abs(r.ours - a.ours).mean() for r, a in zip(results, anchor_results, strict=True)]))


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(__doc__)
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    _, reference, _, clips, arrays = load_inputs(args)
    cache: dict = {}
    for title, anchor, variants in ablation_variants():
        print(f"\nAblation: {title}; 'moved' is the per-patch mean |diff| to the outputs of "
              f"'{anchor.name}' (how much the step alone moves them)")
        print(HEADER + f"  {'moved':>9}")
        anchor_results = run_variant(anchor, clips, reference, arrays, cache)
        for variant in variants:
            started = time.perf_counter()
            results = run_variant(variant, clips, reference, arrays, cache)
            moved_text = f"{moved(results, anchor_results):>9.6f}" if variant.hop == anchor.hop else f"{'-':>9}"
            took = time.perf_counter() - started
            print(format_row(variant.name, summary(results), f"  {moved_text}  ({took:.0f} s)"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
