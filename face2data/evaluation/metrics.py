"""Metric maths on arrays of truths and predictions (no model, no I/O).

Every class head is scored alike, over the faces labelled for it: a head no face of a set is labelled for gets
no figures at all, so a head added to the head table is evaluated with no edit here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from face2data.data.scores import RANGE_HIT_KEY, inside_range, mean_absolute_error, root_mean_squared_error
from face2data.outputs import age_interval, expected_age, with_temperature
from face2data.results import whole_years
from face2data.schema import (
    AGE_BUCKETS,
    AGE_HEAD,
    AGE_INTERVAL_MASS,
    AGE_RANGE_TOLERANCE,
    CLASS_HEADS,
    HEAD_BY_NAME,
    NO_LABEL,
    Head,
    age_bucket,
)

if TYPE_CHECKING:
    from face2data.data.arrays import FaceArrays


@dataclass
class Outcomes:
    """Ground truth and predictions of a set of faces, one entry per face.

    The age label spans ``age_low..age_high`` (equal for an exact age, NaN for none); ``pred_low..pred_high`` is
    the predicted age interval. ``truth`` and ``predicted`` hold a class index per face for each class head, keyed
    by head name (``truth`` NO_LABEL where the face has no label of that head).
    """

    age_low: np.ndarray
    age_high: np.ndarray
    age_pred: np.ndarray
    pred_low: np.ndarray
    pred_high: np.ndarray
    truth: dict[str, np.ndarray]
    predicted: dict[str, np.ndarray]

    @classmethod
    def of(cls, faces: FaceArrays, probabilities: dict[str, np.ndarray]) -> Outcomes:
        """The outcomes of the model's ``probabilities`` for ``faces``: each class head's likeliest class."""
        age = probabilities[AGE_HEAD.name]
        return cls(faces.age_low.astype(float), faces.age_high.astype(float), expected_age(age), *age_interval(age),
                   {head.name: np.asarray(faces.labels[head.name]) for head in CLASS_HEADS},
                   {head.name: probabilities[head.name].argmax(axis=1) for head in CLASS_HEADS})  # fmt: skip

    def __len__(self) -> int:
        return len(self.age_low)

    @property
    def has_age(self) -> np.ndarray:
        """True where the face has an age label."""
        return ~np.isnan(self.age_low)

    @property
    def exact(self) -> np.ndarray:
        """True where the age label is an exact age."""
        return self.age_low == self.age_high

    @property
    def age_labels(self) -> str:
        """``range`` when any age label is a range, else ``exact`` when some face has an age, else ``none``."""
        if (self.has_age & ~self.exact).any():
            return "range"
        return "exact" if self.has_age.any() else "none"

    @property
    def heads(self) -> list[Head]:
        """The class heads at least one face is labelled for."""
        return [HEAD_BY_NAME[name] for name, truth in self.truth.items() if (truth != NO_LABEL).any()]

    def true_buckets(self) -> np.ndarray:
        """Index into AGE_BUCKETS of each face's labelled age (its range's first year); NO_LABEL without one."""
        return np.where(self.has_age, age_bucket(np.nan_to_num(self.age_low)), NO_LABEL)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int, n_predicted: int | None = None) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class (faces whose true class is NO_LABEL left out);
    ``n_predicted`` columns where the prediction is of another head than the truth (default ``n_classes``)."""
    matrix = np.zeros((n_classes, n_classes if n_predicted is None else n_predicted), dtype=np.int64)
    true, pred = np.asarray(true, int), np.asarray(pred, int)
    labelled = true != NO_LABEL
    np.add.at(matrix, (true[labelled], pred[labelled]), 1)
    return matrix


def head_pairs(heads: Sequence[Head]) -> list[tuple[Head, Head]]:
    """Ordered pairs (truth head, predicted head) of different heads of one attribute (``ethnicity7`` and
    ``ethnicity``): a confusion matrix ``<truth>_to_<predicted>`` shows how one scheme's classes are called in
    the other's."""
    return [(t, p) for t in heads for p in heads if t.name != p.name and t.attribute == p.attribute]


# Figures that are the square root of the mean of their per-face values.
_ROOTS = ("age_rmse",)


def _per_face(o: Outcomes) -> dict[str, np.ndarray]:
    """Each headline figure's value per face, NaN where the face does not count for it: its mean over a set of
    faces (the root of the mean for _ROOTS) is the figure. The age figures follow the kind of age labels."""
    kind, aged = o.age_labels, o.has_age
    values: dict[str, np.ndarray] = {}
    if kind == "exact":
        error = np.where(aged, o.age_pred - o.age_low, np.nan)
        values |= {"age_mae": np.abs(error), "age_rmse": error**2}
    elif kind == "range":
        for key, tolerance in (("age_in_range", 0), (RANGE_HIT_KEY, AGE_RANGE_TOLERANCE)):
            values[key] = np.where(aged, inside_range(o.age_pred, o.age_low, o.age_high, tolerance), np.nan)
    for head in o.heads:
        truth = o.truth[head.name]
        values[f"{head.name}_accuracy"] = np.where(truth != NO_LABEL, o.predicted[head.name] == truth, np.nan)
    if kind == "exact":
        inside = (o.age_low >= o.pred_low) & (o.age_low <= o.pred_high)
        values["age_interval_coverage"] = np.where(aged, inside, np.nan)
    return values


class _Figures:
    """The figures of ``_per_face`` values over any faces, each face counted a number of times (a bootstrap
    resample) or once (a mask)."""

    def __init__(self, values: dict[str, np.ndarray], n: int) -> None:
        self.keys = list(values)
        stacked = np.array(list(values.values()), float).reshape(len(values), n)
        self.values, self.counts = np.nan_to_num(stacked), (~np.isnan(stacked)).astype(float)

    def __call__(self, weights: np.ndarray) -> dict[str, float]:
        """Each figure over the faces, face i counted ``weights[i]`` times; NaN where no counted face counts."""
        weights = np.asarray(weights, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (self.values @ weights) / (self.counts @ weights)
        return {key: float(np.sqrt(m) if key in _ROOTS else m) for key, m in zip(self.keys, means, strict=True)}


def _matrix(true: np.ndarray, pred: np.ndarray, labels: Sequence[str], columns: Sequence[str] | None = None) -> dict:
    """A confusion matrix, JSON-ready: its column ``labels`` (those of the rows unless ``columns`` are given, for
    a prediction of another head) and its ``counts``."""
    columns = labels if columns is None else columns
    return {"labels": list(columns), "counts": confusion_matrix(true, pred, len(labels), len(columns)).tolist()}


def _group(figures: _Figures, mask: np.ndarray) -> dict:
    return {"n": int(mask.sum()), **figures(mask)}


def _by(figures: _Figures, keys: np.ndarray, names: Sequence[str]) -> list[dict]:
    """One row of figures per class present in ``keys`` (class indices, NO_LABEL for none)."""
    return [{"group": name, **_group(figures, keys == i)} for i, name in enumerate(names) if (keys == i).any()]


def _cells(o: Outcomes, figures: _Figures, buckets: np.ndarray) -> list[dict]:
    """Figures of each combination of a class of every labelled head and a true age bucket that some face has
    (faces without all of these labels are in none)."""
    heads = o.heads
    keys = np.stack([*(o.truth[head.name] for head in heads), buckets], axis=1)
    usable = (keys != NO_LABEL).all(axis=1)
    cells = []
    for key in np.unique(keys[usable], axis=0):
        classes = {head.name: head.classes[i] for head, i in zip(heads, key[:-1], strict=True)}
        cells.append({**classes, "age_bucket": AGE_BUCKETS[key[-1]], **_group(figures, (keys == key).all(axis=1))})
    return cells


def summarize(o: Outcomes) -> dict:
    """Headline figures, confusion matrices and per-group figures, as JSON-ready values.

    The age figures follow the kind of age labels: exact ages give ``age_mae``, ``age_rmse`` and
    ``age_interval_coverage``; ranges the shares inside the range (``age_in_range``, and RANGE_HIT_KEY widened by
    AGE_RANGE_TOLERANCE), with any exact ages among them also under ``exact_ages``; no ages none (and no age
    tables). Each class head some face is labelled for gets ``<head>_accuracy``, its confusion matrix and its
    per-class table over its labelled faces; two heads of one attribute also ``<truth>_to_<predicted>``. Each group
    (by class, by true age bucket, and by ``cells``: a class of every labelled head and the age bucket at once)
    gets the headline's figures over its faces.
    """
    figures, buckets, heads = _Figures(_per_face(o), len(o)), o.true_buckets(), o.heads
    confusion = {head.name: _matrix(o.truth[head.name], o.predicted[head.name], head.classes) for head in heads}
    for truth, predicted in head_pairs(heads):
        confusion[f"{truth.name}_to_{predicted.name}"] = {
            "rows": list(truth.classes),
            **_matrix(o.truth[truth.name], o.predicted[predicted.name], truth.classes, predicted.classes),
        }
    per_group = {head.name: _by(figures, o.truth[head.name], head.classes) for head in heads}
    if o.has_age.any():
        shown_ages = np.array([whole_years(age) for age in o.age_pred])  # the whole years a card shows
        confusion["age_bucket"] = _matrix(buckets, age_bucket(shown_ages), AGE_BUCKETS)
        per_group["age_bucket"] = _by(figures, buckets, AGE_BUCKETS)
        per_group["cells"] = _cells(o, figures, buckets)
    report = {"n": len(o), **figures(np.ones(len(o))), "confusion": confusion, "per_group": per_group}
    exact = o.exact
    if o.age_labels == "range" and exact.any():
        report["exact_ages"] = {"n": int(exact.sum()),
                                "age_mae": mean_absolute_error(o.age_low[exact], o.age_pred[exact]),
                                "age_rmse": root_mean_squared_error(o.age_low[exact], o.age_pred[exact])}  # fmt: skip
    return report


def bootstrap_intervals(o: Outcomes, n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap confidence intervals of the headline figures (``summarize``'s keys): the faces are
    resampled, and each figure is measured on the resampled faces that count for it."""
    n = len(o)
    figures = _Figures(_per_face(o), n)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {key: [] for key in figures.keys}
    for _ in range(n_resamples):
        for key, figure in figures(np.bincount(rng.integers(0, n, n), minlength=n)).items():
            samples[key].append(figure)
    tail = (1 - level) / 2 * 100
    return {k: [float(np.nanpercentile(v, tail)), float(np.nanpercentile(v, 100 - tail))] for k, v in samples.items()}


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


def calibration(o: Outcomes, probabilities: dict[str, np.ndarray]) -> dict:
    """Reliability of each labelled class head's probabilities (over the faces with its label), and, where some
    ages are exact, how often the predicted age interval holds the true age (``age_interval``), by true age
    bucket, against its nominal AGE_INTERVAL_MASS."""
    report: dict = {}
    for head in o.heads:
        labelled = o.truth[head.name] != NO_LABEL
        confidence = probabilities[head.name][labelled].max(axis=1)
        report[head.name] = reliability(confidence, o.predicted[head.name][labelled] == o.truth[head.name][labelled])
    exact = o.exact
    if exact.any():
        inside = ((o.age_low >= o.pred_low) & (o.age_low <= o.pred_high))[exact]
        buckets = o.true_buckets()[exact]
        report["age_interval"] = {
            "nominal": AGE_INTERVAL_MASS,
            "coverage": float(inside.mean()),
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
