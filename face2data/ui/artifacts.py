"""Read what training and evaluation leave in ``weights/`` into plain Python and pandas objects.

Every reader returns ``None`` when its file does not exist yet, so a page can say how to make it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from face2data.data.scores import RANGE_HIT_KEY


def read_history(path: Path) -> pd.DataFrame | None:
    """The per-epoch training history (one row per epoch), or None when there is none yet."""
    if not path.is_file():
        return None
    history = pd.read_csv(path)
    if history.empty or "epoch" not in history:
        return None
    return history.sort_values("epoch").drop_duplicates("epoch", keep="last").reset_index(drop=True)


def best_epoch(history: pd.DataFrame) -> int:
    """The epoch with the lowest validation loss (the one whose weights are kept)."""
    return int(history.loc[history["val_loss"].idxmin(), "epoch"])


def duration(seconds: float) -> str:
    """'2 h 05 min' or '7 min' or '40 s'."""
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when the file does not exist."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_predictions(path: Path) -> pd.DataFrame | None:
    """Per-image test predictions with an ``abs_error`` column added, or None when absent."""
    if not path.is_file():
        return None
    predictions = pd.read_csv(path)
    if "age_true" in predictions:  # exact ages (UTKFace); FairFace's ranges have no single error
        predictions["abs_error"] = (predictions["age_pred"] - predictions["age_true"]).abs()
    return predictions


def read_text(path: Path) -> str | None:
    """The text of ``path``, or None when it does not exist."""
    return path.read_text(encoding="utf-8") if path.is_file() else None


def per_group_table(rows: list[dict]) -> pd.DataFrame:
    """Per-group rows of a metrics JSON as a table, shares (every head's accuracy, age in range, the age
    interval's coverage) in percent."""
    table = pd.DataFrame(rows)
    for column in table.columns:
        if column.endswith("_accuracy") or column in ("age_in_range", RANGE_HIT_KEY, "age_interval_coverage"):
            table[column] = table[column] * 100
    return table


def normalise_rows(counts: np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix divided by its total (rows without samples stay 0)."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
