"""Streamlit building blocks shared by the Predict and Explain pages: the face card and the SHAP panel."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import streamlit as st

from face2data.results import labels_of, whole_percent, word_label
from face2data.schema import AGE_BUCKETS, AGE_INTERVAL_MASS, CLASS_HEADS, HEAD_BY_NAME, INPUT_SIZE
from face2data.ui import figures, schemes
from face2data.ui.session import stop_if_tab_closed, tab_checker, tab_is_open

NARROW_SCREEN_PX = 640  # up to this screen width a page shows what it drew for a phone's column


def wide_and_narrow(key: str):
    """Two containers, ``<key>_wide`` shown on screens wider than NARROW_SCREEN_PX and ``<key>_narrow`` on
    narrower ones (a CSS media query: the browser picks, the server draws both)."""
    st.html(
        f"<style>@media (max-width: {NARROW_SCREEN_PX}px) {{ .st-key-{key}_wide {{ display: none; }} }}"
        f"@media (min-width: {NARROW_SCREEN_PX + 1}px) {{ .st-key-{key}_narrow {{ display: none; }} }}</style>"
    )
    return st.container(key=f"{key}_wide"), st.container(key=f"{key}_narrow")


def many_uploads(label: str, key: str) -> list[tuple[str, bytes]]:
    """A multi-file uploader with the Batch page's size limit; its files as ``(name, bytes)``, in memory."""
    from face2data.limits import MAX_BATCH_BYTES

    picked = st.file_uploader(label, accept_multiple_files=True, key=key, max_upload_size=MAX_BATCH_BYTES // 2**20)
    return [(file.name, file.getvalue()) for file in picked or []]


def face_title(face) -> str:
    """'Face 2: 34 years, female, Asian' — the label of a face in cards and pickers (the heads this session shows)."""
    return f"Face {face.index + 1}: {word_label(face.age, labels_of(face, schemes.shown()))}"


def faces_table(faces: list, on_select: Callable[[], None]) -> None:
    """One line per face: the numbers of the boxes on the photo with what was predicted; a row can be picked."""
    shown = schemes.shown_classes()
    rows = [
        {
            "face": face.index + 1,
            "age": f"{face.age_years} ({face.age_low:.0f}–{face.age_high:.0f})",
            **{
                head.title.lower(): f"{face.label(head.name)} {whole_percent(face.probability(head.name))}%"
                for head in shown
            },
            "notes": "; ".join(face.quality_notes),
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
                           icon=":material/download:", key="download_csv", on_click="ignore",
                           help="One row per face")  # fmt: skip
        st.download_button("JSON", results_json(analysis), "face2data-results.json", "application/json",
                           icon=":material/download:", key="download_json", on_click="ignore",
                           help="As `python -m face2data predict --json`")  # fmt: skip
        st.download_button("Annotated photo (PNG)", annotated_png(analysis), "face2data-photo.png", "image/png",
                           icon=":material/download:", key="download_png", on_click="ignore",
                           help="The photo with its boxes and labels")  # fmt: skip


def face_card(face, key: str) -> None:
    """One face: its aligned crop, age with interval and distribution, each shown class head, quality notes."""
    crop_col, age_col, class_col = st.columns([1, 2, 2])
    with crop_col:
        st.image(face.crop, caption=f"Face {face.index + 1} (aligned)", width="stretch")
        st.caption(f"detector confidence {face.score:.0%}")
    with age_col:
        st.metric(
            "Predicted age", f"{face.age_years} years", help="The expected value of the predicted age distribution."
        )
        st.markdown(
            f"Likely between **{face.age_low:.0f}** and **{face.age_high:.0f}** "
            f"({AGE_INTERVAL_MASS:.0%} of the distribution)"
        )
        st.plotly_chart(
            figures.age_distribution_figure(face.age_probabilities, face.age, face.age_low, face.age_high),
            key=f"{key}_age",
            config={"displayModeBar": False},
        )
    with class_col:
        for head in schemes.shown_classes():  # a two-class head reads best as one number, a longer one as bars
            label, probability = face.label(head.name), face.probability(head.name)
            if len(head.classes) == 2:
                chance = f"{whole_percent(probability)}% probability"
                st.metric(head.title, label, chance, delta_color="off", delta_arrow="off")
                continue
            st.markdown(f"{head.title}: **{label}**")
            st.plotly_chart(
                figures.class_probability_figure(face.class_probabilities(head.name)),
                key=f"{key}_{head.name}",
                config={"displayModeBar": False},
            )
    for note in face.quality_notes:
        st.warning(note, icon=":material/warning:")


# The global region view's ways of grouping test faces (by true label): all, by each class head's classes, by age.
GLOBAL_GROUPINGS = {
    "all": ["all"],
    **{f"by {head.title.lower()}": [f"{head.name}:{label}" for label in head.classes] for head in CLASS_HEADS},
    "by age range": [f"age:{b}" for b in AGE_BUCKETS],
}
Classes = Mapping[str, str]  # the class to explain per class head, by head name (the others: the predicted one)
# Explanations kept per session (a face's maps are ~300 kB); the oldest go first.
MAX_EXPLANATIONS = 24
SHAP_PROGRESS = "Computing per-pixel SHAP maps: {evals:,} masked faces, each with its mirror image…"


def _explanations() -> dict:
    return st.session_state.setdefault("explanations", {})


def compute_explanation(digest: str, face):
    """Compute (with a progress bar) and keep this face's explanation in the session; returns it, or None on failure."""
    from face2data.explanation import DEFAULT_SETTINGS
    from face2data.ui import cache

    message = SHAP_PROGRESS.format(evals=DEFAULT_SETTINGS.max_evals)
    return _kept(_explanations(), digest, face, message, cache.explain)


def _kept(store: dict, digest: str, face, message: str, explain: Callable):
    """``store``'s explanation of this face, computed with a progress bar the first time; None when it cannot be."""
    key = (digest, face.index)
    if key not in store:
        bar = st.progress(0.0, text=message)

        def progress(done: float) -> None:
            stop_if_tab_closed()
            bar.progress(done, text=message)

        try:
            _remember(store, key, explain(face.crop, progress=progress))
        except ValueError as error:
            st.error(f"This face cannot be explained: {error}")
            return None
        finally:
            bar.empty()
    return store[key]


def _remember(store: dict, key: tuple[str, int], explanation) -> None:
    store[key] = explanation
    while len(store) > MAX_EXPLANATIONS:  # the oldest go first
        store.pop(next(iter(store)))


def _format(value: float, unit: str) -> str:
    return f"{value:.1f} years" if unit == "years" else f"{whole_percent(value)}%"


def shap_panel(explanation, crop, key: str, classes: Classes | None = None, captions: bool = True) -> None:
    """The shown heads' SHAP overlays side by side, each with its colour bar, base value and output."""
    from face2data.explanation import overlay, plotly_colorscale

    if classes:
        explanation = explanation.retarget(classes)
    colours = plotly_colorscale()
    heads = [head.name for head in schemes.shown()]
    for col, head in zip(st.columns(len(heads)), heads, strict=True):
        part = explanation[head]
        with col:
            st.markdown(f"**{HEAD_BY_NAME[head].title}**: {part.target}")
            shown, unit = part.shown_map()
            figure = figures.shap_figure(overlay(crop, part.values), shown, colours, unit)
            st.plotly_chart(figure, key=f"{key}_{head}", config={"displayModeBar": False})
            levels = f"{_format(part.base_value, part.unit)} → {_format(part.output_value, part.unit)}"
            st.caption(f"blurred face (base value) {levels.replace(' → ', ' → this face ')}" if captions else levels)
    st.caption(
        f"Red regions pushed the output up, blue ones down; grey had little effect. {explanation.method} "
        f"Computed in {explanation.seconds:.1f} s."
    )


REGION_PROGRESS = "Measuring what each region of the face contributes: {n:,} masked faces, each with its mirror image…"
REGION_EXACT_PROGRESS = "Above: a quick estimate. Computing the exact values from all {n:,} masked faces…"


def _region_store() -> dict:
    return st.session_state.setdefault("region_explanations", {})


def compute_regions(digest: str, face, preview_key: str | None = None, classes: Classes | None = None):
    """Compute (with a progress bar) and keep this face's region explanation in the session; None on failure.

    With ``preview_key``, the first time an estimate is shown at once (``region_panel`` with that key), and the
    caller's panel of the exact values takes its place when they are ready."""
    from functools import partial

    from face2data.faces.regions import REGIONS
    from face2data.ui import cache

    store = _region_store()
    if (digest, face.index) in store or preview_key is None:
        return _kept(store, digest, face, REGION_PROGRESS.format(n=2 ** len(REGIONS)), cache.explain_regions)
    task = st.session_state.get(PREFETCH_KEY)
    if task is not None and task.key == (digest, face.index):
        explanation = _awaited(task, face.crop, preview_key, classes)
        if explanation is not None:
            _remember(store, task.key, explanation)
            return explanation
    elif task is not None:  # another face is wanted now: the cores go to it
        task.cancel()
    holder = st.empty()
    try:
        estimate = cache.estimate_regions(face.crop)
    except ValueError as error:
        st.error(f"This face cannot be explained: {error}")
        return None
    with holder.container():
        region_panel(estimate, face.crop, key=f"{preview_key}_estimate", classes=classes)
    message = REGION_EXACT_PROGRESS.format(n=2 ** len(REGIONS))
    explanation = _kept(store, digest, face, message, partial(cache.explain_regions, known=estimate))
    holder.empty()
    return explanation


PREFETCH_KEY = "region_prefetch"
PREFETCH_POLL_S = 0.05


def explain_ahead(analysis) -> None:
    """Start explaining the first face of an analysis in the background (``face2data.ui.prefetch``), so the
    Explain button and page have it ready when the person gets there; once per face (a page calls it on every run,
    at its end, so the cards are drawn first)."""
    from face2data.ui import cache, prefetch

    if not analysis.ok or not analysis.faces:
        return
    key = (analysis.digest, analysis.faces[0].index)
    task = st.session_state.get(PREFETCH_KEY)
    if key in _region_store() or (task is not None and task.key == key):
        return
    model = cache.predictor().model
    st.session_state[PREFETCH_KEY] = prefetch.start(key, analysis.faces[0].crop, model, tab_checker())


def _awaited(task, crop, preview_key: str, classes: Classes | None):
    """A prefetched task's exact values, its estimate and progress shown while it runs; None if it ended without
    them (cancelled by a newer task, or a crop it could not explain: the caller computes them then)."""
    from face2data.faces.regions import REGIONS

    def wait(event, tick: Callable[[], object] = lambda: None) -> None:
        while not event.wait(PREFETCH_POLL_S):
            if not tab_is_open():  # nobody left to see it
                task.cancel()
                st.stop()
            tick()

    holder = st.empty()
    if not task.done.is_set():
        wait(task.estimated)
        if task.estimate is not None and not task.done.is_set():
            with holder.container():
                region_panel(task.estimate, crop, key=f"{preview_key}_estimate", classes=classes)
        message = REGION_EXACT_PROGRESS.format(n=2 ** len(REGIONS))
        shown = [task.progress]
        bar = st.progress(shown[0], text=message)

        def move_bar() -> None:  # a message to the browser only when the share has moved
            if task.progress != shown[0]:
                shown[0] = task.progress
                bar.progress(shown[0], text=message)

        wait(task.done, move_bar)
        bar.empty()
    holder.empty()
    return task.exact


def _faithfulness_note(head: str, faithfulness) -> str | None:
    """None when the head's region values may be read as an explanation; else why not, in words."""
    from face2data.explanation.faithfulness import FIRST_K, MIN_RATIO

    if faithfulness is None:
        return None
    if faithfulness.passes(head):
        return None
    ratio = faithfulness.ratios.get(head, 0.0)
    return (
        f"Not shown as an explanation: on {faithfulness.faces} test faces, hiding the regions this ranking puts "
        f"first moved the {head} output only {ratio:.1f}× as much as hiding them in random order (first {FIRST_K} "
        f"regions; at least {MIN_RATIO:.0f}× is needed). The values are what they are — measured output changes — "
        "but the ranking is not a reliable account of what drives the model here."
    )


def region_panel(explanation, crop, key: str, classes: Classes | None = None) -> None:
    """Per shown head: the regions on the face coloured by value, a waterfall from blurred face to output, one
    sentence; ``classes`` picks the class a class head explains (default: the predicted one)."""
    from face2data.explanation import plotly_colorscale
    from face2data.faces.regions import REGIONS, region_labels
    from face2data.ui import cache

    if classes:
        explanation = explanation.retarget(classes)
    faithfulness = cache.faithfulness()
    labels = region_labels(INPUT_SIZE)
    heads = [head.name for head in schemes.shown()]
    # One colour scale per unit: one head's ±2 points must not look as strong as another's ±30
    limits: dict[str, float] = {}
    for head in heads:
        unit = explanation[head].unit
        limits[unit] = max(limits.get(unit, 0.0), float(np.max(np.abs(explanation[head].values))))
    for head in heads:
        part = explanation[head]
        st.markdown(f"**{HEAD_BY_NAME[head].title}**: {part.target}")
        map_col, chart_col = st.columns([2, 3])
        with map_col:
            figure = figures.region_map_figure(
                crop, labels, part.values, part.unit, REGIONS, plotly_colorscale(), limits[part.unit]
            )
            st.plotly_chart(figure, key=f"{key}_{head}_regions", config={"displayModeBar": False})
        with chart_col:
            st.plotly_chart(
                figures.region_waterfall_figure(part), key=f"{key}_{head}_waterfall", config={"displayModeBar": False}
            )
        note = _faithfulness_note(head, faithfulness)
        if note is None:
            st.markdown(part.sentence())
        else:
            st.warning(note, icon=":material/rule:")
        estimate = "" if part.uncertainty is None else f" (an estimate: ± {part.amount(part.uncertainty)}, 95 %)"
        st.caption(
            f"blurred face (base value) {part.level(part.base_value)} → this face {part.level(part.output_value)}; "
            f"region values in {part.unit}{estimate}"
        )
    if explanation.exact:
        what_if_panel(explanation, crop, key, tuple(heads))
    checked = (
        "Faithfulness has not been measured for this model (benchmarks/explain_faithfulness.py)."
        if faithfulness is None
        else f"Faithfulness checked on {faithfulness.faces} test faces: hiding the top-ranked regions moved the "
        "output " + ", ".join(f"{h} {r:.1f}×" for h, r in faithfulness.ratios.items()) + " as much as random order."
    )
    st.caption(
        "Red regions added to the output, blue ones took away, compared with the same face blurred. This explains "
        f"the model, not the person. {explanation.method} Computed in {explanation.seconds:.2f} s. {checked}"
    )


WHAT_IF_IMAGE_PX = 160


def _change(value: float, decimals: int, unit: str) -> str:
    """A signed change as shown, "±0 points" where it rounds to nothing (not "-0 points", shown without an arrow)."""
    shown = f"{value:+.{decimals}f}"
    return f"±{shown[1:]} {unit}" if float(shown) == 0 else f"{shown} {unit}"


@st.fragment
def what_if_panel(explanation, crop, key: str, heads: tuple[str, ...]) -> None:
    """Hide regions and see the output of every head of ``heads`` for that face at once. The outputs are read from
    the explanation's table of every combination of hidden regions (the ones its region values are built from): no
    model call."""
    from face2data.explanation.regions import hidden_face
    from face2data.faces.regions import REGIONS

    st.markdown("**What if?** Hide regions of the face and see what the model says without them.")
    hidden = st.pills("Regions to hide", REGIONS, selection_mode="multi", key=f"{key}_what_if") or []
    result = explanation.what_if(hidden)
    image_col, numbers_col = st.columns([1, 3])
    with image_col:
        st.image(hidden_face(crop, hidden).astype(np.uint8), caption="what the model sees", width=WHAT_IF_IMAGE_PX)
    with numbers_col:
        shown = [head for head in heads if head in result.heads]
        for column, head in zip(st.columns(len(shown)), shown, strict=True):
            part, title = result.heads[head], HEAD_BY_NAME[head].title
            change = part.value - part.full_value
            if part.likeliest is None:
                label, value, delta = title, f"{part.value:.1f} years", _change(change, 1, "years")
            else:
                label, value = f"{title}: {part.target}", f"{whole_percent(part.value / 100)} %"
                delta = _change(change, 0, "points")
            column.metric(label, value, delta if hidden else None, delta_color="off",
                          delta_arrow="off" if delta.startswith("±") else "auto")  # fmt: skip
            if part.likeliest is not None:
                column.caption(f"likeliest: {part.likeliest} {whole_percent(part.likeliest_percent / 100)} %")
        st.caption(
            f"{result.sentence(shown)} Read from the same masked faces the region values were computed from "
            "(each averaged with its mirror image, as the card is): no new model call."
        )


def pixel_maps_toggle(analysis_digest: str, face, key: str, classes: Classes | None = None) -> None:
    """A switch that computes and shows the finer per-pixel SHAP maps of the face."""
    from face2data.explanation import DEFAULT_SETTINGS

    label = f"Per-pixel SHAP maps (finer: {DEFAULT_SETTINGS.max_evals:,} masked faces; under half the regions' time)"
    if not st.toggle(label, key=f"{key}_pixels"):
        return
    from face2data.ui import cache

    explanation = compute_explanation(analysis_digest, face)
    if explanation is None:
        return
    faithfulness = cache.faithfulness()
    shown = [head.name for head in schemes.shown()]
    failing = [] if faithfulness is None else [h for h in shown if not faithfulness.passes(h, pixels=True)]
    if failing:
        from face2data.explanation.faithfulness import MIN_RATIO

        st.warning(
            f"The pixel maps of {', '.join(failing)} are not shown as explanations: ranking the regions by these "
            f"maps did not beat random order at least {MIN_RATIO:.0f}× on test faces. They show measured output "
            "changes only.",
            icon=":material/rule:",
        )
    shap_panel(explanation, face.crop, key=f"{key}_pixelmap", classes=classes, captions=False)


def shap_section(analysis, face) -> None:
    """On a face card: a button that explains the face by regions, then shows them (and the pixel-map switch)."""
    explanation = cached_regions(analysis.digest, face)
    key = f"shap_{analysis.digest}_{face.index}"
    if explanation is None:
        slot = st.empty()
        help_text = (
            "How much each part of the face (eyes, mouth, hair …) moved each prediction shown on this card; a "
            "progress bar shows how far the computation is."
        )
        if not slot.button("Explain", key=key, icon=":material/insights:", help=help_text):
            return
        slot.empty()
        explanation = compute_regions(analysis.digest, face, preview_key=key)
        if explanation is None:
            return
    with st.container(border=True):
        st.markdown("**Explanation by facial region**")
        region_panel(explanation, face.crop, key=key)
        pixel_maps_toggle(analysis.digest, face, key)


def cached_regions(digest: str, face):
    """This face's region explanation if it was computed in this session, else None."""
    return _region_store().get((digest, face.index))
