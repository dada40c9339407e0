"""The prediction API and ``python -m face2data predict`` with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from face2data.cli import main
from face2data.image_loading import load_rgb
from face2data.outputs import predict_probabilities
from face2data.predictor import Predictor
from face2data.schema import CLASS_HEADS, ETHNICITIES, GENDERS, NUM_AGES, to_model_input

ASTRONAUT = Path(__file__).resolve().parents[1] / "face2data" / "assets" / "astronaut.jpg"
# A face's JSON: its box, its age, each class head's class, probability and probabilities, its quality notes.
FACE_KEYS = {
    "box", "score", "age", "age_years", "age_low", "age_high", "quality_notes",
    *(f"{head.name}{part}" for head in CLASS_HEADS for part in ("", "_probability", "_probabilities")),
}  # fmt: skip


class CountingModel:
    """Wraps a Keras model and counts the calls made to it."""

    def __init__(self, model) -> None:
        self.model, self.calls = model, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.model(*args, **kwargs)

    def predict_on_batch(self, *args, **kwargs):
        self.calls += 1
        return self.model.predict_on_batch(*args, **kwargs)


@pytest.fixture(scope="module")
def predictor(shipped_model_path) -> Predictor:
    return Predictor(model_path=shipped_model_path)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_rgb(ASTRONAUT.read_bytes())


def three_astronauts(astronaut: np.ndarray) -> np.ndarray:
    canvas = np.full((600, 1200, 3), 70, np.uint8)
    for x, side in ((20, 480), (540, 360), (930, 250)):
        canvas[40 : 40 + side, x : x + side] = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def test_one_result_per_face_with_consistent_fields(predictor, astronaut):
    results = predictor.predict_image(astronaut)
    assert len(results) == 1
    face = results[0]
    assert face.index == 0 and face.crop.shape == (200, 200, 3)
    assert face.age_probabilities.shape == (NUM_AGES,) and abs(face.age_probabilities.sum() - 1) < 1e-3
    assert 0 <= face.age_low <= face.age_high <= 116 and 0 <= face.age <= 116
    assert face.label("gender") in GENDERS and 0.5 <= face.probability("gender") <= 1
    ethnicities = face.class_probabilities("ethnicity")
    assert list(ethnicities) == list(ETHNICITIES)
    assert face.label("ethnicity") == max(ethnicities, key=ethnicities.get)
    assert abs(sum(ethnicities.values()) - 1) < 1e-3
    for head in CLASS_HEADS:  # every class head: its classes in order, the likeliest named, summing to one
        probabilities = face.class_probabilities(head.name)
        assert list(probabilities) == list(head.classes) and abs(sum(probabilities.values()) - 1) < 1e-3
        assert face.label(head.name) == max(probabilities, key=probabilities.get)
    # The served numbers are the model's on the aligned crop, mirror-averaged, nothing else.
    direct = predict_probabilities(predictor.model, to_model_input(face.crop[None]), flip=True)
    np.testing.assert_allclose(face.age_probabilities, direct["age"][0], atol=1e-5)
    data = face.to_dict()
    assert set(data) == FACE_KEYS and json.loads(json.dumps(data)) == data


def test_all_faces_of_a_photo_go_through_the_model_in_one_call(predictor, astronaut):
    counting = CountingModel(predictor.model)
    results = Predictor(model=counting, detector=predictor.detector).predict_image(three_astronauts(astronaut))
    assert len(results) == 3 and counting.calls == 1
    assert [r.index for r in results] == [0, 1, 2]
    areas = [r.box[2] * r.box[3] for r in results]
    assert areas == sorted(areas, reverse=True)


def test_no_face_means_no_result_and_no_model_call(predictor):
    counting = CountingModel(predictor.model)
    assert Predictor(model=counting, detector=predictor.detector).predict_image(np.zeros((300, 300, 3), np.uint8)) == []
    assert counting.calls == 0


def test_predict_cli_json_answers_every_file(shipped_model_path, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 255, np.uint8))
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(ASTRONAUT.read_bytes()[:2000])
    files = [str(ASTRONAUT), str(blank), str(tmp_path / "missing.jpg"), str(text), str(truncated)]
    code = main(["predict", *files, "--json", "--model", str(shipped_model_path)])
    reports = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["file"] for r in reports] == files
    astronaut, blank_report, *unreadable = reports
    assert astronaut["error"] is None and len(astronaut["faces"]) == 1 and set(astronaut["faces"][0]) == FACE_KEYS
    assert blank_report == {"file": str(blank), "faces": [], "error": None}
    for report in unreadable:
        assert report["faces"] == [] and isinstance(report["error"], str) and report["error"]


def test_predict_cli_table_and_exit_code(shipped_model_path, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 255, np.uint8))
    assert main(["predict", str(ASTRONAUT), str(blank), "--model", str(shipped_model_path)]) == 0
    table = capsys.readouterr().out
    assert "astronaut.jpg" in table and "no face found" in table and any(g in table for g in GENDERS)
    # Nothing readable at all: a non-zero exit, and still a message per file.
    assert main(["predict", str(tmp_path / "missing.jpg"), "--model", str(shipped_model_path)]) != 0
    assert "error: no such file" in capsys.readouterr().out


def test_predict_cli_gives_boxes_in_the_photos_pixels_however_large(predictor, astronaut, shipped_model_path, tmp_path,
                                                                    capsys):  # fmt: skip
    # Over DECODE_PIXELS a photo is decoded reduced; its boxes must still be in its own pixels, as batch's and the
    # API's (``Predictor.predict_photo``) are.
    side = 5200
    large = tmp_path / "large.jpg"
    cv2.imwrite(str(large), cv2.resize(astronaut[:, :, ::-1], (side, side), interpolation=cv2.INTER_LINEAR))
    assert main(["predict", str(large), "--json", "--model", str(shipped_model_path)]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    expected = predictor.predict_photo("large.jpg", large.read_bytes()).faces[0].box
    small = np.array(predictor.predict_image(astronaut)[0].box) * side / astronaut.shape[1]
    assert report["faces"][0]["box"] == list(expected)
    assert np.allclose(report["faces"][0]["box"], small, atol=0.03 * side)


def test_predict_cli_reports_an_unloadable_model(tmp_path, capsys):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model")
    assert main(["predict", str(ASTRONAUT), "--model", str(broken)]) == 2
    assert "cannot load the model" in capsys.readouterr().err
