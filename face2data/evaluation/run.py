"""Evaluate a model on a UTKFace source (folder or archive): metrics JSON and per-image predictions."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import keras
import numpy as np

from face2data.data.arrays import load_faces
from face2data.evaluation.metrics import Outcomes, bootstrap_intervals, summarize
from face2data.model import age_interval, expected_age, predict_probabilities
from face2data.schema import ETHNICITIES, GENDERS

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = (
    ["file", "age_true", "gender_true", "ethnicity_true", "age_pred", "age_low", "age_high", "gender_pred"]
    + [f"p_{g}" for g in GENDERS]
    + ["ethnicity_pred"]
    + [f"p_{e}" for e in ETHNICITIES]
)


def evaluate(model: keras.Model, data: str | Path, split: str = "test") -> tuple[dict, list[dict]]:
    """Metrics and per-image prediction rows for the ``split`` (test or all) of a source."""
    if split not in ("test", "all"):
        raise ValueError(f"unknown split {split!r}: use 'test' or 'all'")
    faces, skipped = load_faces(data, splits=None if split == "all" else (split,))
    if len(faces) == 0:
        raise ValueError(f"{data}: no labelled UTKFace images found for split {split!r}")
    log.info("evaluating %d faces (%d files skipped)", len(faces), len(skipped))
    probs = predict_probabilities(model, faces.images.astype(np.float32), flip=True)
    low, high = age_interval(probs["age"])
    outcomes = Outcomes(
        age_true=faces.ages.astype(float),
        gender_true=faces.genders,
        ethnicity_true=faces.ethnicities,
        age_pred=expected_age(probs["age"]),
        age_low=low,
        age_high=high,
        gender_pred=probs["gender"].argmax(axis=1),
        ethnicity_pred=probs["ethnicity"].argmax(axis=1),
    )
    report = {"data": str(data), "split": split, "flip_tta": True, "skipped": skipped, **summarize(outcomes),
              "confidence_intervals": bootstrap_intervals(outcomes)}  # fmt: skip
    rows = []
    for i, name in enumerate(faces.names):
        row = {
            "file": str(name),
            "age_true": int(faces.ages[i]),
            "gender_true": GENDERS[faces.genders[i]],
            "ethnicity_true": ETHNICITIES[faces.ethnicities[i]],
            "age_pred": round(float(outcomes.age_pred[i]), 2),
            "age_low": int(low[i]),
            "age_high": int(high[i]),
            "gender_pred": GENDERS[outcomes.gender_pred[i]],
            "ethnicity_pred": ETHNICITIES[outcomes.ethnicity_pred[i]],
        }
        row.update({f"p_{g}": round(float(p), 4) for g, p in zip(GENDERS, probs["gender"][i], strict=True)})
        row.update({f"p_{e}": round(float(p), 4) for e, p in zip(ETHNICITIES, probs["ethnicity"][i], strict=True)})
        rows.append(row)
    return report, rows


def write_predictions(rows: list[dict], path: str | Path) -> None:
    """One CSV row per image."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PREDICTION_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def headline(report: dict) -> str:
    """The figures a person reads first, on one line."""
    return (
        f"n={report['n']} (skipped {len(report['skipped'])})  age MAE {report['age_mae']:.2f}  "
        f"RMSE {report['age_rmse']:.2f}  gender {100 * report['gender_accuracy']:.2f}%  "
        f"ethnicity {100 * report['ethnicity_accuracy']:.2f}%"
    )
