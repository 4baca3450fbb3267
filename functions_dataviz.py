"""Every plot of the project (seaborn/matplotlib): the model-selection and training steps (PNG files) and one
song's result (a PNG from ``03 --plot``, or the figure embedded in the window of 04).

matplotlib and seaborn are imported inside the functions (Agg backend for files), so importing this module
stays cheap: the standard library, NumPy and functions_fetch (for m:ss times) only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from functions_fetch import format_seconds

if TYPE_CHECKING:
    from functions_analysis import SongResult


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


def draw_result(figure: Any, result: SongResult, use_seaborn: bool = True) -> None:
    """Draw the probability bar chart (left) and the per-window timeline (right) of ``result`` on ``figure``.

    Works on any matplotlib Figure (a saved PNG or the one embedded in the tkinter window).
    """
    figure.clear()
    if not result.ok:
        axis = figure.add_subplot(1, 1, 1)
        axis.axis("off")
        axis.text(0.5, 0.5, result.error or "no result", ha="center", va="center", wrap=True)
        return
    assert result.probabilities is not None
    colours = {g: GENRE_COLOURS[i % len(GENRE_COLOURS)] for i, g in enumerate(result.probabilities)}
    bars_axis, time_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    _draw_probabilities(bars_axis, result.probabilities, colours, use_seaborn)
    _draw_timeline(time_axis, result, colours)
    answer = result.unknown_text() if result.unknown else result.uncertain_text() if result.uncertain else result.genre
    figure.suptitle(f"{result.title or result.input}: {answer}", fontsize=11)
    figure.tight_layout()


def _draw_probabilities(axis: Any, probabilities: dict[str, float], colours: dict[str, str],
                        use_seaborn: bool) -> None:
    """Horizontal bars of the mean probabilities, largest at the top, each labelled with its value."""
    ordered = sorted(probabilities, key=lambda g: probabilities[g])  # largest at the top
    values = [probabilities[g] * 100 for g in ordered]
    if use_seaborn:
        import seaborn

        seaborn.barplot(x=values, y=ordered, hue=ordered, palette=[colours[g] for g in ordered],
                        orient="h", legend=False, ax=axis, order=ordered[::-1])
    else:
        axis.barh(ordered, values, color=[colours[g] for g in ordered])
    limit = probability_limit(max(values))
    for genre, value in zip(ordered, values, strict=True):
        inside = value > 0.8 * limit
        axis.annotate(f"{value:.1f} %", (value, genre), xytext=(-3 if inside else 3, 0), textcoords="offset points",
                      ha="right" if inside else "left", va="center", fontsize=8,
                      color="white" if inside else "black")
    axis.set_xlim(0, limit)
    axis.set_xlabel("probability (%), mean over windows")
    axis.set_ylabel("")
    axis.set_title("genre probabilities", fontsize=10)


def _draw_timeline(axis: Any, result: SongResult, colours: dict[str, str]) -> None:
    """Stacked genre probabilities of every window, drawn over its own stretch of the song (m:ss axis)."""
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
                 color="none", edgecolor="#555555", hatch="///", linewidth=0.0, label="not a known genre")
    end = float(spans[-1, 1]) if len(spans) else 0.0
    ticks = time_ticks(end)
    axis.set_xticks(ticks, [format_seconds(t) for t in ticks], fontsize=8)
    axis.set_xlim(0, max(end, 1.0))
    axis.set_ylim(0, 100)
    axis.set_xlabel("time in the song (m:ss)")
    axis.set_ylabel("probability (%)")
    axis.set_title("timeline (30-s windows)", fontsize=10)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


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
