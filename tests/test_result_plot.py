"""The result plot of functions_dataviz (03 --plot and the window of 04) for a 4-minute song in 15 windows:
few round m:ss ticks that do not run into each other, and a probability axis sized to the data; at any size, no
text over another or outside the figure, and bars of at least 12 pixels (``layout_problems``, also used by the
window's test under Xvfb)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import functions_dataviz as viz
from functions_song_result import SongResult, WindowResult

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
STARTS = [15.0 * i for i in range(15)]  # what plan_windows gives for 240 s: 0:00, 0:15, ..., 3:30


def layout_problems(figure) -> list[str]:
    """What is wrong with a drawn result figure, in words (empty: nothing): two text elements whose window extents
    overlap, a text that leaves the figure, a bar of the probability chart under viz.MIN_BAR_PX pixels high, the
    timeline's legend over an axis, a bar's value outside its axis."""
    renderer = figure.canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    texts = drawn_texts(figure)
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in texts]
    problems = [f"{name!r} leaves the figure ({box.x0:.0f}, {box.y0:.0f})-({box.x1:.0f}, {box.y1:.0f}) of "
                f"{width:.0f} x {height:.0f}" for name, box in boxes
                if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5]
    for i, (name, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1:]:
            if overlap(box, other_box):
                problems.append(f"{name!r} overlaps {other!r}")
    if len(figure.axes) >= 2:
        bars_axis, time_axis = figure.axes[:2]
        for patch in bars_axis.patches:
            bar = patch.get_window_extent(renderer)
            if bar.height < viz.MIN_BAR_PX - 1e-6:
                problems.append(f"a bar is {bar.height:.1f} px high")
        frames = [axis.get_window_extent(renderer) for axis in (bars_axis, time_axis)]
        legend = time_axis.get_legend()
        if legend is not None and any(overlap(legend.get_window_extent(renderer), frame) for frame in frames):
            problems.append("the legend is drawn over an axis")
        for text in bars_axis.texts:
            box = text.get_window_extent(renderer)
            if box.x0 < frames[0].x0 - 0.5 or box.x1 > frames[0].x1 + 0.5:
                problems.append(f"the value {text.get_text()!r} leaves its axis")
    return problems


def drawn_texts(figure) -> list:
    """Every text the figure draws (visible, not empty): titles, axis labels, the tick labels inside the axes'
    limits, annotations, legend entries."""
    texts = list(figure.texts)
    for axis in figure.axes:
        texts += [axis.title, axis._left_title, axis._right_title, axis.xaxis.label, axis.yaxis.label, *axis.texts,
                  axis.xaxis.get_offset_text(), axis.yaxis.get_offset_text()]
        for ruler in (axis.xaxis, axis.yaxis):
            for tick in ruler._update_ticks():  # the ticks drawn: inside the axis's limits
                texts += [tick.label1, tick.label2]
        legend = axis.get_legend()
        if legend is not None:
            texts += [*legend.get_texts(), legend.get_title()]
    return [text for text in texts if text.get_visible() and text.get_text().strip()]


def overlap(a, b, tolerance: float = 0.5) -> bool:
    """Whether two window extents share more than a ``tolerance`` pixel strip."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance


def four_minute_result(confident: bool = False) -> SongResult:
    """A 240-s song analysed in 15 windows (hop 15 s), with mixed or (``confident``) one-genre probabilities."""
    rng = np.random.default_rng(4)
    windows = []
    for start in STARTS:
        p = rng.dirichlet(np.full(len(GENRES), 0.5))
        if confident:
            p = 0.03 * p + 0.97 * (np.arange(len(GENRES)) == GENRES.index("metal"))
        probabilities = dict(zip(GENRES, map(float, p), strict=True))
        windows.append(WindowResult(start, max(probabilities, key=probabilities.get), probabilities))
    mean = {g: float(np.mean([w.probabilities[g] for w in windows])) for g in GENRES}
    return SongResult(input="song.wav", title="four minutes", duration_s=240.0, genre=max(mean, key=mean.get),
                      probabilities=mean, windows=windows)


def drawn(result: SongResult, figsize: tuple[float, float], use_seaborn: bool):
    """The figure as 03 --plot (10 x 4 in, seaborn) or the window (8 x 3.4 in, plain matplotlib) draws it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    viz.draw_result(figure, result, use_seaborn=use_seaborn)
    figure.canvas.draw()
    bars_axis, time_axis = figure.axes[:2]
    return figure, bars_axis, time_axis


AS_DRAWN = pytest.mark.parametrize("figsize, use_seaborn", [((10, 4), True), ((8, 3.4), False)],
                                   ids=["cli_plot", "window"])


@AS_DRAWN
def test_fifteen_windows_get_few_round_ticks_that_do_not_touch(figsize, use_seaborn):
    figure, _, time_axis = drawn(four_minute_result(), figsize, use_seaborn)
    assert list(time_axis.get_xticks()) == [0, 60, 120, 180, 240]
    labels = time_axis.get_xticklabels()
    assert [label.get_text() for label in labels] == ["0:00", "1:00", "2:00", "3:00", "4:00"]
    assert time_axis.get_xlim() == (0, 240)
    renderer = figure.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in labels]
    assert all(left.x1 + 10 < right.x0 for left, right in zip(boxes, boxes[1:], strict=False))
    # one stacked column per window and genre, over the window's own stretch of the song
    columns = sorted({(round(p.get_x(), 6), round(p.get_width(), 6)) for p in time_axis.patches})
    assert columns == [(s, 15.0) for s in STARTS[:-1]] + [(210.0, 30.0)]


@AS_DRAWN
@pytest.mark.parametrize("confident", [False, True], ids=["mixed", "confident"])
def test_probability_axis_is_sized_to_the_data_and_the_values_stay_readable(figsize, use_seaborn, confident):
    result = four_minute_result(confident)
    figure, bars_axis, _ = drawn(result, figsize, use_seaborn)
    largest = max(result.probabilities.values()) * 100
    low, high = bars_axis.get_xlim()
    assert low == 0 and largest < high <= 100
    assert largest / high > 0.6  # the bars fill most of the axis, not its left third
    renderer = figure.canvas.get_renderer()
    frame = bars_axis.get_window_extent(renderer)
    texts = bars_axis.texts
    assert len(texts) == len(GENRES)
    for text in texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()  # inside the axis, not over the timeline


@pytest.mark.parametrize("end_s, step", [(12, 5), (30, 5), (90, 15), (150, 30), (240, 60), (420, 60),
                                         (600, 120), (1200, 300), (3600, 600)])
def test_time_ticks_are_the_smallest_round_step_giving_at_most_eight(end_s, step):
    ticks = viz.time_ticks(end_s)
    assert ticks == [float(t) for t in range(0, end_s + 1, step)]
    assert len(ticks) <= viz.MAX_TIME_TICKS
    smaller = [s for s in viz.TIME_TICK_STEPS_S if s < step]
    assert all(end_s // s + 1 > viz.MAX_TIME_TICKS for s in smaller)


def test_save_plot_writes_the_png_of_the_cli(tmp_path):
    from PIL import Image

    path = viz.save_plot(four_minute_result(), tmp_path / "plots" / "song.png")
    with Image.open(path) as image:
        assert image.size == (1000, 400)


def clip_result(unknown: bool = False) -> SongResult:
    """A 30-s clip in one window: a clear classical answer, or (``unknown``) a not-music one."""
    p = np.full(len(GENRES), 0.01)
    p[GENRES.index("classical")] = 0.91
    probabilities = dict(zip(GENRES, map(float, p), strict=True))
    window = WindowResult(0.0, "classical", probabilities, known=not unknown)
    return SongResult(input="tone.wav" if unknown else "classical.00000.wav", title="classical.00000",
                      duration_s=30.0, genre="classical", probabilities=probabilities, windows=[window],
                      known=not unknown, not_music=unknown or None)


@pytest.mark.parametrize("size", [(800, 160), (800, 220), (760, 300), (880, 420), (1000, 400), (1200, 700)],
                         ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("kind", ["clip", "four_minutes", "unknown", "unknown_windows"])
@pytest.mark.parametrize("use_seaborn", [False, True], ids=["window", "cli_plot"])
def test_no_text_overlaps_or_leaves_the_figure_at_any_size(size, kind, use_seaborn):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    result = {"clip": clip_result, "four_minutes": four_minute_result, "unknown": lambda: clip_result(True),
              "unknown_windows": four_minute_result}[kind]()
    if kind == "unknown_windows":  # one window in three unlike every genre: hatched, with its legend entry
        result.windows = [dataclasses.replace(w, known=i % 3 != 0) for i, w in enumerate(result.windows)]
        result.known = False
    figure = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    FigureCanvasAgg(figure)
    viz.draw_result(figure, result, use_seaborn=use_seaborn, title=use_seaborn)
    figure.canvas.draw()
    assert layout_problems(figure) == []
    bars = figure.axes[0].patches
    assert 2 <= len(bars) <= len(GENRES)
    if len(bars) < len(GENRES):  # the top genres, then the rest summed
        labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
        assert f"{len(GENRES) - len(bars) + 1} others" in labels
    if size[1] >= 300:
        assert len(bars) == len(GENRES)


def test_top_with_others_sums_the_rest():
    probabilities = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.06, "e": 0.04}
    assert viz.top_with_others(probabilities, 5) == sorted(probabilities.items(), key=lambda item: -item[1])
    assert viz.top_with_others(probabilities, 3) == [("a", 0.5), ("b", 0.3), ("3 others", pytest.approx(0.2))]
