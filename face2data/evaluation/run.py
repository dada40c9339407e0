"""Evaluate a model on a test set (UTKFace, FairFace or All-Age-Faces) through the serving path: metrics JSON
and predictions.

Every test image is run through the same face detection and alignment as a served photo (the cached crops of
``face2data.crops``); images in which no face is found count as "not found" and are reported, not scored.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from face2data.crops import load_crops
from face2data.evaluation.metrics import (
    Outcomes,
    RangeOutcomes,
    bootstrap_intervals,
    bootstrap_range_intervals,
    calibration,
    summarize,
    summarize_ranges,
)
from face2data.outputs import age_interval, expected_age, predict_probabilities
from face2data.paths import evaluation_paths
from face2data.schema import ETHNICITIES, GENDERS, NO_LABEL, RACES

log = logging.getLogger(__name__)

COMMON_COLUMNS = ["age_pred", "age_low", "age_high", "gender_pred", *[f"p_{g}" for g in GENDERS], "ethnicity_pred",
                  *[f"p_{e}" for e in ETHNICITIES]]  # fmt: skip
PREDICTION_COLUMNS = {
    "utkface": ["file", "age_true", "gender_true", "ethnicity_true", *COMMON_COLUMNS],
    "fairface": ["file", "age_range_true", "race_true", "gender_true", "ethnicity_true", *COMMON_COLUMNS],
    "allagefaces": ["file", "age_true", "gender_true", *COMMON_COLUMNS],
}
TEST_SET_NAMES = {
    "utkface": "UTKFace test split",
    "fairface": "in the wild (FairFace test split)",
    "allagefaces": "All-Age-Faces test split",
}
RANGE_SOURCES = ("fairface",)  # sources whose age labels are ranges; the others give exact ages


def evaluate(model: Any, data: str | Path, split: str = "test", source: str | None = None) -> tuple[dict, list[dict]]:
    """Metrics and per-image prediction rows for the ``split`` (test or all) of a labelled source."""
    if split not in ("test", "all"):
        raise ValueError(f"unknown split {split!r}: use 'test' or 'all'")
    crops = load_crops(data)
    if source is not None and source != crops.source:
        raise ValueError(f"{data} holds {crops.source} images, not {source}")
    faces = crops.faces if split == "all" else crops.faces.of_splits(split)
    missed = crops.missed if split == "all" else crops.missed_in(split)
    if len(faces) == 0:
        raise ValueError(f"{data}: no labelled {crops.source} faces found for split {split!r}")
    log.info("evaluating %d %s faces (no face found in %d, %d files skipped)",
             len(faces), crops.source, len(missed), len(crops.skipped))  # fmt: skip
    probs = predict_probabilities(model, faces.images.astype(np.float32), flip=True)
    age = expected_age(probs["age"])
    low, high = age_interval(probs["age"])
    gender_pred, ethnicity_pred = probs["gender"].argmax(axis=1), probs["ethnicity"].argmax(axis=1)
    found = {
        "faces_total": len(faces) + len(missed),
        "faces_found": len(faces) / (len(faces) + len(missed)),
        "not_found": sorted(str(n) for n in missed),
    }
    if crops.source not in RANGE_SOURCES:
        outcomes = Outcomes(faces.age_low.astype(float), faces.genders, faces.ethnicities, age, low, high,
                            gender_pred, ethnicity_pred)  # fmt: skip
        figures, intervals = summarize(outcomes), bootstrap_intervals(outcomes)
    else:
        ranges = RangeOutcomes(faces.age_low, faces.age_high, faces.races, faces.genders, faces.ethnicities, age,
                               gender_pred, ethnicity_pred)  # fmt: skip
        figures, intervals = summarize_ranges(ranges), bootstrap_range_intervals(ranges)
    exact_ages = faces.age_low.astype(float) if crops.source not in RANGE_SOURCES else None
    report = {
        "source": crops.source,
        "test_set": TEST_SET_NAMES[crops.source],
        "data": Path(data).name,
        "split": split,
        "flip_tta": True,
        "served_crops": True,
        "skipped": [str(n) for n in crops.skipped],
        **found,
        **figures,
        "confidence_intervals": intervals,
        "calibration": calibration(probs, faces.genders, faces.ethnicities, exact_ages, (low, high)),
    }
    rows = []
    for i, name in enumerate(faces.names):
        if crops.source not in RANGE_SOURCES:
            row: dict = {"file": str(name), "age_true": int(faces.age_low[i])}
        else:
            row = {"file": str(name), "age_range_true": f"{int(faces.age_low[i])}-{int(faces.age_high[i])}",
                   "race_true": RACES[faces.races[i]]}  # fmt: skip
        row["gender_true"] = GENDERS[faces.genders[i]]
        if faces.ethnicities[i] != NO_LABEL:
            row["ethnicity_true"] = ETHNICITIES[faces.ethnicities[i]]
        row.update({
            "age_pred": round(float(age[i]), 2),
            "age_low": int(low[i]),
            "age_high": int(high[i]),
            "gender_pred": GENDERS[gender_pred[i]],
            "ethnicity_pred": ETHNICITIES[ethnicity_pred[i]],
        })  # fmt: skip
        row.update({f"p_{g}": round(float(p), 4) for g, p in zip(GENDERS, probs["gender"][i], strict=True)})
        row.update({f"p_{e}": round(float(p), 4) for e, p in zip(ETHNICITIES, probs["ethnicity"][i], strict=True)})
        rows.append(row)
    return report, rows


def write_predictions(rows: list[dict], path: str | Path, source: str) -> None:
    """One CSV row per image."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PREDICTION_COLUMNS[source])
        writer.writeheader()
        writer.writerows(rows)


def default_outputs(source: str) -> tuple[Path, Path]:
    """Where the shipped metrics JSON and predictions CSV of a test set live in ``weights/``."""
    return evaluation_paths(source)


def headline(report: dict) -> str:
    """The figures a person reads first, on one line."""
    start = (f"{report['test_set']}: n={report['n']} of {report['faces_total']} "
             f"(faces found {100 * report['faces_found']:.1f}%, skipped {len(report['skipped'])})")  # fmt: skip
    if report["source"] not in RANGE_SOURCES:
        age = f"age MAE {report['age_mae']:.2f}  RMSE {report['age_rmse']:.2f}"
    else:
        age = (f"age in range {100 * report['age_in_range']:.1f}%  "
               f"in range ±5 {100 * report['age_in_range_5']:.1f}%")  # fmt: skip
    line = f"{start}  {age}  gender {100 * report['gender_accuracy']:.2f}%"
    if "ethnicity_accuracy" in report:
        line += f"  ethnicity {100 * report['ethnicity_accuracy']:.2f}%"
    return line
