"""Where the shipped model and its artifacts live (``weights/``)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PROJECT_ROOT / "weights"

MODEL_PATH = WEIGHTS_DIR / "face2data.keras"  # the trained model (training, evaluation)
TFLITE_PATH = WEIGHTS_DIR / "face2data.tflite"  # the same network as the app and the CLI run it
HISTORY_PATH = WEIGHTS_DIR / "history.csv"
TRAINING_SUMMARY_PATH = WEIGHTS_DIR / "training.json"
TEST_METRICS_PATH = WEIGHTS_DIR / "test_metrics.json"
TEST_PREDICTIONS_PATH = WEIGHTS_DIR / "test_predictions.csv"
MODEL_CARD_PATH = WEIGHTS_DIR / "MODEL_CARD.md"
SHAP_GLOBAL_PATH = WEIGHTS_DIR / "shap_global.npz"
