"""The split parser (functions_evaluation.read_split) and calibrated confidence (functions_calibration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import functions_calibration as calibration
import functions_evaluation as evaluation

FILES = [f"{g}/{g}.{i:05d}.wav" for g in ("blues", "jazz", "rock") for i in range(6)]


def write_split(folder: Path, **parts: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part, names in parts.items():
        (folder / f"{part}.txt").write_text("\n".join(names) + "\n")
    return folder


# --- the split parser ----------------------------------------------------------------------------------------
def test_split_lists_name_clips_by_file_value_file_name_or_path(tmp_path: Path) -> None:
    folder = write_split(
        tmp_path / "split",
        train=["blues/blues.00000.wav", "blues.00001.wav", "/data/gtzan/genres/jazz/jazz.00000.wav", "",
               "  jazz/jazz.00001.wav  "],
        valid=["rock/rock.00000.wav", "rock\\rock.00001.wav"],
        test=["blues.00005.wav", "jazz.00005.wav", "rock.00005.wav"])
    split = evaluation.read_split(folder, FILES)
    chosen = {part: [f for f, m in zip(FILES, split.masks[part], strict=True) if m] for part in evaluation.SPLIT_PARTS}
    assert chosen["train"] == ["blues/blues.00000.wav", "blues/blues.00001.wav", "jazz/jazz.00000.wav",
                               "jazz/jazz.00001.wav"]
    assert chosen["valid"] == ["rock/rock.00000.wav", "rock/rock.00001.wav"]
    assert chosen["test"] == ["blues/blues.00005.wav", "jazz/jazz.00005.wav", "rock/rock.00005.wav"]
    assert int(split.left_out.sum()) == len(FILES) - 9
    assert split.describe() == "train 4, valid 2, test 3 clips; 9 rows in no list left out"
    assert split.to_json()["n_left_out"] == 9


def test_unknown_clips_stop_with_one_line_unless_allowed(tmp_path: Path) -> None:
    folder = write_split(tmp_path / "split", train=["blues.00000.wav", "metal.00042.wav"],
                         valid=["jazz.00000.wav"], test=["rock.00000.wav"])
    with pytest.raises(evaluation.DataError) as info:
        evaluation.read_split(folder, FILES)
    message = str(info.value)
    assert "\n" not in message and str(folder / "train.txt") in message
    assert "1 listed clip(s) match no row" in message and "metal.00042.wav" in message
    split = evaluation.read_split(folder, FILES, allow_missing=True)
    assert split.missing == {"train": ["metal.00042.wav"], "valid": [], "test": []}
    assert int(split.masks["train"].sum()) == 1 and "1 listed clip(s) not in the CSV" in split.describe()


@pytest.mark.parametrize("fault, needle", [
    ("overlap", "in both train.txt and test.txt, e.g. jazz/jazz.00003.wav"),
    ("no_valid", "valid.txt: missing"),
    ("empty_test", "test.txt: lists no clips"),
    ("no_folder", "split folder not found"),
])
def test_broken_split_folders_are_one_line_errors(tmp_path: Path, fault: str, needle: str) -> None:
    parts = {"train": ["blues.00000.wav", "jazz.00003.wav"], "valid": ["jazz.00000.wav"],
             "test": ["rock.00000.wav", "jazz/jazz.00003.wav"] if fault == "overlap" else ["rock.00000.wav"]}
    if fault == "no_valid":
        del parts["valid"]
    if fault == "empty_test":
        parts["test"] = ["", "  "]
    folder = write_split(tmp_path / "split", **parts) if fault != "no_folder" else tmp_path / "nowhere"
    with pytest.raises(evaluation.DataError) as info:
        evaluation.read_split(folder, FILES)
    assert needle in str(info.value) and "\n" not in str(info.value)


# --- calibration ---------------------------------------------------------------------------------------------
def overconfident_outputs(n: int = 4000, n_classes: int = 5, sharpen: float = 3.0, seed: int = 0):
    """Logits of a model whose probabilities are honest at temperature ``sharpen`` (labels drawn from them), but
    which reports them ``sharpen`` times sharper: over-confident, like a network trained to memorise."""
    rng = np.random.default_rng(seed)
    honest = rng.normal(0.0, 1.2, (n, n_classes))
    probabilities = calibration.softmax(honest)
    y = np.array([rng.choice(n_classes, p=p) for p in probabilities])
    return honest * sharpen, y


def test_a_fitted_temperature_undoes_overconfidence_and_lowers_ece() -> None:
    logits, y = overconfident_outputs()
    raw = calibration.calibrated_probabilities(logits)
    temperature = calibration.fit_temperature(logits, y)
    assert 2.6 < temperature < 3.4  # the sharpening the outputs were made with
    calibrated = calibration.calibrated_probabilities(logits, temperature)
    before = calibration.expected_calibration_error(raw, y)
    after = calibration.expected_calibration_error(calibrated, y)
    assert before > 0.15 and after < 0.03
    assert calibration.negative_log_likelihood(calibrated, y) < calibration.negative_log_likelihood(raw, y)
    assert (calibrated.argmax(axis=1) == raw.argmax(axis=1)).all()  # a temperature never changes the answer
    # an ensemble's members (M, N, C) are calibrated together: the mean of their tempered softmaxes
    members = np.stack([logits, logits + np.random.default_rng(1).normal(0, 0.3, logits.shape)])
    assert calibration.calibrated_probabilities(members, 2.0) == pytest.approx(
        (calibration.softmax(members[0] / 2.0) + calibration.softmax(members[1] / 2.0)) / 2)


def test_ece_and_reliability_bins_by_hand() -> None:
    # 4 clips at 0.9 confidence (3 right), 2 at 0.55 (1 right): ECE = (4 * |0.75 - 0.9| + 2 * |0.5 - 0.55|) / 6
    proba = np.array([[0.9, 0.1]] * 4 + [[0.55, 0.45]] * 2)
    y = np.array([0, 0, 0, 1, 0, 1])
    assert calibration.expected_calibration_error(proba, y) == pytest.approx((4 * 0.15 + 2 * 0.05) / 6)
    bins = calibration.reliability_bins(proba, y)
    assert [b["count"] for b in bins] == [0, 0, 0, 0, 0, 2, 0, 0, 0, 4]
    assert bins[9]["accuracy"] == 0.75 and bins[9]["confidence"] == pytest.approx(0.9)
    assert bins[0]["accuracy"] is None
    one = calibration.reliability_bins(np.array([[1.0, 0.0]]), np.array([0]))  # 1.0 lands in the last bin
    assert one[-1]["count"] == 1


def test_uncertain_threshold_withholds_the_answers_that_are_more_often_wrong() -> None:
    # confidence 0.3: 1 right of 4; 0.5: 2 of 3; 0.8: 4 of 4 -> withholding the 0.3 group gains most
    confidence = np.array([0.3] * 4 + [0.5] * 3 + [0.8] * 4)
    proba = np.column_stack([confidence] + [(1 - confidence) / 3] * 3)  # genre 0 on top in every row
    y = np.array([0, 1, 1, 1] + [0, 0, 1] + [0] * 4)
    threshold = calibration.choose_uncertain_threshold(proba, y)
    assert 0.3 < threshold <= 0.5 and threshold == 0.31
    figures = calibration.uncertain_figures(proba, y, threshold)
    assert figures["n_uncertain"] == 4 and figures["uncertain_share"] == pytest.approx(4 / 11)
    assert figures["confident_accuracy"] == pytest.approx(6 / 7) and figures["uncertain_accuracy"] == 0.25
    # a model that is always right withholds nothing
    assert calibration.choose_uncertain_threshold(proba, proba.argmax(axis=1)) == 0.0


# --- how much a figure can move with the draw of clips ---------------------------------------------------------
def test_accuracy_interval_is_the_wilson_score_interval() -> None:
    z = 1.959964
    for n_correct, n in ((157, 290), (3, 20), (99, 100)):
        low, high = evaluation.accuracy_interval(n_correct, n)
        p = n_correct / n
        assert low < p < high
        # Wilson's endpoints are the true accuracies q at which the observed p sits exactly z standard errors away
        for q in (low, high):
            assert abs(p - q) == pytest.approx(z * np.sqrt(q * (1 - q) / n), rel=1e-6)
    assert evaluation.accuracy_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert evaluation.accuracy_interval(10, 10)[1] == pytest.approx(1.0)
    for n in range(1, 300):  # the interval holds the figure itself: 4 of 4 gave an upper end of 0.9999999999999999
        assert evaluation.accuracy_interval(n, n)[1] == 1.0 and evaluation.accuracy_interval(0, n)[0] == 0.0
    # 157 of 290 (54.1 %): about +-5.7 points; four times the clips halves it
    low, high = evaluation.accuracy_interval(157, 290)
    low4, high4 = evaluation.accuracy_interval(628, 1160)
    assert 0.11 < high - low < 0.12 and (high4 - low4) == pytest.approx((high - low) / 2, rel=0.02)
    metrics = evaluation.classification_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), ["a", "b"])
    assert metrics["accuracy_interval_95"] == list(evaluation.accuracy_interval(3, 4))


def random_probabilities(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return calibration.softmax(rng.normal(0.0, 1.5, (n, 10)))


def test_ece_floor_of_a_perfectly_calibrated_model_on_a_few_hundred_clips() -> None:
    proba = random_probabilities(290, seed=0)
    floor = calibration.ece_if_calibrated(proba)
    assert floor == calibration.ece_if_calibrated(proba)  # seeded: the same figures every run
    assert floor["n_clips"] == 290 and 0.02 < floor["mean"] < floor["p95"] < 0.15
    # genres really drawn from these probabilities: the observed ECE is within the floor's 95th percentile
    # about 95 % of the time, and never far above it
    rng = np.random.default_rng(7)
    observed = []
    for _ in range(40):
        y = np.array([rng.choice(10, p=row) for row in proba])
        observed.append(calibration.expected_calibration_error(proba, y))
    inside = np.mean(np.array(observed) <= floor["p95"])
    assert inside >= 0.85 and np.mean(observed) == pytest.approx(floor["mean"], abs=0.01)
    # an over-confident model's ECE stands far above its floor
    logits, y = overconfident_outputs()
    raw = calibration.calibrated_probabilities(logits)
    assert calibration.expected_calibration_error(raw, y) > 2 * calibration.ece_if_calibrated(raw)["p95"]
    # the floor shrinks as the square root of the clips
    big = calibration.ece_if_calibrated(random_probabilities(2900, seed=0), n_draws=500)
    assert big["mean"] == pytest.approx(floor["mean"] / np.sqrt(10), rel=0.3)


def test_the_ece_floor_of_near_certain_answers_on_few_clips_has_a_tail_above_its_95th_percentile():
    """Four clips answered at 99.97 %: nearly every draw has them all right (ECE 0.0003), one in ~800 has one
    wrong (ECE ~0.25), so the mean (~0.0006) is above the 95th percentile (0.0003): both are still reported, in
    (0, 1] (a test of 02 once assumed mean <= p95 and failed on such a model)."""
    proba = np.full((4, 10), 0.0003 / 9)
    proba[:, 0] = 0.9997
    floor = calibration.ece_if_calibrated(proba)
    assert floor["n_clips"] == 4 and floor["p95"] == pytest.approx(0.0003, abs=1e-9)
    assert floor["p95"] < floor["mean"] < 0.01
