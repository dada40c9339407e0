"""Evaluation: the held-out test sets (UTKFace's, FairFace's "in the wild" and All-Age-Faces'), from the shipped
metrics files."""

from __future__ import annotations

import streamlit as st

from face2data.evaluation.run import RANGE_SOURCES, TEST_SET_NAMES
from face2data.ui import cache, figures, views
from face2data.ui.artifacts import per_group_table

EVALUATE_COMMAND = "python -m face2data evaluate --data PATH --shipped"
HIT_SHARES = {
    "gender_accuracy": ("gender {:.1%}–{:.1%}", "Gender accuracy"),
    "ethnicity_accuracy": ("ethnicity {:.1%}–{:.1%}", "Ethnicity accuracy (5 classes)"),
}

st.title("Evaluation on held-out faces")
source = (
    st.segmented_control(
        "Test set",
        list(TEST_SET_NAMES),
        format_func=lambda s: TEST_SET_NAMES[s],
        default="fairface",
        key="test_set",
        help="UTKFace: the split of the training source held out from training. In the wild: FairFace's Flickr "
        "photos (many poses, lighting conditions and image qualities), a test split held out the same way. "
        "All-Age-Faces: mostly East Asian faces of every age from 2 to 80 with exact ages and gender (no "
        "ethnicity labels), held out the same way.",
    )
    or "fairface"
)
metrics = cache.test_metrics(source)
if metrics is None:
    st.info(f"This test set has not been evaluated yet. Run:\n\n`{EVALUATE_COMMAND}`")
    st.stop()

n = int(metrics["n"])
# Files written before both test sets existed lack these keys.
metrics.setdefault("test_set", TEST_SET_NAMES[source])
metrics.setdefault("source", source)
metrics.setdefault("faces_total", n)
metrics.setdefault("faces_found", 1.0)
st.markdown(
    f"**{n:,} test faces** of {metrics['test_set']} ({metrics['data']}), never seen in training or model "
    f"selection, each run through the same face detection and alignment as an uploaded photo; "
    f"a face was found in **{metrics['faces_found']:.1%}** of {metrics['faces_total']:,} images"
    + (", predictions averaged with the mirrored face." if metrics.get("flip_tta") else ".")
)
ranged = metrics["source"] in RANGE_SOURCES
has_ethnicity = "ethnicity_accuracy" in metrics
cols = st.columns(5)
cols[0].metric("Faces found", f"{metrics['faces_found']:.1%}", help="Images whose face the detector found.")
if ranged:
    cols[1].metric(
        "Age within range ± 5 y",
        f"{metrics['age_in_range_5']:.1%}",
        help="Share of faces whose predicted age lies inside the labelled range (e.g. 30-39) widened by 5 years.",
    )
    cols[2].metric("Age inside the range", f"{metrics['age_in_range']:.1%}", help="Without the 5-year margin.")
else:
    cols[1].metric("Age MAE", f"{metrics['age_mae']:.2f} years", help="Mean absolute error of the expected age.")
    cols[2].metric(
        "Age interval coverage",
        f"{metrics['age_interval_coverage']:.1%}",
        help="Share of test faces whose true age lies in the predicted interval.",
    )
cols[3].metric("Gender accuracy", f"{metrics['gender_accuracy']:.1%}")
if has_ethnicity:
    cols[4].metric("Ethnicity accuracy", f"{metrics['ethnicity_accuracy']:.1%}", help="Five classes.")
else:
    cols[4].metric("Ethnicity accuracy", "—", help="This test set has no ethnicity labels: not scored.")
intervals = metrics.get("confidence_intervals") or {}
formats = {"age_mae": "age MAE {:.2f}–{:.2f}", "age_in_range_5": "age within range ± 5 {:.1%}–{:.1%}"}
formats.update({k: form for k, (form, _) in HIT_SHARES.items()})
notes = [f"Age RMSE {metrics['age_rmse']:.2f} years."] if not ranged else []
notes.append(f"Images that could not be read: {len(metrics.get('skipped', []))}.")
if intervals:
    shown = ", ".join(form.format(*intervals[k]) for k, form in formats.items() if k in intervals)
    notes.append(f"95% bootstrap intervals: {shown}.")
st.caption(" ".join(notes))

st.header("Confusion matrices")
normalised = st.toggle("Row-normalised (share of each true class)", value=True, key="normalised")
confusion = metrics["confusion"]
tabs = [("gender", "Gender"), ("ethnicity", "Ethnicity"), ("age_bucket", "Age bucket")]
if ranged:
    tabs.append(("race_to_ethnicity", "FairFace race group → predicted ethnicity"))
tabs = [(name, title) for name, title in tabs if name in confusion]
for tab, (name, title) in zip(st.tabs([t for _, t in tabs]), tabs, strict=True):
    with tab:
        matrix = confusion[name]
        st.plotly_chart(
            figures.confusion_figure(matrix["labels"], matrix["counts"], normalised, title, matrix.get("rows")),
            key=f"cm_{source}_{name}",
        )
        if name == "race_to_ethnicity":
            st.caption(
                "Rows: FairFace's seven groups; columns: the model's five classes. East and Southeast Asian count "
                "as Asian, Middle Eastern and Latino_Hispanic as Others."
            )

st.header("Where is the model weaker?")
group = "race" if ranged else "ethnicity" if has_ethnicity else None
cells_key = "gender_age_bucket" if group is None else f"{group}_gender_age_bucket"
cells = per_group_table(metrics["per_group"][cells_key])
choices = ["age_in_range_5" if ranged else "age_mae", "gender_accuracy", *(["ethnicity_accuracy"] * has_ethnicity)]
choice = st.selectbox("Figure", choices, format_func=lambda m: figures.GROUP_METRICS[m][0], key=f"fig_{source}")
min_n = st.slider("Hide cells with fewer faces than", 1, 50, 5, help="Small cells give noisy figures.")
st.plotly_chart(figures.group_heatmap(cells, choice, min_n=min_n, group=group), key=f"groups_{source}")
st.caption("Tables (click a column to sort):")
tables = {
    cells_key: f"{group.capitalize()} × gender × age bucket" if group else "Gender × age bucket",
    "gender": "By gender",
    "ethnicity": "By ethnicity",
    "race": "By race group",
    "age_bucket": "By age bucket",
}
keys = [key for key in tables if key in metrics["per_group"]]
labels = [tables[key] for key in keys]
for tab, key in zip(st.tabs(labels), keys, strict=True):
    with tab:
        views.group_table(per_group_table(metrics["per_group"][key]), key=f"table_{source}_{key}")

st.header("Can its probabilities be trusted?")
calibration = metrics.get("calibration")
if calibration is None:
    st.info(f"This metrics file predates the calibration figures: `{EVALUATE_COMMAND}` writes them.")
else:
    st.caption(
        "Faces grouped by how sure the model was of its answer: where the bars meet the dotted diagonal, an answer "
        "given with 90 % is right 90 % of the time. The expected calibration error is the average gap, weighted "
        "by the faces in each bin."
    )
    heads = [(head, title) for head, title in (("gender", "Gender"), ("ethnicity", "Ethnicity")) if head in calibration]
    for column, (head, title) in zip(st.columns(len(heads)), heads, strict=True):
        column.plotly_chart(figures.reliability_figure(calibration[head], title), key=f"reliability_{source}_{head}")
    if "age_interval" in calibration:
        st.plotly_chart(figures.interval_coverage_figure(calibration["age_interval"]), key=f"coverage_{source}")

if not ranged:
    st.header("Age: predicted vs true")
    predictions = cache.test_predictions(source)
    if predictions is None:
        st.info(f"The predictions file is missing; `{EVALUATE_COMMAND}` writes it.")
    else:
        left, right = st.columns(2)
        left.plotly_chart(figures.age_scatter(predictions), key="scatter")
        right.plotly_chart(figures.error_by_age(predictions), key="error_by_age")
