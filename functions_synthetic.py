"""The synthetic demo collection: deterministic, numpy-made clips in the style of each genre (clearly not GTZAN).

It lets a fresh clone run the whole pipeline end to end, and gives the tests audio they make themselves:
`synthesize_clip` renders one clip (genre-typical tempo, drum pattern, timbre and harmony, with random key,
tempo, levels and small mutations), `make_synthetic_collection` writes a folder of them for 00.

Sounds that are not music, for the novelty score (issue 20): `nonmusic_signals` (tones, noise and everyday noise
tracks: the set the not-music test was checked on) and `heldout_nonmusic_signals` (other seeds, levels and kinds,
never used to choose anything), built from `NonMusicMaker`'s pieces (coloured noise, filters, hum, chords,
clicks, raindrops, tone pairs, formant "speech"). NumPy at module level, SciPy's filters where a signal needs them.
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


# --------------------------------------------------------------------------------------------------------------
# Sounds that are not music (issue 20): what the novelty score must call unknown (bench/bench_nonmusic.py)
# --------------------------------------------------------------------------------------------------------------
class NonMusicMaker:
    """Building blocks of the numpy-made non-music signals (float64, mono, at the project's sample rate)."""

    def __init__(self, seconds: float, seed: int) -> None:
        self.sr = SAMPLE_RATE
        self.rng = np.random.default_rng(seed)
        self.t = np.arange(int(seconds * self.sr)) / self.sr
        self.n = self.t.size
        self.seconds = seconds

    def coloured(self, power: float) -> np.ndarray:
        """Noise whose power falls as 1 / f**power (0 white, 1 pink, 2 brown), peak 1."""
        f = np.fft.rfftfreq(self.n)
        spectrum = self.rng.normal(size=f.size) + 1j * self.rng.normal(size=f.size)
        spectrum[1:] /= f[1:] ** (power / 2)
        spectrum[0] = 0
        return _peak(np.fft.irfft(spectrum, self.n))

    def low_cut_brown(self, width: int) -> np.ndarray:
        """Brown noise (summed white noise) minus its moving average over ``width`` samples (the issue's recipe)."""
        b = np.cumsum(self.rng.standard_normal(self.n))
        b -= np.convolve(b, np.ones(width) / width, "same")
        return _peak(b)

    def band(self, x: np.ndarray, low: float | None, high: float | None, order: int = 4) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        if low and high:
            sos = butter(order, [low, high], "bandpass", fs=self.sr, output="sos")
        else:
            sos = butter(order, low or high, "highpass" if low else "lowpass", fs=self.sr, output="sos")
        return sosfilt(sos, x)

    def harmonics(self, f0: float, count: int, decay: float = 1.0, odd_only: bool = False) -> np.ndarray:
        """A held tone of ``count`` harmonics of f0 with amplitudes 1 / k**decay, peak 1."""
        ks = np.arange(1, 2 * count, 2) if odd_only else np.arange(1, count + 1)
        return _peak(sum(np.sin(2 * np.pi * f0 * k * self.t + self.rng.uniform(0, 2 * np.pi)) / k ** decay
                         for k in ks if f0 * k < self.sr / 2))

    def saw_chord(self, midi: list[int], partials: int = 30, vibrato: float = 0.0) -> np.ndarray:
        """A held synth chord: band-limited sawtooth notes (slightly detuned), one slow attack, no change after."""
        y = np.zeros(self.n)
        for note in midi:
            f = 440.0 * 2 ** ((note - 69) / 12) * (1 + self.rng.uniform(-0.002, 0.002))
            phase = 2 * np.pi * np.cumsum(f * (1 + vibrato * np.sin(2 * np.pi * 5 * self.t))) / self.sr
            y += sum(np.sin(k * phase) / k for k in range(1, partials + 1) if f * k < self.sr / 2)
        return _peak(y * np.minimum(1.0, self.t / 0.5))

    def bursts(self, every_s: float, length_s: float, make, jitter_s: float = 0.0) -> np.ndarray:
        """``make(samples)`` placed every ``every_s`` (plus up to ``jitter_s`` at random)."""
        y = np.zeros(self.n)
        length = int(length_s * self.sr)
        for start in np.arange(0.0, self.seconds, every_s):
            i = int((start + self.rng.uniform(0, jitter_s)) * self.sr)
            piece = make(length)[:max(0, min(length, self.n - i))]
            y[i:i + piece.size] += piece
        return y

    def tick(self, freq: float, decay_s: float = 0.01):
        return lambda length: np.sin(2 * np.pi * freq * np.arange(length) / self.sr) * np.exp(
            -np.arange(length) / (decay_s * self.sr))

    def noise_tick(self, decay_s: float = 0.005):
        return lambda length: self.rng.normal(size=length) * np.exp(-np.arange(length) / (decay_s * self.sr))

    def drops(self, rate: float, decay_s: float) -> np.ndarray:
        """Raindrops: a Poisson train of short decaying noise bursts of random size."""
        y = np.zeros(self.n)
        length = int(6 * decay_s * self.sr)
        envelope = np.exp(-np.arange(length) / (decay_s * self.sr))
        for i in np.flatnonzero(self.rng.random(self.n) < rate / self.sr):
            piece = self.rng.normal(size=length) * envelope * self.rng.lognormal(0, 0.7)
            y[i:i + length] += piece[:min(length, self.n - i)]
        return _peak(y)

    def tone_pairs(self, pairs: list[tuple[float, float]], on_s: float, off_s: float) -> np.ndarray:
        """DTMF-like: two sines at once for ``on_s``, then ``off_s`` of quiet, the pairs in turn."""
        y, pos, k = np.zeros(self.n), 0, 0
        on, off = int(on_s * self.sr), int(off_s * self.sr)
        tt = np.arange(on) / self.sr
        while pos < self.n:
            a, b = pairs[k % len(pairs)]
            piece = (np.sin(2 * np.pi * a * tt) + np.sin(2 * np.pi * b * tt))[:self.n - pos]
            y[pos:pos + piece.size] = piece
            pos, k = pos + on + off, k + 1
        return _peak(y)

    def formant_speech(self, pitch: tuple[float, float] = (100, 200)) -> np.ndarray:
        """Syllables: glottal pulses with a wavering pitch through three vowel formants, short pauses between."""
        from scipy.signal import lfilter

        sr, n, rng = self.sr, self.n, self.rng
        vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (640, 1190, 2390)]
        y, pos = np.zeros(n), 0
        while pos < n:
            length = int(sr * rng.uniform(0.12, 0.3))
            tt = np.arange(length) / sr
            phase = np.cumsum(rng.uniform(*pitch) * (1 + 0.1 * np.sin(2 * np.pi * 3 * tt))) / sr
            seg = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
            for formant in vowels[rng.integers(len(vowels))]:
                r = np.exp(-np.pi * 80 / sr)
                seg = lfilter([1], [1, -2 * r * np.cos(2 * np.pi * formant / sr), r * r], seg)
            seg = (seg + 0.02 * rng.normal(size=length)) * np.hanning(length)
            y[pos:pos + length] = seg[:max(0, min(length, n - pos))]
            pos += length + int(sr * rng.uniform(0.03, 0.25))
        return _peak(y)

    def swell(self, rate_hz: float, depth: float) -> np.ndarray:
        """A slow gain between 1 - depth and 1 (waves, breathing of a sleep sound)."""
        return 1 - depth * 0.5 * (1 + np.sin(2 * np.pi * rate_hz * self.t + self.rng.uniform(0, 2 * np.pi)))


def _peak(x: np.ndarray, level: float = 1.0) -> np.ndarray:
    return level * x / max(float(np.abs(x).max()), 1e-12)


def _rms(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``dbfs`` (relative to a full-scale sine's RMS... of 1: 0 dBFS = RMS 1)."""
    return x * 10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)


DTMF = {d: (lo, hi) for d, lo, hi in zip("123456789*0#", [697] * 3 + [770] * 3 + [852] * 3 + [941] * 3,
                                         [1209, 1336, 1477] * 4, strict=True)}


def nonmusic_signals(seconds: float = 30.0, seed: int = 20) -> dict[str, np.ndarray]:
    """The non-music set the not-music test's settings were checked on (so not independent of them): tones,
    noise and the everyday "noise tracks" of issue 20's report; float32 mono at the project's sample rate."""
    m = NonMusicMaker(seconds, seed)
    t, n, rng = m.t, m.n, m.rng
    sweep_rate = np.log(10000 / 50)
    low_cut_brown = NonMusicMaker(seconds, 0).low_cut_brown(2000)  # the report's low-cut brown noise, exactly
    signals = {
        "sine 220 Hz": 0.5 * np.sin(2 * np.pi * 220 * t),
        "sine 440 Hz": 0.5 * np.sin(2 * np.pi * 440 * t),
        "sine 3 kHz": 0.3 * np.sin(2 * np.pi * 3000 * t),
        "square 200 Hz": 0.3 * np.sign(np.sin(2 * np.pi * 200 * t)),
        "sine sweep 50 Hz-10 kHz": 0.5 * np.sin(2 * np.pi * 50 * seconds / sweep_rate
                                                * (np.exp(sweep_rate * t / seconds) - 1)),
        "white noise": 0.1 * rng.normal(size=n),
        "pink noise": 0.5 * m.coloured(1.0),
        "brown noise": 0.5 * m.coloured(2.0),
        "quiet white noise (-50 dBFS)": 0.003 * rng.normal(size=n),
        "clicks, 2 per second": np.where(np.arange(n) % (m.sr // 2) < 20, 0.8, 0.0),
        "formant speech (synthetic)": 0.5 * m.formant_speech(),
        "low-cut brown noise (issue 20)": 0.5 * low_cut_brown,
        "sleep noise (pink, slow swell)": _peak(m.band(m.coloured(1.0), None, 4000) * m.swell(0.1, 0.3), 0.4),
        "rain": _peak(m.band(m.coloured(1.0), 400, None) + 0.6 * m.band(m.drops(40, 0.004), 1000, None), 0.5),
        "fan hum": _peak(m.band(m.coloured(1.5), 40, 2500) + 0.3 * m.harmonics(120, 6), 0.5),
        "room tone (-55 dBFS)": _rms(m.band(m.coloured(1.0), None, 6000), -55) + _rms(m.harmonics(60, 3), -70),
        "pink noise at -30 dBFS": _rms(m.coloured(1.0), -30),
        "50 Hz hum with harmonics": _peak(m.harmonics(50, 12) + 0.02 * rng.normal(size=n), 0.5),
        "metronome 120 bpm": 0.6 * m.bursts(0.5, 0.06, m.tick(1500)) + 1e-4 * rng.normal(size=n),
        "DTMF tone pairs": 0.4 * m.tone_pairs([DTMF[d] for d in "5551234"], 0.15, 0.1) + 1e-3 * rng.normal(size=n),
        "held synth chord (C major, saw)": 0.4 * m.saw_chord([48, 60, 64, 67]),
        "speech + background noise (10 dB)": 0.5 * _peak(_rms(m.formant_speech(), -20)
                                                         + _rms(m.band(m.coloured(1.0), 80, 8000), -30)),
    }
    return {name: np.clip(y, -1, 1).astype(np.float32) for name, y in signals.items()}


def heldout_nonmusic_signals(seconds: float = 30.0, seed: int = 21) -> dict[str, np.ndarray]:
    """A broader non-music set never used to choose anything: other seeds, levels and parameters of the same
    kinds of sound, and kinds the tuned set lacks (ocean, vinyl crackle, dial tones, babble, a hair dryer)."""
    m = NonMusicMaker(seconds, seed)
    t, n, rng = m.t, m.n, m.rng
    signals = {
        "low-cut brown noise, width 500": 0.5 * m.low_cut_brown(500),
        "low-cut brown noise, width 8000, -20 dBFS": _rms(m.low_cut_brown(8000), -20),
        "brown noise at -30 dBFS": _rms(m.coloured(2.0), -30),
        "pink noise at -40 dBFS": _rms(m.coloured(1.0), -40),
        "white noise at -12 dBFS": _rms(m.coloured(0.0), -12),
        "white noise, low-pass 1 kHz": _peak(m.band(m.coloured(0.0), None, 1000), 0.5),
        "noise band 300-3000 Hz": _peak(m.band(m.coloured(0.0), 300, 3000), 0.5),
        "blue noise (rising)": 0.3 * m.coloured(-1.0),
        "ocean waves": _peak(m.band(m.coloured(1.0), 60, 5000) * m.swell(0.08, 0.85) ** 2, 0.6),
        "sleep noise (brown, low-pass 800 Hz)": _peak(m.band(m.coloured(2.0), 30, 800), 0.5),
        "heavy rain": _peak(m.band(m.coloured(0.5), 200, None) + m.band(m.drops(150, 0.003), 500, None), 0.6),
        "light rain on a roof": _peak(0.3 * m.band(m.coloured(1.0), 300, 6000)
                                      + m.band(m.drops(8, 0.008), 300, None), 0.5),
        "vinyl crackle": 0.8 * m.drops(25, 0.0005) + _rms(m.band(m.coloured(0.0), 2000, None), -45),
        "fan at 90 Hz": _peak(m.band(m.coloured(1.0), 60, 4000) + 0.5 * m.harmonics(90, 4), 0.4),
        "fridge hum 100 Hz": _peak(m.harmonics(100, 5, 1.5) + 0.05 * m.coloured(1.0), 0.3),
        "hair dryer": _peak(m.band(m.coloured(0.0), 300, 9000) + 0.2 * m.harmonics(200, 8), 0.5),
        "60 Hz buzz (odd harmonics)": _peak(m.harmonics(60, 15, 0.7, odd_only=True) + 0.01 * rng.normal(size=n),
                                             0.4),
        "room tone (-45 dBFS) with hum": _rms(m.band(m.coloured(1.5), 20, 3000), -45)
        + _rms(m.harmonics(50, 4), -55),
        "metronome 90 bpm, wood block": 0.5 * m.bursts(60 / 90, 0.05, m.noise_tick()) + 1e-4 * rng.normal(size=n),
        "metronome 150 bpm, accented": 0.5 * (m.bursts(0.4, 0.05, m.tick(1000))
                                              + m.bursts(1.6, 0.05, m.tick(2000))) + 1e-4 * rng.normal(size=n),
        "clicks, 5 per second": np.where(np.arange(n) % (m.sr // 5) < 5, -0.6, 0.0) + 1e-4 * rng.normal(size=n),
        "DTMF, other digits": 0.3 * m.tone_pairs([DTMF[d] for d in "0#*98760"], 0.1, 0.07)
        + 1e-3 * rng.normal(size=n),
        "dial tone 350+440 Hz": 0.3 * (np.sin(2 * np.pi * 350 * t) + np.sin(2 * np.pi * 440 * t)),
        "busy signal 480+620 Hz": 0.3 * m.tone_pairs([(480, 620)], 0.5, 0.5) + 1e-3 * rng.normal(size=n),
        "sine 1 kHz at -20 dBFS": _rms(np.sin(2 * np.pi * 1000 * t), -20),
        "held chord (A minor, organ)": 0.1 * sum(m.harmonics(440 * 2 ** ((k - 69) / 12), 8, 1.5)
                                                 for k in (45, 57, 60, 64)),
        "held synth chord with vibrato": 0.4 * m.saw_chord([50, 57, 62, 65], partials=12, vibrato=0.004),
        "speech + white noise (5 dB)": _peak(_rms(m.formant_speech((160, 260)), -20)
                                             + _rms(m.coloured(0.0), -25), 0.5),
        "babble (four voices)": _peak(sum(m.formant_speech(p) for p in ((90, 140), (110, 180), (170, 250),
                                                                        (200, 300))), 0.5),
        "traffic (brown noise, slow swell)": _peak(m.band(m.coloured(2.0), 20, 3000) * m.swell(0.05, 0.6), 0.5),
    }
    return {name: np.clip(y, -1, 1).astype(np.float32) for name, y in signals.items()}
