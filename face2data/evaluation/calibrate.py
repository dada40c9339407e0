"""Fit the class heads' temperatures on the validation splits and measure them on the test splits.

The model's answers are mirror-averaged as served; one temperature per class head is fitted on the pooled
validation faces of every source given (never a test face), then the expected calibration error (ECE) and the
negative log-likelihood (NLL) of each head are measured before and after it, on those validation faces and on
each test split. ``python -m face2data calibrate`` prints the table and writes weights/calibration.json, which
the served model then applies (face2data.calibration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from face2data.calibration import model_sha256
from face2data.crops import load_crops
from face2data.evaluation.metrics import fit_temperature, reliability
from face2data.outputs import predict_probabilities, with_temperature
from face2data.schema import CLASS_HEADS, NO_LABEL

VALIDATION = "validation (pooled)"


def _figures(probs: np.ndarray, truth: np.ndarray) -> dict:
    """ECE and mean NLL over the faces labelled for the head."""
    labelled = truth != NO_LABEL
    p, t = probs[labelled], truth[labelled]
    chosen = np.clip(p[np.arange(len(t)), t], 1e-12, 1.0)
    ece = reliability(p.max(axis=1), p.argmax(axis=1) == t)["ece"]
    return {"n": int(len(t)), "ece": round(float(ece), 4), "nll": round(float(-np.log(chosen).mean()), 4)}


def calibrate(model: Any, model_path: str | Path, data: list[str | Path]) -> dict:
    """The calibration report of ``model`` (loaded from ``model_path``) on the sources ``data``: the model file's
    identity, the fitted temperatures and, per head and set of faces, the figures before and after."""
    model.temperatures = {}  # fitted on the raw answers, whatever an earlier calibration said
    answers: dict[str, tuple[dict, dict]] = {}  # "<source> val|test" -> (probabilities, labels) per head
    for path in data:
        crops = load_crops(path)
        for split in ("val", "test"):
            faces = crops.faces.of_splits(split)
            probs = predict_probabilities(model, faces.images.astype(np.float32), flip=True)
            answers[f"{crops.source} {split}"] = (probs, faces.labels)
    model_bytes = Path(model_path).read_bytes()
    report: dict = {
        "model": {"file": Path(model_path).name, "sha256": model_sha256(model_bytes)},
        "fitted_on": "the validation splits of " + ", ".join(sorted({k.split()[0] for k in answers})),
        "temperatures": {},
        "figures": {},
    }
    for head in CLASS_HEADS:
        validation = [answers[k] for k in answers if k.endswith(" val")]
        sets = {VALIDATION: (np.concatenate([p[head.name] for p, _ in validation]),
                             np.concatenate([t[head.name] for _, t in validation]))}  # fmt: skip
        sets |= {k.replace(" test", " test split"): (p[head.name], t[head.name]) for k, (p, t) in answers.items()
                 if k.endswith(" test")}  # fmt: skip
        if not (sets[VALIDATION][1] != NO_LABEL).any():
            continue
        temperature = fit_temperature(*sets[VALIDATION])
        report["temperatures"][head.name] = round(temperature, 4)
        report["figures"][head.name] = {
            name: {"before": _figures(probs, truth), "after": _figures(with_temperature(probs, temperature), truth)}
            for name, (probs, truth) in sets.items()
            if (truth != NO_LABEL).any()
        }
    return report


def calibration_table(report: dict) -> str:
    """The report as a Markdown table: per head and set of faces, ECE and NLL before and after."""
    lines = [
        "| head | temperature | faces | n | ECE % before | ECE % after | NLL before | NLL after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for head, sets in report["figures"].items():
        temperature = report["temperatures"][head]
        for name, figures in sets.items():
            before, after = figures["before"], figures["after"]
            lines.append(
                f"| {head} | {temperature:.3f} | {name} | {before['n']} | {100 * before['ece']:.2f} | "
                f"{100 * after['ece']:.2f} | {before['nll']:.4f} | {after['nll']:.4f} |"
            )
    return "\n".join(lines)
