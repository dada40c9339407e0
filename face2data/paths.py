"""Where the shipped model and its artifacts live (``weights/``)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The shipped model and its artifacts (another folder of them with FACE2DATA_WEIGHTS, e.g. a test's own model).
WEIGHTS_DIR = Path(os.environ.get("FACE2DATA_WEIGHTS", PROJECT_ROOT / "weights"))
# Where the labelled sources lie (the project's ../shared/data unless FACE2DATA_DATA says otherwise): the app
# shows the faces of a test set from there when its crops were built (python -m face2data crops).
DATA_DIR = Path(os.environ.get("FACE2DATA_DATA", PROJECT_ROOT.parent / "shared" / "data"))

MODEL_PATH = WEIGHTS_DIR / "face2data.keras"  # the trained model (training, evaluation)
TFLITE_PATH = WEIGHTS_DIR / "face2data.tflite"  # the same network as the app and the CLI run it
HISTORY_PATH = WEIGHTS_DIR / "history.csv"
TRAINING_SUMMARY_PATH = WEIGHTS_DIR / "training.json"
TEST_METRICS_PATH = WEIGHTS_DIR / "test_metrics.json"
TEST_PREDICTIONS_PATH = WEIGHTS_DIR / "test_predictions.csv"
WILD_METRICS_PATH = WEIGHTS_DIR / "wild_test_metrics.json"  # the FairFace test split ("in the wild")
WILD_PREDICTIONS_PATH = WEIGHTS_DIR / "wild_test_predictions.csv"
ALL_AGES_METRICS_PATH = WEIGHTS_DIR / "allagefaces_test_metrics.json"  # the All-Age-Faces test split
ALL_AGES_PREDICTIONS_PATH = WEIGHTS_DIR / "allagefaces_test_predictions.csv"


def evaluation_paths(source: str) -> tuple[Path, Path]:
    """The shipped evaluation of a source's test split: (metrics JSON, predictions CSV)."""
    if source == "utkface":
        return TEST_METRICS_PATH, TEST_PREDICTIONS_PATH
    if source == "fairface":
        return WILD_METRICS_PATH, WILD_PREDICTIONS_PATH
    if source == "allagefaces":
        return ALL_AGES_METRICS_PATH, ALL_AGES_PREDICTIONS_PATH
    raise ValueError(f"unknown source {source!r}")


MODEL_CARD_PATH = WEIGHTS_DIR / "MODEL_CARD.md"
SHAP_GLOBAL_PATH = WEIGHTS_DIR / "shap_global.npz"
REGION_GLOBAL_PATH = WEIGHTS_DIR / "region_global.json"  # mean region values over test faces, no images
CALIBRATION_PATH = WEIGHTS_DIR / "calibration.json"  # temperatures of the class heads (python -m face2data calibrate)
FAITHFULNESS_PATH = WEIGHTS_DIR / "explanation_faithfulness.json"  # benchmarks/explain_faithfulness.py
