"""The one table of heads changed no answer: the CLI's `predict --json` and `explain --json`, a batch CSV and the
API's /v1/predict give, for the sample photo and two faces made from it, every value they gave before it
(tests/data/before_head_table/, written by the code of commit af0cc95). What was added is allowed: per-head
fields every class head now has (``gender_probabilities``, ``ethnicity_probability``, ``p_male``/``p_female``).
The temperatures fitted since then (weights/calibration.json) are switched off here: they rescale probabilities
on purpose, and tests/test_calibration.py covers them."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import cv2
import pytest
from conftest import face_images

from face2data import tflite_model
from face2data.cli import main

BEFORE = Path(__file__).parent / "data" / "before_head_table"
SAMPLE = Path(__file__).resolve().parents[1] / "face2data" / "assets" / "astronaut.jpg"


@pytest.fixture
def raw_network(shipped_tflite_path, monkeypatch):
    """The shipped network without its temperatures, as the code before them ran it."""
    monkeypatch.setattr(tflite_model, "read_temperatures", lambda *args, **kwargs: {})
    monkeypatch.setattr(tflite_model.load_tflite_model(shipped_tflite_path), "temperatures", {})


@pytest.fixture
def photos(tmp_path) -> list[Path]:
    """The sample photo and two faces made from it, written as the stored outputs' inputs were."""
    files = [SAMPLE]
    for n, rgb in enumerate(face_images(2, 200, seed=11)):
        path = tmp_path / f"face{n}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        files.append(path)
    return files


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(argv)
    return out.getvalue()


def _keeps(before, after, where: str = "") -> None:
    """Every value of ``before`` is in ``after``, equal (dictionaries may have gained keys)."""
    if isinstance(before, dict):
        assert isinstance(after, dict), where
        for key, value in before.items():
            assert key in after, f"{where}.{key} is gone"
            _keeps(value, after[key], f"{where}.{key}")
    elif isinstance(before, list):
        assert isinstance(after, list) and len(after) == len(before), where
        for i, (old, new) in enumerate(zip(before, after, strict=True)):
            _keeps(old, new, f"{where}[{i}]")
    else:
        assert after == before, f"{where}: {before!r} became {after!r}"


def test_predict_and_explain_json_keep_every_value(raw_network, photos):
    predict = json.loads(_run(["predict", "--json", *map(str, photos)]))
    for report in predict:
        report["file"] = Path(report["file"]).name
    _keeps(json.loads((BEFORE / "predict.json").read_text()), predict, "predict")
    explain = json.loads(_run(["explain", "--json", str(SAMPLE)]))
    _keeps(json.loads((BEFORE / "explain.json").read_text()), explain, "explain")


def test_a_batch_csv_keeps_every_column_and_value(raw_network, photos, tmp_path):
    out = tmp_path / "batch.csv"
    _run(["batch", *map(str, photos), "--out", str(out), "--workers", "1", "--quiet"])
    after = list(csv.DictReader(out.open()))
    for row in after:
        row["file"] = Path(row["file"]).name
    before = list(csv.DictReader((BEFORE / "batch.csv").open()))
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert {k: new[k] for k in old} == old
        assert set(new) - set(old) == {"p_male", "p_female", "ethnicity_probability"}


def test_the_apis_predict_keeps_every_value(raw_network):
    from fastapi.testclient import TestClient

    from face2data.api.app import create_app

    with TestClient(create_app()) as client:
        answer = client.post("/v1/predict", files={"file": ("astronaut.jpg", SAMPLE.read_bytes(), "image/jpeg")})
    assert answer.status_code == 200
    _keeps(json.loads((BEFORE / "api_predict.json").read_text()), answer.json(), "api")
