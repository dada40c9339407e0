"""Boxes the detector is not sure of are "possible faces": drawn, marked, but never given an age, gender or
ethnicity unless a person asks; real faces are still read."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SCENES_DIR, crowd_photo
from fastapi.testclient import TestClient

from face2data.api.app import create_app
from face2data.faces import default_detector, find_faces
from face2data.faces.detection import Detection, FaceDetector
from face2data.faces.quality import DOUBTFUL_SCORE
from face2data.image_loading import load_rgb_file
from face2data.predictor import Predictor
from face2data.results import COLUMNS, PhotoResult
from face2data.ui.photo import analyze, results_csv, results_json

NOISE_BOX = (620, 40, 90, 90)  # where the made photo has a patch of patterns, not a face


def _photo_with_faces_and_patterns() -> np.ndarray:
    """Two real faces (the sample face, varied) and, beside them, a clock face, circles and a noise pattern."""
    faces = crowd_photo(rows=1, cols=2, side=150, seed=11)
    photo = np.full((faces.shape[0] + 60, faces.shape[1] + 420, 3), 150, np.uint8)
    photo[: faces.shape[0], : faces.shape[1]] = faces
    cv2.circle(photo, (520, 110), 60, (250, 250, 250), -1)
    cv2.circle(photo, (520, 110), 60, (20, 20, 20), 4)
    for hour in range(12):
        angle = hour * np.pi / 6
        inner = (int(520 + 45 * np.cos(angle)), int(110 + 45 * np.sin(angle)))
        outer = (int(520 + 56 * np.cos(angle)), int(110 + 56 * np.sin(angle)))
        cv2.line(photo, inner, outer, (20, 20, 20), 3)
    cv2.line(photo, (520, 110), (550, 80), (10, 10, 10), 4)
    for i in range(3):
        cv2.circle(photo, (640 + 30 * i, 200), 12, (40, 40, 200), 3)
    x, y, w, h = NOISE_BOX
    rng = np.random.default_rng(0)
    photo[y : y + h, x : x + w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return photo


class FoolableDetector(FaceDetector):
    """The real detector, which in the made photo also "sees" a face in the noise patch at a low score (as YuNet
    sees one in a wall clock or a hand in real photos). Second looks at crops go to the real detector."""

    def detect(self, rgb: np.ndarray, border: float = 0.0) -> list[Detection]:
        found = super().detect(rgb, border)
        if rgb.shape[:2] != _photo_with_faces_and_patterns().shape[:2]:
            return found
        x, y, w, h = NOISE_BOX
        keypoints = np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h], [x + 0.5 * w, y + 0.6 * h],
                              [x + 0.35 * w, y + 0.8 * h], [x + 0.65 * w, y + 0.8 * h]])  # fmt: skip
        return [*found, Detection(NOISE_BOX, DOUBTFUL_SCORE - 0.03, keypoints)]


@pytest.fixture(scope="module")
def predictor(shipped_tflite_path) -> Predictor:
    return Predictor(detector=FoolableDetector())


def test_the_patterns_are_drawn_as_a_possible_face_and_the_real_faces_are_read(predictor):
    photo = _photo_with_faces_and_patterns()
    found = find_faces(photo, predictor.detector)
    assert [face.doubtful for face in found] == [False, False, True]
    faces = predictor.predict_image(photo)
    read, unread = [f for f in faces if f.read], [f for f in faces if not f.read]
    assert len(read) == 2 and all(f.label("gender") in ("male", "female") and f.age > 0 for f in read)
    assert len(unread) == 1 and unread[0].box == NOISE_BOX and unread[0].probabilities == {}
    assert "age" not in unread[0].to_dict()
    assert unread[0].to_dict().keys() == {"box", "score", "possible_face", "quality_notes"}
    # read on request: then it has attributes, still marked as a possible face
    asked = predictor.predict_image(photo, read_possible=True)
    assert all(f.read for f in asked) and asked[2].to_dict()["possible_face"] is True and asked[2].label("gender")


def test_the_app_leaves_possible_faces_out_of_the_table_and_downloads_them_as_predict_does(predictor):
    data = cv2.imencode(".png", cv2.cvtColor(_photo_with_faces_and_patterns(), cv2.COLOR_RGB2BGR))[1].tobytes()
    analysis = analyze(data, lambda: predictor)
    assert len(analysis.faces) == 2 and len(analysis.possible) == 1
    # the downloads are predict --json's object and batch's rows for the photo: the possible face is marked
    downloaded = json.loads(results_json(analysis))["faces"]
    assert [face.get("possible_face", False) for face in downloaded] == [False, False, True]
    assert "age" not in downloaded[2]
    assert len(results_csv(analysis).strip().splitlines()) == 1 + 3
    asked = analyze(data, lambda: predictor, read_possible=True)
    assert len(asked.faces) == 3 and not asked.possible


@pytest.mark.slow
def test_predict_json_batch_rows_and_the_api_mark_the_possible_face_without_attributes(predictor, tmp_path):
    photo = _photo_with_faces_and_patterns()
    path = tmp_path / "party.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    report = PhotoResult(str(path), predictor.predict_image(load_rgb_file(path))).to_dict()  # as predict --json
    assert [face.get("possible_face", False) for face in report["faces"]] == [False, False, True]
    assert "age" not in report["faces"][2] and "gender" not in report["faces"][2]
    rows = PhotoResult("party.png", predictor.predict_image(photo)).rows()
    assert [row["possible_face"] for row in rows] == [0, 0, 1] and set(COLUMNS) == set(rows[0])
    assert rows[2]["age"] is None and rows[2]["gender"] is None and rows[2]["p_ethnicity_White"] is None
    with TestClient(create_app(predictor_factory=lambda: predictor)) as client:
        body = client.post("/v1/predict", content=path.read_bytes(), headers={"Content-Type": "image/png"}).json()
        assert [face.get("possible_face", False) for face in body["faces"]] == [False, False, True]
        assert "ethnicity" not in body["faces"][2]
        asked = client.post(
            "/v1/predict?read_possible=true", content=path.read_bytes(), headers={"Content-Type": "image/png"}
        ).json()
        assert asked["faces"][2]["possible_face"] is True and "ethnicity" in asked["faces"][2]
        # an explanation is of a face that was read: face 3 is not one
        explained = client.post("/v1/explain?face=3&pixels=false", content=path.read_bytes(),
                                headers={"Content-Type": "image/png"})  # fmt: skip
        assert explained.status_code == 404


# The one box of at least 40 px that the rule leaves unread on the group photos; looked at (benchmarks/
# possible_faces.py --montage): a hand in front of an orange shirt, not a face.
KNOWN_LARGE_NON_FACES = {("ul_17.jpg", (22, 619))}


@pytest.mark.slow
def test_on_the_group_photos_no_face_of_40_px_or_more_goes_unread():
    if not SCENES_DIR.is_dir():
        pytest.skip(f"the group photos are not at {SCENES_DIR}")
    from face2data.image_loading import load_rgb_file

    detector = default_detector()
    unread_large, read = set(), 0
    for path in sorted(Path(SCENES_DIR).glob("*.jpg")):
        for face in find_faces(load_rgb_file(path), detector):
            if face.doubtful and max(face.box[2:]) >= 40:
                unread_large.add((path.name, face.box[:2]))
            read += not face.doubtful
    assert unread_large == KNOWN_LARGE_NON_FACES
    assert read >= 520  # of 528 boxes
