import numpy as np
import pytest

from face2data.evaluation.metrics import (
    Outcomes,
    accuracy,
    bootstrap_intervals,
    confusion_matrix,
    mean_absolute_error,
    root_mean_squared_error,
    summarize,
)


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
