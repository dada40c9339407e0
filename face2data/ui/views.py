"""Streamlit building blocks shared by the Predict and Explain pages: the face card and the SHAP panel."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from face2data.ui import figures

GROUP_COLUMNS = {
    "group": st.column_config.TextColumn("group"),
    "n": st.column_config.NumberColumn("faces", format="%d"),
    "age_mae": st.column_config.NumberColumn("age MAE (years)", format="%.2f"),
    "gender_accuracy": st.column_config.NumberColumn("gender accuracy %", format="%.1f"),
    "ethnicity_accuracy": st.column_config.NumberColumn("ethnicity accuracy %", format="%.1f"),
}


def group_table(table, key: str) -> None:
    """A sortable per-group table of test-set figures (accuracies in percent)."""
    st.dataframe(table, hide_index=True, column_config=GROUP_COLUMNS, key=key, width="stretch")


def face_title(face) -> str:
    """'Face 2: 34 years, female, Asian' — the label of a face in cards and pickers."""
    return f"Face {face.index + 1}: {face.age:.0f} years, {face.gender}, {face.ethnicity}"


def faces_table(faces: list, on_select: Callable[[], None]) -> None:
    """One line per face: the numbers of the boxes on the photo with what was predicted; a row can be picked."""
    rows = [
        {
            "face": face.index + 1,
            "age": f"{face.age:.0f} ({face.age_low:.0f}–{face.age_high:.0f})",
            "gender": f"{face.gender} {face.gender_probability:.0%}",
            "ethnicity": f"{face.ethnicity} {face.ethnicity_probabilities[face.ethnicity]:.0%}",
            "notes": len(face.quality_notes),
        }
        for face in faces
    ]
    st.dataframe(
        rows, hide_index=True, width="stretch", key="faces_table", on_select=on_select, selection_mode="single-row"
    )


def downloads(analysis) -> None:
    """Buttons to take the results away: CSV, JSON (the CLI's ``predict --json`` form) and the annotated photo."""
    from face2data.ui.photo import annotated_png, results_csv, results_json

    with st.container(horizontal=True):
        st.download_button("CSV", results_csv(analysis), "face2data-results.csv", "text/csv",
                           icon=":material/download:", key="download_csv", help="One row per face")  # fmt: skip
        st.download_button("JSON", results_json(analysis), "face2data-results.json", "application/json",
                           icon=":material/download:", key="download_json",
                           help="As `python -m face2data predict --json`")  # fmt: skip
        st.download_button("Annotated photo (PNG)", annotated_png(analysis), "face2data-photo.png", "image/png",
                           icon=":material/download:", key="download_png",
                           help="The photo with its boxes and labels")  # fmt: skip


def face_card(face, key: str) -> None:
    """One face: its aligned crop, age with interval and distribution, gender, ethnicity and quality notes."""
    crop_col, age_col, class_col = st.columns([1, 2, 2])
    with crop_col:
        st.image(face.crop, caption=f"Face {face.index + 1} (aligned)", width="stretch")
        st.caption(f"detector confidence {face.score:.0%}")
    with age_col:
        st.metric(
            "Predicted age", f"{face.age:.0f} years", help="The expected value of the predicted age distribution."
        )
        st.markdown(f"Likely between **{face.age_low:.0f}** and **{face.age_high:.0f}** (80% of the distribution)")
        st.plotly_chart(
            figures.age_distribution_figure(face.age_probabilities, face.age, face.age_low, face.age_high),
            key=f"{key}_age",
            config={"displayModeBar": False},
        )
    with class_col:
        st.metric(
            "Gender", face.gender, f"{face.gender_probability:.0%} probability", delta_color="off", delta_arrow="off"
        )
        st.markdown(f"Ethnicity: **{face.ethnicity}**")
        st.plotly_chart(
            figures.ethnicity_figure(face.ethnicity_probabilities), key=f"{key}_eth", config={"displayModeBar": False}
        )
    for note in face.quality_notes:
        st.warning(note, icon=":material/warning:")


HEAD_TITLES = {"age": "Age", "gender": "Gender", "ethnicity": "Ethnicity"}
# Explanations kept per session (a face's maps are ~300 kB); the oldest go first.
MAX_EXPLANATIONS = 24
SHAP_SPINNER = "Computing SHAP maps for this face (a few seconds on a laptop CPU)…"


def _explanations() -> dict:
    return st.session_state.setdefault("explanations", {})


def cached_explanation(digest: str, face):
    """This face's explanation if it was computed in this session, else None."""
    return _explanations().get((digest, face.index))


def compute_explanation(digest: str, face):
    """Compute (with a spinner) and keep this face's explanation in the session; returns it, or None on failure."""
    from face2data.ui import cache

    store = _explanations()
    key = (digest, face.index)
    if key not in store:
        try:
            with st.spinner(SHAP_SPINNER):
                store[key] = cache.explain(face.crop)
        except ValueError as error:
            st.error(f"This face cannot be explained: {error}")
            return None
        while len(store) > MAX_EXPLANATIONS:
            store.pop(next(iter(store)))
    return store[key]


def _format(value: float, unit: str) -> str:
    return f"{value:.1f} years" if unit == "years" else f"{value:.0%}"


def shap_panel(explanation, crop, key: str, ethnicity_class: str | None = None) -> None:
    """The three heads' SHAP overlays side by side, each with its colour bar, base value and output."""
    from face2data.explanation import overlay, plotly_colorscale

    if ethnicity_class is not None:
        explanation = explanation.retarget(ethnicity_class=ethnicity_class)
    colours = plotly_colorscale()
    for col, head in zip(st.columns(3), ("age", "gender", "ethnicity"), strict=True):
        part = explanation[head]
        with col:
            st.markdown(f"**{HEAD_TITLES[head]}**: {part.target}")
            figure = figures.shap_figure(overlay(crop, part.values), part.values, colours, part.map_unit)
            st.plotly_chart(figure, key=f"{key}_{head}", config={"displayModeBar": False})
            st.caption(
                f"blurred face (base value) {_format(part.base_value, part.unit)} → this face "
                f"{_format(part.output_value, part.unit)}"
            )
    st.caption(
        f"Red regions pushed the output up, blue ones down; grey had little effect. {explanation.method} "
        f"Computed in {explanation.seconds:.0f} s."
    )


def shap_section(analysis, face) -> None:
    """On a face card: a button that computes the face's SHAP maps and then shows them in place."""
    explanation = cached_explanation(analysis.digest, face)
    key = f"shap_{analysis.digest}_{face.index}"
    if explanation is None:
        slot = st.empty()
        help_text = "Which regions of the face pushed each prediction up or down (computed on demand)."
        if not slot.button("Explain with SHAP", key=key, icon=":material/insights:", help=help_text):
            return
        slot.empty()
        explanation = compute_explanation(analysis.digest, face)
        if explanation is None:
            return
    with st.container(border=True):
        st.markdown("**SHAP explanation**")
        shap_panel(explanation, face.crop, key=key)
