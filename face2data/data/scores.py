"""How well predictions match labels, face by face: the maths every figure is built from, from the validation
lines of a training run to the evaluation reports (no model, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from face2data.outputs import expected_age
from face2data.schema import AGE_HEAD, AGE_RANGE_TOLERANCE, CLASS_HEADS, NO_LABEL

if TYPE_CHECKING:
    from face2data.data.arrays import FaceArrays

RANGE_HIT_KEY = f"age_in_range_{AGE_RANGE_TOLERANCE}"
"""Metrics key of the share of ages inside their labelled range widened by AGE_RANGE_TOLERANCE years."""


def mean_absolute_error(true: np.ndarray, pred: np.ndarray) -> float:
    """Mean of |pred - true| (NaN for no samples)."""
    return float(np.mean(np.abs(np.asarray(pred, float) - np.asarray(true, float)))) if len(true) else float("nan")


def root_mean_squared_error(true: np.ndarray, pred: np.ndarray) -> float:
    """Square root of the mean squared error (NaN for no samples)."""
    diff = np.asarray(pred, float) - np.asarray(true, float)
    return float(np.sqrt(np.mean(diff**2))) if len(true) else float("nan")


def accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of equal labels among the labelled faces (true class not NO_LABEL; NaN for none)."""
    true, pred = np.asarray(true), np.asarray(pred)
    labelled = true != NO_LABEL
    return float(np.mean(true[labelled] == pred[labelled])) if labelled.any() else float("nan")


def inside_range(age: np.ndarray, low: np.ndarray, high: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """True where an age lies inside its labelled range widened by ``tolerance`` years on each side.

    Ranges are whole years (``30-39`` holds ages 30.0 up to 40.0), so the upper edge is ``high + 1``.
    """
    return (age >= low - tolerance) & (age < high + 1 + tolerance)


def source_figures(faces: FaceArrays, probabilities: dict[str, np.ndarray]) -> dict[str, float]:
    """Headline figures of a set of faces of one source: age MAE for exact ages, the share in range for ranges,
    and the accuracy of each class head some face is labelled for."""
    age = expected_age(probabilities[AGE_HEAD.name])
    exact = faces.exact
    figures = {}
    if exact.any():
        figures["age_mae"] = mean_absolute_error(faces.age_low[exact], age[exact])
    if (~exact).any():
        low, high, ranged = faces.age_low[~exact], faces.age_high[~exact], age[~exact]
        figures["age_in_range"] = float(inside_range(ranged, low, high).mean())
        figures[RANGE_HIT_KEY] = float(inside_range(ranged, low, high, AGE_RANGE_TOLERANCE).mean())
    for head in CLASS_HEADS:
        truth = faces.labels[head.name]
        if (truth != NO_LABEL).any():  # a source without this head's labels is not scored on it
            figures[f"{head.name}_accuracy"] = accuracy(truth, probabilities[head.name].argmax(axis=1))
    return figures
