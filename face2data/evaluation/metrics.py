"""Metric maths on arrays of truths and predictions (no model, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from face2data.outputs import expected_age, with_temperature
from face2data.schema import (
    AGE_BUCKETS,
    AGE_INTERVAL_MASS,
    AGE_RANGE_TOLERANCE,
    ETHNICITIES,
    GENDERS,
    NO_LABEL,
    RACES,
    age_bucket,
)

RANGE_HIT_KEY = f"age_in_range_{AGE_RANGE_TOLERANCE}"
"""Metrics key of the share of ages inside their labelled range widened by AGE_RANGE_TOLERANCE years."""

if TYPE_CHECKING:
    from face2data.data.arrays import FaceArrays


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
    """Headline figures of a set of faces of one source: age MAE for exact ages, the share in range for ranges."""
    age = expected_age(probabilities["age"])
    exact = faces.exact
    figures = {}
    if exact.any():
        figures["age_mae"] = mean_absolute_error(faces.age_low[exact], age[exact])
    if (~exact).any():
        low, high, ranged = faces.age_low[~exact], faces.age_high[~exact], age[~exact]
        figures["age_in_range"] = float(inside_range(ranged, low, high).mean())
        figures[RANGE_HIT_KEY] = float(inside_range(ranged, low, high, AGE_RANGE_TOLERANCE).mean())
    for head, truth in (("gender", faces.genders), ("ethnicity", faces.ethnicities)):
        labelled = truth != NO_LABEL  # a source without this head's labels is not scored on it
        if labelled.any():
            figures[f"{head}_accuracy"] = accuracy(truth[labelled], probabilities[head][labelled].argmax(axis=1))
    return figures


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class (faces whose true class is NO_LABEL left out)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    true, pred = np.asarray(true, int), np.asarray(pred, int)
    labelled = true != NO_LABEL
    np.add.at(matrix, (true[labelled], pred[labelled]), 1)
    return matrix


def _confusions(
    gender_true: np.ndarray,
    gender_pred: np.ndarray,
    ethnicity_true: np.ndarray,
    ethnicity_pred: np.ndarray,
    bucket_true: np.ndarray,
    bucket_pred: np.ndarray,
) -> dict:
    """The gender, ethnicity and age-bucket confusion matrices with their labels, JSON-ready."""
    pairs = {"gender": (GENDERS, gender_true, gender_pred), "ethnicity": (ETHNICITIES, ethnicity_true, ethnicity_pred),
             "age_bucket": (AGE_BUCKETS, bucket_true, bucket_pred)}  # fmt: skip
    return {
        name: {"labels": list(labels), "counts": confusion_matrix(true, pred, len(labels)).tolist()}
        for name, (labels, true, pred) in pairs.items()
    }


def _has_ethnicity(o: Outcomes) -> bool:
    """Whether any face of the set has an ethnicity label (All-Age-Faces has none)."""
    return bool((o.ethnicity_true != NO_LABEL).any())


def _group_figures(o: Outcomes, mask: np.ndarray) -> dict:
    figures = {
        "n": int(mask.sum()),
        "age_mae": mean_absolute_error(o.age_true[mask], o.age_pred[mask]),
        "gender_accuracy": accuracy(o.gender_true[mask], o.gender_pred[mask]),
    }
    if _has_ethnicity(o):
        figures["ethnicity_accuracy"] = accuracy(o.ethnicity_true[mask], o.ethnicity_pred[mask])
    return figures


def _by(o: Outcomes, keys: np.ndarray, names: Sequence[str]) -> list[dict]:
    return [{"group": name, **_group_figures(o, keys == i)} for i, name in enumerate(names) if (keys == i).any()]


def summarize(o: Outcomes) -> dict:
    """Headline metrics, confusion matrices and per-group figures, as JSON-ready values.

    A set without ethnicity labels (every ``ethnicity_true`` NO_LABEL) gets no ethnicity figures, and its
    per-cell table is by gender and age bucket (``gender_age_bucket``).
    """
    true_bucket, pred_bucket = age_bucket(o.age_true), age_bucket(np.rint(o.age_pred))
    inside = (o.age_true >= o.age_low) & (o.age_true <= o.age_high)
    has_ethnicity = _has_ethnicity(o)
    per_cell = []
    for e, ethnicity in enumerate(ETHNICITIES if has_ethnicity else (None,)):
        for g, gender in enumerate(GENDERS):
            for b, bucket in enumerate(AGE_BUCKETS):
                mask = (o.gender_true == g) & (true_bucket == b)
                group = {"gender": gender, "age_bucket": bucket}
                if ethnicity is not None:
                    mask &= o.ethnicity_true == e
                    group = {"ethnicity": ethnicity, **group}
                if mask.any():
                    per_cell.append({**group, **_group_figures(o, mask)})
    confusion = _confusions(o.gender_true, o.gender_pred, o.ethnicity_true, o.ethnicity_pred, true_bucket, pred_bucket)
    per_group = {"gender": _by(o, o.gender_true, GENDERS)}
    if has_ethnicity:
        per_group["ethnicity"] = _by(o, o.ethnicity_true, ETHNICITIES)
    else:
        del confusion["ethnicity"]
    per_group["age_bucket"] = _by(o, true_bucket, AGE_BUCKETS)
    per_group["ethnicity_gender_age_bucket" if has_ethnicity else "gender_age_bucket"] = per_cell
    headline = {
        "n": len(o.age_true),
        "age_mae": mean_absolute_error(o.age_true, o.age_pred),
        "age_rmse": root_mean_squared_error(o.age_true, o.age_pred),
        "gender_accuracy": accuracy(o.gender_true, o.gender_pred),
    }
    if has_ethnicity:
        headline["ethnicity_accuracy"] = accuracy(o.ethnicity_true, o.ethnicity_pred)
    return {
        **headline,
        "age_interval_coverage": float(inside.mean()) if len(inside) else float("nan"),
        "confusion": confusion,
        "per_group": per_group,
    }


def bootstrap_intervals(o: Outcomes, n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap confidence intervals of the headline metrics (ethnicity only where labelled)."""
    rng = np.random.default_rng(seed)
    n = len(o.age_true)
    samples: dict[str, list[float]] = {"age_mae": [], "age_rmse": [], "gender_accuracy": []}
    abs_err = np.abs(o.age_pred - o.age_true)
    gender_ok = o.gender_pred == o.gender_true
    # NaN for faces without an ethnicity label, which the resampled means leave out
    ethnicity_ok = np.where(o.ethnicity_true != NO_LABEL, o.ethnicity_pred == o.ethnicity_true, np.nan)
    if _has_ethnicity(o):
        samples["ethnicity_accuracy"] = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        samples["age_mae"].append(abs_err[idx].mean())
        samples["age_rmse"].append(np.sqrt((abs_err[idx] ** 2).mean()))
        samples["gender_accuracy"].append(gender_ok[idx].mean())
        if "ethnicity_accuracy" in samples:
            samples["ethnicity_accuracy"].append(float(np.nanmean(ethnicity_ok[idx])))
    tail = (1 - level) / 2 * 100
    return {k: [float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))] for k, v in samples.items()}


@dataclass
class RangeOutcomes:
    """Ground truth with age ranges (FairFace) and predictions, one entry per face found."""

    age_low: np.ndarray  # first year of the labelled range
    age_high: np.ndarray  # last year of the labelled range
    race_true: np.ndarray  # index into RACES
    gender_true: np.ndarray
    ethnicity_true: np.ndarray
    age_pred: np.ndarray
    gender_pred: np.ndarray
    ethnicity_pred: np.ndarray


def _range_figures(o: RangeOutcomes, mask: np.ndarray) -> dict:
    age, low, high = o.age_pred[mask], o.age_low[mask], o.age_high[mask]
    return {
        "n": int(mask.sum()),
        "age_in_range": float(inside_range(age, low, high).mean()) if mask.any() else float("nan"),
        RANGE_HIT_KEY: float(inside_range(age, low, high, AGE_RANGE_TOLERANCE).mean()) if mask.any() else float("nan"),
        "gender_accuracy": accuracy(o.gender_true[mask], o.gender_pred[mask]),
        "ethnicity_accuracy": accuracy(o.ethnicity_true[mask], o.ethnicity_pred[mask]),
    }


def summarize_ranges(o: RangeOutcomes) -> dict:
    """Headline figures, confusion matrices (with FairFace's seven race groups) and per-group figures."""
    true_bucket, pred_bucket = age_bucket(o.age_low), age_bucket(np.rint(o.age_pred))
    everyone = np.ones(len(o.age_low), bool)
    per_cell = []
    for r, race in enumerate(RACES):
        for g, gender in enumerate(GENDERS):
            for b, bucket in enumerate(AGE_BUCKETS):
                mask = (o.race_true == r) & (o.gender_true == g) & (true_bucket == b)
                if mask.any():
                    per_cell.append({"race": race, "gender": gender, "age_bucket": bucket, **_range_figures(o, mask)})

    def by(keys: np.ndarray, names: Sequence[str]) -> list[dict]:
        return [{"group": name, **_range_figures(o, keys == i)} for i, name in enumerate(names) if (keys == i).any()]

    race_calls = np.zeros((len(RACES), len(ETHNICITIES)), dtype=np.int64)
    np.add.at(race_calls, (o.race_true, o.ethnicity_pred), 1)
    return {
        **_range_figures(o, everyone),
        "confusion": {
            **_confusions(o.gender_true, o.gender_pred, o.ethnicity_true, o.ethnicity_pred, true_bucket, pred_bucket),
            "race_to_ethnicity": {
                "rows": list(RACES),
                "labels": list(ETHNICITIES),
                "counts": race_calls.tolist(),
            },
        },
        "per_group": {
            "gender": by(o.gender_true, GENDERS),
            "ethnicity": by(o.ethnicity_true, ETHNICITIES),
            "race": by(o.race_true, RACES),
            "age_bucket": by(true_bucket, AGE_BUCKETS),
            "race_gender_age_bucket": per_cell,
        },
    }


def bootstrap_range_intervals(o: RangeOutcomes, n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap confidence intervals of the headline figures of range-labelled faces."""
    rng = np.random.default_rng(seed)
    hits = {
        "age_in_range": inside_range(o.age_pred, o.age_low, o.age_high),
        RANGE_HIT_KEY: inside_range(o.age_pred, o.age_low, o.age_high, AGE_RANGE_TOLERANCE),
        "gender_accuracy": o.gender_pred == o.gender_true,
        "ethnicity_accuracy": o.ethnicity_pred == o.ethnicity_true,
    }
    n = len(o.age_low)
    samples: dict[str, list[float]] = {k: [] for k in hits}
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        for k, v in hits.items():
            samples[k].append(v[idx].mean())
    tail = (1 - level) / 2 * 100
    return {k: [float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))] for k, v in samples.items()}


RELIABILITY_BINS = 10


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = RELIABILITY_BINS) -> dict:
    """How far a head's confidence can be trusted: per confidence bin (equal widths over 0..1) the faces, their
    mean confidence and their accuracy, and the expected calibration error (the bins' |accuracy - confidence|
    weighted by their share of the faces; 0 for perfectly calibrated probabilities)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    which = np.clip((confidence * bins).astype(int), 0, bins - 1)  # [0, 0.1), [0.1, 0.2) … [0.9, 1.0]
    rows, error = [], 0.0
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        mean_confidence, hits = float(confidence[members].mean()), float(correct[members].mean())
        error += members.sum() / len(confidence) * abs(hits - mean_confidence)
        rows.append({"low": b / bins, "high": (b + 1) / bins, "n": int(members.sum()),
                     "confidence": mean_confidence, "accuracy": hits})  # fmt: skip
    return {"bins": rows, "ece": float(error) if len(confidence) else float("nan")}


def calibration(
    probabilities: dict[str, np.ndarray],
    genders: np.ndarray,
    ethnicities: np.ndarray,
    age_true: np.ndarray | None,
    interval: tuple[np.ndarray, np.ndarray],
) -> dict:
    """Reliability of the gender and ethnicity probabilities (faces with that label), and, where ages are exact
    (``age_true`` not None), how often the predicted age interval holds the true age, by true age bucket, against
    its nominal AGE_INTERVAL_MASS."""
    report: dict = {}
    for head, truth in (("gender", np.asarray(genders)), ("ethnicity", np.asarray(ethnicities))):
        labelled = truth != NO_LABEL
        if labelled.any():
            probs = probabilities[head][labelled]
            report[head] = reliability(probs.max(axis=1), probs.argmax(axis=1) == truth[labelled])
    if age_true is not None:
        low, high = interval
        inside = (age_true >= low) & (age_true <= high)
        buckets = age_bucket(age_true)
        report["age_interval"] = {
            "nominal": AGE_INTERVAL_MASS,
            "coverage": float(inside.mean()) if len(inside) else float("nan"),
            "by_age_bucket": [
                {"group": name, "n": int((buckets == b).sum()), "coverage": float(inside[buckets == b].mean())}
                for b, name in enumerate(AGE_BUCKETS)
                if (buckets == b).any()
            ],
        }
    return report


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true classes (faces labelled NO_LABEL
    left out): one number per head, fitted on validation faces, never on a test split."""
    from scipy.optimize import minimize_scalar

    labelled = np.asarray(truth) != NO_LABEL
    probs, labels = np.asarray(probabilities)[labelled], np.asarray(truth)[labelled]
    if not len(labels):
        raise ValueError("no labelled face to fit a temperature on")

    def loss(log_t: float) -> float:
        chosen = with_temperature(probs, float(np.exp(log_t)))[np.arange(len(labels)), labels]
        return float(-np.mean(np.log(np.clip(chosen, 1e-12, 1.0))))

    return float(np.exp(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))
