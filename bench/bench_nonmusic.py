"""Non-music through the shipped model (issue 20): numpy-made sounds that are not music
(functions_synthetic.nonmusic_signals and heldout_nonmusic_signals), analysed by the shipped model's pipeline
(functions_analysis) and scored by the novelty scorer as 02 fits it on the 443 train clips: each signal's
variation (the not-music test's statistic), novelty, known flag and not-music flag, and the time per song of the
analysis and of the scoring.

Two sets: "tuned" (tones, noise, clicks, formant "speech" and the noise tracks of issue 20's report: sleep noise,
rain, fan hum, room tone, noise at -30 dBFS, 50 Hz hum, a metronome, DTMF, a held synth chord, speech with
background noise; the not-music test was checked on it, so it is not independent of it) and "held-out" (30
signals of other seeds, levels, parameters and kinds: ocean, vinyl crackle, dial and busy tones, babble, hair
dryer, traffic, ...; never used to choose anything), which the ``--audio`` files (e.g. recorded speech) join. A
4-minute synthetic rock song (functions_synthetic.synthesize_clip) times the analysis against the scoring.

    .venv/bin/python bench/bench_nonmusic.py [--audio FILE ...] [--json FILE]

Measured, last full run (printed by bench/bench_novelty.py --part nonmusic at 9bfa595, before this part had a
script of its own; --audio with three espeak-ng speech files): tuned 22 of 22 unknown (19 not music); held-out 30
of 30 numpy signals unknown (25 not music), and 2 of 3 espeak-ng speech files (novelty 0.991, 0.993; the third, a
fast female voice of 7 s, 0.762: known as hiphop); the numpy "synthetic rock" of the timing row is unknown
(0.900). Scoring a song 0.05-0.2 ms against 0.3-2 s of analysis (0.007 % for a 4-minute song).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import novelty_data as nd
import numpy as np
from novelty_data import Data

import functions_audio as audio
import functions_novelty as fnov
import functions_synthetic as synthetic


def part_nonmusic(data: Data, args: argparse.Namespace) -> dict:
    """Songs analysed by the shipped pipeline; each window's row scored; song = more than half its windows. Two
    sets: the one the not-music test was checked on ("tuned": not independent of it) and a broader held-out one
    (other seeds, levels, parameters and kinds, never used to choose anything); ``--audio`` files join the
    held-out set."""
    import functions_analysis

    scorer = nd.shipped_scorer(data)
    analyser = functions_analysis.SongAnalyser.from_model_dir(audio.PRETRAINED_MODEL_DIR)
    captured: list[np.ndarray] = []
    probabilities = analyser._probabilities

    def keep_rows(features: np.ndarray) -> np.ndarray:  # the window rows the model reads, kept for scoring
        captured.append(np.atleast_2d(features)[:, analyser._column_index].copy())
        return probabilities(features)

    analyser._probabilities = keep_rows
    heldout = synthetic.heldout_nonmusic_signals()
    for path in args.audio:
        heldout[f"file {path.name}"] = audio.load_audio(path, max_seconds=None)
    sets = {"tuned": synthetic.nonmusic_signals(), "held-out": heldout,
            "music (timing)": {"synthetic rock, 4 min": np.tile(synthetic.synthesize_clip("rock", seed=1), 8)}}
    results: dict[str, dict] = {}
    floor = f"; not music below variation {scorer.still.floor:.2f}" if scorer.still else "; no not-music test"
    print(f"\n== nonmusic: the shipped analysis (data/pretrained) then the scorer (threshold {scorer.threshold:.3f}"
          f"{floor})")
    for set_name, songs in sets.items():
        print(f"\n-- {set_name}")
        print(f"{'input':<42} {'answer':>10} {'top p':>6} {'windows':>7} {'variation':>9} {'novelty':>8} "
              f"{'known':>6} {'not music':>9} {'analysis s':>10} {'score ms':>9}")
        results[set_name] = {}
        for name, y in songs.items():
            captured.clear()
            started = time.perf_counter()
            try:
                result = analyser.analyse_samples(y)
            except functions_analysis.AnalysisError as exc:
                print(f"{name:<42} refused before the model: {exc}")
                results[set_name][name] = {"refused": str(exc)}
                continue
            analysis = time.perf_counter() - started
            rows = captured[-1]
            started = time.perf_counter()
            for _ in range(100):
                song = fnov.song_score(fnov.raw_scores(scorer, rows))
            scoring = (time.perf_counter() - started) / 100
            novelty, known = float(fnov.novelty_values(scorer, song)), not bool(fnov.is_unknown(scorer, song))
            not_music = fnov.song_not_music(fnov.not_music(scorer, rows))
            variation = float(np.median(scorer.still.variation(rows))) if scorer.still else float("nan")
            top = max(result.probabilities.values())
            print(f"{name:<42} {result.genre:>10} {top:6.2f} {len(rows):7d} {variation:9.2f} {novelty:8.3f} "
                  f"{str(known):>6} {str(not_music):>9} {analysis:10.2f} {scoring * 1e3:9.3f}")
            results[set_name][name] = {"genre": result.genre, "top_probability": top, "windows": len(rows),
                                       "variation": variation, "novelty": novelty, "known": known,
                                       "not_music": not_music, "analysis_s": analysis, "scoring_s": scoring}
        scored = [r for r in results[set_name].values() if "known" in r]
        print(f"{set_name}: {sum(not r['known'] for r in scored)} of {len(scored)} unknown, "
              f"{sum(r['not_music'] for r in scored)} not music")
    timing = next(iter(results["music (timing)"].values()))
    print(f"scoring a song costs {timing['scoring_s'] * 1e3:.3f} ms against {timing['analysis_s']:.2f} s of "
          f"analysis for a 4-minute song: {100 * timing['scoring_s'] / timing['analysis_s']:.4f} %")
    return results


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio", type=Path, nargs="*", default=[], help="more non-music files (e.g. speech)")


def main(argv: list[str] | None = None) -> int:
    return nd.run_bench(__doc__, {"nonmusic": part_nonmusic}, "nonmusic", "bench_nonmusic", argv, options)


if __name__ == "__main__":
    sys.exit(main())
