"""What classifying one song gives: ``SongResult`` (the genre and probabilities, the uncertain pair or the unknown
line, the timeline of ``WindowResult`` windows, the strongest musicnn tags, or an error), its words for people
(``answer_text``) and its JSON record (``to_json_dict``, what ``03 --json`` prints and a results file keeps).
Made by functions_analysis; read by 03, the window, the library and the plots. NumPy and the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import functions_audio
from functions_fetch import format_seconds

TOP_TAGS = 3  # musicnn tags a song's answer names ("sounds like: ...")


@dataclass
class WindowResult:
    """Model output for one window of a song."""

    start_s: float
    genre: str
    probabilities: dict[str, float]
    novelty: float | None = None  # 0..1, how unlike the model's training songs (None: the model has no score)
    known: bool | None = None  # False: not one of the model's genres (None: the model cannot tell)


@dataclass
class SongResult:
    """The result for one input: either a genre with probabilities and a timeline, or an error.

    ``uncertain``: the song's top probability is below the model's uncertain threshold (model.json, chosen on
    validation clips): the answer is then given as the two most probable genres, not as one genre.
    ``known``: False when the song is not one of the model's genres (its novelty, the median over its windows, is
    at or above the model's novelty threshold: most of its windows are unlike every genre it was trained on); the
    genre and probabilities stay (the nearest genres), but no tag or genre playlist is made of them. None when the
    model has no novelty score (older models, the classic one): it cannot tell.
    """

    input: str
    title: str | None = None
    duration_s: float | None = None
    genre: str | None = None
    probabilities: dict[str, float] | None = None
    windows: list[WindowResult] = field(default_factory=list)
    error: str | None = None
    uncertain: bool = False
    # the musicnn network's 50 tag probabilities (MUSICNN_TAGS order), averaged over the song's analysed patches
    # (None when it did not run); the record keeps only ``tags``, the strongest of them
    tag_means: np.ndarray | None = field(default=None, repr=False)
    novelty: float | None = None
    known: bool | None = None
    not_music: bool | None = None  # True: unknown because most windows are a steady sound (noise, tone, hum)
    # the file is shorter than its header says (a copy or download cut short, a damaged file): the answer rests on
    # the part that could be decoded; (decoded seconds, the header's seconds)
    cut_short: tuple[float, float] | None = None

    def cut_short_text(self) -> str:
        """'only 0:10 of the 0:30 its header gives could be decoded (20.1 s missing): ...' ('' when the whole file
        was)."""
        if self.cut_short is None:
            return ""
        decoded, expected = (format_seconds(s) for s in self.cut_short)
        missing = self.cut_short[1] - self.cut_short[0]
        gap = f"{missing:.1f} s" if missing < 60 else format_seconds(missing)
        return (f"only {decoded} of the {expected} its header gives could be decoded ({gap} missing): the file is "
                f"cut short or damaged, and the answer rests on that part")

    @property
    def tags(self) -> list[tuple[str, float]] | None:
        """The song's TOP_TAGS strongest musicnn tags with their mean probabilities (None: not computed)."""
        if self.tag_means is None:
            return None
        import functions_musicnn

        return functions_musicnn.top_tags(self.tag_means, TOP_TAGS)

    @property
    def ok(self) -> bool:
        return self.error is None and self.genre is not None

    def top_two(self) -> list[tuple[str, float]]:
        """The two most probable genres with their probabilities, best first (ties in genre order)."""
        return sorted((self.probabilities or {}).items(), key=lambda item: -item[1])[:2]

    def uncertain_text(self) -> str:
        """The headline of an uncertain answer: 'uncertain: blues 31 % or country 27 %'."""
        return "uncertain: " + " or ".join(f"{genre} {p * 100:.0f} %" for genre, p in self.top_two())

    @property
    def unknown(self) -> bool:
        """Classified, and not one of the model's genres."""
        return self.ok and self.known is False

    def unknown_text(self) -> str:
        """The headline of an unknown answer: 'not one of the 10 genres this model knows (nearest: classical 38 %)'."""
        nearest = ", ".join(f"{genre} {p * 100:.0f} %" for genre, p in self.top_two()[:1])
        if self.not_music:
            return f"not music: a steady sound such as noise, a tone or a hum (nearest genre: {nearest})"
        return f"not one of the {len(self.probabilities or {})} genres this model knows (nearest: {nearest})"

    def answer_text(self) -> str:
        """The answer in words: the genre with its probability, the uncertain pair, or the unknown line."""
        if self.unknown:
            return self.unknown_text()
        if self.uncertain:
            return self.uncertain_text()
        return f"{self.genre} ({(self.probabilities or {}).get(self.genre or '', 0.0) * 100:.1f} %)"

    def window_spans(self) -> list[tuple[float, float]]:
        """Each window's own stretch of the song as ``(start_s, end_s)``: up to the next window's start, the end
        of its 30 s or the end of the song, whichever comes first (the stretches follow each other)."""
        spans: list[tuple[float, float]] = []
        for i, window in enumerate(self.windows):
            end = window.start_s + functions_audio.CLIP_SECONDS
            if i + 1 < len(self.windows):
                end = min(end, self.windows[i + 1].start_s)
            if self.duration_s is not None:
                end = min(end, self.duration_s)
            spans.append((window.start_s, end))
        return spans

    def to_json_dict(self) -> dict[str, Any]:
        """The record printed by ``03_launch_classifier.py --json`` (one per line)."""

        def rounded(probabilities: dict[str, float] | None) -> dict[str, float] | None:
            return None if probabilities is None else {g: round(p, 6) for g, p in probabilities.items()}

        return {
            "input": self.input,
            "title": self.title,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "genre": self.genre,
            "probabilities": rounded(self.probabilities),
            "windows": [{"start_s": round(w.start_s, 3), "genre": w.genre, "probabilities": rounded(w.probabilities),
                         "known": w.known, "novelty": finite_or_none(w.novelty)} for w in self.windows],
            "error": self.error,
            "uncertain": self.uncertain,
            "known": self.known,
            "novelty": finite_or_none(self.novelty),
            "not_music": self.not_music,
            "cut_short": None if self.cut_short is None else {"decoded_s": round(self.cut_short[0], 3),
                                                              "header_s": round(self.cut_short[1], 3)},
            "tags": None if self.tags is None else [{"tag": tag, "probability": round(p, 6)}
                                                   for tag, p in self.tags],
        }

    def tags_text(self) -> str:
        """The song's strongest descriptive tags, e.g. 'male vocalists, 80s, classic rock' ('' if none)."""
        return ", ".join(tag for tag, _ in self.tags or [])


def finite_or_none(value: float | None, digits: int = 6) -> float | None:
    """``value`` rounded for a JSON record, or None when it is missing, NaN or infinite (JSON has no NaN)."""
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)
