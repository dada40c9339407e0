"""Evaluation: the held-out test set, from weights/test_metrics.json and weights/test_predictions.csv."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from face2data.ui import cache, figures, views
from face2data.ui.artifacts import per_group_table

EVALUATE_COMMAND = (
    "python -m face2data evaluate --data PATH --split test "
    "--json weights/test_metrics.json --predictions weights/test_predictions.csv"
)

st.title("Evaluation on the test set")
metrics = cache.test_metrics()
if metrics is None:
    st.info(f"The model has not been evaluated yet. Run:\n\n`{EVALUATE_COMMAND}`")
    st.stop()

n = int(metrics["n"])
st.markdown(
    f"**{n:,} test faces** ({metrics.get('split', 'test')} split of {Path(metrics.get('data', 'UTKFace')).name}), "
    "never seen in training or model selection"
    + (", predictions averaged with the mirrored face." if metrics.get("flip_tta") else ".")
)
cols = st.columns(5)
cols[0].metric("Test faces", f"{n:,}")
cols[1].metric("Age MAE", f"{metrics['age_mae']:.2f} years", help="Mean absolute error of the expected age.")
cols[2].metric("Gender accuracy", f"{metrics['gender_accuracy']:.1%}")
cols[3].metric("Ethnicity accuracy", f"{metrics['ethnicity_accuracy']:.1%}")
cols[4].metric(
    "Age interval coverage",
    f"{metrics['age_interval_coverage']:.1%}",
    help="Share of test faces whose true age lies in the predicted interval.",
)
notes = [
    f"Age RMSE {metrics['age_rmse']:.2f} years.",
    f"Images that could not be read: {len(metrics.get('skipped', []))}.",
]
intervals = metrics.get("confidence_intervals") or {}
formats = {"age_mae": "age MAE {:.2f}–{:.2f}", "gender_accuracy": "gender {:.1%}–{:.1%}",
           "ethnicity_accuracy": "ethnicity {:.1%}–{:.1%}"}  # fmt: skip
if intervals:
    shown = ", ".join(form.format(*intervals[k]) for k, form in formats.items() if k in intervals)
    notes.append(f"95% bootstrap intervals: {shown}.")
st.caption(" ".join(notes))

st.header("Confusion matrices")
normalised = st.toggle("Row-normalised (share of each true class)", value=True, key="normalised")
confusion = metrics["confusion"]
for tab, (name, title) in zip(
    st.tabs(["Gender", "Ethnicity", "Age bucket"]),
    (("gender", "Gender"), ("ethnicity", "Ethnicity"), ("age_bucket", "Age bucket")),
    strict=True,
):
    with tab:
        matrix = confusion[name]
        st.plotly_chart(
            figures.confusion_figure(matrix["labels"], matrix["counts"], normalised, title), key=f"cm_{name}"
        )

st.header("Where is the model weaker?")
table = per_group_table(metrics["per_group"]["ethnicity_gender_age_bucket"])
choice = st.selectbox("Figure", list(figures.GROUP_METRICS), format_func=lambda m: figures.GROUP_METRICS[m][0])
min_n = st.slider("Hide cells with fewer faces than", 1, 50, 5, help="Small cells give noisy figures.")
st.plotly_chart(figures.group_heatmap(table, choice, min_n=min_n), key="groups")
st.caption("Tables (click a column to sort):")
for tab, key in zip(
    st.tabs(["Ethnicity × gender × age bucket", "By gender", "By ethnicity", "By age bucket"]),
    ("ethnicity_gender_age_bucket", "gender", "ethnicity", "age_bucket"),
    strict=True,
):
    with tab:
        views.group_table(per_group_table(metrics["per_group"][key]), key=f"table_{key}")

st.header("Age: predicted vs true")
predictions = cache.test_predictions()
if predictions is None:
    st.info(f"weights/test_predictions.csv is missing; `{EVALUATE_COMMAND}` writes it.")
else:
    left, right = st.columns(2)
    left.plotly_chart(figures.age_scatter(predictions), key="scatter")
    right.plotly_chart(figures.error_by_age(predictions), key="error_by_age")
