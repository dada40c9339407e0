"""The Streamlit app run headless with streamlit.testing (AppTest), plus its figure builders and photo helpers."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import crowd_photo
from PIL import Image
from streamlit.testing.v1 import AppTest

from face2data import paths
from face2data.evaluation.metrics import RANGE_HIT_KEY, Outcomes, summarize
from face2data.limits import MAX_FILE_BYTES
from face2data.results import FaceResult, PhotoResult
from face2data.schema import (
    AGE_BUCKETS,
    AGE_RANGE_TOLERANCE,
    AGES,
    CLASS_HEADS,
    CROP_SIZE,
    ETHNICITIES,
    GENDERS,
    HEAD_TABLE,
    HEADS,
    INPUT_SIZE,
    shown_heads,
)
from face2data.ui import artifacts, face_labels, figures, photo, photo_figure

APP = str(paths.PROJECT_ROOT / "streamlit_app.py")
# Runs that load the model (and TensorFlow) for the first time are slow on a busy machine.
MODEL_TIMEOUT = 300
needs_model = pytest.mark.skipif(not paths.MODEL_PATH.exists(), reason=f"no trained model at {paths.MODEL_PATH}")


def _app(page: str | None = None, timeout: float = 60) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=timeout).run()
    if page is not None:
        app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def _texts(app: AppTest) -> str:
    return "\n".join(
        e.value for kind in ("markdown", "caption", "info", "error", "warning") for e in getattr(app, kind)
    )


def _jpeg(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def synthetic_evaluation(tmp_path, monkeypatch):
    """test_metrics.json and test_predictions.csv of made-up outcomes, put where the app reads them."""
    rng = np.random.default_rng(0)
    n = 300
    age_true = rng.integers(1, 90, n).astype(float)
    age_pred = np.clip(age_true + rng.normal(0, 6, n), 0, 116)
    gender_true, ethnicity_true = rng.integers(0, 2, n), rng.integers(0, 5, n)
    gender_pred = np.where(rng.random(n) < 0.9, gender_true, 1 - gender_true)
    ethnicity_pred = np.where(rng.random(n) < 0.8, ethnicity_true, rng.integers(0, 5, n))
    truth, predicted = {"gender": gender_true, "ethnicity": ethnicity_true}, {"gender": gender_pred,
                                                                              "ethnicity": ethnicity_pred}  # fmt: skip
    outcomes = Outcomes(age_true, age_true, age_pred, age_pred - 5, age_pred + 5, truth, predicted)
    metrics = {"model": "face2data.keras", "data": "synthetic", "split": "test", "flip_tta": True, "skipped": [],
               "source": "utkface", "test_set": "UTKFace test split", "faces_total": n, "faces_found": 1.0,
               **summarize(outcomes)}  # fmt: skip
    metrics_path = tmp_path / "test_metrics.json"
    metrics_path.write_text(json.dumps(metrics))
    bucket = rng.integers(0, 9, n)
    low = np.array([0, 3, 10, 20, 30, 40, 50, 60, 70])[bucket].astype(float)
    high = np.array([2, 9, 19, 29, 39, 49, 59, 69, 116])[bucket].astype(float)
    guess = low + rng.normal(5, 8, n)
    ranges = Outcomes(low, high, guess, guess - 5, guess + 5, truth, predicted)
    wild = {"model": "face2data.keras", "data": "synthetic-wild", "split": "test", "flip_tta": True, "skipped": [],
            "source": "fairface", "test_set": "in the wild (FairFace test split)", "faces_total": n + 3,
            "faces_found": n / (n + 3), **summarize(ranges)}  # fmt: skip
    wild_path = tmp_path / "wild_test_metrics.json"
    wild_path.write_text(json.dumps(wild))
    monkeypatch.setattr(paths, "WILD_METRICS_PATH", wild_path)
    predictions = pd.DataFrame({
        "file": [f"{i}.jpg" for i in range(n)], "age_true": age_true, "age_pred": age_pred,
        "age_low": age_pred - 5, "age_high": age_pred + 5,
        "gender_true": [GENDERS[g] for g in gender_true], "gender_pred": [GENDERS[g] for g in gender_pred],
        "ethnicity_true": [ETHNICITIES[e] for e in ethnicity_true],
        "ethnicity_pred": [ETHNICITIES[e] for e in ethnicity_pred],
    })  # fmt: skip
    predictions_path = tmp_path / "test_predictions.csv"
    predictions.to_csv(predictions_path, index=False)
    monkeypatch.setattr(paths, "TEST_METRICS_PATH", metrics_path)
    monkeypatch.setattr(paths, "TEST_PREDICTIONS_PATH", predictions_path)
    metrics["wild"] = wild
    return metrics


# --- pages -------------------------------------------------------------------------------


def test_training_page_shows_the_best_epoch_of_the_history():
    if not paths.HISTORY_PATH.exists():
        pytest.skip(f"no training history at {paths.HISTORY_PATH}")
    before = artifacts.best_epoch(artifacts.read_history(paths.HISTORY_PATH))
    app = _app("training")
    after = artifacts.best_epoch(artifacts.read_history(paths.HISTORY_PATH))  # training may append meanwhile
    assert _metric(app, "Best epoch") in {str(before), str(after)}
    # losses, age error and accuracies, the validation figures per source, the learning rate
    assert [chart.key for chart in app.get("plotly_chart")] == ["losses", "metrics", "per_source", "learning_rate"]


def test_training_page_shows_the_training_summary(tmp_path, monkeypatch):
    if not paths.HISTORY_PATH.exists():
        pytest.skip(f"no training history at {paths.HISTORY_PATH}")
    summary = {"epochs_completed": 45, "training_seconds": 7500.0, "train_images_per_second": 95.4,
               "train_images": 16580, "val_images": 2370, "config": {"epochs": 45}}  # fmt: skip
    monkeypatch.setattr(paths, "TRAINING_SUMMARY_PATH", tmp_path / "training.json")
    paths.TRAINING_SUMMARY_PATH.write_text(json.dumps(summary))
    app = _app("training")
    assert _metric(app, "Epochs") == "45"
    assert _metric(app, "Training time") == "2 h 05 min"
    assert _metric(app, "Throughput") == "95 images/s"
    assert _metric(app, "Images (train / val)") == "16,580 / 2,370"


def test_duration_reads_like_a_person_would_write_it():
    assert [artifacts.duration(s) for s in (40, 420, 7500)] == ["40 s", "7 min", "2 h 05 min"]


@pytest.mark.slow
def test_evaluation_page_shows_the_figures_of_test_metrics_json():
    metrics = artifacts.read_json(paths.TEST_METRICS_PATH)
    if metrics is None:
        pytest.skip(f"no {paths.TEST_METRICS_PATH} yet (python -m face2data evaluate writes it)")
    app = _app("evaluation")
    app.segmented_control(key="test_set").set_value("utkface").run()
    assert _metric(app, "Faces found") == f"{metrics['faces_found']:.1%}"
    assert _metric(app, "Age MAE") == f"{metrics['age_mae']:.2f} years"
    assert _metric(app, "Gender accuracy") == f"{metrics['gender_accuracy']:.1%}"
    assert _metric(app, "Ethnicity accuracy") == f"{metrics['ethnicity_accuracy']:.1%}"


@pytest.mark.slow
def test_evaluation_page_reads_the_files_it_is_given(synthetic_evaluation):
    app = _app("evaluation")  # in the wild first: closest to people's own photos
    wild = synthetic_evaluation["wild"]
    assert _metric(app, f"Age within range ± {AGE_RANGE_TOLERANCE} y") == f"{wild[RANGE_HIT_KEY]:.1%}"
    assert _metric(app, "Gender accuracy") == f"{wild['gender_accuracy']:.1%}"
    # Three confusion matrices (one per class head and the age buckets; a second scheme of an attribute would add
    # its matrix against the first) and the per-group heatmap (drawn for a desktop and for a phone's column; the
    # browser shows one).
    keys = [chart.key for chart in app.get("plotly_chart")]
    assert len(keys) == 5 and {"heatmap_fairface", "heatmap_fairface_narrow"} <= set(keys)
    app.segmented_control(key="test_set").set_value("utkface").run()
    assert not app.exception
    assert _metric(app, "Age MAE") == f"{synthetic_evaluation['age_mae']:.2f} years"
    # Three confusion matrices, the per-group heatmap (twice), the scatter and the error-by-age bars.
    assert len(app.get("plotly_chart")) == 7
    counts = app.toggle(key="normalised").set_value(False).run()
    assert not counts.exception


def test_evaluation_and_about_pages_say_how_to_evaluate_when_nothing_is_there(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "TEST_METRICS_PATH", tmp_path / "absent.json")
    monkeypatch.setattr(paths, "WILD_METRICS_PATH", tmp_path / "absent-wild.json")
    monkeypatch.setattr(paths, "ALL_AGES_METRICS_PATH", tmp_path / "absent-all-ages.json")
    assert "python -m face2data evaluate" in _texts(_app("evaluation"))
    assert "python -m face2data evaluate" in _texts(_app("about"))


def test_about_page_shows_metrics_limits_and_privacy(synthetic_evaluation):
    app = _app("about")
    assert _metric(app, "Age MAE") == f"{synthetic_evaluation['age_mae']:.2f} years"
    wild = synthetic_evaluation["wild"]
    assert _metric(app, f"Age within range ± {AGE_RANGE_TOLERANCE} y") == f"{wild[RANGE_HIT_KEY]:.1%}"
    text = _texts(app)
    assert f"{MAX_FILE_BYTES / 2**20:.0f} MB" in text
    assert "never written to" in text and "Not for decisions about people" in text
    assert "How to read an explanation" in [h.value for h in app.header] and "not of the person" in text
    assert "Results on held-out faces" not in text  # the figures once: not again from the card's results section


def test_the_card_on_the_about_page_leaves_out_only_its_results_section():
    from face2data.model_card import RESULTS_HEADING, without_section

    card = f"# Card\n## What it is\nA model.\n{RESULTS_HEADING}\n| a |\n### per group\n| b |\n## Known limits\nSome."
    assert without_section(card) == "# Card\n## What it is\nA model.\n## Known limits\nSome."
    assert without_section("# no results here") == "# no results here"


def test_explain_page_without_a_face_or_global_maps_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "SHAP_GLOBAL_PATH", tmp_path / "absent.npz")
    monkeypatch.setattr(paths, "REGION_GLOBAL_PATH", tmp_path / "absent.json")
    app = _app("explain")
    assert "explain-global" in _texts(app) and "explain-regions-global" in _texts(app)
    assert [b.label for b in app.button] == ["Explain the sample"]


def test_explain_page_shows_the_global_maps_with_their_face_counts(tmp_path, monkeypatch):
    from face2data.explanation import GlobalMaps, save_global_maps
    from face2data.explanation.global_maps import MAP_NAMES, PER_CLASS_HEADS

    rng = np.random.default_rng(0)
    maps = {name: rng.random((INPUT_SIZE, INPUT_SIZE)).astype(np.float32) for name in MAP_NAMES}
    counts = {name: 40 for name in MAP_NAMES} | {"ethnicity:Others": 0}
    path = save_global_maps(GlobalMaps(maps, counts, 40, "mean |SHAP| over test faces", "face2data.keras"),
                            tmp_path / "shap_global.npz")  # fmt: skip
    monkeypatch.setattr(paths, "SHAP_GLOBAL_PATH", path)
    monkeypatch.setattr(paths, "REGION_GLOBAL_PATH", _region_global_file(tmp_path))
    app = _app("explain")
    assert "over **40 test faces**" in _texts(app)
    assert "Region values of **12 test faces** (7 utkface, 5 fairface" in _texts(app)
    charts = {c.key: c for c in app.get("plotly_chart")}
    # the global maps of every head in the file, then the per-class maps of each head with more than two classes
    assert list(charts) == ["global_regions", *(f"global_{name}" for name in HEADS),
                            *(f"global_{head.name}_classes" for head in PER_CLASS_HEADS)]  # fmt: skip
    assert "all faces (n = 12)" in charts["global_regions"].proto.spec
    app.radio(key="global_head").set_value("gender").run()
    app.selectbox(key="global_grouping").set_value("by ethnicity").run()
    app.radio(key="global_measure").set_value("which way (mean signed value)").run()
    spec = next(c for c in app.get("plotly_chart") if c.key == "global_regions").proto.spec
    assert "White (n = 3)" in spec and "mean signed value (percentage points)" in spec
    # the four ethnicity classes that have faces, side by side
    titles = [a["text"] for a in json.loads(charts["global_ethnicity_classes"].proto.spec)["layout"]["annotations"]]
    assert titles == [f"{e}<br>n = 40" for e in ETHNICITIES if e != "Others"]
    assert "No test face was predicted as Others." in _texts(app)


def _region_global_file(tmp_path):
    from face2data.explanation.region_global import group_names, save_region_global
    from face2data.faces.regions import REGIONS

    rng = np.random.default_rng(1)
    groups = {g: {"mean_abs": list(rng.random(len(REGIONS))), "mean_signed": list(rng.normal(size=len(REGIONS)))}
              for g in group_names()}  # fmt: skip
    units = {h.name: "years" if h.kind == "age" else "percentage points" for h in HEAD_TABLE}
    report = {"version": 1, "model": "face2data.tflite", "regions": list(REGIONS), "n_faces": 12,
              "sources": {"utkface": 7, "fairface": 5}, "counts": dict.fromkeys(group_names(), 3) | {"all": 12},
              "heads": {h: {"unit": u, "groups": groups} for h, u in units.items()}, "method": "test"}  # fmt: skip
    return save_region_global(report, tmp_path / "region_global.json")


def test_predict_page_waits_for_a_photo():
    app = _app()
    assert app.title[0].value.startswith("Age, gender and ethnicity")
    assert "Upload a photo" in _texts(app)


def test_unreadable_upload_shows_a_message_not_an_exception():
    app = _app()
    app.file_uploader(key="upload").set_value(("holiday.jpg", b"\xff\xd8 not really a JPEG", "image/jpeg")).run()
    assert not app.exception
    assert "cannot be used as a photo" in app.error[0].value


def test_too_large_upload_is_refused_before_decoding():
    app = _app()
    app.file_uploader(key="upload").set_value(("huge.png", b"\0" * (MAX_FILE_BYTES + 1), "image/png")).run()
    assert not app.exception
    assert f"the limit is {MAX_FILE_BYTES / 2**20:.0f} MB" in app.error[0].value


def _sentences(app: AppTest) -> list[str]:
    return [m.value for m in app.markdown if m.value.startswith(("Compared with a blurred face", "For P("))]


@pytest.mark.slow
@needs_model
def test_sample_shows_a_predicted_age_and_its_explanation(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setattr(paths, "FAITHFULNESS_PATH", tmp_path / "absent.json")
    app = _app(timeout=MODEL_TIMEOUT)
    next(b for b in app.button if b.label == "Try a sample").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert [s.value for s in app.subheader] == ["1 face found"], (app.error, app.warning, app.info, app.main)
    age = _metric(app, "Predicted age")
    assert age.endswith(" years") and 10 <= int(age.split()[0]) <= 80
    assert _metric(app, "Gender") in GENDERS
    assert any(photo.SAMPLE_CAPTION in c.value for c in app.caption)
    # The face card's SHAP button computes the maps in place; the Explain page reuses them.
    app.button(key=next(b.key for b in app.button if b.key and b.key.startswith("shap_"))).click().run()
    assert not app.exception, [e.value for e in app.exception]
    shown = len(shown_heads())  # one head per attribute: age, gender, ethnicity (one of its two schemes)
    assert sum("→ this face" in c.value for c in app.caption) == shown
    # per shown head: the regions on the face, the waterfall from the blurred face, one sentence
    keys = [c.key for c in app.get("plotly_chart")]
    assert sum(k.endswith("_waterfall") for k in keys) == shown and sum(k.endswith("_regions") for k in keys) == shown
    sentences = _sentences(app)
    assert len(sentences) == shown and "years" in sentences[0] and "percentage points" in sentences[1]
    assert "Faithfulness has not been measured" in _texts(app)
    app.switch_page("app_pages/explain.py").run()
    assert sum("→ this face" in c.value for c in app.caption) == shown and len(_sentences(app)) == shown
    app.selectbox(key="ethnicity_class").set_value("Indian").run()
    assert any(m.value == "**Ethnicity**: P(Indian)" for m in app.markdown)
    assert any(s.startswith("For P(Indian)") for s in _sentences(app))
    # the per-pixel maps on demand
    next(t for t in app.toggle if t.key.endswith("_pixels")).set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    assert sum(c.key.endswith("_pixelmap_age") for c in app.get("plotly_chart")) == 1
    # the seven groups chosen in the sidebar: they replace the five classes, one sentence per shown head still
    app.radio(key="scheme_ethnicity").set_value("ethnicity7").run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(_sentences(app)) == shown
    assert any(m.value.startswith("**Ethnicity (7 groups)**: P(") for m in app.markdown)
    assert not any(m.value.startswith("**Ethnicity**: ") for m in app.markdown)
    # a head whose ranking did no better than random order is not presented as an explained one
    sha = hashlib.sha256(paths.TFLITE_PATH.read_bytes()).hexdigest()
    ratios = {name: 3.0 for name in HEADS} | {"gender": 1.2}  # gender's ranking is no better than random
    measured = {"faces": 40, "model_sha256": sha, "ratio_first_k": {"regions": ratios}}
    (tmp_path / "absent.json").write_text(json.dumps(measured))
    app.run()
    assert len(_sentences(app)) == shown - 1 and any("Not shown as an explanation" in w.value for w in app.warning)


@pytest.mark.slow
@needs_model
def test_the_photo_stays_across_pages_and_sources_and_can_be_downloaded():
    app = _app(timeout=MODEL_TIMEOUT)
    app.file_uploader(key="upload").set_value(("astronaut.jpg", photo.sample_bytes(), "image/jpeg")).run()
    assert [s.value for s in app.subheader] == ["1 face found"]
    for page in ("explain", "training"):
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
    app.switch_page("app_pages/predict.py").run()
    assert [s.value for s in app.subheader] == ["1 face found"]  # still the uploaded photo
    assert "Showing the photo you uploaded earlier" in _texts(app)  # the emptied uploader is explained
    app.radio(key="mode").set_value("Webcam snapshot").run()
    assert not app.subheader and "come back under" in _texts(app)  # not shown under the open webcam …
    app.radio(key="mode").set_value("Upload a photo").run()
    assert [s.value for s in app.subheader] == ["1 face found"]  # … but kept for the upload
    analysis = app.session_state["analysis"]
    table = list(csv.DictReader(io.StringIO(photo.results_csv(analysis))))
    shown = json.loads(photo.results_json(analysis))
    assert len(table) == len(shown["faces"]) == 1 and table[0]["gender"] == shown["faces"][0]["gender"]
    assert float(table[0]["age"]) == shown["faces"][0]["age"]
    assert table[0]["file"] == shown["file"] == "astronaut.jpg"  # the uploaded file's name, as the CLI gives it
    png = photo.annotated_png(analysis)
    assert Image.open(io.BytesIO(png)).size[0] > 0
    next(b for b in app.button if b.label == "Clear this photo").click().run()
    assert "Upload a photo" in _texts(app) and not app.subheader


@pytest.mark.slow
@needs_model
def test_a_crowd_shows_its_progress_and_one_card_at_a_time(monkeypatch):
    from face2data.predictor import Predictor

    heard: list[tuple[int, int]] = []
    predict_image = Predictor.predict_image

    def followed(self, rgb, progress=None, read_possible=False):
        def tell(read: int, found: int) -> None:
            heard.append((read, found))
            if progress is not None:
                progress(read, found)

        return predict_image(self, rgb, tell, read_possible)

    monkeypatch.setattr(Predictor, "predict_image", followed)  # the cached predictor is of this class too
    app = _app(timeout=MODEL_TIMEOUT)
    app.file_uploader(key="upload").set_value(("crowd.jpg", _jpeg(crowd_photo()), "image/jpeg")).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [s.value for s in app.subheader] == ["48 faces found"]
    assert app.status[0].label == "48 faces found and read"
    assert heard[0] == (0, 48) and heard[-1] == (48, 48) and len(heard) == 1 + -(-48 // 16)
    faces = app.session_state["analysis"].faces
    boxes = [face_labels.Rect(*face.box) for face in faces]  # the crowd is shown at its own size (scale 1)
    texts, tags = [face_labels.label_text(f) for f in faces], [str(f.index + 1) for f in faces]
    labels = face_labels.layout_labels(boxes, texts, *reversed(crowd_photo().shape[:2]), tags)
    shown = [label.rect for label in labels if label is not None]
    assert len(shown) == 48 and not any(a.overlaps(b) for i, a in enumerate(shown) for b in shown[i + 1 :])
    assert not app.expander  # no 48 open cards: one card, picked here or on the photo or in the table
    assert app.selectbox(key="face_card").value == 0
    app.selectbox(key="face_card").set_value(47).run()
    assert not app.exception and any(m.label == "Predicted age" for m in app.metric)


@needs_model
def test_webcam_snapshot_without_a_face_says_so():
    app = _app(timeout=MODEL_TIMEOUT)
    app.radio(key="mode").set_value("Webcam snapshot").run()
    grey = np.full((240, 320, 3), 128, np.uint8)
    app.camera_input(key="camera").set_value(("snapshot.jpg", _jpeg(grey), "image/jpeg")).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "No face found" in app.warning[0].value


# --- figure builders and photo helpers -----------------------------------------------------


def test_best_epoch_is_the_lowest_validation_loss():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_loss": [3.0, 2.0, 2.5, 2.1]})
    assert artifacts.best_epoch(history) == 2


def test_row_normalised_confusion_rows_sum_to_one():
    counts = [[8, 2, 0], [1, 1, 0], [0, 0, 0]]
    fig = figures.confusion_figure(["a", "b", "c"], counts, normalised=True, title="t")
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z.sum(axis=1), [1, 1, 0])
    assert fig.data[0].text[0][0] == "80%"
    assert figures.confusion_figure(["a", "b", "c"], counts, normalised=False, title="t").data[0].text[0][0] == "8"


@pytest.mark.parametrize("metrics", ["test_metrics.json", "wild_test_metrics.json", "allagefaces_test_metrics.json"])
def test_every_column_of_the_per_group_tables_has_a_readable_name(metrics):
    from face2data.ui.evaluation_views import GROUP_COLUMNS

    # a raw key ("age_rmse", "age_interval_coverage" in 0..1 beside accuracies in %) was shown among named ones
    per_group = json.loads((paths.WEIGHTS_DIR / metrics).read_text())["per_group"]
    for rows in per_group.values():
        table = artifacts.per_group_table(rows)
        assert set(table.columns) <= set(GROUP_COLUMNS), set(table.columns) - set(GROUP_COLUMNS)
        if "age_interval_coverage" in table:
            assert table["age_interval_coverage"].max() > 1  # in percent, as the accuracies


def test_group_heatmap_places_each_group_and_hides_small_cells():
    table = pd.DataFrame([
        {"ethnicity": "Asian", "gender": "female", "age_bucket": "20-29", "n": 40, "age_mae": 4.5,
         "gender_accuracy": 0.9, "ethnicity_accuracy": 0.8},
        {"ethnicity": "White", "gender": "male", "age_bucket": "70+", "n": 3, "age_mae": 9.0,
         "gender_accuracy": 1.0, "ethnicity_accuracy": 1.0},
    ])  # fmt: skip
    heatmap = figures.group_heatmap(table, "age_mae", min_n=5).data[0]
    row, col = list(heatmap.y).index("Asian · female"), AGE_BUCKETS.index("20-29")
    assert heatmap.z[row][col] == 4.5 and "n=40" in heatmap.text[row][col]
    small = list(heatmap.y).index("White · male"), AGE_BUCKETS.index("70+")
    assert np.isnan(heatmap.z[small[0]][small[1]]) and "n=3" in heatmap.text[small[0]][small[1]]
    # On a phone the colour bar lies below the cells as wide as they are, its title above it (beside it, the
    # title left the bar a sliver with "0" and "100" on top of each other)
    bar = figures.group_heatmap(table, "gender_accuracy", narrow=True).data[0].colorbar
    assert (bar.orientation, bar.title.side, bar.len) == ("h", "top", 1.0)


def test_group_heatmap_rows_take_the_finest_scheme_of_each_attribute(monkeypatch):
    from face2data.schema import RACE_TO_ETHNICITY, RACES, Head

    seven = Head("ethnicity7", "classes", "Ethnicity (7 groups)", RACES, attribute="ethnicity", scheme="seven")
    monkeypatch.setitem(figures.HEAD_BY_NAME, seven.name, seven)
    monkeypatch.setattr(figures, "CLASS_HEADS", (*figures.CLASS_HEADS, seven))
    table = pd.DataFrame([
        {"ethnicity7": race, "ethnicity": RACE_TO_ETHNICITY[race], "gender": "female", "age_bucket": "20-29",
         "n": 10 + i, "age_in_range_5": 80.0, "gender_accuracy": 90.0}
        for i, race in enumerate(RACES)
    ])  # fmt: skip
    assert figures.row_heads(table) == ["ethnicity7", "gender"]  # the five classes follow from the seven groups
    heatmap = figures.group_heatmap(table, "gender_accuracy")
    assert len(heatmap.data[0].y) == 14 and "Southeast Asian · female" in list(heatmap.data[0].y)
    assert "per ethnicity (7 groups) × gender × age bucket" in heatmap.layout.title.text
    assert figures.row_heads(table.drop(columns=["ethnicity7"])) == ["ethnicity", "gender"]


def test_the_labels_on_the_photo_follow_the_heads_shown():
    from face2data.schema import HEAD_BY_NAME

    rgb = np.full((300, 300, 3), 90, np.uint8)
    found = PhotoResult("upload", [_fake_face(0, (60, 60, 150, 150))])
    analysis = photo.Analysis("d", "upload", found, scale=1.0, narrow_scale=1.0, plain=rgb, narrow_plain=rgb)
    drawn = photo.relabelled(analysis)
    assert drawn.label_heads == ("gender", "ethnicity") and drawn.photo is not None and analysis.photo is None
    assert photo.relabelled(drawn) is drawn  # already drawn for these heads: nothing is drawn again
    gender_only = photo.relabelled(drawn, [HEAD_BY_NAME["gender"]])
    assert gender_only.label_heads == ("gender",) and not np.array_equal(gender_only.photo, drawn.photo)
    assert face_labels.label_text(drawn.faces[0], [HEAD_BY_NAME["gender"]]) == "1: 34 F"
    seven = [HEAD_BY_NAME["gender"], HEAD_BY_NAME["ethnicity7"]]  # the other scheme of ethnicity
    assert photo.relabelled(drawn, seven).label_heads == ("gender", "ethnicity7")
    assert face_labels.label_text(drawn.faces[0], seven) == "1: 34 F M Eastern"
    assert (rgb == 90).all()  # the plain copy is left alone


def test_only_an_attribute_with_several_heads_offers_a_choice():
    from face2data.ui import schemes

    by_attribute: dict[str, list[str]] = {}
    for head in HEAD_TABLE:
        by_attribute.setdefault(head.attribute, []).append(head.name)
    several = {attribute: names for attribute, names in by_attribute.items() if len(names) > 1}
    assert several, "the model has an attribute with two heads (ethnicity: five classes and seven groups)"
    assert {attribute: [h.name for h in heads] for attribute, heads in schemes.alternatives().items()} == several
    one_each = tuple(head for head in HEAD_TABLE if head.name == by_attribute[head.attribute][0])
    assert schemes.alternatives(one_each) == {}  # one head per attribute: no widget is drawn


@needs_model
def test_picking_the_seven_groups_shows_them_on_the_face_cards():
    from face2data.schema import HEAD_BY_NAME, RACES

    seven, five = HEAD_BY_NAME["ethnicity7"], HEAD_BY_NAME["ethnicity"]
    app = _app(timeout=MODEL_TIMEOUT)
    next(b for b in app.button if b.label == "Try a sample").click().run()
    assert not app.exception, [e.value for e in app.exception]
    picker = app.radio(key=f"scheme_{seven.attribute}")
    assert picker.value == five.name and list(picker.options) == [five.scheme, seven.scheme]

    def card_charts() -> list[str]:
        return [c.key for c in app.get("plotly_chart") if c.key.endswith(("_ethnicity", "_ethnicity7"))]

    assert [k.rsplit("_", 1)[1] for k in card_charts()] == [five.name]
    picker.set_value(seven.name).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [k.rsplit("_", 1)[1] for k in card_charts()] == [seven.name]  # one scheme on the card: the chosen one
    assert any(m.value.startswith(f"{seven.title}: **") and m.value[len(seven.title) + 4 : -2] in RACES
               for m in app.markdown)  # fmt: skip
    spec = next(c for c in app.get("plotly_chart") if c.key.endswith("_ethnicity7")).proto.spec
    assert all(group in spec for group in RACES)


def test_class_maps_of_seven_groups_take_two_rows_with_a_word_a_title_line():
    # Seven maps in one row left a phone's 390 px about 50 px a map, and their titles ran into each other
    names = ["White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern", "Latino_Hispanic"]
    maps = {name: np.full((8, 8), i + 1.0) for i, name in enumerate(names)}
    fig = figures.class_importance_figure(maps, {name: 10 for name in names}, "probability")
    domains = {(trace.xaxis, trace.yaxis) for trace in fig.data}
    assert len(domains) == 7 and len({fig.layout[f"yaxis{i or ''}"].domain for i in range(7)}) == 2
    titles = [annotation.text for annotation in fig.layout.annotations]
    assert titles[3] == "Southeast<br>Asian<br>n = 10" and titles[6] == "Latino<br>Hispanic<br>n = 10"
    assert fig.layout.coloraxis.cmax == 7.0  # one scale for all
    five = figures.class_importance_figure({n: maps[n] for n in names[:5]}, {n: 1 for n in names}, "probability")
    assert len({five.layout[f"yaxis{i or ''}"].domain for i in range(5)}) == 1


def test_shap_figure_colour_bar_is_symmetric_around_zero():
    values = np.zeros((INPUT_SIZE, INPUT_SIZE), np.float32)
    values[10, 10], values[50, 50] = 0.4, -0.1
    fig = figures.shap_figure(np.zeros((200, 200, 3), np.uint8), values, [[0, "blue"], [1, "red"]], "years")
    heatmap = fig.data[1]
    assert (heatmap.zmin, heatmap.zmax) == pytest.approx((-0.4, 0.4))
    assert "pushed up" in heatmap.colorbar.ticktext[-1] and "pushed down" in heatmap.colorbar.ticktext[0]


def test_a_region_map_travels_small_and_names_the_region_under_the_pointer():
    from face2data.explanation import plotly_colorscale
    from face2data.faces.regions import REGIONS, region_labels

    labels = region_labels(INPUT_SIZE)
    values = np.arange(len(REGIONS), dtype=np.float64) - 4.5
    crop = np.full((INPUT_SIZE, INPUT_SIZE, 3), 120, np.uint8)
    fig = figures.region_map_figure(crop, labels, values, "years", REGIONS, plotly_colorscale())
    # 8 such maps on the Explain page: at 650 KB each (the picture as an array, a name per crop pixel) the browser
    # took seconds to show them
    assert len(fig.to_json()) < 150_000 and fig.data[0].source.startswith("data:image/jpeg;base64,")
    hover = fig.data[1]
    side, grid = figures.REGION_MAP_SIDE, len(hover.text)
    for row, col in ((grid // 2, grid // 2), (grid // 4, grid // 3), (grid - 1, 0)):
        x, y = hover.x0 + col * hover.dx, hover.y0 + row * hover.dy  # a cell's centre, in picture pixels
        region = labels[int(y * INPUT_SIZE / side), int(x * INPUT_SIZE / side)]
        assert hover.text[row][col] == REGIONS[region] and hover.z[row][col] == pytest.approx(values[region])


def _fake_face(index: int, box: tuple[int, int, int, int], age: float = 34.0) -> FaceResult:
    """A read face of the given box: age about ``age`` (spread ± 5), female 90 %, Others 60 %; any other class head
    its second-to-last class at 60 % (FairFace's groups: Middle Eastern)."""
    ages = np.exp(-0.5 * ((AGES - age) / 4.0) ** 2)
    others = {head.name: np.eye(len(head.classes))[-2] * 0.5 + 0.5 / len(head.classes) for head in CLASS_HEADS}
    probabilities = {"age": ages / ages.sum(), **others, "gender": np.array([0.1, 0.9]),
                     "ethnicity": np.array([0.1, 0.1, 0.1, 0.1, 0.6])}  # fmt: skip
    return FaceResult(index, box, 0.99, np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8), probabilities)


def _grid_boxes(rows: int, cols: int, side: int, gap: int) -> list[face_labels.Rect]:
    return [
        face_labels.Rect(gap + c * (side + gap), gap + r * (side + gap), side, side)
        for r in range(rows)
        for c in range(cols)
    ]


@pytest.mark.parametrize(("side", "gap"), [(90, 30), (60, 4), (40, 0)])
def test_labels_never_overlap_each_other_other_faces_or_the_edge(side, gap):
    boxes = _grid_boxes(6, 8, side, gap)
    width, height = 8 * (side + gap) + gap, 6 * (side + gap) + gap
    texts, tags = [f"{i + 1}: 34 F White" for i in range(48)], [str(i + 1) for i in range(48)]
    labels = face_labels.layout_labels(boxes, texts, width, height, tags)
    shown = [label for label in labels if label is not None]
    assert len(shown) == 48  # where the full label has no room, the face's number is shown; hovering tells all
    for a, label in enumerate(shown):
        assert label.rect.inside(width, height)
        assert not any(label.rect.overlaps(other.rect) for other in shown[a + 1 :])
        assert not any(label.rect.overlaps(box) for i, box in enumerate(boxes) if i != label.face)
        box = boxes[label.face]  # beside its own face: within a label's height of the box
        assert box.x - label.rect.width <= label.rect.x <= box.x + box.width + label.rect.height
        assert box.y - 2 * label.rect.height <= label.rect.y <= box.y + box.height + label.rect.height
    if gap >= 30:  # room around every face: every face has its full label
        assert all(label.text == texts[label.face] for label in shown)


def test_labels_scale_with_the_face_and_tiny_faces_get_none():
    big, small, tiny = (
        face_labels.Rect(10, 10, 300, 300),
        face_labels.Rect(400, 10, 60, 60),
        face_labels.Rect(500, 10, 12, 12),
    )
    labels = face_labels.layout_labels([big, small, tiny], ["1: 40 M Black", "2: 9 F Asian", "3: 30 M White"], 800, 600)
    assert labels[0] is not None and labels[1] is not None and labels[2] is None
    assert labels[0].rect.height > labels[1].rect.height
    assert face_labels.label_text(_fake_face(2, (0, 0, 9, 9))) == "3: 34 F Others"  # as on the Live page


def test_on_a_phone_every_face_of_a_crowded_photo_carries_its_number():
    unit = 2.0  # a phone's photo is drawn at twice its column's width
    boxes = [face_labels.Rect(40 + i * 46, 120 + (i % 2) * 14, 40, 40) for i in range(7)]  # 20 screen px each
    texts, tags = [f"{i + 1}: 34 F White" for i in range(7)], [str(i + 1) for i in range(7)]
    labels = face_labels.layout_labels(boxes, texts, 400, 300, tags, unit)
    assert all(label is not None for label in labels)
    assert [label.text for label in labels] == tags  # too small for the full label: the number, as the caption says
    shown = [label.rect for label in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(shown) for b in shown[i + 1 :])
    assert all(rect.height >= face_labels.MIN_LABEL_PX * unit for rect in shown)


def test_a_face_filling_a_small_photo_keeps_its_label_inside_and_the_photo_grows():
    rgb = np.full((224, 224, 3), 90, np.uint8)
    face = _fake_face(0, (0, 0, 224, 224))
    scale = photo.display_scale(224, 224)
    out = photo.annotate(rgb, [face], scale)
    assert scale == 2 and out.shape[:2] == (448, 448)  # shown at twice its size, not stretched to the page
    label = face_labels.layout_labels([face_labels.Rect(0, 0, 448, 448)], [face_labels.label_text(face)], 448, 448)[0]
    assert label is not None and label.rect.inside(448, 448)


def test_photo_figure_has_a_hover_and_click_target_per_face():
    faces = [_fake_face(0, (100, 100, 200, 200)), _fake_face(1, (400, 120, 80, 80), age=61)]
    fig = photo_figure.photo_figure(np.zeros((300, 500, 3), np.uint8), faces, 0.5)
    targets = fig.data[1]
    assert list(targets.customdata) == [0, 1]
    assert list(targets.x) == [100, 220] and list(targets.y) == [100, 80]
    low, high = faces[1].age_low, faces[1].age_high
    assert 55 <= low < 61 < high <= 67
    assert f"Face 2: 61 years ({low:.0f}–{high:.0f}), female 90%, Others 60%" in targets.hovertext[1]
    assert (fig.layout.width, fig.layout.height) == (500, 300)


def test_a_long_thin_photo_gets_a_figure_plotly_accepts():
    for shape, column in (((6, 900, 3), None), ((900, 6, 3), None), ((20, 3000, 3), 360)):
        fig = photo_figure.photo_figure(np.zeros(shape, np.uint8), [], 1.0, column_px=column)
        assert fig.layout.height >= photo_figure.PLOTLY_MIN_PX
        assert column is not None or fig.layout.width >= photo_figure.PLOTLY_MIN_PX
        fig.to_json()  # validated


def test_annotate_draws_a_box_per_face_and_shrinks_big_photos():
    rgb = np.zeros((3000, 2000, 3), np.uint8)
    out = photo.annotate(rgb, [_fake_face(0, (300, 300, 600, 600)), _fake_face(1, (1200, 1800, 300, 300))])
    assert max(out.shape[:2]) == photo.DISPLAY_SIDE
    scale = photo.DISPLAY_SIDE / 3000
    for face in (0, 1):
        x, y, w, h = (round(v * scale) for v in ((300, 300, 600, 600), (1200, 1800, 300, 300))[face])
        assert tuple(out[y + h // 2, x]) == photo.BOX_COLOURS[face]  # the left edge of the box
    assert not rgb.any()  # the input is left alone


def test_analyze_answers_bad_input_without_loading_a_model():
    def no_model():
        raise AssertionError("the model must not be loaded for a bad file")

    assert "cannot be used as a photo" in photo.analyze(b"GIF89a broken", no_model).error
    assert f"the limit is {MAX_FILE_BYTES // 2**20} MB" in photo.analyze(b"\0" * (MAX_FILE_BYTES + 1), no_model).error


def _files_under(root) -> set[str]:
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "artifacts"}
    found = set()
    for path in root.rglob("*"):
        if not skip.intersection(path.relative_to(root).parts):
            found.add(str(path.relative_to(root)))
    return found


@pytest.mark.slow
@needs_model
def test_predict_and_explain_of_an_upload_leaves_no_file_behind(tmp_path, monkeypatch):
    import tempfile

    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setenv("TMPDIR", str(spool))
    tree_before = _files_under(paths.PROJECT_ROOT)
    upload = (paths.PROJECT_ROOT / "face2data" / "assets" / "astronaut.jpg").read_bytes()

    app = _app(timeout=MODEL_TIMEOUT)
    app.file_uploader(key="upload").set_value(("portrait.jpg", upload, "image/jpeg")).run()
    assert [s.value for s in app.subheader] == ["1 face found"], (app.error, app.warning)
    app.button(key=next(b.key for b in app.button if b.key and b.key.startswith("shap_"))).click().run()
    app.switch_page("app_pages/explain.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert sum("→ this face" in c.value for c in app.caption) == 3

    assert list(spool.iterdir()) == []
    assert _files_under(paths.PROJECT_ROOT) - tree_before == set()


# --- Batch page ------------------------------------------------------------------------------


def _zip(files: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_batch_page_states_its_limits_and_waits_for_uploads():
    from face2data.limits import MAX_BATCH_BYTES, MAX_BATCH_FILES

    app = _app("batch")
    assert f"**{MAX_BATCH_FILES} photos**" in _texts(app) and f"**{MAX_BATCH_BYTES / 2**20:.0f} MB**" in _texts(app)
    assert "Upload photos, or a zip of them, to start." in _texts(app)


def test_batch_page_refuses_too_many_photos_before_scoring(monkeypatch):
    app = _app("batch")
    many = _zip({f"{i}.jpg": b"x" for i in range(501)})
    app.file_uploader(key="batch_upload").set_value(("many.zip", many, "application/zip")).run()
    assert not app.exception
    assert "hold 501 files; a batch may hold 500" in app.error[0].value


@needs_model
def test_batch_page_scores_a_zip_and_photos_and_keeps_the_result_across_pages():
    from face2data.ui import batch

    portrait = photo.sample_bytes()
    uploads = [("holiday.zip", _zip({"a.jpg": portrait, "trip/b.jpg": portrait, "notes.txt": b"a list\n"})),
               ("c.jpg", portrait), ("grey.png", _png_without_face())]  # fmt: skip
    app = _app("batch", timeout=MODEL_TIMEOUT)
    app.file_uploader(key="batch_upload").set_value([(n, d, "application/octet-stream") for n, d in uploads]).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [_metric(app, k) for k in ("Photos", "Faces", "Photos with faces", "Without a face", "Unreadable")] == [
        "5", "3", "3", "1", "1"]  # fmt: skip
    table = app.dataframe[0].value
    assert list(table["file"]) == ["holiday.zip/a.jpg", "holiday.zip/trip/b.jpg", "holiday.zip/notes.txt",
                                   "c.jpg", "grey.png"]  # fmt: skip
    assert table["thumbnail"][0].startswith("data:image/jpeg;base64,") and pd.isna(table["thumbnail"][2])
    assert "not an image" in table["notes"][2] and table["notes"][4] == "no face found"
    assert app.dataframe[0].proto.placeholder == "—"  # the unreadable file's empty cells, not "None"
    assert {c.key for c in app.get("plotly_chart")} == {"batch_age", "batch_faces_per_photo",
                                                        *(f"batch_{head.name}" for head in CLASS_HEADS)}  # fmt: skip
    result = app.session_state["batch_result"]
    rows = list(csv.DictReader(io.StringIO(batch.results_csv(result))))
    assert len(rows) == 5 and rows[0]["age"] == rows[3]["age"]  # the same photo, the same answer
    app.switch_page("app_pages/training.py").run()
    app.switch_page("app_pages/batch.py").run()
    assert _metric(app, "Faces") == "3"  # still there
    next(b for b in app.button if b.label == "Clear these results").click().run()
    assert "Upload photos, or a zip of them, to start." in _texts(app)


def _png_without_face() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 80), "grey").save(out, format="PNG")
    return out.getvalue()


def test_batch_figures_count_every_class():
    from face2data.ui.batch import BatchResult, summary_counts

    classes = {head.name: head.classes[-1] for head in CLASS_HEADS} | {"gender": "female", "ethnicity": "Asian"}
    face = {"file": "a.jpg", "face": 1, "faces": 2, **classes, "age": 30.0, "error": None}
    no_classes = dict.fromkeys(classes)
    rows = [face, {**face, "face": 2, "gender": "male"},
            {**face, "file": "b.jpg", "face": None, "faces": 0, "gender": None},
            {**face, "file": "c.txt", "face": None, "faces": None, "error": "the file is empty"},
            {**face, "file": "d.jpg", "faces": 1, "possible_face": 1, **no_classes}]  # fmt: skip
    counts = summary_counts(BatchResult(digest="x", rows=rows, thumbnails=[None] * 5))
    assert counts["gender"] == {"male": 1, "female": 1}
    assert counts["ethnicity"]["Asian"] == 2 and sum(counts["ethnicity"].values()) == 2
    for head in CLASS_HEADS:  # every class of every class head, in the schema's order
        assert list(counts[head.name]) == list(head.classes) and sum(counts[head.name].values()) == 2
    # d.jpg's only box is a possible face: a photo without a face read
    assert counts["faces per photo"] == {"0": 2, "1": 0, "2": 1}
    fig = figures.batch_counts_figure(counts["faces per photo"], "Faces per photo", "photos")
    assert list(fig.data[0].x) == ["0", "1", "2"] and list(fig.data[0].y) == [2, 0, 1]


@pytest.mark.slow
@needs_model
def test_a_batch_of_uploads_leaves_no_file_behind(tmp_path, monkeypatch):
    import tempfile

    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setenv("TMPDIR", str(spool))
    tree_before = _files_under(paths.PROJECT_ROOT)
    upload = _zip({"a.jpg": photo.sample_bytes(), "b.txt": b"text\n"})
    app = _app("batch", timeout=MODEL_TIMEOUT)
    app.file_uploader(key="batch_upload").set_value(("private.zip", upload, "application/zip")).run()
    assert _metric(app, "Faces") == "1", [e.value for e in app.exception]
    assert list(spool.iterdir()) == []
    assert _files_under(paths.PROJECT_ROOT) - tree_before == set()


def test_evaluation_page_shows_a_test_set_without_ethnicity_labels_and_its_calibration():
    if not paths.ALL_AGES_METRICS_PATH.exists():
        pytest.skip("the All-Age-Faces test split has not been evaluated")
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["test_set"] = "allagefaces"
    app.run()
    app.switch_page("app_pages/evaluation.py").run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = json.loads(paths.ALL_AGES_METRICS_PATH.read_text())
    assert _metric(app, "Age MAE") == f"{metrics['age_mae']:.2f} years"
    assert _metric(app, "Ethnicity accuracy") == "—"
    # its per-group tables leave the ethnicity accuracy empty as the figure above does, with a dash
    groups = [frame for frame in app.dataframe if "n" in frame.value]  # per-group tables have a count column
    assert groups and all(frame.proto.placeholder == "—" for frame in groups)
    assert "Can its probabilities be trusted?" in [h.value for h in app.header]


def test_on_a_phone_every_label_is_at_least_eleven_screen_pixels_high():
    from conftest import crowd_photo

    rgb = crowd_photo(rows=3, cols=4, side=110, seed=3)  # the phone browser test's crowd
    unit = photo.NARROW_DENSITY
    scale = photo.NARROW_COLUMN_PX * unit / rgb.shape[1]  # the phone's drawing, as analyze makes it
    boxes = [face_labels.Rect(round(110 * c * 1.3 * scale), round(110 * r * 1.3 * scale), round(110 * scale),
                              round(110 * scale)) for r in range(3) for c in range(4)]  # fmt: skip
    texts = [f"{i + 1}: 34 F White" for i in range(len(boxes))]
    width, height = round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)
    labels = face_labels.layout_labels(boxes, texts, width, height, [str(i + 1) for i in range(12)], unit)
    placed = [label for label in labels if label is not None]
    assert placed  # the faces (about 50 screen px wide on a phone) get labels
    for label in placed:  # the text's height on the screen: font scale x 22 px, over the drawing's density
        assert label.font_scale * 22 / unit >= face_labels.MIN_LABEL_PX - 0.5, label
