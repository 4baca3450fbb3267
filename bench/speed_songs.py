"""The songs of bench/bench_speed.py: four-minute songs in the formats people have, made here.

A song is eight shared gtzan_mini clips end to end (one genre and eight genres alternating; synthetic clips from
functions_synthetic where the shared data is absent), at 44.1 kHz stereo (the right channel a 1-ms-late, 0.9 copy
of the left), encoded with the project's ffmpeg as MP3 at 128/192/320 kb/s, AAC in M4A, FLAC, or as 22.05-kHz
mono WAV (the training format): ``FORMATS``. ``make_folder`` encodes a few distinct songs and copies them to make
a folder of any size. Not a script of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import bench_common as common  # first: it puts the project on the import path
import numpy as np

import functions_audio as audio

# name: (sample rate, channels, ffmpeg encoder options, extension)
FORMATS: dict[str, tuple[int, int, list[str], str]] = {
    "mp3-128": (44100, 2, ["-c:a", "libmp3lame", "-b:a", "128k"], ".mp3"),
    "mp3-192": (44100, 2, ["-c:a", "libmp3lame", "-b:a", "192k"], ".mp3"),
    "mp3-320": (44100, 2, ["-c:a", "libmp3lame", "-b:a", "320k"], ".mp3"),
    "m4a": (44100, 2, ["-c:a", "aac", "-b:a", "192k"], ".m4a"),
    "flac": (44100, 2, ["-c:a", "flac"], ".flac"),
    "wav22": (22050, 1, ["-c:a", "pcm_s16le"], ".wav"),
}


def clips_by_genre() -> tuple[dict[str, list[Path]] | None, str]:
    """The shared gtzan_mini clips by genre (None where the shared data is absent: synthetic songs), and which."""
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
