"""A face's result in its forms: JSON, flat row, labels and the CLI table, all derived from the head table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face2data.results import (
    COLUMNS,
    FaceResult,
    PhotoResult,
    class_summary,
    face_row,
    labels_of,
    probability_column,
    short_label,
    whole_percent,
    word_label,
)
from face2data.schema import AGES, CLASS_HEADS, CROP_SIZE, HEAD_BY_NAME, HEAD_TABLE, RACES, Head, shown_heads
from face2data.text_table import format_table


def _face(age: float = 40.0) -> FaceResult:
    ages = np.exp(-0.5 * ((AGES - age) / 3.0) ** 2)
    probabilities = {"age": ages / ages.sum(), "gender": np.array([0.25, 0.75]),
                     "ethnicity": np.array([0.1, 0.05, 0.7, 0.1, 0.05]),
                     "ethnicity7": np.array([0.1, 0.05, 0.05, 0.5, 0.2, 0.05, 0.05])}  # fmt: skip
    return FaceResult(0, (10, 20, 80, 90), 0.97, np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8), probabilities)


def test_every_head_has_its_columns_and_no_two_classes_share_one():
    for head in CLASS_HEADS:
        assert {head.name, f"{head.name}_probability", *(f"p_{head.name}_{c}" for c in head.classes)} <= set(COLUMNS)
    assert len(COLUMNS) == len(set(COLUMNS))
    # two schemes of one attribute with a class of the same name still get a column each
    assert probability_column("ethnicity", "White") != probability_column("ethnicity7", "White")
    assert [head.name for head in HEAD_TABLE if head.kind == "age"] == ["age"]


def test_a_face_reads_the_same_in_every_form():
    face = _face()
    assert face.label("gender") == "female" and face.probability("gender") == 0.75
    assert face.label("ethnicity") == "Asian" and face.probability("ethnicity", "White") == np.float32(0.1)
    assert round(face.age) == 40 and face.age_low < 40 < face.age_high
    as_json = face.to_dict()
    assert as_json["gender_probabilities"] == {"male": 0.25, "female": 0.75}
    assert as_json["ethnicity"] == "Asian" and as_json["ethnicity_probability"] == 0.7
    row = face_row("a.jpg", 1, 1, as_json)
    assert row["gender"] == "female" and row["p_gender_female"] == 0.75 and row["age"] == 40.0
    assert row["p_ethnicity_Asian"] == 0.7
    assert short_label(face.age, labels_of(face)) == "40 F Asian"
    assert word_label(face.age, labels_of(face)) == "40 years, female, Asian"
    table = format_table([PhotoResult("a.jpg", [face]), PhotoResult("b.png", error="the file is empty")])
    assert "female 75%" in table and "Asian 70%" in table and "error: the file is empty" in table


@pytest.mark.parametrize("age", [26.546, 26.5, 26.46, 26.44, 61.47, 61.5])
def test_a_face_has_one_whole_age_on_the_card_the_labels_the_table_the_rows_and_the_json(age):
    face = _face(age)
    years = face.age_years
    as_json = face.to_dict()
    # read from the written age, half up (never half to even): 26.46 is written 26.5 and reads 27, as anyone reads it
    assert abs(face.age - age) < 0.01 and years == math.floor(as_json["age"] + 0.5)
    assert as_json["age_years"] == years
    assert face_row("a.jpg", 1, 1, as_json)["age_years"] == years
    assert short_label(face.age, labels_of(face)).startswith(f"{years} ")
    assert word_label(face.age, labels_of(face)).startswith(f"{years} years")
    table_row = format_table([PhotoResult("a.jpg", [face])]).splitlines()[2]
    assert f" {years} ({as_json['age_low']}-{as_json['age_high']})" in table_row


@pytest.mark.parametrize(
    ("female", "percent"), [(0.6749, 68), (0.675, 68), (0.6744, 67), (0.715, 72), (0.9944, 99), (0.9951, 100)]
)
def test_a_face_has_one_whole_percent_on_the_card_the_table_the_batch_page_and_the_json(female, percent):
    from face2data.ui.batch import BatchResult, results_table
    from face2data.ui.figures import class_probability_figure

    face = _face()
    face.probabilities["gender"] = np.array([1 - female, female])
    as_json = face.to_dict()
    assert whole_percent(face.probability("gender")) == percent == whole_percent(as_json["gender_probability"])
    assert math.isclose(as_json["gender_probability"] * 100, percent, abs_tol=0.5)  # the written value reads so
    table = format_table([PhotoResult("a.jpg", [face])])
    assert f"female {percent}%" in table
    batch = BatchResult("digest", PhotoResult("a.jpg", [face]).rows(), [None])
    assert results_table(batch)["P(gender)"].iloc[0] == percent
    bars = class_probability_figure(face.class_probabilities("gender")).data[0].text
    assert bars[1] == f"{percent}%"


def test_an_unread_possible_face_claims_nothing():
    face = FaceResult.unread(1, (0, 0, 30, 30), 0.66, np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8), ["a note"])
    assert not face.read and face.to_dict() == {"box": [0, 0, 30, 30], "score": 0.66, "possible_face": True,
                                                "quality_notes": ["a note"]}  # fmt: skip
    row = face_row("a.jpg", 1, 1, face.to_dict())
    assert row["possible_face"] == 1 and row["age"] is None and row["gender"] is None


def test_a_face_found_in_a_reduced_decode_is_boxed_in_the_photos_pixels():
    face = _face()
    assert face.in_photo_pixels(1.0) is face
    assert face.in_photo_pixels(2.0).box == (20, 40, 160, 180) and face.in_photo_pixels(2.0).age == face.age


def test_labels_show_the_chosen_head_of_each_attribute(monkeypatch):
    """Two schemes of one attribute: labels and summaries show one of them, the first unless another is chosen."""
    seven = Head("ethnicity7", "classes", "Ethnicity (7 groups)", RACES, attribute="ethnicity", scheme="seven")
    monkeypatch.setitem(HEAD_BY_NAME, seven.name, seven)
    table = (*HEAD_TABLE, seven)
    face = _face()
    face.probabilities["ethnicity7"] = np.array([0.1, 0.1, 0.1, 0.5, 0.1, 0.05, 0.05])
    default, chosen = shown_heads(table=table), shown_heads({"ethnicity": "ethnicity7"}, table)
    assert [h.name for h in default] == ["age", "gender", "ethnicity"]
    assert [h.name for h in chosen] == ["age", "gender", "ethnicity7"]
    assert labels_of(face, default) == labels_of(face) == {"gender": "female", "ethnicity": "Asian"}
    assert word_label(face.age, labels_of(face, chosen)) == "40 years, female, East Asian"
    assert short_label(face.age, labels_of(face, chosen)) == "40 F East Asian"
    assert class_summary(face, chosen) == "female 75%, East Asian 50%"
