"""An explanation explains the number shown: "this face" in every head's explanation is the card's value."""

from __future__ import annotations

import cv2
import pytest
from conftest import ASTRONAUT, crowd_photo
from fastapi.testclient import TestClient

from face2data.api.app import create_app
from face2data.explanation import explain_face, explain_regions
from face2data.image_loading import load_rgb_file
from face2data.predictor import Predictor
from face2data.schema import ETHNICITIES, GENDERS

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane


@pytest.fixture(scope="module")
def predictor(shipped_tflite_path) -> Predictor:
    return Predictor()


@pytest.fixture(scope="module")
def faces(predictor):
    """The sample photo's face and two faces of a photo the test makes."""
    made = predictor.predict_image(crowd_photo(rows=1, cols=2, side=150, seed=11))
    assert len(made) == 2
    return [predictor.predict_image(load_rgb_file(ASTRONAUT))[0], *made]


def _shown(face) -> dict[str, float]:
    """The card's numbers: age in years, the predicted classes' probabilities in percent."""
    return {
        "age": face.age,
        "gender": 100 * face.probability("gender"),
        "ethnicity": 100 * face.probability("ethnicity"),
    }


def test_region_values_explain_the_shown_prediction_of_every_head(predictor, faces):
    for face in faces:
        explanation = explain_regions(predictor.model, face.crop)
        for head, value in _shown(face).items():
            assert explanation[head].output_value == pytest.approx(value, abs=1e-6), head
        assert explanation["gender"].target == f"P({face.label('gender')})"
        # a class the user picks is explained at the probability the card lists for it
        other = next(e for e in ETHNICITIES if e != face.label("ethnicity"))
        other_gender = next(g for g in GENDERS if g != face.label("gender"))
        picked = explanation.retarget(ethnicity_class=other, gender_class=other_gender)
        assert picked["ethnicity"].output_value == pytest.approx(100 * face.probability("ethnicity", other), abs=1e-6)
        # the card gives the other gender as 1 - p, which float32 rounds at about 1e-6 of a percent
        assert picked["gender"].output_value == pytest.approx(100 * face.probability("gender", other_gender), abs=1e-4)


def test_pixel_maps_explain_the_shown_prediction_of_every_head(predictor, faces):
    face = faces[0]
    explanation = explain_face(predictor.model, face.crop)
    shown = _shown(face)
    assert explanation["age"].output_value == pytest.approx(shown["age"], abs=1e-6)
    for head in ("gender", "ethnicity"):
        assert 100 * explanation[head].output_value == pytest.approx(shown[head], abs=1e-6)


def test_the_api_explains_the_prediction_it_returns(predictor, faces):
    data = cv2.imencode(".png", cv2.cvtColor(crowd_photo(rows=1, cols=2, side=150, seed=11), cv2.COLOR_RGB2BGR))[1]
    with TestClient(create_app()) as client:
        for number in (1, 2):
            response = client.post(
                f"/v1/explain?face={number}&pixels=false", content=data.tobytes(), headers={"Content-Type": "image/png"}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            face = faces[number]  # the same photo through the library
            heads = body["regions"]["heads"]
            for head, value in _shown(face).items():
                assert heads[head]["output"] == pytest.approx(value, abs=1e-4), head  # 4 decimals in the JSON
            prediction = body["prediction"]
            assert heads["gender"]["output"] / 100 == pytest.approx(prediction["gender_probability"], abs=5e-4)
            assert heads["age"]["output"] == pytest.approx(prediction["age"], abs=0.05)
