"""The model card in weights/, rendered from the training summary and the test metrics (never typed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from face2data.paths import MODEL_CARD_PATH, MODEL_PATH, TEST_METRICS_PATH, TFLITE_PATH, TRAINING_SUMMARY_PATH
from face2data.schema import AGE_MAX, AGE_MIN, ETHNICITIES, INPUT_SIZE


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _interval(intervals: dict, key: str, form) -> str:
    if key not in intervals:
        return "—"
    low, high = intervals[key]
    return f"{form(low)} – {form(high)}"


def _years(x: float) -> str:
    return f"{x:.2f}"


def render_model_card(metrics: dict, summary: dict, model_bytes: int) -> str:
    """Markdown model card for the shipped model."""
    cfg = summary["config"]
    ci = metrics.get("confidence_intervals", {})
    groups = "\n".join(
        f"| {row['group']} | {row['n']} | {row['age_mae']:.2f} | {_pct(row['gender_accuracy'])} | "
        f"{_pct(row['ethnicity_accuracy'])} |"
        for key in ("ethnicity", "gender", "age_bucket")
        for row in metrics["per_group"][key]
    )
    hours = summary["training_seconds"] / 3600
    worst_ethnicity = min(metrics["per_group"]["ethnicity"], key=lambda r: r["ethnicity_accuracy"])
    worst_gender = min(metrics["per_group"]["age_bucket"], key=lambda r: r["gender_accuracy"])
    worst_age = max(metrics["per_group"]["age_bucket"], key=lambda r: r["age_mae"])
    return f"""# Model card: face2data

## What it is
One Keras 3 network (MobileNetV3Large trunk trained from scratch, three softmax heads) that reads an aligned
face crop at {INPUT_SIZE}x{INPUT_SIZE} px and predicts **age** ({AGE_MIN}-{AGE_MAX}, the expected value of a
117-way age distribution, with an interval holding its central 80 %), **gender** (male/female) and
**ethnicity** ({", ".join(ETHNICITIES)}). File: `{MODEL_PATH.name}`, {model_bytes / 1e6:.1f} MB; the app runs
the same network exported to `{TFLITE_PATH.name}` with LiteRT. Predictions average the face and its mirror image.

## Data and split
UTKFace "aligned & cropped" (Zhang, Song and Qi, CVPR 2017; non-commercial research use), labels parsed from
the file names; {len(summary["skipped_files"])} file names with a missing field were skipped. The split is a
hash of each file name (80/10/10), so anyone with a copy of UTKFace gets the same test set:
{summary["train_images"]} training, {summary["val_images"]} validation and {metrics["n"]} test faces.

## Training
{summary["epochs_completed"]} epochs ({hours:.1f} h on a 2-core CPU, {summary["train_images_per_second"]} images/s,
backend {summary["keras_backend"]}), batch {cfg["batch_size"]}, AdamW (peak learning rate {cfg["learning_rate"]},
weight decay {cfg["weight_decay"]}), one warm-up epoch then cosine decay; flips, rotations, zoom, shifts,
brightness and contrast augmentation; age loss = cross-entropy against a Gaussian around the true age plus an L1
term on the expected age. Best epoch by validation loss: {summary["best_epoch"]}. Seed {cfg["seed"]}.

## Test-set results (n = {metrics["n"]}, `python -m face2data evaluate --split test`)
| metric | value | 95 % bootstrap interval |
|---|---|---|
| age MAE | {metrics["age_mae"]:.2f} years | {_interval(ci, "age_mae", _years)} |
| age RMSE | {metrics["age_rmse"]:.2f} years | {_interval(ci, "age_rmse", _years)} |
| gender accuracy | {_pct(metrics["gender_accuracy"])} | {_interval(ci, "gender_accuracy", _pct)} |
| ethnicity accuracy | {_pct(metrics["ethnicity_accuracy"])} | {_interval(ci, "ethnicity_accuracy", _pct)} |
| true age inside the 80 % interval | {_pct(metrics["age_interval_coverage"])} | — |

| group | n | age MAE | gender acc. | ethnicity acc. |
|---|---|---|---|---|
{groups}

## Known limits
- Weakest groups on the test set: ethnicity accuracy for "{worst_ethnicity["group"]}" faces
  ({_pct(worst_ethnicity["ethnicity_accuracy"])}, n = {worst_ethnicity["n"]}), gender accuracy at ages
  {worst_gender["group"]} ({_pct(worst_gender["gender_accuracy"])}), age error at ages {worst_age["group"]}
  (MAE {worst_age["age_mae"]:.2f} years).
- UTKFace labels are partly estimated (assigned by the DEX algorithm and checked by a person, not self-reported),
  gender is recorded as binary, and the five ethnicity
  classes are coarse ("Others" mixes Hispanic, Latino, Middle Eastern and more); the model inherits all of this.
- The test set has the same sources and biases as the training set: figures on other photos will be lower,
  especially for small, blurred, occluded or strongly turned faces, and for the groups with higher errors above.
- Served faces are detected (MTCNN) and aligned to UTKFace's own crop layout; a misaligned crop degrades every
  prediction.

## Intended use
Exploring and explaining what a face-attribute model does, teaching and research. **Not** for decisions about
people (hiring, policing, access, credit, age verification...), nor for inferring anyone's identity or how they
identify.
"""


def write_model_card(path: Path = MODEL_CARD_PATH) -> Path:
    """Render the card from the files in weights/ and write it."""
    metrics = json.loads(TEST_METRICS_PATH.read_text())
    summary = json.loads(TRAINING_SUMMARY_PATH.read_text())
    path.write_text(render_model_card(metrics, summary, MODEL_PATH.stat().st_size))
    return path
