import numpy as np
import pytest

from face2data.evaluation.metrics import (
    Outcomes,
    accuracy,
    bootstrap_intervals,
    calibration,
    confusion_matrix,
    fit_temperature,
    mean_absolute_error,
    reliability,
    root_mean_squared_error,
    summarize,
)
from face2data.outputs import with_temperature
from face2data.schema import NO_LABEL


def _outcomes() -> Outcomes:
    return Outcomes(
        age_true=np.array([10.0, 20.0, 30.0, 75.0]),
        gender_true=np.array([0, 1, 1, 0]),
        ethnicity_true=np.array([0, 1, 2, 4]),
        age_pred=np.array([12.0, 20.0, 27.0, 71.0]),
        age_low=np.array([8.0, 25.0, 20.0, 60.0]),
        age_high=np.array([15.0, 30.0, 35.0, 80.0]),
        gender_pred=np.array([0, 1, 0, 0]),
        ethnicity_pred=np.array([0, 1, 2, 2]),
    )


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
    cells = report["per_group"]["ethnicity_gender_age_bucket"]
    assert sum(c["n"] for c in cells) == 4
    assert {"ethnicity": "Others", "gender": "male", "age_bucket": "70+"}.items() <= cells[-1].items()


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(0)
    n = 500
    true = rng.integers(0, 2, n)
    o = Outcomes(
        age_true=rng.uniform(0, 80, n), gender_true=true, ethnicity_true=true,
        age_pred=rng.uniform(0, 80, n), age_low=np.zeros(n), age_high=np.zeros(n),
        gender_pred=np.where(rng.random(n) < 0.9, true, 1 - true), ethnicity_pred=true,
    )  # fmt: skip
    ci = bootstrap_intervals(o, n_resamples=300)
    report = summarize(o)
    for key in ("age_mae", "gender_accuracy"):
        assert ci[key][0] <= report[key] <= ci[key][1]
    assert ci["ethnicity_accuracy"] == [1.0, 1.0]


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
    ages = np.array([5.0, 35.0, 36.0])
    report = calibration(probabilities, np.array([0, 1, 1]), np.array([0, NO_LABEL, NO_LABEL]), ages,
                         (np.array([3.0, 30.0, 40.0]), np.array([8.0, 40.0, 50.0])))  # fmt: skip
    assert sum(b["n"] for b in report["gender"]["bins"]) == 3
    assert sum(b["n"] for b in report["ethnicity"]["bins"]) == 1  # the two unlabelled faces left out
    coverage = report["age_interval"]
    assert coverage["coverage"] == pytest.approx(2 / 3) and coverage["nominal"] == 0.8
    assert [(row["group"], row["n"], row["coverage"]) for row in coverage["by_age_bucket"]] == [
        ("3-9", 1, 1.0),
        ("30-39", 2, 0.5),
    ]
    no_ages = calibration(probabilities, np.array([0, 1, 1]), np.full(3, NO_LABEL), None, (ages, ages))
    assert set(no_ages) == {"gender"}


def test_a_set_without_ethnicity_labels_is_scored_on_age_and_gender_only():
    n = 40
    rng = np.random.default_rng(1)
    truth = rng.integers(2, 80, n).astype(float)
    outcomes = Outcomes(truth, rng.integers(0, 2, n), np.full(n, NO_LABEL), truth + 2, truth - 5, truth + 5,
                        rng.integers(0, 2, n), rng.integers(0, 5, n))  # fmt: skip
    report = summarize(outcomes)
    assert "ethnicity_accuracy" not in report and "ethnicity" not in report["confusion"]
    assert report["age_mae"] == pytest.approx(2.0) and "gender_age_bucket" in report["per_group"]
    assert all("ethnicity_accuracy" not in row for row in report["per_group"]["gender_age_bucket"])
    assert "ethnicity_accuracy" not in bootstrap_intervals(outcomes, n_resamples=50)


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
