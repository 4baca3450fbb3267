"""Every plot of the project (seaborn/matplotlib): the model-selection and training steps (PNG files) and one
song's result (a PNG from ``03 --plot``, or the figure embedded in the window of 04).

matplotlib and seaborn are imported inside the functions (Agg backend for files), so importing this module
stays cheap: the standard library, NumPy and functions_fetch (for m:ss times) only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from functions_fetch import format_seconds

if TYPE_CHECKING:
    from functions_song_result import SongResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], genres: Sequence[str], path: Path, title: str) -> Path:
    """Heat map of a confusion matrix (rows: true genre, columns: predicted), counts and row shares."""
    import seaborn as sns

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    labels = [[f"{int(c)}\n{s:.0%}" if c else "" for c, s in zip(row_c, row_s, strict=True)]
              for row_c, row_s in zip(counts, shares, strict=True)]
    size = 1.0 + 0.62 * len(genres)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    sns.heatmap(shares, annot=np.array(labels, dtype=object), fmt="", cmap="Blues", vmin=0, vmax=1,
                xticklabels=genres, yticklabels=genres, cbar_kws={"label": "share of the true genre"},
                annot_kws={"fontsize": 7}, ax=ax)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(curves: dict[str, Sequence[dict]], path: Path, title: str) -> Path:
    """Reliability diagram: accuracy against mean top probability per bin, one line per labelled list of bins
    (functions_calibration.reliability_bins, e.g. before and after calibration), the diagonal of perfect
    calibration, and the clips per bin below."""
    plt = _pyplot()
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(5.6, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    colours = ["#d95f02", "#1b9e77", "#7570b3"]
    for k, (label, bins) in enumerate(curves.items()):
        used = [b for b in bins if b["count"]]
        colour = colours[k % len(colours)]
        ax.plot([b["confidence"] for b in used], [b["accuracy"] for b in used], marker="o", color=colour, label=label)
        width = 0.8 / len(curves) * (bins[0]["upper"] - bins[0]["lower"])
        counts.bar([b["lower"] + (k + 0.5) * width + 0.1 * (b["upper"] - b["lower"]) for b in bins],
                   [b["count"] for b in bins], width=width, color=colour)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    counts.set_xlabel("top probability (equal-width bins)")
    counts.set_ylabel("clips")
    counts.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cell_label(epochs, batch) -> str:
    if epochs != epochs or batch != batch:  # NaN: a scikit-learn baseline has no epochs/batches
        return "baseline"
    return f"{int(epochs)} ep / batch {int(batch)}"


def plot_all_models(folds, order: Sequence[str], path: Path, scheme: str | None = None) -> Path:
    """Every candidate's test accuracy per epochs/batch cell, bars = mean over folds, error bars = std; ``scheme``
    names how cells were scored (default: 'K-fold CV')."""
    import seaborn as sns

    plt = _pyplot()
    data = folds.copy()
    data["cell"] = [_cell_label(e, b) for e, b in zip(data["epochs"], data["batch_size"], strict=True)]
    cells = data.drop_duplicates("cell").sort_values(["epochs", "batch_size"])["cell"].tolist()
    fig, ax = plt.subplots(figsize=(max(10.0, 1.25 * len(order) + 3), 5.5))
    sns.barplot(data=data, x="candidate", y="accuracy", hue="cell", order=list(order), hue_order=cells,
                errorbar="sd", capsize=0.1, err_kws={"linewidth": 0.8}, palette="viridis", ax=ax)
    scheme = scheme or f"{int(data['fold'].max()) + 1}-fold CV"
    ax.set_title(f"All candidates: accuracy per cell ({scheme}; bars = mean, whiskers = std)", fontsize=10)
    ax.set_xlabel("")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(title="epochs / batch", fontsize=7, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_candidate_metrics(folds, name: str, path: Path, scheme: str = "folds") -> Path:
    """One candidate's metrics (test accuracy, macro precision/recall/F1, train accuracy) against epochs,
    coloured by batch size; bands = std over folds (``scheme`` names how the cells were scored)."""
    import seaborn as sns

    plt = _pyplot()
    metrics = [("accuracy", "test accuracy"), ("precision", "macro precision"), ("recall", "macro recall"),
               ("f1", "macro F1"), ("train_accuracy", "train accuracy")]
    data = folds.copy()
    data["batch"] = data["batch_size"].astype(int).astype(str)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.4), sharey=True)
    for ax, (column, title) in zip(axes, metrics, strict=True):
        sns.lineplot(data=data, x="epochs", y=column, hue="batch", marker="o", errorbar="sd", ax=ax,
                     palette="viridis", legend=column == "accuracy")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epochs")
        ax.set_ylabel("")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score")
    fig.suptitle(f"{name}: metrics against epochs ({scheme}; mean ± std)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _find_clip(features_csv: Path, files: Sequence[str]) -> Path | None:
    """An audio file of the CSV's clips, looked for next to the CSV, in the demo collection and the shared data."""
    import functions_audio as audio

    roots = [features_csv.parent, features_csv.parent / "dataset", audio.DEMO_DATASET_DIR]
    shared = audio.shared_data_dir()
    if shared is not None:
        roots.append(shared / "gtzan_mini")
    for file in files:
        for root in roots:
            candidate = root / str(file)
            if candidate.is_file():
                return candidate
    return None


def plot_feature_exploration(df, genres: Sequence[str], out_dir: Path, features_csv: Path,
                             example_clip: Path | None = None) -> list[Path]:
    """The feature-exploration page: per-genre distributions (features_by_genre.png) and one example clip's
    waveform, mel spectrogram, chromagram, tempogram and rolloff (example_clip.png)."""
    import seaborn as sns

    plt = _pyplot()
    written = []
    fig = plt.figure(figsize=(16, 10))
    grid = fig.add_gridspec(2, 4)
    for i, column in enumerate(("tempo", "centroid_mean", "rolloff_mean", "zcr_mean")):
        ax = fig.add_subplot(grid[0, i])
        if column in df.columns:
            sns.boxplot(data=df, x=column, y="genre", order=list(genres), ax=ax, fliersize=2, palette="tab10",
                        hue="genre", hue_order=list(genres), legend=False)
        ax.set_title(column, fontsize=10)
        ax.set_ylabel("" if i else "genre")
        if i:
            ax.set_yticklabels([])
    for j, (prefix, title) in enumerate((("mfcc_mean_", "MFCC means (z-score of per-genre mean)"),
                                         ("chroma_mean_", "chroma means (z-score of per-genre mean)"))):
        columns = [c for c in df.columns if c.startswith(prefix)]
        ax = fig.add_subplot(grid[1, 2 * j: 2 * j + 2])
        if columns:
            values = df[columns].astype(float)
            z = (values - values.mean()) / values.std(ddof=0).replace(0, 1)
            means = z.groupby(df["genre"]).mean().reindex(list(genres))
            labels = [c.rsplit("_", 1)[-1] for c in columns]
            if prefix == "chroma_mean_":
                labels = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"][: len(columns)]
            sns.heatmap(means, cmap="vlag", center=0, xticklabels=labels, yticklabels=list(genres), ax=ax,
                        cbar_kws={"label": "z"})
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("")
    fig.suptitle(f"Features by genre: {features_csv.name} ({len(df)} clips)", fontsize=12)
    fig.tight_layout()
    path = out_dir / "features_by_genre.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    written.append(plot_example_clip(example_clip or _find_clip(features_csv, list(df["file"])),
                                     out_dir / "example_clip.png", fallback_genre=genres[0]))
    return written


def plot_example_clip(clip: Path | None, path: Path, fallback_genre: str = "rock") -> Path:
    """Waveform, mel spectrogram, chromagram, tempogram and spectral rolloff of one clip (a synthetic one
    from functions_synthetic when no clip is given or found)."""
    import librosa
    import librosa.display

    import functions_audio as audio
    import functions_synthetic

    plt = _pyplot()
    sr = audio.SAMPLE_RATE
    if clip is not None:
        y = audio.load_audio(clip)
        title = f"example clip: {clip.name}"
    else:
        y = functions_synthetic.synthesize_clip(fallback_genre, seed=0, seconds=10.0)
        title = f"example clip: synthetic '{fallback_genre}' clip (no audio file found next to the CSV)"
    hop = audio.HOP_LENGTH
    fig, axes = plt.subplots(5, 1, figsize=(12, 13), sharex=True)
    times = np.arange(len(y)) / sr
    axes[0].plot(times, y, linewidth=0.3, color="tab:blue")
    axes[0].set_title("waveform", fontsize=10)
    axes[0].set_ylabel("amplitude")
    axes[0].set_xlim(0, len(y) / sr)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=hop)
    librosa.display.specshow(librosa.power_to_db(mel, ref=np.max), sr=sr, hop_length=hop, x_axis="time",
                             y_axis="mel", ax=axes[1])
    axes[1].set_title("mel spectrogram (dB)", fontsize=10)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop)
    librosa.display.specshow(chroma, sr=sr, hop_length=hop, x_axis="time", y_axis="chroma", ax=axes[2])
    axes[2].set_title("chromagram", fontsize=10)
    onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=sr, hop_length=hop)
    librosa.display.specshow(tempogram, sr=sr, hop_length=hop, x_axis="time", y_axis="tempo", ax=axes[3])
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=hop))[0])
    axes[3].axhline(tempo, color="white", linestyle="--", linewidth=1)
    axes[3].set_title(f"tempogram (estimated tempo {tempo:.0f} BPM)", fontsize=10)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr, hop_length=hop)[0]
    axes[4].plot(librosa.times_like(rolloff, sr=sr, hop_length=hop), rolloff, color="tab:red", linewidth=0.8)
    axes[4].set_title("spectral rolloff (85 %)", fontsize=10)
    axes[4].set_ylabel("Hz")
    axes[4].set_xlabel("time (s)")
    for ax in axes:
        ax.label_outer()
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------------------
# One song's result (03 --plot and the window of 04)
# ---------------------------------------------------------------------------------------------------------
GENRE_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
                 "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")  # seaborn "deep"
TIME_TICK_STEPS_S = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)  # round times, smallest first
MAX_TIME_TICKS = 8


def time_ticks(end_s: float, max_ticks: int = MAX_TIME_TICKS) -> list[float]:
    """Tick positions for a time axis from 0 to ``end_s``: the multiples of the smallest round step (5 s, 10 s,
    15 s, 30 s, 1 min, 2 min, 5 min, ...) that give at most ``max_ticks`` ticks."""
    for step in TIME_TICK_STEPS_S:
        if end_s / step + 1 <= max_ticks:
            break
    else:
        step = TIME_TICK_STEPS_S[-1] * math.ceil(end_s / TIME_TICK_STEPS_S[-1] / (max_ticks - 1))
    return [float(t) for t in np.arange(0.0, end_s + 1e-6, step)]


def probability_limit(largest_pct: float) -> float:
    """Upper end of the probability axis: a quarter above the largest bar, rounded up to 5 %, at most 100 %.

    Bars up to 80 % of the axis keep their value label just right of them; a longer bar (only ever the top
    one) carries it inside its end."""
    return float(min(100.0, max(5.0, 5.0 * math.ceil(largest_pct * 1.25 / 5.0 - 1e-9))))


MIN_BAR_PX = 12.0  # a bar of the probability chart is never drawn thinner than this
BAR_FILL = 0.8  # a bar's height as a share of its row
OTHERS_COLOUR = "#b8b8b8"
UNKNOWN_HATCH_LABEL = "not a known genre"


@dataclass(frozen=True)
class ChartStyle:
    """Font sizes (points) of the result chart, chosen from the figure's height in pixels: 9-10 pt labels on a
    figure of 340 px or more, down to 7 pt on a short one (nothing smaller, so every label stays legible)."""

    small: float  # tick labels, bar values, legend
    label: float  # axis labels
    title: float  # axes titles
    suptitle: float

    @classmethod
    def for_height(cls, height_px: float) -> ChartStyle:
        scale = min(1.0, max(0.78, height_px / 340.0))
        return cls(small=max(7.0, round(8.0 * scale * 2) / 2), label=max(7.0, round(9.5 * scale * 2) / 2),
                   title=max(7.5, round(10.0 * scale * 2) / 2), suptitle=max(8.0, round(11.0 * scale * 2) / 2))


def text_height_px(points: float, dpi: float) -> float:
    """The height of one line of text of ``points`` at ``dpi`` (ascent and descent of DejaVu Sans)."""
    return points * dpi / 72.0 * 1.17


def bars_that_fit(axis_height_px: float, font_points: float, dpi: float) -> int:
    """How many bars fit one above the other in ``axis_height_px``: each row at least MIN_BAR_PX / BAR_FILL high
    (a bar of MIN_BAR_PX) and a little higher than its label, so neither bars nor labels touch."""
    row = max(MIN_BAR_PX / BAR_FILL + 0.5, 1.2 * text_height_px(font_points, dpi))
    return max(1, int(axis_height_px // row))


def top_with_others(probabilities: dict[str, float], count: int) -> list[tuple[str, float]]:
    """The ``count`` rows of the probability chart, largest first: every genre when they fit, otherwise the
    ``count - 1`` most probable ones and one row "N others" with the sum of the rest."""
    ordered = sorted(probabilities.items(), key=lambda item: -item[1])
    if count >= len(ordered):
        return ordered
    shown, rest = ordered[:max(1, count - 1)], ordered[max(1, count - 1):]
    return [*shown, (f"{len(rest)} others", float(sum(p for _, p in rest)))]


def draw_result(figure: Any, result: SongResult, use_seaborn: bool = True, title: bool = True) -> None:
    """Draw the probability bar chart (left) and the per-window timeline (right) of ``result`` on ``figure``.

    Works on any matplotlib Figure (a saved PNG or the one embedded in the tkinter window) and adapts to its size
    in pixels: font sizes follow its height (``ChartStyle``), the chart shows as many genres as fit with bars of at
    least MIN_BAR_PX (the rest summed as "N others"), the timeline's legend takes as many columns as its height
    needs and its time axis as many ticks as its width holds. ``title``: the answer above both (03 --plot; the
    window has it in its own lines above the figure).
    """
    import warnings

    figure.clear()
    dpi = float(figure.dpi)
    width_px, height_px = (float(v) * dpi for v in figure.get_size_inches())
    style = ChartStyle.for_height(height_px)
    if not result.ok:
        axis = figure.add_subplot(1, 1, 1)
        axis.axis("off")
        axis.text(0.5, 0.5, result.error or "no result", ha="center", va="center", wrap=True, fontsize=style.label)
        return
    assert result.probabilities is not None
    colours = {g: GENRE_COLOURS[i % len(GENRE_COLOURS)] for i, g in enumerate(result.probabilities)}
    bars_axis, time_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    if title:
        _fit_suptitle(figure, f"{result.title or result.input}: {result.answer_text()}", style.suptitle, width_px)
    rows = len(result.probabilities)
    legend_columns = 1
    for _ in range(3):  # draw, lay out, measure; again while the measured space asks for fewer rows or columns
        bars_axis.clear()
        _draw_probabilities(bars_axis, top_with_others(result.probabilities, rows), colours, use_seaborn, style,
                            unknown=result.unknown)
        time_axis.clear()
        _draw_timeline(time_axis, result, colours, style, legend_columns, max_ticks=MAX_TIME_TICKS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a very small figure: tight_layout says it cannot fit everything
            figure.tight_layout(pad=0.6)
        renderer = figure.canvas.get_renderer()
        bars_height = bars_axis.get_window_extent(renderer).height
        time_box = time_axis.get_window_extent(renderer)
        fit_rows = min(len(result.probabilities), bars_that_fit(bars_height, style.small, dpi))
        entries = len(time_axis.get_legend_handles_labels()[1])
        legend_rows = max(1, int(time_box.height // (1.55 * text_height_px(style.small, dpi))))
        fit_columns = max(1, math.ceil(entries / legend_rows))
        if fit_rows >= rows and fit_columns <= legend_columns:
            break
        rows, legend_columns = min(rows, fit_rows), max(legend_columns, fit_columns)
    _fit_values(bars_axis, figure.canvas.get_renderer())
    ticks = time_ticks(_timeline_end(result), max_ticks=max(2, min(MAX_TIME_TICKS, int(time_box.width // 45))))
    time_axis.set_xticks(ticks, [format_seconds(t) for t in ticks], fontsize=style.small)


def _fit_suptitle(figure: Any, text: str, points: float, width_px: float) -> None:
    """The figure's title, in a smaller font (down to 7 pt) or cut with "…" when it is wider than the figure."""
    title = figure.suptitle(text, fontsize=points)
    renderer = figure.canvas.get_renderer()
    while title.get_window_extent(renderer).width > 0.98 * width_px:
        if title.get_fontsize() > 7.0:
            title.set_fontsize(title.get_fontsize() - 0.5)
        else:
            text = text[:-2]
            title.set_text(text.rstrip() + "…")


def _draw_probabilities(axis: Any, rows: list[tuple[str, float]], colours: dict[str, str], use_seaborn: bool,
                        style: ChartStyle, unknown: bool = False) -> None:
    """Horizontal bars of the mean probabilities (``rows``, largest first, maybe ending with "N others"), largest
    at the top, each labelled with its value."""
    names = [name for name, _ in rows]
    values = [p * 100 for _, p in rows]
    palette = [colours.get(name, OTHERS_COLOUR) for name in names]
    if use_seaborn:
        import seaborn

        seaborn.barplot(x=values, y=names, hue=names, palette=palette, orient="h", legend=False, ax=axis,
                        order=names, width=BAR_FILL)
    else:
        axis.barh(names[::-1], values[::-1], color=palette[::-1], height=BAR_FILL)
    limit = probability_limit(max(values))
    for name, value in zip(names, values, strict=True):
        inside = value > 0.8 * limit
        axis.annotate(f"{value:.1f} %", (value, name), xytext=(-3 if inside else 3, 0), textcoords="offset points",
                      ha="right" if inside else "left", va="center", fontsize=style.small,
                      color="white" if inside else "black")
    axis.set_xlim(0, limit)
    axis.set_ylim((len(names) - 0.5, -0.5) if use_seaborn else (-0.5, len(names) - 0.5))  # rows fill the height
    axis.tick_params(labelsize=style.small)
    axis.set_xlabel("probability (%), mean over windows", fontsize=style.label)
    axis.set_ylabel("")
    axis.set_title("nearest genres (none fits)" if unknown else "genre probabilities", fontsize=style.title)


def _fit_values(axis: Any, renderer: Any) -> None:
    """Keep every bar's value inside the (laid out) axis: a value that would cross its right edge goes inside the
    end of its bar when the bar is wide enough for it, otherwise the axis grows by 5 % steps until it fits."""
    for _ in range(20):
        frame = axis.get_window_extent(renderer)
        limit = axis.get_xlim()[1]
        crossing = [text for text in axis.texts if text.get_window_extent(renderer).x1 > frame.x1 - 1]
        if not crossing:
            return
        for text in crossing:
            bar_px = text.xy[0] / limit * frame.width
            if text.get_ha() == "left" and bar_px > text.get_window_extent(renderer).width + 8:
                text.set_ha("right")
                text.xyann = (-3, 0)
                text.set_color("white")
            else:
                axis.set_xlim(0, min(100.0, limit + 5.0) if limit < 100 else limit * 1.05)
                break


def _timeline_end(result: SongResult) -> float:
    spans = result.window_spans()
    return float(spans[-1][1]) if spans else 0.0


def _draw_timeline(axis: Any, result: SongResult, colours: dict[str, str], style: ChartStyle,
                   legend_columns: int = 1, max_ticks: int = MAX_TIME_TICKS) -> None:
    """Stacked genre probabilities of every window, drawn over its own stretch of the song (m:ss axis); the legend
    right of it in ``legend_columns`` columns."""
    spans = np.array(result.window_spans(), dtype=float).reshape(-1, 2)
    lefts, widths = spans[:, 0], spans[:, 1] - spans[:, 0]
    bottom = np.zeros(len(spans))
    for genre, colour in colours.items():
        row = np.array([w.probabilities[genre] for w in result.windows]) * 100
        axis.bar(lefts, row, width=widths, bottom=bottom, align="edge", color=colour, label=genre,
                 edgecolor="white", linewidth=0.6)
        bottom += row
    unknown = np.array([w.known is False for w in result.windows], dtype=bool)
    if unknown.any():  # windows unlike every genre of the model: hatched over their bars
        axis.bar(lefts[unknown], np.full(int(unknown.sum()), 100.0), width=widths[unknown], align="edge",
                 color="none", edgecolor="#555555", hatch="///", linewidth=0.0, label=UNKNOWN_HATCH_LABEL)
    end = _timeline_end(result)
    ticks = time_ticks(end, max_ticks)
    axis.set_xticks(ticks, [format_seconds(t) for t in ticks], fontsize=style.small)
    axis.set_xlim(0, max(end, 1.0))
    axis.set_ylim(0, 100)
    axis.tick_params(axis="y", labelsize=style.small)
    axis.set_xlabel("time in the song (m:ss)", fontsize=style.label)
    axis.set_ylabel("probability (%)", fontsize=style.label)
    axis.set_title("timeline (30-s windows)", fontsize=style.title)
    axis.legend(fontsize=style.small, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
                ncols=legend_columns, columnspacing=1.0, handlelength=1.5, borderaxespad=0.3)


def save_plot(result: SongResult, path: str | os.PathLike[str]) -> Path:
    """Save the bar chart and timeline of ``result`` as a PNG (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    draw_result(figure, result, use_seaborn=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
