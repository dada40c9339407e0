import numpy as np
import pytest

from face2data.data.scores import RANGE_HIT_KEY, accuracy, mean_absolute_error, root_mean_squared_error
from face2data.evaluation.metrics import (
    Outcomes,
    bootstrap_intervals,
    calibration,
    confusion_matrix,
    fit_temperature,
    reliability,
    summarize,
)
from face2data.outputs import with_temperature
from face2data.schema import ETHNICITIES, HEAD_BY_NAME, NO_LABEL, RACE_TO_ETHNICITY, RACES, Head


def _outcomes() -> Outcomes:
    ages = np.array([10.0, 20.0, 30.0, 75.0])
    return Outcomes(
        age_low=ages,
        age_high=ages,
        age_pred=np.array([12.0, 20.0, 27.0, 71.0]),
        pred_low=np.array([8.0, 25.0, 20.0, 60.0]),
        pred_high=np.array([15.0, 30.0, 35.0, 80.0]),
        truth={"gender": np.array([0, 1, 1, 0]), "ethnicity": np.array([0, 1, 2, 4])},
        predicted={"gender": np.array([0, 1, 0, 0]), "ethnicity": np.array([0, 1, 2, 2])},
    )


def _random_outcomes(n: int, seed: int = 0, ranges: bool = False, **truth: np.ndarray) -> Outcomes:
    """``n`` faces with exact ages (or FairFace-like ranges), ``truth`` per class head, mostly right predictions."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 9, n) * 10.0 if ranges else rng.integers(1, 90, n).astype(float)
    high = low + 9 if ranges else low
    predicted = {}
    for head, labels in truth.items():
        size = len(HEAD_BY_NAME[head].classes)
        predicted[head] = np.where(rng.random(n) < 0.8, np.maximum(labels, 0), rng.integers(0, size, n))
    pred = low + rng.normal(3, 6, n)
    return Outcomes(low, high, pred, pred - 8, pred + 8, truth, predicted)


def test_basic_metrics():
    assert mean_absolute_error([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert root_mean_squared_error([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))
    assert accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert np.isnan(mean_absolute_error([], []))


def test_confusion_matrix_rows_are_truth():
    matrix = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_summary_on_known_outcomes():
    report = summarize(_outcomes())
    assert report["n"] == 4
    assert report["age_mae"] == pytest.approx((2 + 0 + 3 + 4) / 4)
    assert report["age_rmse"] == pytest.approx(np.sqrt((4 + 0 + 9 + 16) / 4))
    assert report["gender_accuracy"] == 0.75
    assert report["ethnicity_accuracy"] == 0.75
    assert report["age_interval_coverage"] == 0.75  # 20 is outside [25, 30]
    assert report["confusion"]["gender"]["counts"] == [[2, 0], [1, 1]]
    assert np.array(report["confusion"]["ethnicity"]["counts"]).sum() == 4
    # ages 10, 20, 30, 75 fall in buckets 10-19, 20-29, 30-39, 70+; predictions 12, 20, 27, 71
    age_counts = np.array(report["confusion"]["age_bucket"]["counts"])
    assert age_counts[4, 3] == 1 and age_counts[8, 8] == 1 and np.trace(age_counts) == 3
    by_gender = {row["group"]: row for row in report["per_group"]["gender"]}
    assert by_gender["female"]["n"] == 2 and by_gender["female"]["gender_accuracy"] == 0.5
    assert by_gender["male"]["age_mae"] == pytest.approx(3.0)
    cells = report["per_group"]["cells"]
    assert sum(c["n"] for c in cells) == 4 and all(set(c) >= {"gender", "ethnicity", "age_bucket"} for c in cells)
    old_man = [c for c in cells if c["ethnicity"] == "Others" and c["gender"] == "male" and c["age_bucket"] == "70+"]
    assert len(old_man) == 1 and old_man[0]["n"] == 1 and old_man[0]["ethnicity_accuracy"] == 0.0


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(0)
    n = 500
    true = rng.integers(0, 2, n)
    ages = rng.uniform(0, 80, n)
    o = Outcomes(
        age_low=ages, age_high=ages, age_pred=rng.uniform(0, 80, n), pred_low=np.zeros(n), pred_high=np.zeros(n),
        truth={"gender": true, "ethnicity": true},
        predicted={"gender": np.where(rng.random(n) < 0.9, true, 1 - true), "ethnicity": true},
    )  # fmt: skip
    ci = bootstrap_intervals(o, n_resamples=300)
    report = summarize(o)
    for key in ("age_mae", "age_rmse", "gender_accuracy"):
        assert ci[key][0] <= report[key] <= ci[key][1]
    assert ci["ethnicity_accuracy"] == [1.0, 1.0]
    headline = {k for k, v in report.items() if isinstance(v, float)}
    assert set(ci) == headline == {"age_mae", "age_rmse", "gender_accuracy", "ethnicity_accuracy",
                                   "age_interval_coverage"}  # fmt: skip


def test_a_perfectly_calibrated_head_has_an_expected_calibration_error_near_zero():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 200_000)
    report = reliability(confidence, rng.random(confidence.size) < confidence)
    assert report["ece"] < 0.005
    assert sum(b["n"] for b in report["bins"]) == confidence.size and len(report["bins"]) == 5


def test_the_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy():
    # 100 answers at 90 % of which 60 are right, 100 at 55 % of which 55 are right
    confidence = np.r_[np.full(100, 0.9), np.full(100, 0.55)]
    correct = np.r_[np.arange(100) < 60, np.arange(100) < 55]
    report = reliability(confidence, correct)
    assert report["ece"] == pytest.approx(0.5 * 0.3 + 0.5 * 0.0)
    assert [(b["low"], b["n"], b["accuracy"]) for b in report["bins"]] == [(0.5, 100, 0.55), (0.9, 100, 0.6)]


def test_calibration_skips_faces_without_a_label_and_measures_interval_coverage_by_age():
    probabilities = {
        "gender": np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]),
        "ethnicity": np.eye(5)[[0, 1, 2]] * 0.9 + 0.02,
    }
    predicted = {head: p.argmax(axis=1) for head, p in probabilities.items()}

    def outcomes(ages: np.ndarray, ethnicities: np.ndarray) -> Outcomes:
        return Outcomes(ages, ages, ages, np.array([3.0, 30.0, 40.0]), np.array([8.0, 40.0, 50.0]),
                        {"gender": np.array([0, 1, 1]), "ethnicity": ethnicities}, predicted)  # fmt: skip

    ages = np.array([5.0, 35.0, 36.0])
    report = calibration(outcomes(ages, np.array([0, NO_LABEL, NO_LABEL])), probabilities)
    assert sum(b["n"] for b in report["gender"]["bins"]) == 3
    assert sum(b["n"] for b in report["ethnicity"]["bins"]) == 1  # the two unlabelled faces left out
    coverage = report["age_interval"]
    assert coverage["coverage"] == pytest.approx(2 / 3) and coverage["nominal"] == 0.8
    assert [(row["group"], row["n"], row["coverage"]) for row in coverage["by_age_bucket"]] == [
        ("3-9", 1, 1.0),
        ("30-39", 2, 0.5),
    ]
    no_ages = calibration(outcomes(np.full(3, np.nan), np.full(3, NO_LABEL)), probabilities)
    assert set(no_ages) == {"gender"}


def test_a_set_without_ethnicity_labels_is_scored_on_age_and_gender_only():
    n = 40
    rng = np.random.default_rng(1)
    truth = rng.integers(2, 80, n).astype(float)
    outcomes = Outcomes(truth, truth, truth + 2, truth - 5, truth + 5,
                        {"gender": rng.integers(0, 2, n), "ethnicity": np.full(n, NO_LABEL)},
                        {"gender": rng.integers(0, 2, n), "ethnicity": rng.integers(0, 5, n)})  # fmt: skip
    report = summarize(outcomes)
    assert "ethnicity_accuracy" not in report and "ethnicity" not in report["confusion"]
    assert "ethnicity" not in report["per_group"]
    assert report["age_mae"] == pytest.approx(2.0) and report["per_group"]["cells"]
    assert all("ethnicity_accuracy" not in row and "ethnicity" not in row for row in report["per_group"]["cells"])
    assert "ethnicity_accuracy" not in bootstrap_intervals(outcomes, n_resamples=50)


def test_a_set_of_age_ranges_gets_the_shares_in_range_and_its_few_exact_ages_their_own_figures():
    n = 300
    o = _random_outcomes(n, ranges=True, gender=np.random.default_rng(2).integers(0, 2, n))
    o.age_high[:10] = o.age_low[:10]  # ten exact ages among the ranges
    report = summarize(o)
    assert {"age_in_range", RANGE_HIT_KEY, "gender_accuracy"} <= set(report)
    assert not {"age_mae", "age_rmse", "age_interval_coverage", "ethnicity_accuracy"} & set(report)
    assert 0 <= report["age_in_range"] <= report[RANGE_HIT_KEY] <= 1
    assert report["exact_ages"]["n"] == 10 and report["exact_ages"]["age_mae"] >= 0
    row = report["per_group"]["gender"][0]
    assert set(row) == {"group", "n", "age_in_range", RANGE_HIT_KEY, "gender_accuracy"}
    assert set(bootstrap_intervals(o, n_resamples=50)) == {"age_in_range", RANGE_HIT_KEY, "gender_accuracy"}
    assert "exact_ages" not in summarize(_random_outcomes(n, ranges=True, gender=np.zeros(n, int)))


def test_faces_without_an_age_count_for_their_class_labels_only():
    n = 200
    rng = np.random.default_rng(3)
    o = _random_outcomes(n, gender=np.where(rng.random(n) < 0.3, NO_LABEL, rng.integers(0, 2, n)))
    aged = rng.random(n) < 0.5
    o.age_low[~aged] = o.age_high[~aged] = np.nan
    report = summarize(o)
    assert report["n"] == n and o.age_labels == "exact"
    assert report["age_mae"] == pytest.approx(mean_absolute_error(o.age_low[aged], o.age_pred[aged]))
    labelled = o.truth["gender"] != NO_LABEL
    assert report["gender_accuracy"] == pytest.approx(accuracy(o.truth["gender"], o.predicted["gender"]))
    assert np.sum(report["confusion"]["gender"]["counts"]) == labelled.sum()
    assert np.sum(report["confusion"]["age_bucket"]["counts"]) == aged.sum()
    assert sum(c["n"] for c in report["per_group"]["cells"]) == (aged & labelled).sum()
    assert sum(row["n"] for row in report["per_group"]["age_bucket"]) == aged.sum()
    o.age_low[:] = o.age_high[:] = np.nan
    report = summarize(o)
    assert o.age_labels == "none" and set(report["confusion"]) == set(report["per_group"]) == {"gender"}
    assert not any(key.startswith("age") for key in report)
    assert set(bootstrap_intervals(o, n_resamples=20)) == {"gender_accuracy"}


def test_a_new_class_head_is_scored_and_compared_with_the_other_head_of_its_attribute(monkeypatch):
    """A seventh-group ethnicity head, as a new row of the head table would add it: FairFace-like faces carry its
    label, UTKFace-like faces NO_LABEL."""
    monkeypatch.setitem(HEAD_BY_NAME, "ethnicity7", Head("ethnicity7", "classes", "Ethnicity (7 groups)", RACES,
                                                         attribute="ethnicity"))  # fmt: skip
    n = 400
    rng = np.random.default_rng(4)
    races = np.where(np.arange(n) < 300, rng.integers(0, 7, n), NO_LABEL)
    five = np.array([ETHNICITIES.index(RACE_TO_ETHNICITY[RACES[r]]) for r in races[:300]] + [0] * 100)
    o = _random_outcomes(n, gender=rng.integers(0, 2, n), ethnicity=five, ethnicity7=races)
    report = summarize(o)
    assert {"gender_accuracy", "ethnicity_accuracy", "ethnicity7_accuracy"} <= set(report)
    assert report["ethnicity7_accuracy"] == pytest.approx(np.mean(o.predicted["ethnicity7"][:300] == races[:300]))
    assert np.sum(report["confusion"]["ethnicity7"]["counts"]) == 300
    calls = report["confusion"]["ethnicity7_to_ethnicity"]
    assert calls["rows"] == list(RACES) and calls["labels"] == list(ETHNICITIES)
    assert np.array(calls["counts"]).shape == (7, 5) and np.sum(calls["counts"]) == 300
    assert np.array(report["confusion"]["ethnicity_to_ethnicity7"]["counts"]).shape == (5, 7)
    assert not any("gender_to" in key or "to_gender" in key for key in report["confusion"])
    assert [row["group"] for row in report["per_group"]["ethnicity7"]] == list(RACES)
    cells = report["per_group"]["cells"]
    assert sum(c["n"] for c in cells) == 300 and all(set(c) >= {"gender", "ethnicity", "ethnicity7"} for c in cells)
    assert "ethnicity7_accuracy" in bootstrap_intervals(o, n_resamples=20)
    probabilities = {head: np.eye(len(HEAD_BY_NAME[head].classes))[p] for head, p in o.predicted.items()}
    assert sum(b["n"] for b in calibration(o, probabilities)["ethnicity7"]["bins"]) == 300


def test_a_known_temperature_is_recovered_and_calibrated_answers_have_no_error():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2.0, (20_000, 5))
    true_probs = with_temperature(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 1.0)
    labels = np.array([rng.choice(5, p=p) for p in true_probs])
    # the labels follow true_probs exactly: calibrated, so the error is near 0 and the fitted temperature near 1
    assert reliability(true_probs.max(1), true_probs.argmax(1) == labels)["ece"] < 0.015
    assert abs(fit_temperature(true_probs, labels) - 1.0) < 0.05
    overconfident = with_temperature(true_probs, 1 / 1.7)  # what a model 1.7x too sure would say
    assert abs(fit_temperature(overconfident, labels) - 1.7) < 0.08
    assert reliability(overconfident.max(1), overconfident.argmax(1) == labels)["ece"] > 0.05
    assert np.allclose(with_temperature(overconfident, 1.7), true_probs, atol=1e-6)
