"""The result plot of functions_dataviz (03 --plot and the window of 04) for a 4-minute song in 15 windows:
few round m:ss ticks that do not run into each other, and a probability axis sized to the data."""

from __future__ import annotations

import numpy as np
import pytest

import functions_dataviz as viz
from functions_analysis import SongResult, WindowResult

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
STARTS = [15.0 * i for i in range(15)]  # what plan_windows gives for 240 s: 0:00, 0:15, ..., 3:30


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
