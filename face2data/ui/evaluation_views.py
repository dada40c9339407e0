"""Streamlit sections of the Evaluation page, for any metrics report: a shipped test set's or an uploaded set's.

A report is what ``evaluate`` (or ``evaluate_labelled``) writes; its age labels are exact ages, ranges or
absent (``age_kind``), and a head without labels has no figures, so every section shows what the report holds.
Its keys are read per class head of ``schema.HEAD_TABLE``: ``<head>_accuracy``, ``confusion[<head>]``,
``confusion["<labelled head>_to_<predicted head>"]`` (two schemes of one attribute), ``per_group[<head>]``,
``per_group["cells"]`` (a key per labelled class head and ``age_bucket``) and ``calibration[<head>]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from types import SimpleNamespace

import numpy as np
import pandas as pd
import streamlit as st

from face2data.data.scores import RANGE_HIT_KEY
from face2data.evaluation import gallery
from face2data.evaluation.run import PROBABILITY_COLUMNS, RANGE_SOURCES
from face2data.results import whole_percent, whole_years
from face2data.schema import AGE_INTERVAL_MASS, AGE_MAX, AGE_RANGE_TOLERANCE, CLASS_HEADS, HEAD_BY_NAME, Head
from face2data.ui import figures, views
from face2data.ui.artifacts import per_group_table

AGE_GROUP = "age_bucket"  # the age's confusion matrix and per-group table
CELLS = "cells"  # per_group's table of cells: class heads' labels × age bucket
RELIABILITY_PER_ROW = 2  # reliability diagrams side by side (three leave their titles no room)

GROUP_COLUMNS = {
    "group": st.column_config.TextColumn("group"),
    **{head.name: st.column_config.TextColumn(head.title.lower()) for head in CLASS_HEADS},
    AGE_GROUP: st.column_config.TextColumn("age bucket"),
    "n": st.column_config.NumberColumn("faces", format="%d"),
    "age_mae": st.column_config.NumberColumn("age MAE (years)", format="%.2f"),
    "age_rmse": st.column_config.NumberColumn("age RMSE (years)", format="%.2f"),
    "age_interval_coverage": st.column_config.NumberColumn("true age inside the interval %", format="%.1f"),
    **{
        f"{head.name}_accuracy": st.column_config.NumberColumn(f"{head.title.lower()} accuracy %", format="%.1f")
        for head in CLASS_HEADS
    },
    "age_in_range": st.column_config.NumberColumn("age inside the range %", format="%.1f"),
    RANGE_HIT_KEY: st.column_config.NumberColumn(f"age within range ± {AGE_RANGE_TOLERANCE} %", format="%.1f"),
}
INTERVAL_FORMATS = {
    "age_mae": "age MAE {:.2f}–{:.2f}",
    RANGE_HIT_KEY: f"age within range ± {AGE_RANGE_TOLERANCE} " + "{:.1%}–{:.1%}",
    **{f"{head.name}_accuracy": f"{head.title.lower()} " + "{:.1%}–{:.1%}" for head in CLASS_HEADS},
}
# A labelled head against the predicted head of the same attribute in another scheme (FairFace's seven groups
# against the five classes): "<labelled>_to_<predicted>" -> (labelled head, predicted head).
CROSS_MATRICES: dict[str, tuple[Head, Head]] = {
    f"{labelled.name}_to_{predicted.name}": (labelled, predicted)
    for labelled in CLASS_HEADS
    for predicted in CLASS_HEADS
    if labelled is not predicted and labelled.attribute == predicted.attribute
}
MATRIX_TITLES = {
    **{head.name: head.title for head in CLASS_HEADS},
    AGE_GROUP: "Age bucket",
    **{name: f"{true.title} → predicted {pred.title.lower()}" for name, (true, pred) in CROSS_MATRICES.items()},
}
GROUP_TABLES = {**{head.name: f"By {head.title.lower()}" for head in CLASS_HEADS}, AGE_GROUP: "By age bucket"}
# The aligned crops of some rows of an evaluation, in their order (None for a face that cannot be found).
FacesOf = Callable[[list[int]], list[np.ndarray | None]]
GALLERY_FACES = 24
SMALL_SET = 200  # faces: below it, the per-cell heatmap shows even cells of one face by default
GALLERY_COLUMNS = 6
GALLERY_IMAGE_PX = 140  # a column's width on a desktop; on a phone the columns stack and stay this small
AGE_ERRORS = "largest age errors"


def age_kind(metrics: dict) -> str:
    """``exact``, ``range`` or ``none``: the kind of age labels the report was scored on."""
    if "age_labels" in metrics:
        return metrics["age_labels"]
    return "range" if metrics["source"] in RANGE_SOURCES else "exact"


def headline(metrics: dict) -> None:
    """Faces found, two age figures and each class head's accuracy, then the RMSE, the unreadable images and the
    bootstrap intervals in one caption."""
    kind = age_kind(metrics)
    cols = st.columns(3 + len(CLASS_HEADS))
    cols[0].metric("Faces found", f"{metrics['faces_found']:.1%}", help="Images whose face the detector found.")
    if kind == "range":
        cols[1].metric(
            f"Age within range ± {AGE_RANGE_TOLERANCE} y",
            f"{metrics[RANGE_HIT_KEY]:.1%}",
            help="Share of faces whose predicted age lies inside the labelled range (e.g. 30-39) widened by "
            f"{AGE_RANGE_TOLERANCE} years.",
        )
        cols[2].metric(
            "Age inside the range",
            f"{metrics['age_in_range']:.1%}",
            help=f"Without the {AGE_RANGE_TOLERANCE}-year margin.",
        )
    elif kind == "exact":
        cols[1].metric("Age MAE", f"{metrics['age_mae']:.2f} years", help="Mean absolute error of the expected age.")
        cols[2].metric(
            "Age interval coverage",
            f"{metrics['age_interval_coverage']:.1%}",
            help=f"Share of faces whose true age lies in the predicted {AGE_INTERVAL_MASS:.0%} interval.",
        )
    else:
        cols[1].metric("Age", "—", help="No face has an age label: age is not scored.")
    for col, head in zip(cols[3:], CLASS_HEADS, strict=True):  # one per class head of the model
        value, title = metrics.get(f"{head.name}_accuracy"), f"{head.title} accuracy"
        scheme = f"{head.scheme}. " if head.scheme else ""
        if value is None:
            col.metric(title, "—", help=f"{scheme}No face has a {head.title.lower()} label here: not scored.")
        else:
            col.metric(title, f"{value:.1%}", help=scheme or None)
    notes = [f"Age RMSE {metrics['age_rmse']:.2f} years."] if kind == "exact" else []
    notes.append(f"Images that could not be used: {len(metrics.get('skipped', []))}.")
    intervals = metrics.get("confidence_intervals") or {}
    if intervals:
        shown = ", ".join(form.format(*intervals[k]) for k, form in INTERVAL_FORMATS.items() if k in intervals)
        notes.append(f"95% bootstrap intervals: {shown}.")
    st.caption(" ".join(notes))


def matrices(metrics: dict) -> list[str]:
    """The confusion matrices the report holds, in the page's order."""
    return [name for name in MATRIX_TITLES if name in metrics["confusion"]]


def confusions(metrics: dict, key: str) -> None:
    """One tab per confusion matrix, counts or row shares."""
    st.header("Confusion matrices")
    normalised = st.toggle("Row-normalised (share of each true class)", value=True, key="normalised")
    names = matrices(metrics)
    for tab, name in zip(st.tabs([MATRIX_TITLES[n] for n in names]), names, strict=True):
        with tab:
            matrix = metrics["confusion"][name]
            figure = figures.confusion_figure(
                matrix["labels"], matrix["counts"], normalised, MATRIX_TITLES[name], matrix.get("rows")
            )
            st.plotly_chart(figure, key=f"cm_{key}_{name}")
            if name in CROSS_MATRICES:
                true, pred = CROSS_MATRICES[name]
                st.caption(
                    f"Rows: the labelled {true.title.lower()} ({true.scheme or true.name}); columns: the model's "
                    f"{pred.title.lower()} ({pred.scheme or pred.name}). Each labelled class counts as right where the "
                    "prediction is its class in the other scheme."
                )


def groups(metrics: dict, key: str) -> None:
    """The per-cell heatmap (labelled classes × age bucket) of a chosen figure, and sortable per-group tables."""
    st.header("Where is the model weaker?")
    per_group = metrics["per_group"]
    kind = age_kind(metrics)
    tables = dict(GROUP_TABLES)
    if per_group.get(CELLS):
        age_figure = {"range": [RANGE_HIT_KEY], "exact": ["age_mae"]}.get(kind, [])
        heads = [f"{head.name}_accuracy" for head in CLASS_HEADS if f"{head.name}_accuracy" in metrics]
        choice = st.selectbox(
            "Figure", [*age_figure, *heads], format_func=lambda m: figures.GROUP_METRICS[m][0], key=f"fig_{key}"
        )
        default = 5 if metrics["n"] >= SMALL_SET else 1
        min_n = st.slider("Hide cells with fewer faces than", 1, 50, default, help="Small cells give noisy figures.")
        cells = per_group_table(per_group[CELLS])
        wide, narrow = views.wide_and_narrow(f"groups_{key}")
        wide.plotly_chart(figures.group_heatmap(cells, choice, min_n=min_n), key=f"heatmap_{key}")
        narrow.plotly_chart(figures.group_heatmap(cells, choice, min_n=min_n, narrow=True), key=f"heatmap_{key}_narrow")
        rows_by = [HEAD_BY_NAME[head].title.lower() for head in figures.row_heads(cells)]
        tables = {CELLS: " × ".join([*rows_by, "age bucket"]).capitalize()} | tables
    keys = [k for k in tables if per_group.get(k)]
    if not keys:
        return
    st.caption("Tables (click a column to sort):")
    for tab, table in zip(st.tabs([tables[k] for k in keys]), keys, strict=True):
        with tab:
            st.dataframe(
                per_group_table(per_group[table]), hide_index=True, column_config=GROUP_COLUMNS,
                key=f"table_{key}_{table}", width="stretch", placeholder="—",  # a figure a group has no label for
            )  # fmt: skip


def calibration(metrics: dict, key: str, command: str, temperatures: dict | None = None) -> None:
    """Reliability diagrams of the class heads and the age interval's coverage by age bucket; with the record of
    the model's temperatures (weights/calibration.json), a line on them."""
    st.header("Can its probabilities be trusted?")
    report = metrics.get("calibration")
    if report is None:
        st.info(f"This metrics file predates the calibration figures: `{command}` writes them.")
        return
    st.caption(
        "Faces grouped by how sure the model was of its answer: where the bars meet the dotted diagonal, an answer "
        "given with 90 % is right 90 % of the time. The expected calibration error is the average gap, weighted "
        "by the faces in each bin."
    )
    if temperatures:
        fitted = ", ".join(f"{head} {value:.2f}" for head, value in temperatures.get("temperatures", {}).items())
        st.caption(
            f"The probabilities shown everywhere are rescaled by one temperature per head ({fitted}), fitted on "
            f"{temperatures['fitted_on']}, never on a test face; the diagrams measure them with it. "
            "It changes no answer, only how sure each one is said to be (`python -m face2data calibrate`)."
        )
    heads = [head for head in CLASS_HEADS if head.name in report]
    for row in range(0, len(heads), RELIABILITY_PER_ROW):
        shown = heads[row : row + RELIABILITY_PER_ROW]
        for column, head in zip(st.columns(RELIABILITY_PER_ROW), shown, strict=False):
            column.plotly_chart(
                figures.reliability_figure(report[head.name], head.title), key=f"reliability_{key}_{head.name}"
            )
    if "age_interval" in report:
        st.plotly_chart(figures.interval_coverage_figure(report["age_interval"]), key=f"coverage_{key}")


def age_plots(predictions: pd.DataFrame | None, key: str, missing: str) -> None:
    """Predicted against true age, and the error by decade, for faces with exact ages."""
    st.header("Age: predicted vs true")
    if predictions is None:
        st.info(missing)
        return
    exact = predictions.dropna(subset=["age_true"]) if "age_true" in predictions else predictions.iloc[:0]
    if exact.empty:
        st.caption("No face has an exact age label.")
        return
    left, right = st.columns(2)
    left.plotly_chart(figures.age_scatter(exact), key=f"scatter_{key}")
    right.plotly_chart(figures.error_by_age(exact), key=f"error_by_age_{key}")


def _cells(rows: list[dict], metrics: dict) -> list[tuple[str, str, str, int]]:
    """Every mistaken cell of every matrix, most faces first: (matrix, true, predicted, faces)."""
    cells = []
    for name in matrices(metrics):
        counted: dict[tuple[str, str], int] = {}
        for row in rows:
            pair = gallery.cell_labels(row, name)
            if pair is not None and _mistaken(row, name, pair):
                counted[pair] = counted.get(pair, 0) + 1
        cells += [(name, true, pred, n) for (true, pred), n in counted.items()]
    return sorted(cells, key=lambda cell: -cell[3])


def _mistaken(row: dict, matrix: str, pair: tuple[str, str]) -> bool:
    """Whether a row's (true, predicted) cell of ``matrix`` is a mistake. In a matrix of two schemes the labelled
    class has no column of its own: the face's label in the predicted head's scheme decides."""
    if matrix not in CROSS_MATRICES:
        return pair[0] != pair[1]
    truth = _shown(row.get(f"{CROSS_MATRICES[matrix][1].name}_true"))
    return bool(truth) and truth != pair[1]


def _shown(value: object) -> str:
    """A label cell as text: empty for a missing one (None, "", or a CSV's NaN), whole numbers without ".0", the
    last age range (up to AGE_MAX) as "70+"."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text.replace(f"-{AGE_MAX}", "+") if text.endswith(f"-{AGE_MAX}") else text


def _labels(row: dict) -> list[str]:
    """A row's class labels, one per attribute: where it is labelled in two schemes, the finer one with the other
    in brackets only where that differs ('East Asian (Asian)', not 'Black (Black)')."""
    labels = []
    for attribute in dict.fromkeys(head.attribute for head in CLASS_HEADS):
        heads = sorted((h for h in CLASS_HEADS if h.attribute == attribute), key=lambda h: -len(h.classes))
        texts = list(dict.fromkeys(text for h in heads if (text := _shown(row.get(f"{h.name}_true")))))
        if texts:
            labels.append(texts[0] + (f" ({', '.join(texts[1:])})" if texts[1:] else ""))
    return labels


def _caption(row: dict) -> str:
    """What a gallery face was labelled and what the model said, for each class head the row has."""
    said = [f"{whole_years(float(row['age_pred']))} y ({row['age_low']}–{row['age_high']})"]
    for head in CLASS_HEADS:
        predicted = _shown(row.get(f"{head.name}_pred"))
        if predicted:
            column = PROBABILITY_COLUMNS[head.name][head.classes.index(predicted)]
            probability = _shown(row.get(column))
            said.append(f"{predicted} {whole_percent(float(probability))}%" if probability else predicted)
    ages = (_shown(row.get("age_true")), _shown(row.get("age_range_true")))
    labelled = [text for text in ages if text] + _labels(row)
    return f"{PurePosixPath(row['file']).name}  \nlabel: {', '.join(labelled)}  \nsaid: {', '.join(said)}"


@st.dialog("Explanation of this face", width="large")
def _explain(crop: np.ndarray, number: int, key: str) -> None:
    from face2data.ui import views

    face = SimpleNamespace(crop=crop, index=number)
    explanation = views.compute_regions(key, face, preview_key=f"gallery_{key}_{number}")
    if explanation is not None:
        views.region_panel(explanation, crop, key=f"gallery_{key}_{number}")


def error_gallery(rows: list[dict], faces_of: FacesOf | None, metrics: dict, key: str, missing: str = "") -> None:
    """Pick a mistaken cell of a confusion matrix (or the largest age errors) and see those faces, each with its
    label, the prediction and a button opening its explanation. ``faces_of(indices)`` gives the rows' aligned
    crops (None for one it cannot find); without it, ``missing`` says in one line why no face can be shown."""
    st.header("Which faces does it get wrong?")
    if faces_of is None:
        st.caption(missing)
        return
    cells = _cells(rows, metrics)
    options: list[tuple[str, str, str, int]] = cells
    if any(gallery.age_error(row) is not None for row in rows):
        options = [(AGE_ERRORS, "", "", min(GALLERY_FACES, len(rows))), *cells]
    if not options:
        st.caption("No mistakes to show.")
        return

    def name(option: tuple[str, str, str, int]) -> str:
        matrix, true, pred, n = option
        if matrix == AGE_ERRORS:
            return f"The {n} largest age errors"
        return f"{MATRIX_TITLES[matrix]}: labelled {true}, predicted {pred} ({n} face{'s' * (n != 1)})"

    matrix, true, pred, _ = st.selectbox("Faces of", options, format_func=name, key=f"gallery_{key}")
    if matrix == AGE_ERRORS:
        chosen = gallery.largest_age_errors(rows, GALLERY_FACES)
    else:
        chosen = gallery.cell_faces(rows, matrix, true, pred)
    shown = chosen[:GALLERY_FACES]
    if len(chosen) > len(shown):
        st.caption(f"The first {len(shown)} of {len(chosen)} faces.")
    columns = st.columns(GALLERY_COLUMNS)
    for place, (i, crop) in enumerate(zip(shown, faces_of(shown), strict=True)):
        with columns[place % GALLERY_COLUMNS]:
            if crop is None:
                st.caption(f"{_caption(rows[i])}  \n(its face is not in the crops cache)")
                continue
            st.image(crop, caption=_caption(rows[i]), width=GALLERY_IMAGE_PX)
            if st.button("Explain", key=f"explain_{key}_{i}", icon=":material/insights:"):
                _explain(crop, i, key)


def comparison(metrics: dict, key: str) -> None:
    """An uploaded metrics file of another model (``evaluate --model OTHER --json``) beside this one's figures."""
    from face2data.evaluation.compare import NotComparable, compare_reports, read_report

    with st.expander("Compare with another model on this test set"):
        st.caption(
            "Evaluate another model (a .keras or .tflite file) on the same test set with "
            "`python -m face2data evaluate --data PATH --model OTHER --json other.json` and upload other.json."
        )
        upload = st.file_uploader("Its metrics file (JSON)", type="json", key=f"compare_{key}")
        if upload is None:
            return
        try:
            rows = compare_reports(metrics, read_report(upload.getvalue()))
        except NotComparable as error:
            st.error(f"These figures cannot be compared: {error}.", icon=":material/block:")
            return
        other = upload.name
        table = pd.DataFrame(
            {
                "figure": row["figure"],
                "shipped": row["shipped"],
                other: row["other"],
                "difference": row["difference"],
                "unit": "%" if row["unit"] == "points" else row["unit"],
                "better": {"same": "—", "shipped": "shipped", "other": other}[row["better"]],
                "95% intervals": {None: "not in both files", True: "overlap", False: "apart"}[row["intervals_overlap"]],
            }
            for row in rows
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "shipped": st.column_config.NumberColumn(format="%.2f"),
                other: st.column_config.NumberColumn(format="%.2f"),
                "difference": st.column_config.NumberColumn(format="%+.2f"),
            },
        )
        st.caption(
            "Differences of shares are in percentage points. Where the two 95 % bootstrap intervals are apart, "
            "the difference is unlikely to be chance; where they overlap, it may be."
        )
