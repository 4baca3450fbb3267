"""The novelty score (functions_novelty) on synthetic rows: far rows are novel, the threshold keeps about the share
of known rows it is asked to, songs follow the majority of their windows, and a stored scorer scores the same."""

from __future__ import annotations

import json

import numpy as np
import pytest

import functions_novelty as fnov

TAGS = [f"musicnn_mean_{i:02d}" for i in range(1, 9)]
CLASSIC = [f"mfcc_mean_{i:02d}" for i in range(1, 5)]
COLUMNS = CLASSIC + TAGS  # classic first, as the model's feature columns are
N_GENRES, ARTISTS, CLIPS = 4, 12, 5  # per genre: 12 artists of 5 clips each


def genre_rows(rng: np.random.Generator, genre: int, n: int, artist_spread: float = 0.0) -> np.ndarray:
    """Rows of one synthetic genre: tag probabilities around a genre profile, classic values around its centre."""
    profile = np.full(len(TAGS), 0.1)
    profile[2 * genre: 2 * genre + 2] = 0.6
    tags = np.clip(profile + rng.normal(0, 0.06, (n, len(TAGS))) + artist_spread, 0.001, 0.999)
    classic = rng.normal(genre, 1.0, (n, len(CLASSIC)))
    return np.hstack([classic, tags])


def training_set(seed: int = 0, artist_effect: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, genre labels (strings) and artist groups; each artist's clips share an offset of ``artist_effect``."""
    rng = np.random.default_rng(seed)
    rows, labels, groups = [], [], []
    for genre in range(N_GENRES):
        for artist in range(ARTISTS):
            offset = rng.normal(0, artist_effect, len(TAGS)) if artist_effect else 0.0
            block = genre_rows(rng, genre, CLIPS)
            block[:, len(CLASSIC):] = np.clip(block[:, len(CLASSIC):] + offset, 0.001, 0.999)
            rows.append(block)
            labels += [f"genre{genre}"] * CLIPS
            groups += [f"artist{genre}-{artist}"] * CLIPS
    return np.vstack(rows), np.array(labels), np.array(groups)


@pytest.fixture(scope="module")
def shipped() -> fnov.NoveltyScorer:
    X, y, groups = training_set()
    return fnov.fit_novelty(X, y, groups, COLUMNS)


def test_a_cluster_far_from_the_training_rows_is_novel_and_fresh_known_rows_mostly_are_not(shipped) -> None:
    rng = np.random.default_rng(1)
    far = np.hstack([rng.normal(0, 1, (50, len(CLASSIC))),
                     np.clip(0.9 + rng.normal(0, 0.03, (50, len(TAGS))), 0, 1)])  # every tag high: no genre's
    known = np.vstack([genre_rows(rng, g, 250) for g in range(N_GENRES)])
    far_scores, known_scores = fnov.raw_scores(shipped, far), fnov.raw_scores(shipped, known)
    assert fnov.is_unknown(shipped, far_scores).all()
    assert far_scores.min() > np.quantile(known_scores, 0.99)
    assert fnov.auroc(known_scores, far_scores) == 1.0
    kept = 1 - fnov.is_unknown(shipped, known_scores).mean()
    assert 0.85 <= kept <= 0.99  # asked for 0.90 of held-out known rows; the final scorer saw more rows


def test_the_threshold_keeps_the_asked_share_of_held_out_known_rows() -> None:
    X, y, groups = training_set(seed=2)
    for keep in (0.8, 0.9, 0.95):
        choice = fnov.choose_threshold(X, y, groups, COLUMNS, keep=keep)
        assert choice.figures["known_flagged"] == pytest.approx(1 - keep, abs=0.01)
        assert set(choice.figures["per_genre"]) == {f"genre{g}" for g in range(N_GENRES)}
        json.dumps(choice.figures)  # JSON-able, for model.json
    lenient, strict = (fnov.choose_threshold(X, y, groups, COLUMNS, keep=k).threshold for k in (0.95, 0.8))
    assert lenient > strict


def test_a_left_out_genre_is_caught_where_it_lies_apart_from_the_others() -> None:
    # genre profiles with their own tags: each left-out genre is far from the others, so it is found
    X, y, groups = training_set(seed=3)
    figures = fnov.choose_threshold(X, y, groups, COLUMNS).figures
    assert figures["mean_auroc"] > 0.95 and figures["mean_caught"] > 0.8
    for genre in figures["per_genre"].values():
        assert genre["n_rows"] == ARTISTS * CLIPS


def test_artist_grouped_folds_score_an_artists_clips_with_scorers_that_never_saw_that_artist() -> None:
    # every artist has its own offset: with its clips held out together, the known rows look further away (a
    # higher threshold) than when each clip is a group of its own and its artist's other clips are in the fit
    X, y, groups = training_set(seed=4, artist_effect=0.08)
    by_artist = fnov.choose_threshold(X, y, groups, COLUMNS).threshold
    by_clip = fnov.choose_threshold(X, y, np.arange(len(y)).astype(str), COLUMNS).threshold
    assert by_artist > by_clip


def test_the_guard_turns_away_rows_whose_classic_columns_are_far_even_if_their_tags_look_like_a_genre() -> None:
    X, y, groups = training_set(seed=5)
    rng = np.random.default_rng(6)
    odd = genre_rows(rng, 1, 40)
    odd[:, :len(CLASSIC)] = 40.0  # tags of genre 1, classic values no genre has (a sine tone's MFCCs)
    with_guard = fnov.fit_novelty(X, y, groups, COLUMNS)
    without = fnov.fit_novelty(X, y, groups, COLUMNS, fnov.NoveltySettings(guard_prefix=()))
    assert fnov.is_unknown(with_guard, fnov.raw_scores(with_guard, odd)).all()
    assert fnov.is_unknown(without, fnov.raw_scores(without, odd)).mean() <= 0.3  # as known rows: ~10 % flagged


def test_a_song_is_unknown_exactly_when_more_than_half_of_its_windows_are(shipped) -> None:
    rng = np.random.default_rng(7)
    t = shipped.threshold
    assert fnov.song_score([t + 1]) == t + 1
    assert not fnov.is_unknown(shipped, fnov.song_score([t + 5, t - 1]))  # half is not more than half
    assert fnov.is_unknown(shipped, fnov.song_score([t + 5, t + 1, t - 1]))
    for _ in range(200):
        windows = t + rng.normal(0, 1, rng.integers(1, 9))
        majority = fnov.is_unknown(shipped, windows).mean() > 0.5
        assert bool(fnov.is_unknown(shipped, fnov.song_score(windows))) == majority
    with pytest.raises(ValueError):
        fnov.song_score([])


def test_novelty_values_run_from_0_to_1_with_the_threshold_at_the_kept_share(shipped) -> None:
    scores = np.linspace(shipped.reference[0] - 5, shipped.reference[-1] + 5, 500)
    values = fnov.novelty_values(shipped, scores)
    assert values[0] == 0.0 and values[-1] == 1.0 and (np.diff(values) >= 0).all()
    assert fnov.novelty_values(shipped, shipped.threshold) == pytest.approx(fnov.KEEP, abs=0.01)


def test_a_row_with_a_missing_value_is_unknown(shipped) -> None:
    row = genre_rows(np.random.default_rng(8), 0, 1)
    row[0, len(CLASSIC)] = np.nan
    score = fnov.raw_scores(shipped, row)
    assert np.isinf(score).all() and fnov.is_unknown(shipped, score).all()


def test_auroc_counts_ties_half_as_the_pairwise_definition_does() -> None:
    rng = np.random.default_rng(9)
    known, novel = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    pairs = (novel[:, None] > known[None]).mean() + 0.5 * (novel[:, None] == known[None]).mean()
    assert fnov.auroc(known, novel) == pytest.approx(pairs)
    assert fnov.auroc([0, 1], [2, 3]) == 1.0 and fnov.auroc([2, 3], [0, 1]) == 0.0


def test_a_stored_scorer_scores_the_same_whatever_the_order_of_the_columns(shipped) -> None:
    arrays, record = fnov.to_arrays(shipped)
    assert all(name.startswith(fnov.ARRAY_PREFIX) and a.dtype == np.float64 for name, a in arrays.items())
    record = json.loads(json.dumps(record))  # through model.json
    rows = np.vstack([genre_rows(np.random.default_rng(10), g, 5) for g in range(N_GENRES)])
    loaded = fnov.from_arrays(arrays, record, COLUMNS)
    assert np.array_equal(fnov.raw_scores(loaded, rows), fnov.raw_scores(shipped, rows))
    assert loaded.threshold == shipped.threshold and loaded.figures == shipped.figures
    order = list(reversed(range(len(COLUMNS))))
    moved = fnov.from_arrays(arrays, record, [COLUMNS[i] for i in order])
    assert np.allclose(fnov.raw_scores(moved, rows[:, order]), fnov.raw_scores(shipped, rows))


@pytest.mark.parametrize("fault, needle", [
    ("missing column", r"column\(s\) the rows lack"),
    ("wrong shape", "do not match"),
    ("non-finite", "non-finite"),
    ("missing array", "incomplete"),
    ("version", "format_version"),
])
def test_a_damaged_stored_scorer_is_one_value_error(shipped, fault: str, needle: str) -> None:
    arrays, record = fnov.to_arrays(shipped)
    columns = list(COLUMNS)
    if fault == "missing column":
        columns.remove(TAGS[3])
    elif fault == "wrong shape":
        arrays["novelty_genre_whitener"] = arrays["novelty_genre_whitener"][:-1]
    elif fault == "non-finite":
        arrays["novelty_reference"] = arrays["novelty_reference"].copy()
        arrays["novelty_reference"][3] = np.nan
    elif fault == "missing array":
        del arrays["novelty_guard_centre"]
    else:
        record["format_version"] = 99
    with pytest.raises(ValueError, match=needle) as info:
        fnov.from_arrays(arrays, record, columns)
    assert "\n" not in str(info.value)


def test_rows_of_the_wrong_width_and_too_few_genres_are_refused() -> None:
    X, y, _ = training_set(seed=11)
    scorer = fnov.fit_scorer(X, y, COLUMNS)
    with pytest.raises(ValueError, match="columns"):
        fnov.raw_scores(scorer, X[:, :-1])
    with pytest.raises(ValueError, match="two genres"):
        fnov.fit_scorer(X[y == "genre0"], y[y == "genre0"], COLUMNS)
    with pytest.raises(ValueError, match="threshold"):
        fnov.is_unknown(scorer, 1.0)


def test_a_model_without_musicnn_columns_gets_the_classic_settings() -> None:
    assert fnov.settings_for_columns(COLUMNS) == fnov.NoveltySettings()
    assert fnov.settings_for_columns(CLASSIC) == fnov.CLASSIC_ONLY
    X, y, groups = training_set(seed=12)
    scorer = fnov.fit_novelty(X[:, :len(CLASSIC)], y, groups, CLASSIC, fnov.settings_for_columns(CLASSIC))
    assert scorer.guard is None and len(scorer.genre.used) == len(CLASSIC)
    far = np.full((3, len(CLASSIC)), 30.0)
    assert fnov.is_unknown(scorer, fnov.raw_scores(scorer, far)).all()
