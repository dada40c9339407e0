"""Temperatures: fitted on validation faces only, stored for one model file, applied wherever the model answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_fairface_source

from face2data.calibration import model_sha256, read_temperatures, write_calibration
from face2data.evaluation.calibrate import VALIDATION, calibrate, calibration_table
from face2data.outputs import predict_probabilities, with_temperature
from face2data.schema import CLASS_HEADS, NUM_AGES

ANSWERS = {"gender": [0.9, 0.1], "ethnicity": [0.6, 0.1, 0.1, 0.1, 0.1]}  # another class head: 0.6 on its first


class FixedModel:
    """Answers the same probabilities for every face (and its mirror)."""

    def __init__(self, temperatures: dict[str, float] | None = None) -> None:
        self.temperatures = temperatures or {}

    def predict_on_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        n = len(batch)
        answers = {"age": np.full((n, NUM_AGES), 1 / NUM_AGES, np.float32)}
        for head in CLASS_HEADS:
            p = ANSWERS.get(head.name, [0.6, *[0.4 / (head.size - 1)] * (head.size - 1)])
            answers[head.name] = np.tile(np.array(p, np.float32), (n, 1))
        return answers


def test_the_models_temperatures_rescale_its_class_probabilities_and_nothing_else():
    faces = np.zeros((3, 8, 8, 3), np.float32)
    raw = predict_probabilities(FixedModel(), faces)
    scaled = predict_probabilities(FixedModel({"gender": 2.0}), faces)
    assert np.allclose(scaled["gender"], with_temperature(raw["gender"], 2.0))
    assert scaled["gender"][0, 0] == pytest.approx(0.75, abs=1e-6)  # sqrt(.9) / (sqrt(.9) + sqrt(.1))
    assert np.array_equal(scaled["ethnicity"], raw["ethnicity"]) and np.array_equal(scaled["age"], raw["age"])
    assert scaled["gender"].dtype == np.float32


def test_temperatures_belong_to_one_model_file(tmp_path):
    model_bytes, other = b"TFL3 model", b"TFL3 another model"
    path = tmp_path / "calibration.json"
    assert read_temperatures(model_bytes, path) == {}  # no file: no rescaling
    write_calibration({"model": {"file": "m.tflite", "sha256": model_sha256(model_bytes)},
                       "temperatures": {"gender": 1.13, "ethnicity": 1.08}}, path)  # fmt: skip
    assert read_temperatures(model_bytes, path) == {"gender": 1.13, "ethnicity": 1.08}
    assert read_temperatures(other, path) == {}  # a retrained model is not rescaled by its predecessor's fit
    path.write_text("{not json")
    assert read_temperatures(model_bytes, path) == {}


def test_calibrate_fits_on_validation_faces_and_reports_every_test_split(tmp_path):
    races = ["White", "Black", "Indian", "East Asian", "Southeast Asian", "Middle Eastern", "Latino_Hispanic"]
    rows = [(age, gender, races[i % 7]) for i, (age, gender) in
            enumerate([("20-29", "Male"), ("more than 70", "Female"), ("3-9", "Female")] * 30)]  # fmt: skip
    folder = write_fairface_source(tmp_path / "src", rows)
    model_file = tmp_path / "model.tflite"
    model_file.write_bytes(b"the model's bytes")
    model = FixedModel({"gender": 5.0})  # an earlier fit is not what the new one starts from
    report = calibrate(model, model_file, [folder])
    assert model.temperatures == {}
    assert report["model"] == {"file": "model.tflite", "sha256": model_sha256(b"the model's bytes")}
    heads = [head.name for head in CLASS_HEADS]  # FairFace has a label of every class head
    assert set(report["temperatures"]) == set(heads) and report["fitted_on"].endswith("fairface")
    for head in heads:
        assert set(report["figures"][head]) == {VALIDATION, "fairface test split"}
        validation = report["figures"][head][VALIDATION]
        assert validation["after"]["nll"] <= validation["before"]["nll"] + 1e-4  # the fit lowers what it minimises
    table = calibration_table(report)
    assert len(table.splitlines()) == 2 + 2 * len(heads) and "fairface test split" in table
    json.dumps(report)  # writable as it is
