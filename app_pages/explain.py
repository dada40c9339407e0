"""Explain: what each facial region contributed to one face's three predictions, and the same over test faces."""

from __future__ import annotations

import streamlit as st

from face2data.explanation import GlobalMapsError
from face2data.explanation.region_global import RegionGlobalError
from face2data.model_loading import ModelFileError
from face2data.schema import ETHNICITIES
from face2data.ui import cache, figures, views
from face2data.ui.photo import SAMPLE_CAPTION, analyze, sample_bytes

st.title("Explain")
st.markdown(
    "How much each part of a face — eyes, brows, nose, mouth, cheeks, chin, hair, background — moved each "
    "prediction **up (red)** or **down (blue)**: the output for the face minus the output for the same face "
    "blurred is split fairly among the regions (Shapley values). Every face is aligned to one layout, so the "
    "regions sit in the same place on every face. This explains **the model**, not the person: it says what "
    "the network responded to, not why anyone looks the way they do."
)

st.header("One face")
analysis = st.session_state.get("analysis")
faces = analysis.faces if analysis is not None and analysis.ok else []
if not faces:
    st.info("No face from the Predict page yet: predict a photo there, or explain the sample here.")
    if st.button("Explain the sample", icon=":material/image:"):
        try:
            with st.spinner("Finding the face…"):
                st.session_state["analysis"] = analyze(sample_bytes(), cache.predictor, "sample")
        except ModelFileError as error:
            st.error(f"The model could not be loaded: {error}", icon=":material/error:")
            st.stop()
        st.session_state["active_source"] = "sample"
        st.rerun()

if analysis is not None and faces:
    number = st.selectbox(
        "Face",
        list(range(len(faces))),
        format_func=lambda i: views.face_title(faces[i]),
        key=f"face_of_{analysis.digest}",
    )
    face = faces[number or 0]
    left, right = st.columns([1, 3])
    with left:
        st.image(face.crop, caption=views.face_title(face), width="stretch")
        if analysis.source == "sample":
            st.caption(SAMPLE_CAPTION)
    with right:
        predicted = face.label("ethnicity")
        choice = st.selectbox(
            "Ethnicity: explain the probability of",
            ["predicted class", *ETHNICITIES],
            key="ethnicity_class",
            format_func=lambda c: f"the predicted class ({predicted})" if c == "predicted class" else f"P({c})",
        )
        st.caption(
            "Age: the expected age, in years; gender: the probability of the predicted gender; ethnicity: the "
            "probability of the chosen class (both in percentage points). Computed once per face and kept for "
            "this session."
        )
    key = f"explain_{analysis.digest}_{face.index}"
    ethnicity_class = None if choice == "predicted class" else choice
    regions = views.compute_regions(analysis.digest, face, preview_key=key, ethnicity_class=ethnicity_class)
    if regions is not None:
        views.region_panel(regions, face.crop, key=key, ethnicity_class=ethnicity_class)
        views.pixel_maps_toggle(analysis.digest, face, key, ethnicity_class=ethnicity_class)

st.header("Globally: which regions matter most")
try:
    report = cache.region_global()
except RegionGlobalError as error:
    st.info(f"The global region values have not been computed yet ({error}).")
    report = None
if report is not None:
    sources = ", ".join(f"{n:,} {name}" for name, n in report["sources"].items())
    st.markdown(
        f"Region values of **{report['n_faces']:,} test faces** ({sources}; model {report['model'] or '?'}), "
        "grouped by their true labels. Gender and ethnicity: the probability of the face's labelled class."
    )
    head_col, group_col, measure_col = st.columns(3)
    head = head_col.radio("Head", ["age", "gender", "ethnicity"], horizontal=True, key="global_head")
    grouping = group_col.selectbox("Faces", list(views.GLOBAL_GROUPINGS), key="global_grouping")
    signed = measure_col.radio(
        "Measure", ["how much (mean |value|)", "which way (mean signed value)"], key="global_measure"
    ).startswith("which")
    st.plotly_chart(
        figures.region_global_figure(report, head or "age", views.GLOBAL_GROUPINGS[grouping or "all"], signed),
        key="global_regions",
        config={"displayModeBar": False},
    )
    st.caption(report["method"])

st.subheader("Per pixel: mean |SHAP| maps")
try:
    global_maps = cache.global_maps()
except GlobalMapsError as error:
    st.info(f"The global maps have not been computed yet ({error}).")
    st.stop()
st.markdown(
    f"Mean absolute SHAP value per pixel over **{global_maps.n_faces:,} test faces** "
    f"(model {global_maps.model or 'face2data.keras'}): bright (yellow) regions changed the output most, "
    "in either direction."
)
for col, name in zip(st.columns(3), ("age", "gender", "ethnicity"), strict=True):
    with col:
        title = f"{name} (n = {global_maps.counts[name]:,})"
        st.plotly_chart(
            figures.importance_figure(global_maps.maps[name], title, global_maps.unit(name)),
            key=f"global_{name}",
            config={"displayModeBar": False},
        )
st.markdown("**Per ethnicity class** (faces predicted as that class), on one scale")
present = {e: f"ethnicity:{e}" for e in ETHNICITIES if global_maps.counts.get(f"ethnicity:{e}", 0) > 0}
if present:
    st.plotly_chart(
        figures.class_importance_figure(
            {e: global_maps.maps[name] for e, name in present.items()},
            {e: global_maps.counts[name] for e, name in present.items()},
            global_maps.unit("ethnicity"),
        ),
        key="global_classes",
        config={"displayModeBar": False},
    )
missing = [e for e in ETHNICITIES if e not in present]
if missing:
    st.caption(f"No test face was predicted as {', '.join(missing)}.")
st.caption(global_maps.method)
