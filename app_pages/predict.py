"""Predict (landing page): a photo from an upload, the webcam or the sample; every face boxed and predicted."""

from __future__ import annotations

from functools import partial
from typing import Final

import streamlit as st

from face2data.image_loading import SUPPORTED
from face2data.limits import MAX_FILE_BYTES, MIN_FACE_PX
from face2data.model_loading import ModelFileError
from face2data.ui import cache, schemes, views
from face2data.ui.photo import NARROW_COLUMN_PX, SAMPLE_CAPTION, analyze, digest_of, relabelled, sample_bytes
from face2data.ui.photo_figure import photo_figure

UPLOAD, WEBCAM = "Upload a photo", "Webcam snapshot"
SNAPSHOT_RESOLUTION: Final = "720p"  # the webcam snapshot's height asked of the camera (faces of a group need pixels)
# Where the kept results of another source are shown: the Live page's frozen frame is kept in the same place
KEPT_ELSEWHERE: Final = {
    "upload": ("the photo you uploaded", f"come back under “{UPLOAD}”"),
    "camera": ("your webcam snapshot", f"come back under “{WEBCAM}”"),
    "live": ("the frame you froze", "are on the Live page and on the Explain page"),
}
OPEN_FACES = 3  # up to this many faces, every card is open; more, and the user picks one card at a time


def _use(source: str) -> None:
    st.session_state["active_source"] = source
    if source in ("upload", "camera") and st.session_state.get(source) is None:  # the user removed the photo
        _clear()


def _clear() -> None:
    st.session_state.pop("analysis", None)
    st.session_state.pop("active_source", None)


def _open_clicked_face(key: str) -> None:
    points = st.session_state[key].selection.points
    if points:
        st.session_state["face_card"] = int(points[0]["point_index"])


def _open_picked_row() -> None:
    rows = st.session_state["faces_table"].selection.rows
    if rows:
        st.session_state["face_card"] = int(rows[0])


cache.warm_up_in_background()  # the model loads while the user picks a photo
schemes.picker()  # which head of an attribute with several the cards and labels show
st.title("Age, gender and ethnicity from a photo")
st.caption("Every face in the photo gets a box, a label and a card. Photos stay in this app's memory, nowhere else.")

mode = st.radio("Photo source", [UPLOAD, WEBCAM], horizontal=True, label_visibility="collapsed", key="mode")
if mode == UPLOAD:
    # No file-type filter: the uploader would refuse a format the loader reads (AVIF) with a bare "!"; every
    # file reaches the loader instead, which accepts it or says in words why not.
    picked = st.file_uploader(
        f"Photo ({SUPPORTED})",
        key="upload",
        on_change=_use,
        args=("upload",),
        max_upload_size=MAX_FILE_BYTES // 2**20,
    )
else:
    # Once a snapshot is analysed it is shown below, annotated: the camera folds away so it is not shown twice.
    taken = st.session_state.get("camera") is not None
    with st.expander("Webcam: take another snapshot" if taken else "Webcam", expanded=not taken):
        # 720p asked for whatever the widget's size: at its default a phone took 324x243 snapshots, too few pixels
        # for the faces of a group (4 of 7 found against 7 of 7 on a desktop)
        picked = st.camera_input(
            "Webcam snapshot", key="camera", on_change=_use, args=("camera",), resolution=SNAPSHOT_RESOLUTION
        )
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
read_possible = data is not None and st.session_state.get("read_possible") == digest_of(data)
if data is not None and (
    analysis is None or analysis.digest != digest_of(data) or analysis.read_possible != read_possible
):
    try:
        with st.status("Finding faces…", expanded=False) as status:
            bar = st.progress(0.0)

            def _progress(read: int, found: int) -> None:
                status.update(label=f"{found} face{'s' if found != 1 else ''} found; reading them…")
                bar.progress(read / found if found else 1.0, text=f"Read {read} of {found} faces")

            name = picked.name if source == "upload" and picked is not None else None
            analysis = analyze(data, cache.predictor, source, _progress, read_possible, schemes.shown(), name)
            found = len(analysis.faces)
            if analysis.ok:
                said = f"{found} face{'s' if found != 1 else ''} found and read" if found else "No face found"
                status.update(label=said, state="complete")
            else:
                status.update(label="The file could not be read", state="error")
    except ModelFileError as error:
        st.error(f"The model could not be loaded: {error}", icon=":material/error:")
        st.stop()
    st.session_state["analysis"] = analysis
    st.session_state.pop("face_card", None)  # a new photo opens on its first face

if analysis is None:  # not reached: there was a photo or a stored analysis
    st.stop()
if data is None and analysis.source != "sample":
    shown_here = "camera" if mode == WEBCAM else "upload"
    if analysis.source != shown_here:  # the kept results belong to another photo source
        other, where = KEPT_ELSEWHERE[analysis.source]
        start = "Take a snapshot" if mode == WEBCAM else "Upload a photo"
        st.info(f"{start} or try the sample. The results of {other} {where}.")
        st.stop()
    what = "photo you uploaded" if analysis.source == "upload" else "webcam snapshot"
    st.caption(f"Showing the {what} earlier (kept while you visit other pages); a new one replaces it.")
st.button("Clear this photo", icon=":material/close:", on_click=_clear)
if not analysis.ok:
    st.error(analysis.error, icon=":material/broken_image:")
    st.stop()
relabelled_analysis = relabelled(analysis, schemes.shown())  # the labels follow the heads chosen in the sidebar
if relabelled_analysis is not analysis:
    st.session_state["analysis"] = analysis = relabelled_analysis
if analysis.photo is None or analysis.narrow_photo is None:  # not reached: a read photo always has its shown copies
    st.stop()

# Two drawings of the photo, one shown by screen width: on a phone, labels drawn for a desktop column would be a
# few pixels high, so the narrow one is drawn for a phone's column, its labels sized for it.
PHOTO_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "toImage"]}
wide, narrow_column = views.wide_and_narrow("photo")
with wide:
    st.plotly_chart(photo_figure(analysis.photo, analysis.faces, analysis.scale), key="photo_plot",
                    on_select=partial(_open_clicked_face, "photo_plot"), selection_mode="points", width="content",
                    config=PHOTO_CONFIG)  # fmt: skip
    hint = "Hover over a face to read it, click it to open its card; drag to zoom in, double-click to zoom out."
    st.caption(f"{SAMPLE_CAPTION} {hint}" if analysis.source == "sample" else hint)
with narrow_column:
    narrow = photo_figure(analysis.narrow_photo, analysis.faces, analysis.narrow_scale, column_px=NARROW_COLUMN_PX)
    st.plotly_chart(narrow, key="photo_plot_narrow", on_select=partial(_open_clicked_face, "photo_plot_narrow"),
                    selection_mode="points", width="stretch",
                    config=PHOTO_CONFIG | {"displayModeBar": False})  # fmt: skip
    hint = "Tap a face to open its card; pinch or spread two fingers to zoom."
    st.caption(f"{SAMPLE_CAPTION} {hint}" if analysis.source == "sample" else hint)
if analysis.possible:
    n = len(analysis.possible)
    st.info(
        f"{n} possible face{'s' if n > 1 else ''} (faint corners on the photo): the face detector was not sure "
        f"{'these are faces' if n > 1 else 'this is a face'}, so {'they were' if n > 1 else 'it was'} not read "
        "and {} left out of the table (the downloads list {} as a possible face, without attributes).".format(
            "are" if n > 1 else "is", "them" if n > 1 else "it"
        ),
        icon=":material/help:",
    )
    if st.button(f"Read {'them' if n > 1 else 'it'} anyway", key="read_possible_button"):
        st.session_state["read_possible"] = analysis.digest
        st.rerun()
if not analysis.faces:
    if not analysis.possible:
        st.warning(
            "No face found in this photo. Faces should be upright, roughly frontal, well lit and at least "
            f"{MIN_FACE_PX} pixels wide.",
            icon=":material/face_retouching_off:",
        )
    st.stop()

st.subheader(f"{len(analysis.faces)} face{'s' if len(analysis.faces) != 1 else ''} found")
st.caption("The numbers match the labels on the photo; the largest face is 1. Pick a row to open its card.")
views.faces_table(analysis.faces, on_select=_open_picked_row)
views.downloads(analysis)

if len(analysis.faces) <= OPEN_FACES:
    for face in analysis.faces:
        with st.expander(views.face_title(face), expanded=True, icon=":material/face:"):
            views.face_card(face, key=f"face{face.index}")
            views.shap_section(analysis, face)
else:
    # A crowd: one card at a time, chosen here, in the table or on the photo.
    if st.session_state.get("face_card", 0) >= len(analysis.faces):
        st.session_state.pop("face_card")
    faces = analysis.faces
    index = st.selectbox(
        "Face details", list(range(len(faces))), format_func=lambda i: views.face_title(faces[i]),
        key="face_card", help="Or click a face on the photo or a row of the table.",
    )  # fmt: skip
    face = faces[index or 0]
    with st.container(border=True):
        views.face_card(face, key=f"face{face.index}")
        views.shap_section(analysis, face)
views.explain_ahead(analysis)  # once the cards are out: its first face, while they are read (Explain has it at once)
