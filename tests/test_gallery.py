"""The error gallery's choice of faces: a confusion-matrix cell's faces and the largest age errors."""

from __future__ import annotations

import pytest

from face2data.evaluation.gallery import (
    age_error,
    cell_faces,
    cell_labels,
    largest_age_errors,
    matrix_columns,
    true_age_bounds,
)
from face2data.schema import HEAD_BY_NAME, RACES, Head

ROWS = [
    {"age_true": 30, "gender_true": "male", "ethnicity_true": "White", "age_pred": 31.2, "gender_pred": "male",
     "ethnicity_pred": "Others"},
    {"age_range_true": "20-29", "ethnicity7_true": "East Asian", "gender_true": "female", "ethnicity_true": "Asian",
     "age_pred": 45.0, "gender_pred": "male", "ethnicity_pred": "Asian"},
    {"age_range_true": "more than 70", "gender_true": "female", "age_pred": 66.4, "gender_pred": "female",
     "ethnicity_pred": "White"},
    {"age_pred": 12.0, "gender_pred": "male", "ethnicity_pred": "White", "ethnicity_true": "White"},
    {"age_true": 8, "gender_true": "male", "ethnicity_true": "White", "age_pred": 29.6, "gender_pred": "male",
     "ethnicity_pred": "Others"},
]  # fmt: skip


def test_age_labels_as_bounds():
    assert true_age_bounds(ROWS[0]) == (30, 30)
    assert true_age_bounds(ROWS[1]) == (20, 29)
    assert true_age_bounds(ROWS[2])[0] == 70
    assert true_age_bounds(ROWS[3]) is None
    assert true_age_bounds({"age_true": float("nan"), "age_range_true": "3-9"}) == (3, 9)  # a CSV's empty cell


def test_a_cell_holds_exactly_the_faces_labelled_and_predicted_so(monkeypatch):
    monkeypatch.setitem(HEAD_BY_NAME, "ethnicity7", Head("ethnicity7", "classes", "Ethnicity (7 groups)", RACES))
    assert cell_faces(ROWS, "ethnicity", "White", "Others") == [0, 4]
    assert cell_faces(ROWS, "ethnicity", "White", "White") == [3]
    assert cell_faces(ROWS, "gender", "female", "male") == [1]
    assert cell_faces(ROWS, "ethnicity7_to_ethnicity", "East Asian", "Asian") == [1]  # a head's truth, another's call
    assert matrix_columns("ethnicity7_to_ethnicity") == ("ethnicity7_true", "ethnicity_pred")
    assert cell_faces(ROWS, "age_bucket", "20-29", "40-49") == [1]
    assert cell_faces(ROWS, "age_bucket", "3-9", "30-39") == [4]  # 29.6 is read as 30, as the metrics round it
    assert cell_labels(ROWS[3], "gender") is None and cell_labels(ROWS[3], "age_bucket") is None
    for unknown in ("glasses", "age", "race_to_ethnicity", "gender_to_glasses"):
        with pytest.raises(ValueError, match="unknown confusion matrix"):
            cell_labels(ROWS[0], unknown)


def test_largest_age_errors_count_from_the_edge_of_a_range():
    assert age_error(ROWS[1]) == pytest.approx(16.0)  # 45 against 20-29
    assert age_error(ROWS[2]) == pytest.approx(3.6)  # 66.4 against 70 and more
    assert age_error(ROWS[3]) is None
    assert largest_age_errors(ROWS, 3) == [4, 1, 2]
    assert largest_age_errors(ROWS, 10) == [4, 1, 2, 0]
    inside = {"age_range_true": "40-49", "age_pred": 45.0, "gender_pred": "male", "ethnicity_pred": "White"}
    assert largest_age_errors([*ROWS, inside], 10) == [4, 1, 2, 0]  # said 45 for 40-49 is no error
