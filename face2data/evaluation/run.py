"""Evaluate a model on a test set (UTKFace, FairFace or All-Age-Faces) through the serving path: metrics JSON
and predictions.

Every test image is run through the same face detection and alignment as a served photo (the cached crops of
``face2data.crops``); images in which no face is found count as "not found" and are reported, not scored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from face2data.crops import load_crops
from face2data.data.labelled import LISTED, LabelledSet, Problems, labelled_faces, read_labelled
from face2data.data.labelled import SOURCE as LABELLED
from face2data.evaluation.metrics import (
    RANGE_HIT_KEY,
    Outcomes,
    RangeOutcomes,
    accuracy,
    bootstrap_intervals,
    bootstrap_range_intervals,
    calibration,
    confusion_matrix,
    summarize,
    summarize_ranges,
)
from face2data.outputs import age_interval, expected_age, predict_probabilities
from face2data.safe_text import csv_text, safe_name
from face2data.schema import AGE_RANGE_TOLERANCE, ETHNICITIES, GENDERS, NO_LABEL, RACES

log = logging.getLogger(__name__)

COMMON_COLUMNS = ["age_pred", "age_low", "age_high", "gender_pred", *[f"p_{g}" for g in GENDERS], "ethnicity_pred",
                  *[f"p_{e}" for e in ETHNICITIES]]  # fmt: skip
PREDICTION_COLUMNS = {
    "utkface": ["file", "age_true", "gender_true", "ethnicity_true", *COMMON_COLUMNS],
    "fairface": ["file", "age_range_true", "race_true", "gender_true", "ethnicity_true", *COMMON_COLUMNS],
    "allagefaces": ["file", "age_true", "gender_true", *COMMON_COLUMNS],
    # your own labelled faces (evaluate_labelled): any head may be unlabelled, ages exact or ranges
    "labelled": ["file", "age_true", "age_range_true", "race_true", "gender_true", "ethnicity_true", *COMMON_COLUMNS],
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
    rows = _prediction_rows(faces, age, low, high, gender_pred, ethnicity_pred, probs)
    return report, rows


def predictions_text(rows: list[dict], source: str) -> str:
    """The predictions CSV: a header of PREDICTION_COLUMNS[source], one row per image (``safe_text.csv_text``:
    no text cell runs as a spreadsheet formula)."""
    columns = PREDICTION_COLUMNS[source]
    return csv_text([[row.get(column) for column in columns] for row in rows], columns)


def write_predictions(rows: list[dict], path: str | Path, source: str) -> None:
    """One CSV row per image, in ``path`` (UTF-8)."""
    Path(path).write_text(predictions_text(rows, source), encoding="utf-8", newline="")


def read_metrics(path: str | Path, source: str) -> dict | None:
    """A metrics JSON written by ``evaluate`` for ``source``'s test set, or None when absent; files written before
    every test set existed get the keys they lack (test set name, source, faces total and share found)."""
    path = Path(path)
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text(encoding="utf-8"))
    metrics.setdefault("test_set", TEST_SET_NAMES[source])
    metrics.setdefault("source", source)
    metrics.setdefault("faces_total", int(metrics["n"]))
    metrics.setdefault("faces_found", 1.0)
    return metrics


def headline(report: dict) -> str:
    """The figures a person reads first, on one line."""
    start = (f"{report['test_set']}: n={report['n']} of {report['faces_total']} "
             f"(faces found {100 * report['faces_found']:.1f}%, skipped {len(report['skipped'])})")  # fmt: skip
    if report["source"] not in RANGE_SOURCES:
        age = f"age MAE {report['age_mae']:.2f}  RMSE {report['age_rmse']:.2f}"
    else:
        age = (f"age in range {100 * report['age_in_range']:.1f}%  "
               f"in range ±{AGE_RANGE_TOLERANCE} {100 * report[RANGE_HIT_KEY]:.1f}%")  # fmt: skip
    line = f"{start}  {age}  gender {100 * report['gender_accuracy']:.2f}%"
    if "ethnicity_accuracy" in report:
        line += f"  ethnicity {100 * report['ethnicity_accuracy']:.2f}%"
    return line


# ---------------------------------------------------------------------------------------------- your own faces


@dataclass
class LabelledEvaluation:
    """What ``evaluate_labelled_set`` gives: the metrics report, one prediction row per face, the problems met,
    and the faces' aligned crops (RGB uint8, in the rows' order: the error gallery's pictures)."""

    report: dict
    rows: list[dict]
    problems: Problems
    crops: np.ndarray


def evaluate_labelled(model: Any, data: str | Path, labels: str | Path | None = None, workers: int | None = None
                      ) -> tuple[dict, list[dict], Problems]:  # fmt: skip
    """Metrics, per-photo prediction rows and problems of your own labelled photos (a folder or zip/tar(.gz)
    archive; labels as face2data.data.labelled reads them, ``labels`` a separate CSV table): see
    ``evaluate_labelled_set``. FileNotFoundError for a missing path."""
    found = read_labelled(data, labels)
    done = evaluate_labelled_set(model, found, workers, labels=Path(labels).name if labels is not None else None)
    return done.report, done.rows, done.problems


def evaluate_labelled_set(model: Any, found: LabelledSet, workers: int | None = None, labels: str | None = None,
                          progress: Callable[[int, int], object] | None = None, threads: bool = False
                          ) -> LabelledEvaluation:  # fmt: skip
    """The evaluation of a labelled set (read from disk or uploaded; ``labels`` names its separate table).

    The photos go through the sources' test-crop path (face2data.crops) and the same metrics: a set labelled
    with exact ages only gets ``evaluate``'s UTKFace figures, one with age ranges FairFace's (exact ages among
    ranges count as one-year ranges, with their MAE under ``exact_ages``). A head a face has no label for is
    not scored on it; faces without an age label count for gender and ethnicity only (``per_group`` tables cover
    faces with an age label). Bad rows and photos are in the problems (and the report's ``problems``);
    ValueError only when no face at all can be scored. ``progress(done, total)`` follows the photos; the faces
    are found by ``workers`` processes, or threads with ``threads`` (labelled_faces).
    """
    data = found.path
    faces, problems = labelled_faces(found, workers, progress, threads)
    if len(faces) == 0:
        raise ValueError(f"{data}: no labelled face could be scored\n{problems.message()}".rstrip())
    missed = problems.items.get("no_face_found", [])
    log.info("evaluating %d labelled faces (no face found in %d, %d other problems)",
             len(faces), len(missed), problems.count() - len(missed))  # fmt: skip
    probs = predict_probabilities(model, faces.images.astype(np.float32), flip=True)
    age = expected_age(probs["age"])
    low, high = age_interval(probs["age"])
    gender_pred, ethnicity_pred = probs["gender"].argmax(axis=1), probs["ethnicity"].argmax(axis=1)
    truths = (faces.age_low, faces.age_high, faces.races, faces.genders, faces.ethnicities)
    figures, intervals, kind = _labelled_figures(*truths, age, low, high, gender_pred, ethnicity_pred)
    exact = faces.age_low == faces.age_high  # False for NaN (no age label)
    calib = calibration(probs, faces.genders, faces.ethnicities, None, (low, high))
    if exact.any():
        calib["age_interval"] = calibration({k: v[exact] for k, v in probs.items()}, faces.genders[exact],
                                            faces.ethnicities[exact], faces.age_low[exact].astype(float),
                                            (low[exact], high[exact]))["age_interval"]  # fmt: skip
    report = {
        "source": LABELLED,
        "test_set": f"your labelled faces ({safe_name(Path(data).name)})",
        "data": safe_name(Path(data).name),
        "labels": labels,
        "split": "all",
        "flip_tta": True,
        "served_crops": True,
        "age_labels": kind,
        # the first LISTED names of each (all of them are counted, and listed by kind in "problems")
        "skipped": sorted(
            item for kind, items in problems.items.items() if kind != "no_face_found" for item in items[:LISTED]
        )[:LISTED],
        "faces_total": len(faces) + len(missed),
        "faces_found": len(faces) / (len(faces) + len(missed)),
        "not_found": sorted(missed)[:LISTED],
        **figures,
        "confidence_intervals": intervals,
        "calibration": calib,
        "problems": problems.as_dict(),
    }
    rows = _prediction_rows(faces, age, low, high, gender_pred, ethnicity_pred, probs)
    return LabelledEvaluation(report, rows, problems, faces.images)


def _subset(outcomes: Any, mask: np.ndarray) -> Any:
    """The faces of an Outcomes or RangeOutcomes where ``mask`` is true."""
    return type(outcomes)(**{f.name: getattr(outcomes, f.name)[mask] for f in fields(outcomes)})


def _head_intervals(outcomes: Any, bootstrap: Any) -> dict:
    """``bootstrap``'s intervals, each class head's over only the faces labelled for it (the same numbers as
    ``bootstrap`` alone when every face is labelled); heads nobody is labelled for are left out."""
    intervals = bootstrap(outcomes)
    for head in ("gender", "ethnicity"):
        labelled = getattr(outcomes, f"{head}_true") != NO_LABEL
        key = f"{head}_accuracy"
        if not labelled.any():
            intervals.pop(key, None)
        elif not labelled.all():
            intervals[key] = bootstrap(_subset(outcomes, labelled))[key]
    return intervals


def _class_head_figures(genders: np.ndarray, ethnicities: np.ndarray, gender_pred: np.ndarray,
                        ethnicity_pred: np.ndarray) -> tuple[dict, dict]:  # fmt: skip
    """Accuracy, confusion matrix, per-class figures and interval of each class head over its labelled faces."""
    figures: dict = {"confusion": {}, "per_group": {}}
    intervals = {}
    for head, truth, pred, classes in (("gender", genders, gender_pred, GENDERS),
                                       ("ethnicity", ethnicities, ethnicity_pred, ETHNICITIES)):  # fmt: skip
        labelled = truth != NO_LABEL
        if not labelled.any():
            continue
        key = f"{head}_accuracy"
        figures[key] = accuracy(truth, pred)
        figures["confusion"][head] = {"labels": list(classes),
                                      "counts": confusion_matrix(truth, pred, len(classes)).tolist()}  # fmt: skip
        figures["per_group"][head] = [{"group": name, "n": int((truth == i).sum()),
                                       key: accuracy(truth[truth == i], pred[truth == i])}
                                      for i, name in enumerate(classes) if (truth == i).any()]  # fmt: skip
        t, p, n = truth[labelled], pred[labelled], int(labelled.sum())
        zeros, none = np.zeros(n), np.full(n, NO_LABEL)  # the head in Outcomes' gender slot, no age, no ethnicity
        intervals[key] = bootstrap_intervals(Outcomes(zeros, t, none, zeros, zeros, zeros, p, none))["gender_accuracy"]
    return figures, intervals


def _labelled_figures(age_low: np.ndarray, age_high: np.ndarray, races: np.ndarray, genders: np.ndarray,
                      ethnicities: np.ndarray, age: np.ndarray, low: np.ndarray, high: np.ndarray,
                      gender_pred: np.ndarray, ethnicity_pred: np.ndarray) -> tuple[dict, dict, str]:  # fmt: skip
    """Figures, confidence intervals and the kind of age labels (``exact``, ``range`` or ``none``) of labelled
    faces, NaN age bounds marking faces without an age label."""
    has_age = ~np.isnan(age_low)
    exact = has_age & (age_low == age_high)
    kind = "range" if (has_age & ~exact).any() else "exact" if exact.any() else "none"
    a = has_age
    figures: dict = {}
    intervals: dict = {}
    if kind == "exact":
        outcomes = Outcomes(age_low[a].astype(float), genders[a], ethnicities[a], age[a], low[a], high[a],
                            gender_pred[a], ethnicity_pred[a])  # fmt: skip
        figures, intervals = summarize(outcomes), _head_intervals(outcomes, bootstrap_intervals)
    elif kind == "range":
        ranges = RangeOutcomes(age_low[a], age_high[a], races[a], genders[a], ethnicities[a], age[a],
                               gender_pred[a], ethnicity_pred[a])  # fmt: skip
        figures, intervals = summarize_ranges(ranges), _head_intervals(ranges, bootstrap_range_intervals)
        known = ranges.race_true >= 0  # faces labelled with the five classes have no race group
        if known.any():
            calls = np.zeros((len(RACES), len(ETHNICITIES)), dtype=np.int64)
            np.add.at(calls, (ranges.race_true[known], ranges.ethnicity_pred[known]), 1)
            figures["confusion"]["race_to_ethnicity"]["counts"] = calls.tolist()
        else:
            del figures["confusion"]["race_to_ethnicity"]
            del figures["per_group"]["race"]
        if exact.any():
            figures["exact_ages"] = {
                "n": int(exact.sum()),
                "age_mae": float(np.mean(np.abs(age[exact] - age_low[exact]))),
                "age_rmse": float(np.sqrt(np.mean((age[exact] - age_low[exact]) ** 2))),
            }
    for head, truth in (("gender", genders[a]), ("ethnicity", ethnicities[a])):
        if kind != "none" and not (truth != NO_LABEL).any():  # nobody with an age is labelled for this head
            figures.pop(f"{head}_accuracy", None)
            figures["confusion"].pop(head, None)
            figures["per_group"].pop(head, None)
    if kind == "none" or not has_age.all():  # the class heads over every face, with or without an age
        heads, head_intervals = _class_head_figures(genders, ethnicities, gender_pred, ethnicity_pred)
        figures.setdefault("confusion", {}).update(heads.pop("confusion"))
        figures.setdefault("per_group", {}).update({k: v for k, v in heads.pop("per_group").items()
                                                    if kind == "none" or k not in figures["per_group"]})  # fmt: skip
        figures.update(heads)
        intervals.update(head_intervals)
        figures["n"] = len(age_low)
    figures["n_labelled"] = {"age": int(has_age.sum()), "gender": int((genders != NO_LABEL).sum()),
                             "ethnicity": int((ethnicities != NO_LABEL).sum())}  # fmt: skip
    return figures, intervals, kind


def _prediction_rows(faces: Any, age: np.ndarray, low: np.ndarray, high: np.ndarray, gender_pred: np.ndarray,
                   ethnicity_pred: np.ndarray, probs: dict[str, np.ndarray]) -> list[dict]:  # fmt: skip
    """One prediction row per face (the columns of PREDICTION_COLUMNS for its source); labels a face lacks are
    left out."""
    rows = []
    for i, name in enumerate(faces.names):
        row: dict = {"file": safe_name(str(name))}
        if not np.isnan(faces.age_low[i]):
            if faces.age_low[i] == faces.age_high[i]:
                row["age_true"] = int(faces.age_low[i])
            else:
                row["age_range_true"] = f"{int(faces.age_low[i])}-{int(faces.age_high[i])}"
        if faces.races[i] >= 0:
            row["race_true"] = RACES[faces.races[i]]
        if faces.genders[i] != NO_LABEL:
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
    return rows


def labelled_headline(report: dict) -> str:
    """``headline`` for a report of ``evaluate_labelled``: its age figures by the kind of age labels."""
    start = (f"{report['test_set']}: n={report['n']} of {report['faces_total']} "
             f"(faces found {100 * report['faces_found']:.1f}%, problems {len(report['skipped'])})")  # fmt: skip
    parts = [start]
    if report["age_labels"] == "exact":
        parts.append(f"age MAE {report['age_mae']:.2f}  RMSE {report['age_rmse']:.2f}")
    elif report["age_labels"] == "range":
        parts.append(f"age in range {100 * report['age_in_range']:.1f}%  "
                     f"in range ±{AGE_RANGE_TOLERANCE} {100 * report[RANGE_HIT_KEY]:.1f}%")  # fmt: skip
    for head in ("gender", "ethnicity"):
        if f"{head}_accuracy" in report:
            parts.append(f"{head} {100 * report[f'{head}_accuracy']:.2f}%")
    return "  ".join(parts)
