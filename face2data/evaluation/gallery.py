"""Which faces make up an evaluation's errors: the faces of one confusion-matrix cell, or the largest age errors.

Works on the prediction rows ``evaluate`` and ``evaluate_labelled`` write (``PREDICTION_COLUMNS``): a face a head
has no label for belongs to none of that head's cells.
"""

from __future__ import annotations

import math

import numpy as np

from face2data.results import whole_years
from face2data.schema import AGE_BUCKETS, AGE_MAX, HEAD_BY_NAME, age_bucket

AGE_MATRIX = "age_bucket"


def matrix_columns(matrix: str) -> tuple[str, str]:
    """The columns of the true class and of the predicted class in a confusion matrix: a class head's own
    (``gender``: ``gender_true``, ``gender_pred``) or one head's truth against another's prediction
    (``ethnicity7_to_ethnicity``: ``ethnicity7_true``, ``ethnicity_pred``); ValueError for any other name."""
    truth, _, predicted = matrix.partition("_to_")
    predicted = predicted or truth
    if not all(name in HEAD_BY_NAME and HEAD_BY_NAME[name].kind == "classes" for name in (truth, predicted)):
        raise ValueError(f"unknown confusion matrix {matrix!r}")
    return f"{truth}_true", f"{predicted}_pred"


def true_age_bounds(row: dict) -> tuple[float, float] | None:
    """A row's labelled age as (low, high): an exact age gives (age, age), a range ``30-39`` its ends; None when
    the face has no age label."""
    exact = row.get("age_true")
    if exact is not None and exact != "" and not (isinstance(exact, float) and math.isnan(exact)):
        return float(exact), float(exact)
    text = row.get("age_range_true")
    if not isinstance(text, str) or not text:
        return None
    if text.startswith("more than"):  # FairFace's last range, as the metrics read it
        return float(text.split()[-1]), float(AGE_MAX)
    low, high = text.split("-")
    return float(low), float(high)


def _bucket(age: float) -> str:
    return AGE_BUCKETS[int(age_bucket(np.array([age]))[0])]


def cell_labels(row: dict, matrix: str) -> tuple[str, str] | None:
    """(true, predicted) of one row in a confusion matrix (a class head's, ``<truth head>_to_<predicted head>`` or
    ``age_bucket``); None when the face has no label for it."""
    if matrix == AGE_MATRIX:
        bounds = true_age_bounds(row)
        return None if bounds is None else (_bucket(bounds[0]), _bucket(whole_years(float(row["age_pred"]))))
    true_column, pred_column = matrix_columns(matrix)
    true = row.get(true_column)
    if not isinstance(true, str) or not true:
        return None
    return true, str(row[pred_column])


def cell_faces(rows: list[dict], matrix: str, true: str, predicted: str) -> list[int]:
    """Indices of the rows labelled ``true`` and predicted ``predicted`` in ``matrix``, in row order."""
    return [i for i, row in enumerate(rows) if cell_labels(row, matrix) == (true, predicted)]


def age_error(row: dict) -> float | None:
    """Years between the predicted age and the labelled age (0 inside a labelled range); None without a label."""
    bounds = true_age_bounds(row)
    if bounds is None:
        return None
    age = float(row["age_pred"])
    return max(bounds[0] - age, age - bounds[1], 0.0)


def largest_age_errors(rows: list[dict], count: int) -> list[int]:
    """Indices of the ``count`` rows whose predicted age is furthest from the label, largest first; a face whose
    predicted age is inside its label (no error at all) is never one of them."""
    errors = [(error, i) for i, row in enumerate(rows) if (error := age_error(row))]
    return [i for _, i in sorted(errors, key=lambda pair: (-pair[0], pair[1]))[:count]]
