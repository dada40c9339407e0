"""The model card in weights/, rendered from the training summary and the test metrics (never typed by hand).

``INTENDED_USE`` and ``LIMITS`` are the card's statements as data, so other doors (the About page, the API's
``/v1/model``) can give them without copying the card's prose.
"""

from __future__ import annotations

import json
from pathlib import Path

from face2data.data.augment import describe_augmentation
from face2data.evaluation.metrics import RANGE_HIT_KEY
from face2data.machine import machine_words
from face2data.paths import (
    ALL_AGES_METRICS_PATH,
    CALIBRATION_PATH,
    MODEL_CARD_PATH,
    MODEL_PATH,
    TEST_METRICS_PATH,
    TFLITE_PATH,
    TRAINING_SUMMARY_PATH,
    WILD_METRICS_PATH,
)
from face2data.schema import AGE_INTERVAL_MASS, AGE_MAX, AGE_MIN, AGE_RANGE_TOLERANCE, ETHNICITIES, HEADS, INPUT_SIZE

INTENDED_USE = (
    "Exploring and explaining what a face-attribute model does, teaching and research. Not for decisions about "
    "people (hiring, policing, access, credit, age verification...), nor for inferring anyone's identity or how "
    "they identify."
)
LIMITS = (
    "Labels are partly estimated (UTKFace's were assigned by an algorithm and checked by a person; FairFace's by "
    'annotators), gender is recorded as binary, and the five ethnicity classes are coarse ("Others" mixes '
    "Hispanic, Latino, Middle Eastern and more); the model inherits all of this.",
    "Figures on other photos than the test sets' can be lower, especially for small, blurred, occluded or "
    "strongly turned faces and for the weakest groups named in the card.",
    "Faces are found by YuNet and aligned to one reference layout; a head tilted by more than about 15 degrees "
    "is aligned less well (YuNet's keypoints follow a tilt only part of the way) and its figures are lower.",
    "An explanation shows what moved the model's output, not anything about the person.",
)


RESULTS_HEADING = "## Results on held-out faces"
LIMITS_HEADING = "## Known limits"
INTENDED_USE_HEADING = "## Intended use"


def _speed_text(summary: dict) -> str:
    """The run's training rate: training images over the median epoch (validation included) and, where the run
    recorded it, model.fit's own rate and what the network alone reaches on that machine kind."""
    text = f"{summary['train_images_per_second']} images/s over whole epochs with validation"
    if summary.get("fit_images_per_second"):
        text += f", {summary['fit_images_per_second']} in the training steps"
    if summary.get("network_images_per_second_on_this_machine"):
        text += f" (the network alone: {summary['network_images_per_second_on_this_machine']:.0f} on this machine kind)"
    return text


def _loss_weights_text(config: dict) -> str:
    """The per-head loss weights of the run as a sentence (empty when every head weighed 1)."""
    weights = config.get("loss_weights") or {}
    if all(w == 1 for w in weights.values()):
        return ""
    listed = ", ".join(f"{head} {weights.get(head, 1.0):g}" for head in HEADS)
    return f"Loss weights per head: {listed} (the validation loss that picks the best epoch is weighted alike). "


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _interval(intervals: dict, key: str, form) -> str:
    if key not in intervals:
        return "—"
    low, high = intervals[key]
    return f"{form(low)} – {form(high)}"


def _years(x: float) -> str:
    return f"{x:.2f}"


def _weakest(rows: list[dict], key: str) -> dict:
    return min((r for r in rows if r["n"] >= 20), key=lambda r: r[key])


def _exact_age_cell(metrics: dict | None) -> dict[str, str]:
    """The results-table cells of a test set with exact ages (UTKFace, All-Age-Faces); dashes when absent."""
    if metrics is None:
        return dict.fromkeys(("n", "found", "age", "gender", "ethnicity"), "—")
    ci = metrics.get("confidence_intervals", {})
    return {
        "n": f"{metrics['n']:,} of {metrics.get('faces_total', metrics['n']):,}",
        "found": _pct(metrics.get("faces_found", 1.0)),
        "age": f"MAE {metrics['age_mae']:.2f} years ({_interval(ci, 'age_mae', _years)})",
        "gender": f"{_pct(metrics['gender_accuracy'])} ({_interval(ci, 'gender_accuracy', _pct)})",
        "ethnicity": f"{_pct(metrics['ethnicity_accuracy'])} ({_interval(ci, 'ethnicity_accuracy', _pct)})"
        if "ethnicity_accuracy" in metrics
        else "— (no labels)",
    }


def _calibration_text(sets: dict[str, dict | None]) -> str:
    """One paragraph on how far the probabilities can be trusted, from the metrics files that measured it."""
    parts = []
    for name, metrics in sets.items():
        calibration = (metrics or {}).get("calibration")
        if not calibration:
            continue
        heads = [f"{head} {100 * calibration[head]['ece']:.1f}" for head in HEADS if head in calibration]
        interval = calibration.get("age_interval")
        coverage = ""
        if interval:
            nominal = f"{100 * interval['nominal']:.0f} %"
            coverage = f"; the {nominal} age interval holds the true age for {_pct(interval['coverage'])}"
        parts.append(f"{name}: {', '.join(heads)} points{coverage}")
    if not parts:
        return ""
    return (
        "Calibration (expected calibration error of the answer's probability: the gap between how sure the model "
        "is and how often it is right, averaged over confidence bins): " + "; ".join(parts) + ".\n"
    )


def _temperature_text(calibration: dict | None) -> str:
    """How the shipped probabilities are rescaled (``python -m face2data calibrate``), with the calibration error
    of each test split before and after; nothing when no temperature was fitted."""
    if not calibration or not calibration.get("temperatures"):
        return ""
    parts = []
    for head, temperature in calibration["temperatures"].items():
        tests = [(name.replace(" test split", ""), figures) for name, figures in calibration["figures"][head].items()
                 if name.endswith("test split")]  # fmt: skip
        changes = ", ".join(
            f"{name} {100 * f['before']['ece']:.1f} → {100 * f['after']['ece']:.1f}" for name, f in tests
        )
        parts.append(f"{head} T = {temperature:.2f} ({changes} points)")
    return (
        f"The served probabilities are divided, as logits, by one temperature per class head fitted on "
        f"{calibration['fitted_on']} (never a test face; `{calibration['model']['file']}`): "
        + "; ".join(parts)
        + " of expected calibration error without and with it, on the test splits. The figures above are "
        "measured with it; it changes no answer, only how sure each one is said to be.\n"
    )


def _all_ages_table(all_ages: dict | None) -> str:
    """The All-Age-Faces per-group table (by gender and age bucket), or nothing before it was evaluated."""
    if all_ages is None:
        return ""
    rows = "\n".join(
        f"| {row['group']} | {row['n']} | {row['age_mae']:.2f} | {_pct(row['gender_accuracy'])} |"
        for key in ("gender", "age_bucket")
        for row in all_ages["per_group"][key]
    )
    return f"""
### All-Age-Faces test split per group
| group | n | age MAE | gender acc. |
|---|---|---|---|
{rows}
"""


def render_model_card(
    metrics: dict,
    wild: dict | None,
    summary: dict,
    model_bytes: int,
    all_ages: dict | None = None,
    calibration: dict | None = None,
) -> str:
    """Markdown model card for the shipped model: the test sets side by side, as far as they were evaluated."""
    cfg = summary["config"]
    wci = (wild or {}).get("confidence_intervals", {})
    hours = summary["training_seconds"] / 3600
    machine = machine_words(summary.get("machine"))  # where it trained; nothing for files that did not record it
    mass = f"{100 * AGE_INTERVAL_MASS:.0f} %"
    calibration_text = _calibration_text({"UTKFace": metrics, "in the wild": wild, "All-Age-Faces": all_ages})
    calibration_text += _temperature_text(calibration)
    dropout = f", dropout {cfg['dropout']:g} before the heads" if "dropout" in cfg else ""
    sources = summary.get("sources", {})
    source_lines = "\n".join(
        f"- {name}: {entry['train_faces']:,} training and {entry['val_faces']:,} validation faces; no face found "
        f"in {entry['faces_not_found']} images; {len(entry['skipped_files'])} files skipped."
        for name, entry in sources.items()
    )
    wild_cell = {
        "found": _pct(wild["faces_found"]) if wild else "—",
        "gender": f"{_pct(wild['gender_accuracy'])} ({_interval(wci, 'gender_accuracy', _pct)})" if wild else "—",
        "ethnicity": f"{_pct(wild['ethnicity_accuracy'])} ({_interval(wci, 'ethnicity_accuracy', _pct)})"
        if wild
        else "—",
        "range5": f"{_pct(wild[RANGE_HIT_KEY])} ({_interval(wci, RANGE_HIT_KEY, _pct)})" if wild else "—",
        "range": _pct(wild["age_in_range"]) if wild else "—",
        "n": f"{wild['n']:,} of {wild['faces_total']:,}" if wild else "—",
    }
    utk_groups = "\n".join(
        f"| {row['group']} | {row['n']} | {row['age_mae']:.2f} | {_pct(row['gender_accuracy'])} | "
        f"{_pct(row['ethnicity_accuracy'])} |"
        for key in ("ethnicity", "gender", "age_bucket")
        for row in metrics["per_group"][key]
    )
    utk_cell, aaf_cell = _exact_age_cell(metrics), _exact_age_cell(all_ages)
    wild_cell["age"] = (
        f"within range ± {AGE_RANGE_TOLERANCE} years: {wild_cell['range5']}; inside the range: {wild_cell['range']}"
    )
    rows = (("faces (found of images)", "n"), ("faces found", "found"), ("age", "age"),
            ("gender accuracy", "gender"), ("ethnicity accuracy (5 classes)", "ethnicity"))  # fmt: skip
    results = "\n".join(
        ["| | UTKFace test split | in the wild (FairFace test split) | All-Age-Faces test split |", "|---|---|---|---|"]
        + [f"| {label} | {utk_cell[key]} | {wild_cell[key]} | {aaf_cell[key]} |" for label, key in rows]
    )
    ethnicity = _weakest(metrics["per_group"]["ethnicity"], "ethnicity_accuracy")
    oldest = max(metrics["per_group"]["age_bucket"], key=lambda r: r["age_mae"])
    weak_lines = [
        f'- UTKFace test split: ethnicity accuracy for "{ethnicity["group"]}" faces '
        f"{_pct(ethnicity['ethnicity_accuracy'])} (n = {ethnicity['n']}); age error at ages {oldest['group']} "
        f"(MAE {oldest['age_mae']:.2f} years)."
    ]
    wild_groups = ""
    if wild:
        wild_groups = "\n".join(
            f"| {row['group']} | {row['n']} | {_pct(row[RANGE_HIT_KEY])} | {_pct(row['gender_accuracy'])} | "
            f"{_pct(row['ethnicity_accuracy'])} |"
            for key in ("race", "gender", "age_bucket")
            for row in wild["per_group"][key]
        )
        race = _weakest(wild["per_group"]["race"], "ethnicity_accuracy")
        age = _weakest(wild["per_group"]["age_bucket"], RANGE_HIT_KEY)
        gender = _weakest(wild["per_group"]["race"], "gender_accuracy")
        weak_lines.append(
            f'- In the wild: FairFace\'s "{race["group"]}" faces get the right ethnicity class least often '
            f'({_pct(race["ethnicity_accuracy"])}, n = {race["n"]}); gender is weakest for "{gender["group"]}" '
            f"faces ({_pct(gender['gender_accuracy'])}); the age is least often within its range "
            f"± {AGE_RANGE_TOLERANCE} years at "
            f"{age['group']} ({_pct(age[RANGE_HIT_KEY])})."
        )
    if all_ages:
        young = _weakest(all_ages["per_group"]["age_bucket"], "gender_accuracy")
        worst_age = max(all_ages["per_group"]["age_bucket"], key=lambda r: r["age_mae"])
        weak_lines.append(
            f"- All-Age-Faces: gender is weakest at ages {young['group']} ({_pct(young['gender_accuracy'])}, "
            f"n = {young['n']}); the age error is largest at ages {worst_age['group']} (MAE "
            f"{worst_age['age_mae']:.2f} years)."
        )
    weak = "\n".join(weak_lines)
    limits = "\n".join(f"- {line}" for line in LIMITS)
    wild_table = (
        f"""
### In the wild: FairFace test split per group
| group | n | age within range ± {AGE_RANGE_TOLERANCE} | gender acc. | ethnicity acc. |
|---|---|---|---|---|
{wild_groups}
"""
        if wild
        else ""
    )
    return f"""# Model card: face2data

## What it is
One Keras 3 network (MobileNetV3Large trunk, three softmax heads) that reads an aligned face crop at
{INPUT_SIZE}x{INPUT_SIZE} px and predicts **age** ({AGE_MIN}-{AGE_MAX}, the expected value of a 117-way age
distribution, with an interval holding its central {mass}), **gender** (male/female) and **ethnicity**
({", ".join(ETHNICITIES)}). File: `{MODEL_PATH.name}`, {model_bytes / 1e6:.1f} MB; the app runs the same network
exported to `{TFLITE_PATH.name}` with LiteRT. Predictions average the face and its mirror image.

## Data and split
The labelled sources, each split 80/10/10 by a hash of each file name, so anyone with a copy gets the same
test sets:
- UTKFace "aligned & cropped" (Zhang, Song and Qi, CVPR 2017; non-commercial research use): exact ages, labels
  parsed from the file names.
- FairFace's training crops (Kärkkäinen and Joo, WACV 2021; CC BY 4.0): real-world Flickr faces balanced over
  seven race groups, age as one of nine ranges. East and Southeast Asian count as Asian, Middle Eastern and
  Latino_Hispanic as Others. Its test split is the **in-the-wild** test set.
- All-Age-Faces (Cheng et al., 2019; research use): mostly East Asian faces of every age from 2 to 80, exact age
  (from the file name) and gender; no ethnicity label, so its faces add nothing to the ethnicity head's loss.
  Sources a model was not trained on still give a test set of faces it never saw.

Every image goes through the serving path (a grey margin, YuNet face detection, alignment onto the reference
layout) before training or evaluation:
{source_lines}

## Training
Starting point: {summary.get("initialised_from", "random weights (from scratch)")}.
{summary["epochs_completed"]} epochs ({hours:.1f} h{machine}, {_speed_text(summary)},
backend {summary["keras_backend"]}), batch {cfg["batch_size"]}, AdamW (peak learning rate {cfg["learning_rate"]},
weight decay {cfg["weight_decay"]}), one warm-up epoch then cosine decay{dropout}.
Augmentation: {describe_augmentation(cfg.get("augment_strength", 1.0))}.
Age loss: for an exact age, cross-entropy against a Gaussian around it plus an L1 term on the expected age; for an
age range, the negative log of the predicted probability inside the range.
{_loss_weights_text(cfg)}Best epoch by validation loss: {summary["best_epoch"]}. Seed {cfg["seed"]}.

Mixing: {summary.get("mixing", "one source")}

{RESULTS_HEADING}
Printed by `python -m face2data evaluate`; 95 % bootstrap intervals in brackets.

{results}

UTKFace: age RMSE {metrics["age_rmse"]:.2f} years; the true age lies inside the {mass} interval for
{_pct(metrics["age_interval_coverage"])} of the faces.
{calibration_text}
### UTKFace test split per group
| group | n | age MAE | gender acc. | ethnicity acc. |
|---|---|---|---|---|
{utk_groups}
{wild_table}{_all_ages_table(all_ages)}
## Where it is weak
{weak}

{LIMITS_HEADING}
{limits}

{INTENDED_USE_HEADING}
{INTENDED_USE}
"""


def without_section(card: str, heading: str = RESULTS_HEADING) -> str:
    """The card without one of its ``##`` sections (its ``###`` subsections go with it)."""
    lines = card.splitlines()
    if heading not in lines:
        return card
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[:start] + lines[end:])


def write_model_card(path: Path = MODEL_CARD_PATH) -> Path:
    """Render the card from the files in weights/ and write it."""
    metrics = json.loads(TEST_METRICS_PATH.read_text())
    wild = json.loads(WILD_METRICS_PATH.read_text()) if WILD_METRICS_PATH.exists() else None
    all_ages = json.loads(ALL_AGES_METRICS_PATH.read_text()) if ALL_AGES_METRICS_PATH.exists() else None
    summary = json.loads(TRAINING_SUMMARY_PATH.read_text())
    calibration = json.loads(CALIBRATION_PATH.read_text()) if CALIBRATION_PATH.exists() else None
    path.write_text(render_model_card(metrics, wild, summary, MODEL_PATH.stat().st_size, all_ages, calibration))
    return path
