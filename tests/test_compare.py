"""Two metrics files of one test set side by side."""

from __future__ import annotations

import json

import pytest

from face2data.evaluation.compare import NotComparable, compare_reports, read_report

SHIPPED = {"source": "utkface", "test_set": "UTKFace test split", "split": "test", "n": 2201, "age_mae": 4.47,
           "gender_accuracy": 0.9305, "ethnicity_accuracy": 0.8323,
           "confidence_intervals": {"age_mae": [4.32, 4.62], "gender_accuracy": [0.92, 0.941],
                                    "ethnicity_accuracy": [0.816, 0.848]}}  # fmt: skip


def test_each_figure_with_its_difference_and_whether_the_intervals_overlap():
    other = SHIPPED | {"age_mae": 4.1, "gender_accuracy": 0.9305, "ethnicity_accuracy": 0.79,
                       "confidence_intervals": {"age_mae": [3.95, 4.25], "gender_accuracy": [0.92, 0.941],
                                                "ethnicity_accuracy": [0.772, 0.806]}}  # fmt: skip
    rows = {row["figure"]: row for row in compare_reports(SHIPPED, other)}
    assert set(rows) == {"age MAE", "gender accuracy", "ethnicity accuracy"}
    age, gender, ethnicity = rows["age MAE"], rows["gender accuracy"], rows["ethnicity accuracy"]
    assert age["difference"] == pytest.approx(-0.37) and age["better"] == "other"  # lower MAE is better
    assert age["intervals_overlap"] is False and age["unit"] == "years"
    assert gender["better"] == "same" and gender["intervals_overlap"] is True
    assert ethnicity["difference"] == pytest.approx(-4.23) and ethnicity["better"] == "shipped"
    assert ethnicity["unit"] == "points" and ethnicity["intervals_overlap"] is False


def test_files_of_other_test_sets_or_no_metrics_are_refused():
    with pytest.raises(NotComparable, match="different test sets"):
        compare_reports(SHIPPED, SHIPPED | {"source": "fairface", "test_set": "in the wild"})
    assert read_report(json.dumps(SHIPPED).encode()) == SHIPPED
    for data in (b"\x89PNG", b"[1, 2]", b'{"hello": 1}'):
        with pytest.raises(NotComparable):
            read_report(data)
    no_intervals = {k: v for k, v in SHIPPED.items() if k != "confidence_intervals"}
    assert all(row["intervals_overlap"] is None for row in compare_reports(SHIPPED, no_intervals))
