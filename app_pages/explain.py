"""Explain: what each facial region contributed to each prediction of one face, and the same over test faces."""

from __future__ import annotations

import streamlit as st

from face2data.explanation import GlobalMapsError
from face2data.explanation.region_global import RegionGlobalError
from face2data.model_loading import ModelFileError
from face2data.schema import CLASS_HEADS, HEAD_BY_NAME, HEADS
from face2data.ui import cache, figures, schemes, views
from face2data.ui.photo import SAMPLE_CAPTION, analyze, sample_bytes

st.title("Explain")
st.markdown(
    "How much each part of a face — eyes, brows, nose, mouth, cheeks, chin, hair, background — moved each "
    "prediction **up (red)** or **down (blue)**: the output for the face minus the output for the same face "
    "blurred is split fairly among the regions (Shapley values). Every face is aligned to one layout, so the "
    "regions sit in the same place on every face. This explains **the model**, not the person: it says what "
    "the network responded to, not why anyone looks the way they do."
)

schemes.picker()
PREDICTED = "predicted class"
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
    classes: dict[str, str] = {}
    with right:
        # A class to explain for each shown head of more than two classes (of two, one probability is the other's
        # complement): by default, the predicted one.
        for shown in schemes.shown_classes():
            if len(shown.classes) <= 2:
                continue
            predicted = face.label(shown.name)

            def target(option: str, predicted: str = predicted) -> str:
                return f"the predicted class ({predicted})" if option == PREDICTED else f"P({option})"

            choice = st.selectbox(
                f"{shown.title}: explain the probability of",
                [PREDICTED, *shown.classes],
                key=f"{shown.name}_class",
                format_func=target,
            )
            if choice is not None and choice != PREDICTED:
                classes[shown.name] = choice
        st.caption(
            "Age: the expected age, in years; every other head: the probability of its predicted class, or of the "
            "class chosen above, in percentage points. Computed once per face and kept for this session."
        )
    key = f"explain_{analysis.digest}_{face.index}"
    regions = views.compute_regions(analysis.digest, face, preview_key=key, classes=classes)
    if regions is not None:
        views.region_panel(regions, face.crop, key=key, classes=classes)
        views.pixel_maps_toggle(analysis.digest, face, key, classes=classes)

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
        "grouped by their true labels. Class heads: the probability of the face's labelled class."
    )
    head_col, group_col, measure_col = st.columns(3)
    in_report = [name for name in HEADS if name in report["heads"]]
    head = head_col.radio("Head", in_report, horizontal=True, key="global_head",
                          format_func=lambda name: HEAD_BY_NAME[name].title)  # fmt: skip
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
head_maps = [name for name in HEADS if name in global_maps.maps]
for col, name in zip(st.columns(len(head_maps) or 1), head_maps, strict=False):
    with col:
        title = f"{name} (n = {global_maps.counts[name]:,})"
        st.plotly_chart(
            figures.importance_figure(global_maps.maps[name], title, global_maps.unit(name)),
            key=f"global_{name}",
            config={"displayModeBar": False},
        )
for class_head in CLASS_HEADS:  # the class heads whose classes have maps of their own in the file
    names = {
        label: f"{class_head.name}:{label}"
        for label in class_head.classes
        if f"{class_head.name}:{label}" in global_maps.maps
    }
    if not names:
        continue
    st.markdown(f"**Per {class_head.title.lower()} class** (faces predicted as that class), on one scale")
    present = {label: name for label, name in names.items() if global_maps.counts.get(name, 0) > 0}
    if present:
        st.plotly_chart(
            figures.class_importance_figure(
                {label: global_maps.maps[name] for label, name in present.items()},
                {label: global_maps.counts[name] for label, name in present.items()},
                global_maps.unit(class_head.name),
            ),
            key=f"global_{class_head.name}_classes",
            config={"displayModeBar": False},
        )
    missing = [label for label in names if label not in present]
    if missing:
        st.caption(f"No test face was predicted as {', '.join(missing)}.")
st.caption(global_maps.method)
