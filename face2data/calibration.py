"""The shipped model's temperatures: one per class head, fitted on the validation splits, applied to its answers.

``weights/calibration.json`` (written by ``python -m face2data calibrate``) names the model file it was fitted
for by its SHA-256; a model file with other bytes (a retrained or re-exported one) gets no temperature until it
is calibrated itself. NumPy only: the serving path reads it without TensorFlow or SciPy.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from face2data.paths import CALIBRATION_PATH

log = logging.getLogger(__name__)


def model_sha256(data: bytes) -> str:
    """The SHA-256 of a model file's bytes, as the calibration file records it."""
    return hashlib.sha256(data).hexdigest()


def read_temperatures(model_bytes: bytes, path: Path = CALIBRATION_PATH) -> dict[str, float]:
    """The temperature of each class head for the model file with these bytes; empty when there is no calibration
    file or it was fitted for another model file."""
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        fitted_for, temperatures = record["model"]["sha256"], record["temperatures"]
    except (ValueError, KeyError, TypeError) as error:
        log.warning("%s cannot be read (%s): probabilities are not rescaled", path, error)
        return {}
    if fitted_for != model_sha256(model_bytes):
        log.warning("%s was fitted for another model file: probabilities are not rescaled", path.name)
        return {}
    return {head: float(value) for head, value in temperatures.items()}


def write_calibration(report: dict, path: Path = CALIBRATION_PATH) -> Path:
    """Write a calibration report (``model``, ``temperatures`` and the figures before and after) to ``path``."""
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return path
