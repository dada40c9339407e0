"""Batch: many photos or an archive of them at once; a table of every face, summary charts and a CSV."""

from __future__ import annotations

import streamlit as st

from face2data.limits import MAX_BATCH_BYTES, MAX_BATCH_FILES
from face2data.model_loading import ModelFileError
from face2data.schema import CLASS_HEADS
from face2data.ui import cache, figures, views
from face2data.ui.batch import (
    ages,
    digest_of_uploads,
    results_csv,
    results_table,
    score_uploads,
    summary_counts,
    upload_problem,
)
from face2data.ui.session import photo_progress

CHART = {"displayModeBar": False}


def _clear() -> None:
    st.session_state.pop("batch_result", None)


st.title("Batch: many photos at once")
st.caption(
    f"Upload up to **{MAX_BATCH_FILES} photos** — separately or as .zip, .tar or .tar.gz archives — and up to "
    f"**{MAX_BATCH_BYTES / 2**20:.0f} MB** in all. Photos and results stay in this app's memory, nowhere else. "
    "Bigger jobs: `python -m face2data batch` (see the README)."
)
uploads = views.many_uploads("Photos or archives of photos", "batch_upload")

# The result lives in the session, not in the widget: it stays across page changes until other uploads replace it.
result = st.session_state.get("batch_result")
if uploads and (result is None or result.digest != digest_of_uploads(uploads)):
    count, problem = upload_problem(uploads)
    if problem:
        st.error(problem, icon=":material/block:")
        st.stop()
    bar = st.progress(0.0, text=f"Scoring {count} photos…")
    try:
        result = score_uploads(uploads, cache.predictor, photo_progress(bar))
    except ModelFileError as error:
        st.error(f"The model could not be loaded: {error}", icon=":material/error:")
        st.stop()
    bar.empty()
    st.session_state["batch_result"] = result
if result is None:
    st.info("Upload photos, or a zip of them, to start.")
    st.stop()

st.button("Clear these results", icon=":material/close:", on_click=_clear)
columns = st.columns(5)
columns[0].metric("Photos", result.photos)
columns[1].metric("Faces", result.count("faces"))
columns[2].metric("Photos with faces", result.count("with_faces"))
columns[3].metric("Without a face", result.count("without_face"))
columns[4].metric("Unreadable", result.count("unreadable"))
if result.count("unreadable"):
    st.warning("Some files could not be read; the table says why for each.", icon=":material/broken_image:")

st.download_button(
    "Download CSV",
    results_csv(result),
    "face2data-batch.csv",
    "text/csv",
    icon=":material/download:",
    key="batch_csv",
    on_click="ignore",
    help="One row per face and one per file without a face, as `python -m face2data batch --out results.csv`",
)
st.dataframe(
    results_table(result),
    hide_index=True,
    width="stretch",
    placeholder="—",  # a file without a face has no age or classes (Streamlit would write "None")
    column_config={
        "thumbnail": st.column_config.ImageColumn("face", width="small"),
        "face": st.column_config.NumberColumn("#", format="%d"),
        "age": st.column_config.NumberColumn("age", format="%.0f"),
        **{f"P({head.name})": st.column_config.NumberColumn(format="%d%%") for head in CLASS_HEADS},
    },
    key="batch_table",
)
counts = summary_counts(result)
left, right = st.columns(2)
left.plotly_chart(figures.batch_age_histogram(ages(result)), key="batch_age", config=CHART)
right.plotly_chart(figures.batch_counts_figure(counts["faces per photo"], "Faces per photo", "photos"),
                   key="batch_faces_per_photo", config=CHART)  # fmt: skip
for i, head in enumerate(CLASS_HEADS):
    column = (left, right)[i % 2]
    column.plotly_chart(figures.batch_counts_figure(counts[head.name], head.title), key=f"batch_{head.name}",
                        config=CHART)  # fmt: skip
st.caption(f"Scored in {result.seconds:.2f} s on this server. Faces are numbered largest first in each photo.")
