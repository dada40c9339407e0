"""Metric maths on arrays of truths and predictions (no model, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from face2data.schema import AGE_BUCKETS, ETHNICITIES, GENDERS, age_bucket


@dataclass
class Outcomes:
    """Ground truth and predictions for a set of faces, one entry per face."""

    age_true: np.ndarray
    gender_true: np.ndarray
    ethnicity_true: np.ndarray
    age_pred: np.ndarray
    age_low: np.ndarray
    age_high: np.ndarray
    gender_pred: np.ndarray
    ethnicity_pred: np.ndarray


def mean_absolute_error(true: np.ndarray, pred: np.ndarray) -> float:
    """Mean of |pred - true| (NaN for no samples)."""
    return float(np.mean(np.abs(np.asarray(pred, float) - np.asarray(true, float)))) if len(true) else float("nan")


def root_mean_squared_error(true: np.ndarray, pred: np.ndarray) -> float:
    """Square root of the mean squared error (NaN for no samples)."""
    diff = np.asarray(pred, float) - np.asarray(true, float)
    return float(np.sqrt(np.mean(diff**2))) if len(true) else float("nan")


def accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of equal labels (NaN for no samples)."""
    return float(np.mean(np.asarray(true) == np.asarray(pred))) if len(true) else float("nan")


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, int), np.asarray(pred, int)), 1)
    return matrix


def _group_figures(o: Outcomes, mask: np.ndarray) -> dict:
    return {
        "n": int(mask.sum()),
        "age_mae": mean_absolute_error(o.age_true[mask], o.age_pred[mask]),
        "gender_accuracy": accuracy(o.gender_true[mask], o.gender_pred[mask]),
        "ethnicity_accuracy": accuracy(o.ethnicity_true[mask], o.ethnicity_pred[mask]),
    }


def _by(o: Outcomes, keys: np.ndarray, names: Sequence[str]) -> list[dict]:
    return [{"group": name, **_group_figures(o, keys == i)} for i, name in enumerate(names) if (keys == i).any()]


def summarize(o: Outcomes) -> dict:
    """Headline metrics, confusion matrices and per-group figures, as JSON-ready values."""
    true_bucket, pred_bucket = age_bucket(o.age_true), age_bucket(np.rint(o.age_pred))
    inside = (o.age_true >= o.age_low) & (o.age_true <= o.age_high)
    per_cell = []
    for e, ethnicity in enumerate(ETHNICITIES):
        for g, gender in enumerate(GENDERS):
            for b, bucket in enumerate(AGE_BUCKETS):
                mask = (o.ethnicity_true == e) & (o.gender_true == g) & (true_bucket == b)
                if mask.any():
                    per_cell.append({"ethnicity": ethnicity, "gender": gender, "age_bucket": bucket,
                                     **_group_figures(o, mask)})  # fmt: skip
    return {
        "n": len(o.age_true),
        "age_mae": mean_absolute_error(o.age_true, o.age_pred),
        "age_rmse": root_mean_squared_error(o.age_true, o.age_pred),
        "gender_accuracy": accuracy(o.gender_true, o.gender_pred),
        "ethnicity_accuracy": accuracy(o.ethnicity_true, o.ethnicity_pred),
        "age_interval_coverage": float(inside.mean()) if len(inside) else float("nan"),
        "confusion": {
            "gender": {
                "labels": list(GENDERS),
                "counts": confusion_matrix(o.gender_true, o.gender_pred, len(GENDERS)).tolist(),
            },
            "ethnicity": {
                "labels": list(ETHNICITIES),
                "counts": confusion_matrix(o.ethnicity_true, o.ethnicity_pred, len(ETHNICITIES)).tolist(),
            },
            "age_bucket": {
                "labels": list(AGE_BUCKETS),
                "counts": confusion_matrix(true_bucket, pred_bucket, len(AGE_BUCKETS)).tolist(),
            },
        },  # fmt: skip
        "per_group": {
            "gender": _by(o, o.gender_true, GENDERS),
            "ethnicity": _by(o, o.ethnicity_true, ETHNICITIES),
            "age_bucket": _by(o, true_bucket, AGE_BUCKETS),
            "ethnicity_gender_age_bucket": per_cell,
        },
    }


def bootstrap_intervals(o: Outcomes, n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap confidence intervals of the four headline metrics."""
    rng = np.random.default_rng(seed)
    n = len(o.age_true)
    samples: dict[str, list[float]] = {"age_mae": [], "age_rmse": [], "gender_accuracy": [], "ethnicity_accuracy": []}
    abs_err = np.abs(o.age_pred - o.age_true)
    gender_ok = o.gender_pred == o.gender_true
    ethnicity_ok = o.ethnicity_pred == o.ethnicity_true
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        samples["age_mae"].append(abs_err[idx].mean())
        samples["age_rmse"].append(np.sqrt((abs_err[idx] ** 2).mean()))
        samples["gender_accuracy"].append(gender_ok[idx].mean())
        samples["ethnicity_accuracy"].append(ethnicity_ok[idx].mean())
    tail = (1 - level) / 2 * 100
    return {k: [float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))] for k, v in samples.items()}
