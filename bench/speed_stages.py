"""The [stages] part of bench/bench_speed.py: where one song's CPU time goes, in this process (one BLAS thread, as
a worker of ``03 FOLDER --workers 2`` has). Not a script of its own: ``python bench/bench_speed.py --parts stages``
runs it on a song of each ``--formats``.

The stages are timed in the analyser's own order of work (``song_stages``): reading the file (decode and mono; the
resampling to 22.05 kHz shown apart where it is ours), the classic features, the musicnn input (16 kHz, log-mel
of the patches' frames), the network's timbral and temporal front ends and its mid/back end, and the rest of the
analysis (the whole ``analyser.classify`` less the stages); and a process's start-up (imports, model and
weights), which 03 pays once per folder.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import bench_common as common  # first: it puts the project on the import path
import numpy as np
from bench_common import cpu_now, cpu_of

import functions_analysis as fa
import functions_audio as audio


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
                          ("musicnn temporal front end", "temporal_layer"), ("musicnn mid/back end", "back")):
        original = getattr(copy, method)

        def wrapped(*args, original=original, stage=stage):
            with clock(stage):
                return original(*args)

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


def startup_cpu(repeats: int) -> float:
    """CPU seconds of a fresh process's imports and model load (what 03 pays once per run)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import functions_interface as fi; "
            "import functions_analysis, functions_dataviz, functions_fetch; fi.ClassificationJob().load()")
    return statistics.median(common.run_measured([sys.executable, "-c", code, str(common.PROJECT_DIR)]).cpu
                             for _ in range(repeats))


def part_stages(songs: dict[str, Path], repeats: int, patches: str | None = None) -> dict:
    """Print and return each stage's CPU seconds for one song of each format (``songs``: format -> file), with
    ``--patches`` ``patches`` (default: 03's), and a process's start-up (median of ``repeats``)."""
    from functions_parallel import single_blas_thread

    single_blas_thread()
    settings = fa.AnalysisSettings(musicnn_patches=fa.MUSICNN_PATCH_BUDGET if patches is None
                                   else fa.parse_patches(patches))
    analyser = fa.SongAnalyser.from_model_dir(None, settings)
    print(f"\n[stages] where one four-minute song's CPU time goes (this process, 1 BLAS thread, best of 2 for the "
          f"whole; --patches {patches or fa.MUSICNN_PATCH_BUDGET}); {common.load_line()}")
    results = {}
    for name, path in songs.items():
        analyser.classify(str(path))  # warm
        stages = song_stages(path, analyser)
        whole = stages["whole analysis (analyser.classify)"]
        parts = [(k, v) for k, v in stages.items() if k not in ("whole analysis (analyser.classify)",
                                                                 "sum of the stages timed apart")]
        print(f"    {name:8s}: {whole:.2f} CPU-s (best of 2; the stages timed apart, once: "
              f"{stages['sum of the stages timed apart']:.2f}, shares of the whole): "
              + "; ".join(f"{k} {v:.3f} ({v / whole:.0%})" for k, v in parts))
        results[name] = stages
    startup = startup_cpu(repeats)
    print(f"    start-up of a process (imports, model and musicnn weights): {startup:.2f} CPU-s (median of {repeats}), "
          f"once per 03 run (workers are forked from it with the model loaded)")
    results["startup"] = startup
    return results
