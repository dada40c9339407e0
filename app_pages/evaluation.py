"""Evaluation: the held-out test sets (UTKFace's, FairFace's "in the wild" and All-Age-Faces'), from the shipped
metrics files, or your own labelled photos, evaluated here in memory."""

from __future__ import annotations

import streamlit as st

from face2data.evaluation.run import TEST_SET_NAMES
from face2data.limits import MAX_BATCH_BYTES, MAX_BATCH_FILES
from face2data.model_loading import ModelFileError
from face2data.schema import ALLAGEFACES_AGES_TEXT
from face2data.ui import cache, evaluation_views, views
from face2data.ui.batch import digest_of_uploads, upload_problem
from face2data.ui.labelled import evaluate_uploads, metrics_json, predictions_csv, predictions_frame
from face2data.ui.session import photo_progress

EVALUATE_COMMAND = "python -m face2data evaluate --data PATH --shipped"
LABELLED_COMMAND = "python -m face2data evaluate --data FOLDER [--labels labels.csv] --json metrics.json"
YOURS = "labelled"
SET_NAMES = TEST_SET_NAMES | {YOURS: "Your labelled photos"}


def _clear() -> None:
    st.session_state.pop("labelled_evaluation", None)


def _your_photos():
    """The evaluation of the uploaded labelled photos (computed once per upload), or None before an upload."""
    st.markdown(
        "Upload photos labelled **in their file names** as UTKFace's (`35_1_2_….jpg`: age, gender 0 male / 1 "
        "female, ethnicity 0–4) or **in a CSV** among them (or inside the archive): a file column and any of "
        "`age` (35, 30-39 or `more than 70`), `age_min`/`age_max`, `gender`, `ethnicity` (the five classes) or "
        "`race` (FairFace's seven groups). A head without labels is not scored. "
        f"Up to {MAX_BATCH_FILES} photos and {MAX_BATCH_BYTES / 2**20:.0f} MB, as files or .zip/.tar archives; "
        f"they stay in this app's memory. Larger sets: `{LABELLED_COMMAND}`."
    )
    uploads = views.many_uploads("Labelled photos, a CSV of labels, or archives of them", "labelled_upload")
    evaluation = st.session_state.get("labelled_evaluation")
    if uploads and (evaluation is None or evaluation.report["digest"] != digest_of_uploads(uploads)):
        count, problem = upload_problem(uploads)
        if problem:
            st.error(problem, icon=":material/block:")
            return None
        bar = st.progress(0.0, text=f"Finding and reading the faces of {count} files…")
        try:
            model = cache.predictor().model
            evaluation = evaluate_uploads(uploads, model, photo_progress(bar))
        except ModelFileError as error:
            st.error(f"The model could not be loaded: {error}", icon=":material/error:")
            return None
        except ValueError as error:
            st.error(str(error).replace("\n", "  \n"), icon=":material/block:")
            return None
        finally:
            bar.empty()
        st.session_state["labelled_evaluation"] = evaluation
    if evaluation is None:
        return None
    problems = evaluation.problems
    if problems:
        st.warning(
            "Some photos or rows could not be used; the rest were evaluated.  \n"
            + problems.message().replace("\n", "  \n"),
            icon=":material/warning:",
        )
    left, middle, right = st.columns(3)
    left.download_button(
        "Predictions (CSV)", predictions_csv(evaluation), "face2data-labelled-predictions.csv", "text/csv",
        icon=":material/download:", on_click="ignore", key="labelled_csv",
    )  # fmt: skip
    middle.download_button(
        "Metrics (JSON)", metrics_json(evaluation), "face2data-labelled-metrics.json", "application/json",
        icon=":material/download:", on_click="ignore", key="labelled_json",
    )  # fmt: skip
    right.button("Clear these results", icon=":material/close:", on_click=_clear)
    return evaluation


st.title("Evaluation on held-out faces")
source = (
    st.segmented_control(
        "Test set",
        list(SET_NAMES),
        format_func=lambda s: SET_NAMES[s],
        default="fairface",
        key="test_set",
        help="UTKFace: the split of the training source held out from training. In the wild: FairFace's Flickr "
        "photos (many poses, lighting conditions and image qualities), a test split held out the same way. "
        f"All-Age-Faces: mostly East Asian faces of {ALLAGEFACES_AGES_TEXT} with exact ages and gender (no "
        "ethnicity labels), held out the same way. Your labelled photos: any faces you have labels for.",
    )
    or "fairface"
)
if source == YOURS:
    evaluation = _your_photos()
    if evaluation is None:
        st.stop()
    metrics, rows = evaluation.report, evaluation.rows
    predictions = predictions_frame(rows)

    def faces_of(indices: list[int]) -> list:
        return [evaluation.crops[i] for i in indices]

    command = LABELLED_COMMAND
    st.markdown(
        f"**{metrics['n']:,} faces** of your photos, each run through the same face detection and alignment as "
        f"an uploaded photo; a face was found in **{metrics['faces_found']:.1%}** of {metrics['faces_total']:,} "
        "labelled photos, predictions averaged with the mirrored face."
    )
else:
    metrics = cache.test_metrics(source)
    if metrics is None:
        st.info(f"This test set has not been evaluated yet. Run:\n\n`{EVALUATE_COMMAND}`")
        st.stop()
    predictions = cache.test_predictions(source)
    rows = [] if predictions is None else predictions.to_dict("records")
    command = EVALUATE_COMMAND

    def faces_of(indices: list[int]) -> list:
        found = cache.test_faces(metrics["data"], [rows[i]["file"] for i in indices]) or {}
        return [found.get(rows[i]["file"]) for i in indices]

    st.markdown(
        f"**{int(metrics['n']):,} test faces**: {metrics['test_set']}, from `{metrics['data']}`. None was seen in "
        f"training or model selection; each run through the same face detection and alignment as an uploaded photo; "
        f"a face was found in **{metrics['faces_found']:.1%}** of {metrics['faces_total']:,} images"
        + (", predictions averaged with the mirrored face." if metrics.get("flip_tta") else ".")
    )

evaluation_views.headline(metrics)
if source != YOURS:
    evaluation_views.comparison(metrics, source)
evaluation_views.confusions(metrics, source)
if source == YOURS or cache.test_faces(metrics["data"], []) is not None:
    evaluation_views.error_gallery(rows, faces_of, metrics, source)
else:
    evaluation_views.error_gallery(rows, None, metrics, source, missing=cache.test_faces_missing(metrics["data"]))
evaluation_views.groups(metrics, source)
evaluation_views.calibration(metrics, source, command, cache.calibration_record())
if evaluation_views.age_kind(metrics) == "exact":
    evaluation_views.age_plots(predictions, source, f"The predictions file is missing; `{command}` writes it.")
