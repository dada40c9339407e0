"""The evaluation run: same figures from a folder and from an archive; the shipped artifacts agree."""

import csv
import json
import tarfile

import numpy as np
import pytest
from conftest import utkface_names, write_allagefaces_source, write_fairface_source, write_utkface_images

from face2data.data.split import split_of
from face2data.evaluation.metrics import RANGE_HIT_KEY, head_pairs
from face2data.evaluation.run import PREDICTION_COLUMNS, evaluate, write_predictions
from face2data.model import build_model
from face2data.paths import (
    ALL_AGES_METRICS_PATH,
    ALL_AGES_PREDICTIONS_PATH,
    MODEL_CARD_PATH,
    TEST_METRICS_PATH,
    TEST_PREDICTIONS_PATH,
    WILD_METRICS_PATH,
    WILD_PREDICTIONS_PATH,
)
from face2data.results import probability_column
from face2data.schema import CLASS_HEADS


@pytest.fixture(scope="module")
def untrained_model():
    return build_model()


@pytest.mark.slow
def test_folder_and_archive_give_the_same_figures(tmp_path, untrained_model):
    names = utkface_names({"train": 5, "val": 2, "test": 6})
    folder = tmp_path / "nested" / "faces"
    write_utkface_images(folder, names)
    (folder / "61_1_20170109142408075.jpg.chip.jpg").write_bytes((folder / names[0]).read_bytes())
    archive = tmp_path / "UTKFace.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=f"UTKFace/{path.name}")

    for split, n in (("test", 6), ("all", 13)):
        from_folder, rows_folder = evaluate(untrained_model, tmp_path / "nested", split)
        from_archive, rows_archive = evaluate(untrained_model, archive, split)
        assert from_folder["n"] == from_archive["n"] == n
        assert from_folder["skipped"] == from_archive["skipped"] == ["61_1_20170109142408075.jpg.chip.jpg"]
        for key in ("age_mae", "age_rmse", "gender_accuracy", "ethnicity_accuracy", "confusion", "per_group"):
            assert from_folder[key] == from_archive[key]
        assert rows_folder == rows_archive

    out = tmp_path / "predictions.csv"
    write_predictions(rows_folder, out, "utkface")
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == PREDICTION_COLUMNS["utkface"] and len(rows) == 13
    for row in rows:
        assert float(row["age_low"]) <= float(row["age_high"])
        for head in CLASS_HEADS:  # each class head's probabilities add up to one
            total = sum(float(row[probability_column(head.name, label)]) for label in head.classes)
            assert total == pytest.approx(1.0, abs=1e-3)


def test_evaluate_a_tiny_fairface_style_archive(tmp_path, untrained_model):
    races = ["White", "Black", "Indian", "East Asian", "Southeast Asian", "Middle Eastern", "Latino_Hispanic"]
    rows = [(age, gender, races[i % 7]) for i, (age, gender) in
            enumerate([("20-29", "Male"), ("more than 70", "Female"), ("3-9", "Female")] * 30)]  # fmt: skip
    folder = write_fairface_source(tmp_path / "src", rows)
    archive = tmp_path / "FairFace-train.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="FairFace")
    report, predictions = evaluate(untrained_model, archive, "test")
    n_test = sum(split_of(f"train/{i}.jpg") == "test" for i in range(1, len(rows) + 1))
    assert report["source"] == "fairface" and report["n"] == len(predictions) == n_test > 0
    assert report["faces_found"] == 1.0 and report["faces_total"] == n_test
    heads = [head.name for head in CLASS_HEADS]  # FairFace has a label of every class head
    for key in ("age_in_range", RANGE_HIT_KEY, *(f"{head}_accuracy" for head in heads)):
        assert 0 <= report[key] <= 1 and key in report["confidence_intervals"]
    assert set(report["confidence_intervals"]) == {"age_in_range", RANGE_HIT_KEY, *(f"{h}_accuracy" for h in heads)}
    assert report["age_in_range"] <= report[RANGE_HIT_KEY] and "age_mae" not in report
    for head in CLASS_HEADS:
        assert np.array(report["confusion"][head.name]["counts"]).sum() == n_test
        assert set(report["calibration"]) >= {head.name} and f"{head.name}_true" in predictions[0]
    for truth, predicted in head_pairs(CLASS_HEADS):  # FairFace's seven groups against the five classes
        calls = np.array(report["confusion"][f"{truth.name}_to_{predicted.name}"]["counts"])
        assert calls.shape == (len(truth.classes), len(predicted.classes)) and calls.sum() == n_test
    assert np.array(report["confusion"]["age_bucket"]["counts"]).shape == (9, 9)
    cells = report["per_group"]["cells"]
    assert sum(cell["n"] for cell in cells) == n_test and {*heads, "age_bucket"} <= set(cells[0])
    assert "age_interval" not in report["calibration"] and predictions[0]["age_range_true"]
    out = tmp_path / "wild.csv"
    write_predictions(predictions, out, "fairface")
    with out.open() as handle:
        assert list(next(csv.DictReader(handle))) == PREDICTION_COLUMNS["fairface"]


def test_evaluate_an_all_age_faces_folder_scores_age_and_gender_with_calibration(tmp_path, untrained_model):
    folder = write_allagefaces_source(tmp_path / "src", [(2 + 3 * i, ("female", "male")[i % 2]) for i in range(26)])
    report, predictions = evaluate(untrained_model, folder, "all")
    assert report["source"] == "allagefaces" and report["test_set"] == "All-Age-Faces test split"
    assert report["n"] == len(predictions) == 26 and report["faces_found"] == 1.0
    assert "ethnicity_accuracy" not in report and "ethnicity_accuracy" not in report["confidence_intervals"]
    assert report["age_mae"] >= 0 and 0 <= report["gender_accuracy"] <= 1
    assert set(report["calibration"]) == {"gender", "age_interval"}
    assert sum(b["n"] for b in report["calibration"]["gender"]["bins"]) == 26
    assert "ethnicity_true" not in predictions[0] and predictions[0]["age_true"] == 2
    assert set(report["per_group"]) == {"gender", "age_bucket", "cells"}
    out = tmp_path / "aaf.csv"
    write_predictions(predictions, out, "allagefaces")
    with out.open() as handle:
        first = next(csv.DictReader(handle))
        assert list(first) == PREDICTION_COLUMNS["allagefaces"] and first["ethnicity_true"] == ""


def test_shipped_metrics_predictions_and_card_agree():
    if not TEST_METRICS_PATH.exists():
        pytest.skip("no shipped test metrics yet")
    metrics = json.loads(TEST_METRICS_PATH.read_text())
    with TEST_PREDICTIONS_PATH.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics["n"]
    errors = [abs(float(r["age_pred"]) - float(r["age_true"])) for r in rows]
    assert np.mean(errors) == pytest.approx(metrics["age_mae"], abs=0.01)
    gender_ok = np.mean([r["gender_pred"] == r["gender_true"] for r in rows])
    assert gender_ok == pytest.approx(metrics["gender_accuracy"])
    card = MODEL_CARD_PATH.read_text()
    assert f"MAE {metrics['age_mae']:.2f} years" in card and f"{metrics['n']:,} of" in card
    if WILD_METRICS_PATH.exists():
        wild = json.loads(WILD_METRICS_PATH.read_text())
        with WILD_PREDICTIONS_PATH.open() as handle:
            assert sum(1 for _ in csv.DictReader(handle)) == wild["n"]
        assert f"{100 * wild['gender_accuracy']:.1f} %" in card and f"{wild['n']:,} of" in card
    if ALL_AGES_METRICS_PATH.exists():
        all_ages = json.loads(ALL_AGES_METRICS_PATH.read_text())
        with ALL_AGES_PREDICTIONS_PATH.open() as handle:
            assert sum(1 for _ in csv.DictReader(handle)) == all_ages["n"]
        assert f"MAE {all_ages['age_mae']:.2f} years" in card and "All-Age-Faces test split" in card


def test_an_older_metrics_file_is_completed_when_read(tmp_path):
    from face2data.evaluation.run import TEST_SET_NAMES, read_metrics

    path = tmp_path / "test_metrics.json"
    path.write_text(json.dumps({"n": 40, "age_mae": 5.0, "source": "utkface"}))
    metrics = read_metrics(path, "utkface")
    assert metrics["test_set"] == TEST_SET_NAMES["utkface"] and metrics["faces_total"] == 40
    assert metrics["faces_found"] == 1.0 and metrics["age_mae"] == 5.0
    assert read_metrics(tmp_path / "absent.json", "fairface") is None
