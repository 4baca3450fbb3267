"""Speed on the files people have (issue 22): four-minute 44.1-kHz stereo songs, every figure measured in one run.

The script makes its own songs: eight shared gtzan_mini clips end to end (synthetic clips from functions_synthetic
where the shared data is absent), at 44.1 kHz stereo (the right channel a 1-ms-late, 0.9 copy of the left),
encoded with the project's ffmpeg as MP3 at 128/192/320 kb/s, AAC in M4A, FLAC, and as 22.05-kHz mono WAV (the
training format). ``--distinct`` songs are encoded per format and copied to make ``--songs`` files. Parts:

folder   ``03 FOLDER --json --workers 2 --no-progress`` as a real process per format: songs/s, and CPU seconds
         per song (03's and its workers' and decoders', from wait4); with ``--baseline REV`` the same folder
         classified by that commit's 03 (its model; the musicnn weights of this checkout), for before/after.
         Target on 40 MP3s at 192 kb/s: >= 2 songs/s (goal 3).
stages   where one song's CPU time goes, per format, in this process (1 BLAS thread, as a worker): reading it
         (decode, mono, 22.05 kHz; the resampling shown apart), the classic features, the musicnn input (16 kHz,
         log-mel), the network's timbral and temporal front ends and its mid/back end, the rest of the analysis;
         and a process's start-up (imports, model and weights), paid once per folder.
cold     cold ``03 clip.wav --json`` (median of ``--repeats``; target <= 1.0 s) and 10 MP3 songs from a cold
         start (target >= 1.6 songs/s).
agree    the same genre and the same top-3 tags (as a set) as ``--patches all`` for each ``--budgets`` value, on
         the 100 gtzan_mini clips and 20 four-minute songs (10 of one genre, 10 mixing eight genres), in 2 worker
         processes; targets >= 98 % same genre, >= 90 % same tags; with the CPU seconds each setting costs.
preprocess  ``00 DIR --features all --workers 2`` on the 100 clips (``--copies`` times), scaled to 1000 clips
         (target <= 5 min).

    python bench/bench_speed.py                                   # everything (about 20 minutes)
    python bench/bench_speed.py --parts folder,stages --formats mp3-192 --songs 10   # a quick look
    python bench/bench_speed.py --parts folder --baseline 095650e --formats mp3-192 --songs 40

The machine is shared: each part prints the load average; compare CPU seconds per song when it is not quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))
sys.path.insert(0, str(PROJECT_DIR / "bench"))

import bench_common as common  # noqa: E402
import numpy as np  # noqa: E402
from bench_common import verdict  # noqa: E402

import functions_analysis as fa  # noqa: E402
import functions_audio as audio  # noqa: E402

CLASSIFIER = str(PROJECT_DIR / "03_launch_classifier.py")
PREPROCESS = str(PROJECT_DIR / "00_preprocess_music.py")
# name: (sample rate, channels, ffmpeg encoder options, extension)
FORMATS: dict[str, tuple[int, int, list[str], str]] = {
    "mp3-128": (44100, 2, ["-c:a", "libmp3lame", "-b:a", "128k"], ".mp3"),
    "mp3-192": (44100, 2, ["-c:a", "libmp3lame", "-b:a", "192k"], ".mp3"),
    "mp3-320": (44100, 2, ["-c:a", "libmp3lame", "-b:a", "320k"], ".mp3"),
    "m4a": (44100, 2, ["-c:a", "aac", "-b:a", "192k"], ".m4a"),
    "flac": (44100, 2, ["-c:a", "flac"], ".flac"),
    "wav22": (22050, 1, ["-c:a", "pcm_s16le"], ".wav"),
}
TARGET_SONGS_PER_S, GOAL_SONGS_PER_S, TARGET_COLD10 = 2.0, 3.0, 1.6
TARGET_COLD_S, TARGET_PREPROCESS_S = 1.0, 300.0
TARGET_SAME_GENRE, TARGET_SAME_TAGS = 0.98, 0.90


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_now() -> float:
    """CPU seconds of this process and of its finished children (ffmpeg decoders)."""
    return time.process_time() + children_cpu()


# --------------------------------------------------------------------------------------------------------------
# Songs
# --------------------------------------------------------------------------------------------------------------
def clips_by_genre() -> tuple[dict[str, list[Path]] | None, str]:
    shared = audio.shared_data_dir()
    if shared is not None and (shared / "gtzan_mini").is_dir():
        return common.shared_clips(), "shared gtzan_mini clips"
    return None, "synthetic clips (functions_synthetic; the shared data is absent)"


def song_audio(index: int, by_genre: dict[str, list[Path]] | None) -> np.ndarray:
    """The ``index``-th 4-minute song at 22.05 kHz mono: one-genre and mixed songs alternating."""
    if by_genre is None:
        import functions_synthetic

        genres = [audio.GENRES[(index + (j if index % 2 else 0)) % len(audio.GENRES)] for j in range(8)]
        return np.concatenate([functions_synthetic.synthesize_clip(g, 100 * index + j, seconds=30.0)
                               for j, g in enumerate(genres)]).astype(np.float32)
    return common.song_samples(common.folder_songs(by_genre, index + 1)[index].clips)


def encode(y: np.ndarray, name: str, target: Path, work: Path) -> None:
    """``y`` (22.05 kHz mono) written as ``name`` of FORMATS at ``target``."""
    import soundfile
    import soxr

    rate, channels, options, _ = FORMATS[name]
    if rate != audio.SAMPLE_RATE:
        y = soxr.resample(y, audio.SAMPLE_RATE, rate, quality="HQ").astype(np.float32)
    if channels == 2:
        late = np.concatenate([np.zeros(rate // 1000, np.float32), y[:-(rate // 1000)]]) * np.float32(0.9)
        y = np.stack([y, late], axis=1)
    source = work / f"source-{os.getpid()}.wav"
    soundfile.write(str(source), np.clip(y, -1, 1), rate, subtype="FLOAT")
    subprocess.run([audio.ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(source), *options, str(target)],
                   check=True)
    source.unlink()


def make_folder(name: str, count: int, distinct: int, by_genre: dict[str, list[Path]] | None, work: Path,
                cache: dict[int, np.ndarray]) -> Path:
    """A folder of ``count`` songs of format ``name``: ``distinct`` encoded songs, copied in turn."""
    folder = work / f"{name}-{count}"
    if folder.is_dir():
        return folder
    folder.mkdir()
    encoded = work / f"encoded-{name}"
    encoded.mkdir(exist_ok=True)
    extension = FORMATS[name][3]
    for number in range(count):
        original = encoded / f"{number % distinct:02d}{extension}"
        if not original.is_file():
            if number % distinct not in cache:
                cache[number % distinct] = song_audio(number % distinct, by_genre)
            encode(cache[number % distinct], name, original, work)
        shutil.copyfile(original, folder / f"song {number:02d}{extension}")
    return folder


# --------------------------------------------------------------------------------------------------------------
# folder
# --------------------------------------------------------------------------------------------------------------
def classify_folder(folder: Path, count: int, classifier: str = CLASSIFIER, extra: tuple[str, ...] = (),
                    env: dict[str, str] | None = None) -> common.Run:
    command = [sys.executable, classifier, str(folder), "--json", "--workers", "2", "--no-progress", *extra]
    if env is None:
        run = common.run_measured(command)
    else:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            run = common.run_measured(command)
        finally:
            os.environ.clear()
            os.environ.update(saved)
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
    import functions_musicnn

    return str(target / "03_launch_classifier.py"), {"GENRE_MUSICNN_WEIGHTS": str(functions_musicnn.weights_path()
                                                                                   .parent.resolve())}


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
# stages
# --------------------------------------------------------------------------------------------------------------
class StageClock:
    """CPU seconds per stage: ``with clock("name"):`` (this process and its finished children)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self) -> None:
                self.started = cpu_now()

            def __exit__(self, *exc: object) -> None:
                clock.seconds[name] = clock.seconds.get(name, 0.0) + cpu_now() - self.started

        return _Stage()


def timed_network(network, clock: StageClock):
    """A copy of ``network`` whose front ends and back end add their CPU time to ``clock``."""
    import functions_musicnn as musicnn

    copy = musicnn.MusicnnNetwork(network.raw)
    for stage, method in (("musicnn timbral front end", "timbral_features"),
                          ("musicnn temporal front end", "temporal_features"), ("musicnn mid/back end", "back")):
        original = getattr(copy, method)

        def wrapped(array, original=original, stage=stage):
            with clock(stage):
                return original(array)

        setattr(copy, method, wrapped)
    return copy


def read_song(path: Path, clock: StageClock) -> np.ndarray:
    """The samples analyse_file reads (22.05 kHz mono), with the resampling timed apart where it is ours."""
    import soundfile
    import soxr

    with clock("read: decode + mono"):
        duration = audio.header_duration(path)
        if duration is None:  # ffmpeg decodes, downmixes and resamples
            return fa.scan_song(path, fa.LOAD_WHOLE_LIMIT_S).samples
        with audio.quiet_native_stderr(), soundfile.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            y = audio.downmix(handle.read(dtype="float32", always_2d=True))
    if rate == audio.SAMPLE_RATE:
        return y
    with clock("read: resample to 22.05 kHz"):
        return soxr.resample(y, rate, audio.SAMPLE_RATE, quality="HQ").astype(np.float32)


def song_stages(path: Path, analyser: fa.SongAnalyser) -> dict[str, float]:
    """CPU seconds of each stage of one song, in the analyser's own order of work."""
    import functions_musicnn as musicnn

    clock = StageClock()
    network = timed_network(analyser.musicnn, clock) if analyser.musicnn is not None else None
    started = cpu_now()
    y = read_song(path, clock)
    start, end = fa.trim_silence(y)
    y = y[start:end]
    starts = fa.plan_windows(y.size / audio.SAMPLE_RATE, analyser.window_settings())
    window = int(round(analyser.settings.window_s * audio.SAMPLE_RATE))
    frames = fa.SongFrames(y, window)
    share = fa.musicnn_patches_per_window(len(starts), analyser.settings)
    for start_s in starts:
        if analyser.needs_classic:
            with clock("classic features"):
                frames.features(start_s)
        if network is not None:
            first = fa.window_first_sample(start_s)
            with clock("musicnn input (16 kHz, log-mel)"):  # as window_taggram: only its patches' frames
                y16k = musicnn.resample_for_musicnn(y[first:first + window])
                n_frames = 1 + y16k.size // musicnn.HOP_LENGTH
                starts_here = None if share is None else musicnn.window_patch_starts(n_frames, share)
                rows = None if share is None else np.unique(np.concatenate(
                    [np.arange(s, s + musicnn.PATCH_FRAMES) for s in starts_here]))
                spectrogram = musicnn.log_mel(y16k, rows)
            network.taggram(spectrogram, starts_here)
    total_parts = cpu_now() - started
    whole = min(cpu_of(lambda: analyser.classify(str(path))) for _ in range(2))
    stages = dict(clock.seconds)
    stages["the rest (trimming, windows, model, novelty)"] = max(0.0, whole - sum(stages.values()))
    stages["whole analysis (analyser.classify)"] = whole
    stages["sum of the stages timed apart"] = total_parts
    return stages


def cpu_of(call: Callable[[], object]) -> float:
    started = cpu_now()
    call()
    return cpu_now() - started


def startup_cpu(repeats: int) -> float:
    """CPU seconds of a fresh process's imports and model load (what 03 pays once per run)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import functions_interface as fi; "
            "import functions_analysis, functions_dataviz, functions_fetch; fi.ClassificationJob().load()")
    return statistics.median(common.run_measured([sys.executable, "-c", code, str(PROJECT_DIR)]).cpu
                             for _ in range(repeats))


def part_stages(formats: list[str], by_genre, work: Path, repeats: int, cache: dict, patches: str | None) -> dict:
    from functions_parallel import single_blas_thread

    single_blas_thread()
    settings = fa.AnalysisSettings(musicnn_patches=fa.MUSICNN_PATCH_BUDGET if patches is None
                                   else fa.parse_patches(patches))
    analyser = fa.SongAnalyser.from_model_dir(None, settings)
    print(f"\n[stages] where one four-minute song's CPU time goes (this process, 1 BLAS thread, best of 2 for the "
          f"whole; --patches {patches or fa.MUSICNN_PATCH_BUDGET}); {common.load_line()}")
    results = {}
    for name in formats:
        path = next(make_folder(name, 1, 1, by_genre, work, cache).iterdir())
        analyser.classify(str(path))  # warm
        stages = song_stages(path, analyser)
        whole = stages["whole analysis (analyser.classify)"]
        parts = [(k, v) for k, v in stages.items() if k not in ("whole analysis (analyser.classify)",
                                                                 "sum of the stages timed apart")]
        print(f"    {name:8s}: {whole:.2f} CPU-s: " + "; ".join(f"{k} {v:.3f} ({v / whole:.0%})" for k, v in parts))
        results[name] = stages
    startup = startup_cpu(repeats)
    print(f"    start-up of a process (imports, model and musicnn weights): {startup:.2f} CPU-s (median of {repeats}), "
          f"once per 03 run (workers are forked from it with the model loaded)")
    results["startup"] = startup
    return results


# --------------------------------------------------------------------------------------------------------------
# cold
# --------------------------------------------------------------------------------------------------------------
def part_cold(by_genre, work: Path, repeats: int, cache: dict, distinct: int) -> dict:
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
          f"{'met' if wall <= TARGET_COLD_S else 'MISSED'}]")
    folder = make_folder("mp3-192", 10, min(distinct, 10), by_genre, work, cache)
    run = classify_folder(folder, 10)
    rate = 10 / run.wall
    print(f"    10 MP3 songs (192 kb/s) from a cold start: {run.wall:.1f} s = {rate:.2f} songs/s, "
          f"{run.cpu / 10:.2f} CPU-s/song [target >= {TARGET_COLD10}: {'met' if rate >= TARGET_COLD10 else 'MISSED'}]")
    return {"clip_s": wall, "cold10": rate}


# --------------------------------------------------------------------------------------------------------------
# agree
# --------------------------------------------------------------------------------------------------------------
_ANALYSERS: dict = {}


def _agreement_task(task: tuple) -> dict:
    number, parts, budget = task
    patches, _, ddof = budget.partition("/ddof")
    if budget not in _ANALYSERS:
        settings = fa.AnalysisSettings(musicnn_patches=fa.parse_patches(patches))
        _ANALYSERS[budget] = fa.SongAnalyser.from_model_dir(None, settings)
    y = common.song_samples([Path(p) for p in parts])
    started = time.process_time()
    default_ddof = fa.SPARSE_STD_DDOF
    fa.SPARSE_STD_DDOF = int(ddof) if ddof else default_ddof
    try:
        result = _ANALYSERS[budget].analyse_samples(y)
    finally:
        fa.SPARSE_STD_DDOF = default_ddof
    return {"number": number, "budget": budget, "genre": result.genre, "tags": [t for t, _ in result.tags or []],
            "probabilities": result.probabilities, "cpu": time.process_time() - started,
            "windows": len(result.windows)}


def part_agree(by_genre, budgets: list[str], cache_file: Path | None) -> dict:
    from functions_parallel import limit_worker_threads, run_in_workers

    print(f"\n[agree] the same answer as --patches all; {common.load_line()}")
    if by_genre is None:
        print("    needs the shared gtzan_mini clips; not measured")
        return {}
    items = [(c.stem, "30-s clips", (str(c),)) for c in common.clip_subset(by_genre, 10)]
    items += [(s.name, "one-genre songs", tuple(map(str, s.clips))) for s in common.one_genre_songs(by_genre, 0)]
    items += [(s.name, "mixed songs (8 genres)", tuple(map(str, s.clips))) for s in common.mixed_songs(by_genre, 10)]
    stored = json.loads(cache_file.read_text()) if cache_file and cache_file.is_file() else {}
    tasks = []
    for budget in ["all", *budgets]:
        for n, (_, kind, parts) in enumerate(items):
            if f"{n}|{budget}" in stored:
                continue
            patches = fa.parse_patches(budget.partition("/ddof")[0])
            share = fa.musicnn_patches_per_window(1, fa.AnalysisSettings(musicnn_patches=patches))
            if budget != "all" and kind == "30-s clips" and share is None:
                continue  # one window with every patch: the very call of --patches all
            tasks.append((n, parts, budget))
    tasks.sort(key=lambda t: -len(t[1]) * (20 if t[2] == "all" else 1))
    started = time.perf_counter()
    for _, outcome in run_in_workers(_agreement_task, tasks, 2, initializer=limit_worker_threads):
        if not isinstance(outcome, dict):
            raise SystemExit(f"bench_speed: an agreement task failed: {outcome}")
        stored[f"{outcome['number']}|{outcome['budget']}"] = outcome
    if cache_file:
        cache_file.write_text(json.dumps(stored))
    print(f"    {len(tasks)} analyses in {time.perf_counter() - started:.0f} s (2 workers; "
          f"{len(stored) - len(tasks)} from {cache_file})")
    groups: dict[str, list[int]] = {}
    for n, (_, kind, _) in enumerate(items):
        groups.setdefault(kind, []).append(n)
    summary = {}
    for budget in budgets:
        genre_same = tags_same = 0
        cells, differs = [], []
        for kind, members in groups.items():
            g = t = 0
            for n in members:
                dense = stored[f"{n}|all"]
                mine = stored.get(f"{n}|{budget}", dense)
                g += mine["genre"] == dense["genre"]
                t += set(mine["tags"]) == set(dense["tags"])
                if mine["genre"] != dense["genre"]:
                    ranked = sorted(dense["probabilities"].values(), reverse=True)
                    differs.append(f"{items[n][0]}: {dense['genre']} -> {mine['genre']} (all: top-2 margin "
                                   f"{ranked[0] - ranked[1]:.3f})")
            cells.append(f"{kind} genre {g}/{len(members)}, tags {t}/{len(members)}")
            genre_same, tags_same = genre_same + g, tags_same + t
        total = len(items)
        cpu = {kind: statistics.mean(stored.get(f"{n}|{budget}", stored[f"{n}|all"])["cpu"] for n in members)
               for kind, members in groups.items()}
        summary[budget] = (genre_same / total, tags_same / total, cpu)
        print(f"    --patches {budget:>3s}: " + "; ".join(cells) + f"; all {genre_same}/{total} = "
              f"{genre_same / total:.1%} same genre [>= {TARGET_SAME_GENRE:.0%}: "
              f"{'met' if genre_same / total >= TARGET_SAME_GENRE else 'MISSED'}], {tags_same / total:.1%} same "
              f"top-3 tags [>= {TARGET_SAME_TAGS:.0%}: {'met' if tags_same / total >= TARGET_SAME_TAGS else 'MISSED'}]"
              "; CPU-s per item: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
        for line in differs:
            print(f"        differs: {line}")
    dense_cpu = {kind: statistics.mean(stored[f"{n}|all"]["cpu"] for n in members) for kind, members in groups.items()}
    print("    --patches all, CPU-s per item: " + ", ".join(f"{k} {v:.2f}" for k, v in dense_cpu.items()))
    return summary


# --------------------------------------------------------------------------------------------------------------
# preprocess
# --------------------------------------------------------------------------------------------------------------
def part_preprocess(by_genre, work: Path, copies: int) -> dict:
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
            target.symlink_to(clip)
    count = len(clips) * copies
    output = work / "features.csv"
    run = common.run_measured([sys.executable, PREPROCESS, str(folder), "-o", str(output), "--features", "all",
                           "--workers", "2", "--overwrite", "--no-progress"])
    scaled = run.wall * 1000 / count
    print(f"    {count} clips: {run.wall:.1f} s, CPU {run.cpu:.1f} s ({run.cpu / count:.3f} CPU-s/clip); scaled to "
          f"1000 "
          f"clips {scaled / 60:.1f} min [target <= {TARGET_PREPROCESS_S / 60:.0f} min: "
          f"{'met' if scaled <= TARGET_PREPROCESS_S else 'MISSED'}]" + ("" if count >= 1000 else
                                                                       f" (extrapolated from {count})"))
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
    for budget, (genre, tags, _) in results.get("agree", {}).items():
        lines.append(f"--patches {budget} vs all: same genre {genre:.1%} [>= {TARGET_SAME_GENRE:.0%}: "
                     f"{verdict(genre >= TARGET_SAME_GENRE)}], same top-3 tags {tags:.1%} [>= {TARGET_SAME_TAGS:.0%}: "
                     f"{verdict(tags >= TARGET_SAME_TAGS)}]")
    pre = results.get("preprocess")
    if pre:
        lines.append(f"00 --features all, 1000 clips: {pre['scaled_s'] / 60:.1f} min [<= {TARGET_PREPROCESS_S / 60:g} "
                     f"min: {verdict(pre['scaled_s'] <= TARGET_PREPROCESS_S)}]")
    common.print_target_lines(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="stages,folder,cold,agree,preprocess",
                        help="which parts (default: stages,folder,cold,agree,preprocess)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"formats of [folder] and [stages] "
                                                                     f"(default: {','.join(FORMATS)})")
    parser.add_argument("--songs", type=int, default=40, help="songs per format in [folder] (default 40)")
    parser.add_argument("--distinct", type=int, default=10, help="distinct songs encoded per format (default 10)")
    parser.add_argument("--baseline", metavar="REV", help="also classify the mp3-192 folder with this commit's 03")
    parser.add_argument("--patches", default="", help="[folder]: also run 03 with these --patches values "
                                                      "(comma-separated; default: 03's default only)")
    parser.add_argument("--budgets", default="8,12,16,24", help="[agree]: --patches values compared with all; "
                        "N/ddofD: with the std columns of a budgeted window taken with ddof D")
    parser.add_argument("--agree-cache", type=Path, help="[agree]: keep the analyses in this JSON file (reruns "
                                                         "compute only what is missing)")
    parser.add_argument("--copies", type=int, default=1, help="[preprocess]: copies of the 100 clips (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="cold starts and start-ups measured (default 3)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS] + [p for p in parts if p not in
                                                          ("stages", "folder", "cold", "agree", "preprocess")]
    if unknown:
        parser.error(f"unknown format or part: {', '.join(unknown)}")
    by_genre, source = clips_by_genre()
    print(f"bench_speed: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"songs from {source}; {os.cpu_count()} CPUs; default --patches {fa.MUSICNN_PATCH_BUDGET}")
    started = time.perf_counter()
    cache: dict[int, np.ndarray] = {}
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = Path(tmp)
        for part in parts:
            if part == "stages":
                results[part] = part_stages(formats, by_genre, work, args.repeats, cache, None)
            elif part == "folder":
                patches = [p.strip() for p in args.patches.split(",") if p.strip()]
                results[part] = part_folder(formats, args.songs, args.distinct, by_genre, work, args.baseline,
                                            patches, cache)
            elif part == "cold":
                results[part] = part_cold(by_genre, work, args.repeats, cache, args.distinct)
            elif part == "agree":
                budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
                results[part] = part_agree(by_genre, budgets, args.agree_cache)
            elif part == "preprocess":
                results[part] = part_preprocess(by_genre, work, args.copies)
    print_targets(results)
    print(f"\ndone in {(time.perf_counter() - started) / 60:.1f} min; "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
