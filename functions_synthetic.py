"""The synthetic demo collection: deterministic, numpy-made clips in the style of each genre (clearly not GTZAN).

It lets a fresh clone run the whole pipeline end to end, and gives the tests audio they make themselves:
`synthesize_clip` renders one clip (genre-typical tempo, drum pattern, timbre and harmony, with random key,
tempo, levels and small mutations), `make_synthetic_collection` writes a folder of them for 00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from functions_audio import DEMO_DATASET_DIR, GENRES, SAMPLE_RATE


@dataclass(frozen=True)
class GenreRecipe:
    """How the synthetic generator renders one genre: tempo, drum pattern, timbre and harmony."""

    bpm: tuple[float, float]
    kick: str  # 16 steps, "x" = hit
    snare: str
    hat: str
    harmonics: int  # brightness of the chord instrument
    distortion: float  # 0 = clean, larger = harder clipping
    chord: tuple[int, ...]  # semitones above the root
    pluck: bool  # short decaying notes instead of sustained pads
    swing: float  # 0 = straight 16ths, 0.33 = triplet feel
    noise: float  # background noise level
    bass: bool


GENRE_RECIPES: dict[str, GenreRecipe] = {
    "blues": GenreRecipe((70, 95), "x.....x.x.....x.", "....x.......x...", "x.x.x.x.x.x.x.x.", 6, 0.3,
                         (0, 4, 7, 10), True, 0.33, 0.01, True),
    "classical": GenreRecipe((60, 90), "." * 16, "." * 16, "." * 16, 4, 0.0, (0, 4, 7, 12), False, 0.0, 0.003,
                             False),
    "country": GenreRecipe((100, 130), "x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 10, 0.0,
                           (0, 4, 7), True, 0.0, 0.01, True),
    "disco": GenreRecipe((115, 128), "x...x...x...x...", "....x.......x...", "..x...x...x...x.", 8, 0.0,
                         (0, 3, 7, 10), False, 0.0, 0.01, True),
    "hiphop": GenreRecipe((80, 98), "x......x..x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", 3, 0.0,
                          (0, 3, 7), False, 0.2, 0.02, True),
    "jazz": GenreRecipe((110, 170), "x.........x.....", "......x.......x.", "x..xx..xx..xx..x", 5, 0.0,
                        (0, 4, 7, 11, 14), True, 0.33, 0.008, True),
    "metal": GenreRecipe((150, 200), "xxxxxxxxxxxxxxxx", "....x.......x...", "x.x.x.x.x.x.x.x.", 16, 4.0,
                         (0, 7, 12), False, 0.0, 0.03, True),
    "pop": GenreRecipe((100, 125), "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.", 7, 0.0,
                       (0, 4, 7, 11), False, 0.0, 0.008, True),
    "reggae": GenreRecipe((65, 85), "........x.......", "........x.......", "x.x.x.x.x.x.x.x.", 6, 0.0,
                          (0, 4, 7), True, 0.1, 0.01, True),
    "rock": GenreRecipe((110, 145), "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 12, 1.5,
                        (0, 7, 12), False, 0.0, 0.02, True),
}


def _drum_hit(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    if kind == "snare":
        return (rng.standard_normal(t.size) * 0.7 + np.sin(2 * np.pi * 190 * t) * 0.4) * np.exp(-t * 22)
    return rng.standard_normal(t.size) * np.exp(-t * 90) * 0.35  # closed hi-hat


def synthesize_clip(genre: str, seed: int, seconds: float = 10.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic synthetic audio in the style of `genre`: its tempo range, drum pattern, chord timbre
    and harmony, with random key, tempo, levels and small pattern mutations so that clips differ."""
    recipe = GENRE_RECIPES[genre]
    rng = np.random.default_rng([GENRES.index(genre), seed])
    n = int(seconds * sr)
    out = np.zeros(n + sr, dtype=np.float64)
    bpm = rng.uniform(*recipe.bpm)
    step = 60.0 / bpm / 4  # a 16th note
    root_hz = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    levels = {"kick": rng.uniform(0.6, 1.0), "snare": rng.uniform(0.3, 0.6), "hat": rng.uniform(0.1, 0.3)}
    patterns = {"kick": recipe.kick, "snare": recipe.snare, "hat": recipe.hat}
    hits = {kind: _drum_hit(kind, sr, rng) for kind in patterns}
    progression = rng.choice([0, 5, 7, 9, 3], size=4, replace=True)
    progression[0] = 0
    t_chord = np.arange(int(step * 16 * sr)) / sr
    step_index = 0
    time_s = 0.0
    while time_s < seconds:
        position = step_index % 16
        bar = step_index // 16
        for kind, pattern in patterns.items():
            if pattern[position] == "x" and rng.random() > 0.05:
                start = int(time_s * sr)
                hit = hits[kind] * levels[kind] * rng.uniform(0.8, 1.0)
                out[start:start + hit.size] += hit[: out.size - start]
        if position == 0:  # one chord per bar
            chord_root = root_hz * 2 ** (progression[bar % 4] / 12)
            tone = np.zeros_like(t_chord)
            vibrato = 1 + (0.004 * np.sin(2 * np.pi * 5 * t_chord) if not recipe.pluck else 0)
            for interval in recipe.chord:
                f0 = chord_root * 2 ** (interval / 12) * 2
                for k in range(1, recipe.harmonics + 1):
                    if f0 * k < sr / 2.2:
                        tone += np.sin(2 * np.pi * f0 * k * t_chord * vibrato + rng.uniform(0, 6.28)) / k**1.2
            if recipe.pluck:
                beat = int(step * 4 * sr)
                envelope = np.exp(-(np.arange(t_chord.size) % beat) / sr * 6.0)
                if genre == "reggae":  # off-beat skank
                    envelope *= ((np.arange(t_chord.size) // (beat // 2)) % 2 == 1)
            else:
                envelope = np.minimum(1.0, t_chord * 8) * np.minimum(1.0, (t_chord[-1] - t_chord) * 8 + 0.05)
            tone *= envelope / max(1.0, np.max(np.abs(tone)))
            if recipe.distortion:
                tone = np.tanh(tone * (1 + recipe.distortion)) / np.tanh(1 + recipe.distortion)
            if recipe.bass:
                tone += 0.5 * np.sin(2 * np.pi * chord_root / 2 * t_chord) * envelope
            start = int(time_s * sr)
            out[start:start + tone.size] += 0.35 * tone[: out.size - start]
        swing_shift = recipe.swing * step if step_index % 2 == 0 else -recipe.swing * step
        time_s += step + swing_shift
        step_index += 1
    out = out[:n] + recipe.noise * rng.standard_normal(n)
    out *= rng.uniform(0.3, 0.8) / max(1e-9, float(np.max(np.abs(out))))
    return out.astype(np.float32)


SYNTHETIC_README = """SYNTHETIC DEMO COLLECTION - NOT GTZAN

Every clip below this folder was generated by functions_synthetic.synthesize_clip (numpy only, deterministic):
drum patterns, tempo ranges, chord timbres and harmony differ by genre, with random variation per clip.
It exists so that a fresh clone can run the whole pipeline end to end. Accuracy on it says nothing about
real music. For real data, run `00_preprocess_music.py --download-gtzan` or point it at a GTZAN copy.
"""


def make_synthetic_collection(out_dir: Path = DEMO_DATASET_DIR, clips_per_genre: int = 10,
                              seconds: float = 10.0, genres: Sequence[str] = GENRES) -> Path:
    """Write the synthetic demo collection (<genre>/synthetic_<genre>.NNN.wav); existing files are kept."""
    import soundfile

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "README.txt").write_text(SYNTHETIC_README)
    for genre in genres:
        (out_dir / genre).mkdir(exist_ok=True)
        for index in range(clips_per_genre):
            path = out_dir / genre / f"synthetic_{genre}.{index:03d}.wav"
            if not path.exists():
                tmp = path.with_name(path.name + ".part")  # not an audio suffix: never scanned half-written
                soundfile.write(str(tmp), synthesize_clip(genre, index, seconds), SAMPLE_RATE,
                                format="WAV", subtype="PCM_16")
                tmp.replace(path)
    return out_dir
