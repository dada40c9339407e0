"""From the Evaluation page's uploads of labelled photos to an evaluation, its downloads and its error gallery.

Uploads are read in memory (``face2data.data.labelled.read_labelled_uploads``) and evaluated exactly as
``python -m face2data evaluate --data`` evaluates a folder; nothing is written to disk or logged. No Streamlit
here, so it tests alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd

from face2data.data.labelled import SOURCE as LABELLED
from face2data.data.labelled import read_labelled_uploads
from face2data.evaluation.run import PREDICTION_COLUMNS, LabelledEvaluation, evaluate_labelled_set, predictions_text
from face2data.ui.batch import digest_of_uploads

UPLOAD_NAME = "your uploads"


def evaluate_uploads(files: Sequence[tuple[str, bytes]], model: object,
                     on_progress: Callable[[int, int], object] | None = None) -> LabelledEvaluation:  # fmt: skip
    """The evaluation of uploaded labelled photos and archives (``(file name, bytes)``) by ``model`` (a loaded
    inference model), in this process (one thread per core); ``on_progress(done, total)`` after each photo.
    ValueError when no face can be scored (the message says why)."""
    found = read_labelled_uploads(files, UPLOAD_NAME)
    if not found.labels:
        why = found.problems.message() or "the uploads hold no photo"
        raise ValueError(f"No photo of these uploads has a label.\n{why}")
    # Threads, not processes: a Streamlit server cannot start worker processes of its script
    evaluation = evaluate_labelled_set(model, found, progress=on_progress, threads=True)
    evaluation.report["digest"] = digest_of_uploads(files)
    return evaluation


def metrics_json(evaluation: LabelledEvaluation) -> str:
    """The metrics as ``evaluate --json`` writes them."""
    return json.dumps(evaluation.report, indent=1)


def predictions_csv(evaluation: LabelledEvaluation) -> str:
    """One row per face, as ``evaluate --predictions`` writes them."""
    return predictions_text(evaluation.rows, LABELLED)


def predictions_frame(rows: list[dict]) -> pd.DataFrame:
    """The prediction rows as a table, with ``abs_error`` where the age label is exact (as the shipped sets')."""
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS[LABELLED])
    frame["abs_error"] = (frame["age_pred"] - pd.to_numeric(frame["age_true"])).abs()
    return frame
