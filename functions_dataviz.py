"""Plots of the model-selection and training steps (seaborn/matplotlib, written as PNG files).

matplotlib is imported inside the functions (Agg backend), so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


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
