"""Evaluate a model on a test set (UTKFace, FairFace or All-Age-Faces) through the serving path: metrics JSON
and predictions.

Every test image is run through the same face detection and alignment as a served photo (the cached crops of
``face2data.crops``); images in which no face is found count as "not found" and are reported, not scored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from face2data.crops import load_crops
from face2data.data.labelled import LISTED, LabelledSet, Problems, labelled_faces, read_labelled
from face2data.data.labelled import SOURCE as LABELLED
from face2data.evaluation.metrics import RANGE_HIT_KEY, Outcomes, bootstrap_intervals, calibration, summarize
from face2data.outputs import predict_probabilities
from face2data.results import probability_column
from face2data.safe_text import csv_text, safe_name
from face2data.schema import AGE_RANGE_TOLERANCE, CLASS_HEADS, NO_LABEL

log = logging.getLogger(__name__)


# Each class head's probability columns, named as in predict's flat rows (``p_gender_female``).
PROBABILITY_COLUMNS = {head.name: [probability_column(head.name, c) for c in head.classes] for head in CLASS_HEADS}
# Each class head's true class (empty where a face has no such label), then the predictions.
HEAD_COLUMNS = [
    *(f"{head.name}_true" for head in CLASS_HEADS),
    "age_pred",
    "age_low",
    "age_high",
    *(column for head in CLASS_HEADS for column in (f"{head.name}_pred", *PROBABILITY_COLUMNS[head.name])),
]
PREDICTION_COLUMNS = {
    "utkface": ["file", "age_true", *HEAD_COLUMNS],
    "fairface": ["file", "age_range_true", *HEAD_COLUMNS],
    "allagefaces": ["file", "age_true", *HEAD_COLUMNS],
    # your own labelled faces (evaluate_labelled): any head may be unlabelled, ages exact or ranges
    "labelled": ["file", "age_true", "age_range_true", *HEAD_COLUMNS],
}
RANGE_SOURCES = ("fairface",)  # sources whose age labels are ranges; the others give exact ages
TEST_SET_NAMES = {
    "utkface": "UTKFace test split",
    "fairface": "in the wild (FairFace test split)",
    "allagefaces": "All-Age-Faces test split",
}


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
    outcomes = Outcomes.of(faces, probs)
    found = {
        "faces_total": len(faces) + len(missed),
        "faces_found": len(faces) / (len(faces) + len(missed)),
        "not_found": sorted(str(n) for n in missed),
    }
    report = {
        "source": crops.source,
        "test_set": TEST_SET_NAMES[crops.source],
        "data": Path(data).name,
        "split": split,
        "flip_tta": True,
        "served_crops": True,
        "skipped": [str(n) for n in crops.skipped],
        **found,
        **summarize(outcomes),
        "confidence_intervals": bootstrap_intervals(outcomes),
        "calibration": calibration(outcomes, probs),
    }
    return report, _prediction_rows(faces.names, outcomes, probs)


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
    return "  ".join([start, *_figures_text(report, "range" if report["source"] in RANGE_SOURCES else "exact")])


def _figures_text(report: dict, age_labels: str) -> list[str]:
    """The age figures of a report whose age labels are ``age_labels``, then each class head's accuracy."""
    parts = []
    if age_labels == "exact":
        parts.append(f"age MAE {report['age_mae']:.2f}  RMSE {report['age_rmse']:.2f}")
    elif age_labels == "range":
        parts.append(f"age in range {100 * report['age_in_range']:.1f}%  "
                     f"in range ±{AGE_RANGE_TOLERANCE} {100 * report[RANGE_HIT_KEY]:.1f}%")  # fmt: skip
    keys = ((head.name, f"{head.name}_accuracy") for head in CLASS_HEADS)
    return parts + [f"{name} {100 * report[key]:.2f}%" for name, key in keys if key in report]


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
    not scored on it; faces without an age label count for the class heads only (the age tables and ``cells``
    cover faces with an age label); ``n_labelled`` counts the faces with each label. Bad rows and photos are in
    the problems (and the report's ``problems``); ValueError only when no face at all can be scored.
    ``progress(done, total)`` follows the photos; the faces are found by ``workers`` processes, or threads with
    ``threads`` (labelled_faces).
    """
    data = found.path
    faces, problems = labelled_faces(found, workers, progress, threads)
    if len(faces) == 0:
        raise ValueError(f"{data}: no labelled face could be scored\n{problems.message()}".rstrip())
    missed = problems.items.get("no_face_found", [])
    log.info("evaluating %d labelled faces (no face found in %d, %d other problems)",
             len(faces), len(missed), problems.count() - len(missed))  # fmt: skip
    probs = predict_probabilities(model, faces.images.astype(np.float32), flip=True)
    outcomes = Outcomes.of(faces, probs)
    report = {
        "source": LABELLED,
        "test_set": f"your labelled faces ({safe_name(Path(data).name)})",
        "data": safe_name(Path(data).name),
        "labels": labels,
        "split": "all",
        "flip_tta": True,
        "served_crops": True,
        "age_labels": outcomes.age_labels,
        # the first LISTED names of each (all of them are counted, and listed by kind in "problems")
        "skipped": sorted(
            item for kind, items in problems.items.items() if kind != "no_face_found" for item in items[:LISTED]
        )[:LISTED],
        "faces_total": len(faces) + len(missed),
        "faces_found": len(faces) / (len(faces) + len(missed)),
        "not_found": sorted(missed)[:LISTED],
        **summarize(outcomes),
        "n_labelled": {
            "age": int(outcomes.has_age.sum()),
            **{head: int((truth != NO_LABEL).sum()) for head, truth in outcomes.truth.items()},
        },
        "confidence_intervals": bootstrap_intervals(outcomes),
        "calibration": calibration(outcomes, probs),
        "problems": problems.as_dict(),
    }
    return LabelledEvaluation(report, _prediction_rows(faces.names, outcomes, probs), problems, faces.images)


def _prediction_rows(names: np.ndarray, o: Outcomes, probs: dict[str, np.ndarray]) -> list[dict]:
    """One prediction row per face (the columns of PREDICTION_COLUMNS for its source); labels a face lacks are
    left out."""
    rows, has_age, exact = [], o.has_age, o.exact
    for i, name in enumerate(names):
        row: dict = {"file": safe_name(str(name))}
        if has_age[i]:
            if exact[i]:
                row["age_true"] = int(o.age_low[i])
            else:
                row["age_range_true"] = f"{int(o.age_low[i])}-{int(o.age_high[i])}"
        for head in CLASS_HEADS:
            if o.truth[head.name][i] != NO_LABEL:
                row[f"{head.name}_true"] = head.classes[o.truth[head.name][i]]
        row.update({"age_pred": round(float(o.age_pred[i]), 2), "age_low": int(o.pred_low[i]),
                    "age_high": int(o.pred_high[i])})  # fmt: skip
        for head in CLASS_HEADS:
            row[f"{head.name}_pred"] = head.classes[o.predicted[head.name][i]]
            columns = PROBABILITY_COLUMNS[head.name]
            row.update({c: round(float(p), 4) for c, p in zip(columns, probs[head.name][i], strict=True)})
        rows.append(row)
    return rows


def labelled_headline(report: dict) -> str:
    """``headline`` for a report of ``evaluate_labelled``: its age figures by the kind of age labels."""
    start = (f"{report['test_set']}: n={report['n']} of {report['faces_total']} "
             f"(faces found {100 * report['faces_found']:.1f}%, problems {len(report['skipped'])})")  # fmt: skip
    return "  ".join([start, *_figures_text(report, report["age_labels"])])
