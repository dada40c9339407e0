"""The model card in weights/, rendered from the training summary and the test metrics (never typed by hand).

``INTENDED_USE`` and ``LIMITS`` are the card's statements as data, so other doors (the About page, the API's
``/v1/model``) can give them without copying the card's prose.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from face2data.data.augment import describe_augmentation
from face2data.data.scores import RANGE_HIT_KEY
from face2data.evaluation.run import TEST_SET_NAMES
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
from face2data.schema import (
    AGE_HEAD,
    AGE_INTERVAL_MASS,
    AGE_MAX,
    AGE_MIN,
    AGE_RANGE_TOLERANCE,
    ALLAGEFACES_AGES_TEXT,
    CLASS_HEADS,
    HEAD_TABLE,
    HEADS,
    INPUT_SIZE,
    NUM_AGES,
    Head,
)

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


MIN_GROUP = 20  # faces: a smaller group is not named as the weakest


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x)


def _figure(row: dict, key: str, form) -> str:
    """A figure of a group row, or a dash where the group has none (no face of it labelled for the figure)."""
    return form(row[key]) if _is_number(row.get(key)) else "—"


def _weakest(rows: list[dict], key: str, worst=min) -> dict | None:
    """The row of at least MIN_GROUP faces with the lowest (``worst=max``: highest) ``key``; None when none has it."""
    rows = [r for r in rows if r["n"] >= MIN_GROUP and _is_number(r.get(key))]
    return worst(rows, key=lambda r: r[key]) if rows else None


def _age_figure(metrics: dict) -> tuple[str, str, Callable[[float], str]] | None:
    """The per-group age figure of a test set: (column title, key, form); None for a set without age labels."""
    if "age_mae" in metrics:
        return "age MAE", "age_mae", _years
    if RANGE_HIT_KEY in metrics:
        return f"age within range ± {AGE_RANGE_TOLERANCE}", RANGE_HIT_KEY, _pct
    return None


def _scored(metrics: dict | None) -> list[Head]:
    """The class heads a test set has labels for (an accuracy), in table order."""
    return [head for head in CLASS_HEADS if f"{head.name}_accuracy" in (metrics or {})]


def _accuracy_label(head: Head) -> str:
    """A class head's row of the results table: "gender accuracy"; a head that is one of several schemes of its
    attribute names the attribute and its scheme: "ethnicity (FairFace's 7 groups) accuracy"."""
    if not head.scheme:
        return f"{head.title.lower()} accuracy"
    first = next((h for h in CLASS_HEADS if h.attribute == head.attribute), head)  # the attribute's own title
    return f"{first.title.lower()} ({head.scheme}) accuracy"


def _result_cells(metrics: dict | None) -> dict[str, str]:
    """A test set's column of the results table: faces, found, age and each class head's accuracy; dashes for a
    set not evaluated, "— (no labels)" for a head it has no labels of."""
    if metrics is None:
        return {}
    ci = metrics.get("confidence_intervals", {})
    if "age_mae" in metrics:
        age = f"MAE {metrics['age_mae']:.2f} years ({_interval(ci, 'age_mae', _years)})"
    elif RANGE_HIT_KEY in metrics:
        age = (
            f"within range ± {AGE_RANGE_TOLERANCE} years: {_pct(metrics[RANGE_HIT_KEY])} "
            f"({_interval(ci, RANGE_HIT_KEY, _pct)}); inside the range: {_pct(metrics['age_in_range'])}"
        )
    else:
        age = "— (no labels)"
    cells = {
        "n": f"{metrics['n']:,} of {metrics.get('faces_total', metrics['n']):,}",
        "found": _pct(metrics.get("faces_found", 1.0)),
        "age": age,
    }
    for head in CLASS_HEADS:
        key = f"{head.name}_accuracy"
        cells[head.name] = f"{_pct(metrics[key])} ({_interval(ci, key, _pct)})" if key in metrics else "— (no labels)"
    return cells


def _results_table(sets: dict[str, dict | None]) -> str:
    """The test sets side by side: faces, age and the accuracy of every class head some set has labels of."""
    columns = {name: _result_cells(metrics) for name, metrics in sets.items()}
    scored = [head for head in CLASS_HEADS if any(head in _scored(metrics) for metrics in sets.values())]
    rows = [("faces (found of images)", "n"), ("faces found", "found"), ("age", "age")]
    rows += [(_accuracy_label(head), head.name) for head in scored]
    return "\n".join(
        ["| | " + " | ".join(sets) + " |", "|---" * (len(sets) + 1) + "|"]
        + [f"| {label} | " + " | ".join(columns[name].get(key, "—") for name in sets) + " |" for label, key in rows]
    )


def _age_text(sets: dict[str, dict | None]) -> str:
    """The RMSE and the interval's coverage of each test set with exact ages, one sentence each."""
    mass = f"{100 * AGE_INTERVAL_MASS:.0f} %"
    return "".join(
        f"{name}: age RMSE {metrics['age_rmse']:.2f} years; the true age lies inside the {mass} interval for "
        f"{_pct(metrics['age_interval_coverage'])} of the faces.\n"
        for name, metrics in sets.items()
        if metrics and "age_rmse" in metrics and "age_interval_coverage" in metrics
    )


def _group_table(metrics: dict, rows: list[dict]) -> str:
    """Per-group rows of one test set: faces, the age figure and each labelled head's accuracy."""
    age = _age_figure(metrics)
    heads = _scored(metrics)
    titles = ["group", "n", *([age[0]] if age else []), *(f"{head.title.lower()} acc." for head in heads)]
    lines = ["| " + " | ".join(titles) + " |", "|---" * len(titles) + "|"]
    for row in rows:
        cells = [str(row["group"]), str(row["n"]), *([_figure(row, age[1], age[2])] if age else [])]
        cells += [_figure(row, f"{head.name}_accuracy", _pct) for head in heads]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _confusion_table(matrix: dict) -> str:
    """A confusion matrix as shares of each true class (row), the faces of each cell in brackets."""
    labels, counts = matrix["labels"], matrix["counts"]
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for true, row in zip(matrix.get("rows", labels), counts, strict=True):
        total = sum(row)
        cells = [f"{_pct(n / total)} ({n})" if total else "—" for n in row]
        lines.append(f"| {true} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _head_sections(sets: dict[str, dict | None]) -> str:
    """Per class head some test set has labels of: its confusion matrices (and those against another scheme of
    its attribute) and its per-class table on each such set; then the per-age-bucket tables."""
    note = "(rows: true class; share of the row, faces in brackets)"
    parts = []
    for head in CLASS_HEADS:
        scored = {name: m for name, m in sets.items() if m and head in _scored(m)}
        if not scored:
            continue
        lines = [f"### {head.title}"] + ([f"{head.scheme}: {', '.join(head.classes)}."] if head.scheme else [])
        others = [other for other in CLASS_HEADS if other is not head and other.attribute == head.attribute]
        for name, metrics in scored.items():
            confusion = metrics.get("confusion", {})
            matrices = [(head.title.lower(), confusion.get(head.name))]
            matrices += [
                (f"against the predicted {o.title.lower()}", confusion.get(f"{head.name}_to_{o.name}")) for o in others
            ]
            for what, matrix in matrices:
                if matrix:
                    lines += ["", f"{_capital(name)}, {what} {note}:", "", _confusion_table(matrix)]
            groups = metrics.get("per_group", {}).get(head.name)
            if groups:
                title = f"{_capital(name)}, per true {head.title.lower()} class:"
                lines += ["", title, "", _group_table(metrics, groups)]
        parts.append("\n".join(lines))
    ages = [(name, m) for name, m in sets.items() if m and m.get("per_group", {}).get("age_bucket")]
    if ages:
        lines = ["### Age"]
        for name, metrics in ages:
            table = _group_table(metrics, metrics["per_group"]["age_bucket"])
            lines += ["", f"{_capital(name)}, per true age bucket:", "", table]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n" if parts else ""


def _capital(text: str) -> str:
    """The text with a capital first letter, to begin a sentence ('In the wild ...')."""
    return text[:1].upper() + text[1:]


def _group_words(table: str, row: dict) -> str:
    return f"ages {row['group']}" if table == "age_bucket" else f'"{row["group"]}" faces'


def _weak_lines(sets: dict[str, dict | None]) -> list[str]:
    """Per test set: each labelled head's weakest group (of any per-group table of it) and the age's."""
    lines = []
    for name, metrics in sets.items():
        if not metrics:
            continue
        per_group = metrics.get("per_group", {})
        tables = {key: per_group[key] for key in (*(h.name for h in CLASS_HEADS), "age_bucket") if per_group.get(key)}
        said = []
        for head in _scored(metrics):
            key = f"{head.name}_accuracy"
            found = [(table, row) for table, rows in tables.items() if (row := _weakest(rows, key))]
            if found:
                table, row = min(found, key=lambda pair: pair[1][key])
                said.append(f"{head.title.lower()} accuracy is lowest for {_group_words(table, row)} "
                            f"({_pct(row[key])}, n = {row['n']})")  # fmt: skip
        buckets = tables.get("age_bucket", [])
        if "age_mae" in metrics and (row := _weakest(buckets, "age_mae", worst=max)):
            said.append(f"the age error is largest at ages {row['group']} (MAE {row['age_mae']:.2f} years)")
        elif RANGE_HIT_KEY in metrics and (row := _weakest(buckets, RANGE_HIT_KEY)):
            said.append(f"the age is least often within its range ± {AGE_RANGE_TOLERANCE} years at ages "
                        f"{row['group']} ({_pct(row[RANGE_HIT_KEY])})")  # fmt: skip
        if said:
            lines.append(f"- {_capital(name)}: " + "; ".join(said) + ".")
    return lines


def _number_word(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(n, str(n))


def _heads_text() -> str:
    """What the network predicts, head by head: '**age** (...), **gender** (male/female) and ...'."""
    mass = f"{100 * AGE_INTERVAL_MASS:.0f} %"
    parts = [
        f"**{AGE_HEAD.title.lower()}** ({AGE_MIN}-{AGE_MAX}, the expected value of a {NUM_AGES}-way age "
        f"distribution, with an interval holding its central {mass})"
    ]
    for head in CLASS_HEADS:
        classes = "/".join(head.classes) if len(head.classes) == 2 else ", ".join(head.classes)
        parts.append(f"**{head.title.lower()}** ({head.scheme + ': ' if head.scheme else ''}{classes})")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


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
        parts.append(f"{head} T = {temperature:.3f} ({changes} points)")
    return (
        f"The served probabilities are divided, as logits, by one temperature per class head fitted on "
        f"{calibration['fitted_on']} (never a test face; `{calibration['model']['file']}`): "
        + "; ".join(parts)
        + " of expected calibration error without and with it, on the test splits. The figures above are "
        "measured with it; it changes no answer, only how sure each one is said to be.\n"
    )


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
    hours = summary["training_seconds"] / 3600
    machine = machine_words(summary.get("machine"))  # where it trained; nothing for files that did not record it
    # The test sets, as tables name them and as sentences do
    sets = {TEST_SET_NAMES["utkface"]: metrics, TEST_SET_NAMES["fairface"]: wild,
            TEST_SET_NAMES["allagefaces"]: all_ages}  # fmt: skip
    short = dict(zip(("UTKFace", "in the wild", "All-Age-Faces"), sets.values(), strict=True))
    calibration_text = _calibration_text(short) + _temperature_text(calibration)
    dropout = f", dropout {cfg['dropout']:g} before the heads" if "dropout" in cfg else ""
    sources = summary.get("sources", {})
    source_lines = "\n".join(
        f"- {name}: {entry['train_faces']:,} training and {entry['val_faces']:,} validation faces; no face found "
        f"in {entry['faces_not_found']} images; {len(entry['skipped_files'])} files skipped."
        for name, entry in sources.items()
    )
    weak = "\n".join(_weak_lines(sets))
    limits = "\n".join(f"- {line}" for line in LIMITS)
    return f"""# Model card: face2data

## What it is
One Keras 3 network (MobileNetV3Large trunk, {_number_word(len(HEAD_TABLE))} softmax heads) that reads an aligned
face crop at {INPUT_SIZE}x{INPUT_SIZE} px and predicts {_heads_text()}.
File: `{MODEL_PATH.name}`, {model_bytes / 1e6:.1f} MB; the app runs the same network exported to
`{TFLITE_PATH.name}` with LiteRT. Predictions average the face and its mirror image.

## Data and split
The labelled sources, each split 80/10/10 by a hash of each file name, so anyone with a copy gets the same
test sets:
- UTKFace "aligned & cropped" (Zhang, Song and Qi, CVPR 2017; non-commercial research use): exact ages, labels
  parsed from the file names.
- FairFace's training crops (Kärkkäinen and Joo, WACV 2021; CC BY 4.0): real-world Flickr faces balanced over
  seven race groups, age as one of nine ranges. East and Southeast Asian count as Asian, Middle Eastern and
  Latino_Hispanic as Others. Its test split is the **in-the-wild** test set.
- All-Age-Faces (Cheng et al., 2019; research use): mostly East Asian faces of {ALLAGEFACES_AGES_TEXT}, exact age
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

{_results_table(sets)}

{_age_text(short)}{calibration_text}
{_head_sections(sets)}
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
