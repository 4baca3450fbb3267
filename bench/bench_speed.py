"""Speed on the files people have (issue 22): four-minute 44.1-kHz stereo songs, every figure measured in one run.

The script makes its own songs (speed_songs.py): eight shared gtzan_mini clips end to end (synthetic clips
from functions_synthetic where the shared data is absent), at 44.1 kHz stereo (the right channel a 1-ms-late,
0.9 copy of the left), encoded with the project's ffmpeg as MP3 at 128/192/320 kb/s, AAC in M4A, FLAC, and as
22.05-kHz mono WAV (the training format). ``--distinct`` songs are encoded per format and copied to make
``--songs`` files. Parts:

folder   ``03 FOLDER --json --workers 2 --no-progress`` as a real process per format: songs/s, and CPU seconds
         per song (03's and its workers' and decoders', from wait4); with ``--baseline REV`` the same folder
         classified by that commit's 03 (its model; the musicnn weights of this checkout), for before/after.
         Target on 40 MP3s at 192 kb/s: >= 2 songs/s (goal 3).
stages   where one song's CPU time goes, per format, in this process (1 BLAS thread, as a worker): reading it
         (decode, mono, 22.05 kHz; the resampling shown apart), the classic features, the musicnn input (16 kHz,
         log-mel), the network's timbral and temporal front ends and its mid/back end, the rest of the analysis;
         and a process's start-up (imports, model and weights), paid once per folder (speed_stages.py).
cold     cold ``03 clip.wav --json`` (median of ``--repeats``; target <= 1.0 s) and 10 MP3 songs from a cold
         start (target >= 1.6 songs/s).
preprocess  ``00 DIR --features all --workers 2`` on the 100 clips (``--copies`` times), scaled to 1000 clips
         (target <= 5 min).

How often the default ``--patches`` budget gives the answer of ``--patches all`` (the [agree] part here until
9fcdcfb) is measured by bench/bench_patches.py.

    python bench/bench_speed.py                                   # every part, every format
    python bench/bench_speed.py --parts folder,stages --formats mp3-192 --songs 10   # a quick look
    python bench/bench_speed.py --parts folder --baseline 095650e --formats mp3-192 --songs 40

The machine is shared: each part prints the load average; compare CPU seconds per song when it is not quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_common as common  # first: it puts the project on the import path
import numpy as np
from bench_common import CLASSIFIER, PREPROCESS, PROJECT_DIR, verdict
from speed_songs import FORMATS, clips_by_genre, make_folder
from speed_stages import part_stages

import functions_analysis as fa
import functions_audio as audio

PARTS = ("stages", "folder", "cold", "preprocess")
TARGET_SONGS_PER_S, GOAL_SONGS_PER_S, TARGET_COLD10 = 2.0, 3.0, 1.6
TARGET_COLD_S, TARGET_PREPROCESS_S = 1.0, 300.0


# --------------------------------------------------------------------------------------------------------------
# folder
# --------------------------------------------------------------------------------------------------------------
def classify_folder(folder: Path, count: int, classifier: str = CLASSIFIER, extra: tuple[str, ...] = (),
                    env: dict[str, str] | None = None) -> common.Run:
    """``03 FOLDER --json --workers 2`` timed as a fresh process; ends the benchmark unless every song has its
    record."""
    command = [sys.executable, classifier, str(folder), "--json", "--workers", "2", "--no-progress", *extra]
    run = common.run_measured(command, env=env)
    records = [json.loads(line) for line in run.stdout.splitlines()]
    failed = [r for r in records if r["error"] is not None]
    if len(records) != count or failed:
        raise SystemExit(f"bench_speed: {len(records)} records for {count} songs, failures: {failed[:2]}")
    return run


def baseline_checkout(rev: str, work: Path) -> tuple[str, dict[str, str]] | None:
    """03 of commit ``rev`` unpacked into ``work`` (its model inside), and the environment giving it this
    checkout's musicnn weights; None without git or the commit."""
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", rev], capture_output=True)
    if archive.returncode != 0:
        return None
    target = work / f"baseline-{rev}"
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    import functions_musicnn_weights

    weights = functions_musicnn_weights.weights_path().parent.resolve()
    return str(target / "03_launch_classifier.py"), {functions_musicnn_weights.WEIGHTS_ENV: str(weights)}


def part_folder(formats: list[str], count: int, distinct: int, by_genre, work: Path, baseline: str | None,
                patches: list[str], cache: dict) -> dict:
    print(f"\n[folder] 03 FOLDER --json --workers 2, {count} four-minute songs per format ({distinct} distinct, "
          f"copied); {common.load_line()}")
    results: dict = {}
    old = baseline_checkout(baseline, work) if baseline else None
    if baseline and old is None:
        print(f"    --baseline {baseline}: no such commit here; skipped")
    for name in formats:
        folder = make_folder(name, count, distinct, by_genre, work, cache)
        runs = [("this checkout" + (f", --patches {p}" if p else ""), CLASSIFIER, ("--patches", p) if p else (),
                 None) for p in (patches or [""])]
        if old is not None:
            runs.insert(0, (f"baseline {baseline}", old[0], (), old[1]))
        for label, classifier, extra, env in runs:
            run = classify_folder(folder, count, classifier, extra, env)
            rate = count / run.wall
            results[(name, label)] = {"songs_per_s": rate, "cpu_per_song": run.cpu / count, "wall": run.wall}
            print(f"    {name:8s} {label:28s}: {run.wall:6.1f} s = {rate:5.2f} songs/s; CPU {run.cpu:6.1f} s = "
                  f"{run.cpu / count:.2f} CPU-s/song ({run.cpu / run.wall:.2f} cores busy); peak RSS "
                  f"{run.peak_mb:.0f} MB; {common.load_line()}")
    return results


# --------------------------------------------------------------------------------------------------------------
# cold
# --------------------------------------------------------------------------------------------------------------
def part_cold(by_genre, work: Path, repeats: int, cache: dict, distinct: int) -> dict:
    """Cold ``03 clip.wav --json`` (median of ``repeats``) and 10 MP3 songs classified from a cold start."""
    print(f"\n[cold] fresh 03 processes; {common.load_line()}")
    if by_genre is not None:
        clip = by_genre["blues"][0]
    else:
        import soundfile

        import functions_synthetic

        clip = work / "clip.wav"
        soundfile.write(str(clip), functions_synthetic.synthesize_clip("blues", 0, seconds=30.0), audio.SAMPLE_RATE)
    command = [sys.executable, CLASSIFIER, str(clip), "--json"]
    common.run_measured(command)
    runs = [common.run_measured(command) for _ in range(repeats)]
    wall = statistics.median(r.wall for r in runs)
    print(f"    03 {clip.name} --json: median {wall:.2f} s (min {min(r.wall for r in runs):.2f}, max "
          f"{max(r.wall for r in runs):.2f}), CPU {statistics.median(r.cpu for r in runs):.2f} s, peak RSS "
          f"{statistics.median(r.peak_mb for r in runs):.0f} MB [target <= {TARGET_COLD_S} s: "
          f"{verdict(wall <= TARGET_COLD_S)}]")
    folder = make_folder("mp3-192", 10, min(distinct, 10), by_genre, work, cache)
    run = classify_folder(folder, 10)
    rate = 10 / run.wall
    print(f"    10 MP3 songs (192 kb/s) from a cold start: {run.wall:.1f} s = {rate:.2f} songs/s, "
          f"{run.cpu / 10:.2f} CPU-s/song [target >= {TARGET_COLD10}: {verdict(rate >= TARGET_COLD10)}]")
    return {"clip_s": wall, "cold10": rate}


# --------------------------------------------------------------------------------------------------------------
# preprocess
# --------------------------------------------------------------------------------------------------------------
def part_preprocess(by_genre, work: Path, copies: int) -> dict:
    """``00 DIR --features all --workers 2`` on ``copies`` times the 100 clips, its time scaled to 1000 clips."""
    print(f"\n[preprocess] 00 DIR --features all --workers 2; {common.load_line()}")
    if by_genre is None:
        print("    needs the shared gtzan_mini clips; not measured")
        return {}
    folder = work / "gtzan_copies"
    clips = common.clip_subset(by_genre, 10)
    for copy in range(copies):
        for clip in clips:
            target = folder / clip.parent.name / f"{clip.stem}.{copy}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip, target)  # a file of its own: 00 reads a file reached twice (links) once
    output = work / "features.csv"
    run = common.run_measured([sys.executable, PREPROCESS, str(folder), "-o", str(output), "--features", "all",
                           "--workers", "2", "--overwrite", "--no-progress"])
    count = sum(1 for _ in output.open(encoding="utf-8")) - 1 if output.is_file() else 0  # the rows 00 wrote
    if count <= 0:
        print(f"    00 wrote no rows (exit {run.returncode}); not measured")
        return {}
    scaled = run.wall * 1000 / count
    print(f"    {count} clips: {run.wall:.1f} s, CPU {run.cpu:.1f} s ({run.cpu / count:.3f} CPU-s/clip); scaled to "
          f"1000 clips {scaled / 60:.1f} min [target <= {TARGET_PREPROCESS_S / 60:.0f} min: "
          f"{verdict(scaled <= TARGET_PREPROCESS_S)}]" + ("" if count >= 1000 else f" (extrapolated from {count})"))
    return {"scaled_s": scaled}


def print_targets(results: dict) -> None:
    """The issue's targets, each with this run's figure and met / MISSED."""
    lines = []
    for (name, label), r in results.get("folder", {}).items():
        if name == "mp3-192" and label.startswith("this checkout"):
            lines.append(f"03 FOLDER --workers 2, MP3 192 kb/s ({label}): {r['songs_per_s']:.2f} songs/s, "
                         f"{r['cpu_per_song']:.2f} CPU-s/song [>= {TARGET_SONGS_PER_S:g}: "
                         f"{verdict(r['songs_per_s'] >= TARGET_SONGS_PER_S)}; goal {GOAL_SONGS_PER_S:g}: "
                         f"{verdict(r['songs_per_s'] >= GOAL_SONGS_PER_S)}]")
    cold = results.get("cold")
    if cold:
        lines.append(f"cold 03 clip.wav: {cold['clip_s']:.2f} s [<= {TARGET_COLD_S:g} s: "
                     f"{verdict(cold['clip_s'] <= TARGET_COLD_S)}]; 10 MP3 songs cold: {cold['cold10']:.2f} songs/s "
                     f"[>= {TARGET_COLD10:g}: {verdict(cold['cold10'] >= TARGET_COLD10)}]")
    pre = results.get("preprocess")
    if pre:
        lines.append(f"00 --features all, 1000 clips: {pre['scaled_s'] / 60:.1f} min [<= {TARGET_PREPROCESS_S / 60:g} "
                     f"min: {verdict(pre['scaled_s'] <= TARGET_PREPROCESS_S)}]")
    common.print_target_lines(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which parts (default: {','.join(PARTS)})")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"formats of [folder] and [stages] "
                                                                     f"(default: {','.join(FORMATS)})")
    parser.add_argument("--songs", type=int, default=40, help="songs per format in [folder] (default 40)")
    parser.add_argument("--distinct", type=int, default=10, help="distinct songs encoded per format (default 10)")
    parser.add_argument("--baseline", metavar="REV", help="also classify the mp3-192 folder with this commit's 03")
    parser.add_argument("--patches", default="", help="[folder]: also run 03 with these --patches values "
                                                      "(comma-separated; default: 03's default only)")
    parser.add_argument("--copies", type=int, default=1, help="[preprocess]: copies of the 100 clips (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="cold starts and start-ups measured (default 3)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS] + [p for p in parts if p not in PARTS]
    if "agree" in parts:
        parser.error("--parts agree is now bench/bench_patches.py")
    if unknown:
        parser.error(f"unknown format or part: {', '.join(unknown)}")
    by_genre, source = clips_by_genre()
    print(f"bench_speed: {common.uptime()}")
    print(f"songs from {source}; {os.cpu_count()} CPUs; default --patches {fa.MUSICNN_PATCH_BUDGET}")
    started = time.perf_counter()
    cache: dict[int, np.ndarray] = {}
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = Path(tmp)
        for part in parts:
            if part == "stages":
                songs = {name: next(make_folder(name, 1, 1, by_genre, work, cache).iterdir()) for name in formats}
                results[part] = part_stages(songs, args.repeats)
            elif part == "folder":
                patches = [p.strip() for p in args.patches.split(",") if p.strip()]
                results[part] = part_folder(formats, args.songs, args.distinct, by_genre, work, args.baseline,
                                            patches, cache)
            elif part == "cold":
                results[part] = part_cold(by_genre, work, args.repeats, cache, args.distinct)
            elif part == "preprocess":
                results[part] = part_preprocess(by_genre, work, args.copies)
    print_targets(results)
    return common.finish(started)


if __name__ == "__main__":
    sys.exit(main())
