"""Predict (landing page): a photo from an upload, the webcam or the sample; every face boxed and predicted."""

from __future__ import annotations

import streamlit as st

from face2data.limits import MAX_FILE_BYTES, MIN_FACE_PX
from face2data.model_loading import ModelFileError
from face2data.ui import cache, views
from face2data.ui.photo import SAMPLE_CAPTION, analyze, digest_of, sample_bytes

UPLOAD, WEBCAM = "Upload a photo", "Webcam snapshot"
OPEN_FACES = 3
# A crowd photo can hold 150 faces: cards (charts, SHAP) for the largest ones, the table lists every face.
MAX_FACE_CARDS = 30


def _use(source: str) -> None:
    st.session_state["active_source"] = source
    if source in ("upload", "camera") and st.session_state.get(source) is None:  # the user removed the photo
        _clear()


def _clear() -> None:
    st.session_state.pop("analysis", None)
    st.session_state.pop("active_source", None)


cache.warm_up_in_background()  # the model loads while the user picks a photo
st.title("Age, gender and ethnicity from a photo")
st.caption("Every face in the photo gets a numbered box and a card. Photos stay in this app's memory, nowhere else.")

mode = st.radio("Photo source", [UPLOAD, WEBCAM], horizontal=True, label_visibility="collapsed", key="mode")
if mode == UPLOAD:
    # No file-type filter: the uploader would refuse a format the loader reads (AVIF) with a bare "!"; every
    # file reaches the loader instead, which accepts it or says in words why not.
    picked = st.file_uploader(
        "Photo (JPEG, PNG, WebP, AVIF, BMP, GIF, TIFF …)",
        key="upload",
        on_change=_use,
        args=("upload",),
        max_upload_size=MAX_FILE_BYTES // 2**20,
    )
else:
    picked = st.camera_input("Webcam snapshot", key="camera", on_change=_use, args=("camera",))
if st.button("Try a sample", icon=":material/image:"):
    _use("sample")

active = st.session_state.get("active_source")
data: bytes | None = None
source = "upload"
if active == "sample":
    data, source = sample_bytes(), "sample"
elif picked is not None:
    data, source = picked.getvalue(), "camera" if mode == WEBCAM else "upload"

# The photo and its analysis live in the session, not in a widget: they stay across page changes and source
# switches until another photo replaces them or the user clears them.
analysis = st.session_state.get("analysis")
if data is None and analysis is None:
    st.info("Upload a photo, take a webcam snapshot or try the sample to start.")
    st.stop()
if data is not None and (analysis is None or analysis.digest != digest_of(data)):
    try:
        with st.spinner("Finding and reading faces…"):
            analysis = analyze(data, cache.predictor, source)
    except ModelFileError as error:
        st.error(f"The model could not be loaded: {error}", icon=":material/error:")
        st.stop()
    st.session_state["analysis"] = analysis

if analysis is None:  # not reached: there was a photo or a stored analysis
    st.stop()
st.button("Clear this photo", icon=":material/close:", on_click=_clear)
if not analysis.ok:
    st.error(analysis.error, icon=":material/broken_image:")
    st.stop()

photo_col, summary_col = st.columns([3, 2])
if analysis.photo is not None:
    photo_col.image(analysis.photo, width="stretch", caption=SAMPLE_CAPTION if analysis.source == "sample" else None)
with summary_col:
    if not analysis.faces:
        st.warning(
            "No face found in this photo. Faces should be upright, roughly frontal, well lit and at least "
            f"{MIN_FACE_PX} pixels wide.",
            icon=":material/face_retouching_off:",
        )
        st.stop()
    st.subheader(f"{len(analysis.faces)} face{'s' if len(analysis.faces) != 1 else ''} found")
    views.faces_table(analysis.faces)
    views.downloads(analysis)
    st.caption("Numbers match the boxes on the photo; the largest face is 1. Details and SHAP maps below.")

# The first faces open, the others one click away: a group photo stays readable.
if len(analysis.faces) > MAX_FACE_CARDS:
    st.caption(f"Details below for the {MAX_FACE_CARDS} largest faces; the table above lists all of them.")
for face in analysis.faces[:MAX_FACE_CARDS]:
    with st.expander(views.face_title(face), expanded=face.index < OPEN_FACES, icon=":material/face:"):
        views.face_card(face, key=f"face{face.index}")
        views.shap_section(analysis, face)
