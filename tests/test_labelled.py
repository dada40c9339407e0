"""Your own labelled faces: every label format, every bad label, every container, and the sources' figures."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import face_images, tar_bytes, write_fairface_source, write_utkface_images, zip_bytes

from face2data.data.label_table import BadLabel, parse_age, parse_row, parse_utkface_name
from face2data.data.labelled import PROBLEM_KINDS, Problems, faces_arrays, read_labelled, read_labelled_uploads
from face2data.data.labels import FaceLabel, parse_fairface_row
from face2data.evaluation.run import (
    PREDICTION_COLUMNS,
    evaluate,
    evaluate_labelled,
    labelled_headline,
    write_predictions,
)
from face2data.model import build_model
from face2data.schema import AGE_MAX, CLASS_HEADS, ETHNICITIES, FAIRFACE_AGE_LABELS, GENDERS, NO_LABEL, RACES

MALE, FEMALE = GENDERS.index("male"), GENDERS.index("female")
FIGURES = ("n", "confusion", "per_group", "confidence_intervals", "calibration", "faces_total", "faces_found")


@pytest.fixture(scope="module")
def untrained_model():
    return build_model()


def row(**cells: str) -> FaceLabel | None:
    return parse_row({"file": "a.jpg", **cells})


# ---------------------------------------------------------------------------------------------- label formats


def test_utkface_style_names_parse_as_the_utkface_source_does():
    assert parse_utkface_name("folder/35_1_2_20170101.jpg.chip.jpg") == FaceLabel(
        35, classes={"gender": FEMALE, "ethnicity": 2}
    )
    assert parse_utkface_name("holiday.jpg") is None and parse_utkface_name("35_1_20170101.jpg") is None
    with pytest.raises(BadLabel) as bad:
        parse_utkface_name(f"{AGE_MAX + 1}_0_0_20170101.jpg")
    assert bad.value.kind == "age_out_of_range"
    for name in ("35_2_0_20170101.jpg", "35_0_5_20170101.jpg"):
        with pytest.raises(BadLabel) as bad:
            parse_utkface_name(name)
        assert bad.value.kind == "unknown_class"


def test_an_exact_age_a_range_and_age_min_max():
    assert row(age="35") == FaceLabel(35, classes={"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert row(age=" 35.0 ") == FaceLabel(35, classes={"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert row(age="25-32") == FaceLabel(25, 32, {"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert row(age="70+") == FaceLabel(70, AGE_MAX, {"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert row(age_min="20", age_max="29") == FaceLabel(20, 29, {"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert row(age_min="40", age_max="40") == FaceLabel(40, classes={"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert parse_row({"Image": "a.jpg", "Age Min": "20", "AGE-MAX": "29"}).age_range == (20, 29)


@pytest.mark.parametrize("age", FAIRFACE_AGE_LABELS)
def test_fairface_age_strings_and_seven_races_read_as_fairface_reads_them(age):
    for race in RACES:
        assert row(age=age, gender="Female", race=race) == parse_fairface_row(age, "Female", race)
        assert parse_row({"file": "a", "age": age, "gender": "Female", "ethnicity": race}, ethnicity_races=True
                         ) == parse_fairface_row(age, "Female", race)  # fmt: skip


@pytest.mark.parametrize(
    ("spelling", "gender"),
    [("male", MALE), ("Male", MALE), ("M", MALE), ("m", MALE), ("man", MALE), ("MAN", MALE), ("0", MALE),
     ("female", FEMALE), ("Female", FEMALE), ("F", FEMALE), ("woman", FEMALE), ("Woman", FEMALE), ("1", FEMALE)],
)  # fmt: skip
def test_gender_spellings(spelling, gender):
    assert row(gender=spelling) == FaceLabel(NO_LABEL, classes={"gender": gender, "ethnicity": NO_LABEL})
    assert parse_row({"filename": "a.jpg", "Sex": f" {spelling} "}).of("gender") == gender


def test_the_five_classes_utkface_numbers_and_a_race_column():
    for i, name in enumerate(ETHNICITIES):
        assert row(ethnicity=name).of("ethnicity") == row(ethnicity=name.upper()).of("ethnicity") == i
        assert row(ethnicity=str(i)) == FaceLabel(NO_LABEL, classes={"gender": NO_LABEL, "ethnicity": i})
        assert row(race=name) == FaceLabel(
            NO_LABEL,
            classes={"gender": NO_LABEL, "ethnicity": i, "ethnicity7": RACES.index(name) if name in RACES else -1},
        )
        assert parse_row({"race": name}, race_races=False) == FaceLabel(
            NO_LABEL, classes={"gender": NO_LABEL, "ethnicity": i}
        )
    assert row(ethnicity="Other").of("ethnicity") == ETHNICITIES.index("Others")
    latino = row(race="Latino Hispanic")
    assert latino.of("ethnicity7") == RACES.index("Latino_Hispanic") and latino.of("ethnicity") == ETHNICITIES.index(
        "Others"
    )
    both = row(ethnicity="Asian", race="Southeast Asian")  # consistent: the race group is kept
    assert both == FaceLabel(
        NO_LABEL,
        classes={
            "gender": NO_LABEL,
            "ethnicity": ETHNICITIES.index("Asian"),
            "ethnicity7": RACES.index("Southeast Asian"),
        },
    )


def test_a_column_of_the_seven_groups_keeps_white_black_and_indian_as_race_groups(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "t.csv").write_text(
        "file,ethnicity,race\na.jpg,White,\nb.jpg,East Asian,\nc.jpg,,White\nd.jpg,,Asian\n"
    )
    labels = read_labelled(tmp_path).labels
    assert labels["a.jpg"].of("ethnicity7") == RACES.index("White") and labels["b.jpg"].of("ethnicity7") == RACES.index(
        "East Asian"
    )
    assert (
        labels["c.jpg"].of("ethnicity7") == labels["d.jpg"].of("ethnicity7") == -1
    )  # a race column holding "Asian": the five classes
    (tmp_path / "t.csv").write_text("file,ethnicity\na.jpg,White\nb.jpg,Asian\n")
    assert read_labelled(tmp_path).labels["a.jpg"] == FaceLabel(NO_LABEL, classes={"gender": NO_LABEL, "ethnicity": 0})


def test_missing_columns_and_empty_cells_leave_the_head_unlabelled():
    assert row(age="30", gender="", ethnicity="") == FaceLabel(30, classes={"gender": NO_LABEL, "ethnicity": NO_LABEL})
    assert row(gender="f") == FaceLabel(NO_LABEL, classes={"gender": FEMALE, "ethnicity": NO_LABEL})
    assert row() is None and row(age="", gender=" ") is None  # a row that labels nothing
    arrays = faces_arrays([("a.jpg", row(gender="f")), ("b.jpg", row(age="3-9"))], [np.zeros((128, 128, 3))] * 2)
    assert np.isnan(arrays.age_low[0]) and np.isnan(arrays.age_high[0]) and arrays.labels["gender"][0] == FEMALE
    assert (arrays.age_low[1], arrays.age_high[1]) == (3, 9) and not arrays.exact.any()
    assert list(arrays.labels["ethnicity"]) == [NO_LABEL, NO_LABEL]


@pytest.mark.parametrize(
    ("cells", "kind"),
    [({"age": "old"}, "unknown_class"), ({"age": "30-"}, "unknown_class"), ({"age": "40-30"}, "unknown_class"),
     ({"age": "31.5"}, "unknown_class"), ({"age": str(AGE_MAX + 1)}, "age_out_of_range"),
     ({"age": "-3"}, "age_out_of_range"), ({"age_min": "20", "age_max": "200"}, "age_out_of_range"),
     ({"age_min": "20"}, "unknown_class"), ({"age_min": "30", "age_max": "20"}, "unknown_class"),
     ({"gender": "other"}, "unknown_class"), ({"gender": "2"}, "unknown_class"),
     ({"ethnicity": "Martian"}, "unknown_class"), ({"ethnicity": "5"}, "unknown_class"),
     ({"race": "Nordic"}, "unknown_class"), ({"ethnicity": "Black", "race": "White"}, "unknown_class")],
)  # fmt: skip
def test_bad_cells_say_what_kind_of_problem_they_are(cells, kind):
    with pytest.raises(BadLabel) as bad:
        row(**cells)
    assert bad.value.kind == kind and kind in PROBLEM_KINDS


def test_age_strings():
    assert parse_age("") is None and parse_age("more than 70") == (70, AGE_MAX) and parse_age("0-2") == (0, 2)
    for not_a_number in ("nan", "NaN", "inf"):  # not "out of range": not an age at all
        with pytest.raises(BadLabel, match="not a number of years") as bad:
            parse_age(not_a_number)
        assert bad.value.kind == "unknown_class"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("1_0", "unknown_class"), ("1e1", "unknown_class"), ("٣٠", "unknown_class"), ("-5", "age_out_of_range"),
     ("5" * 5000, "age_out_of_range"), ("5" * 5000 + "-40", "age_out_of_range"), ("30.5", "unknown_class")],
)  # fmt: skip
def test_an_age_a_table_would_not_write_is_a_bad_label_not_a_crash(text, kind):
    # Python's float reads 1_0 and 1e1 as 10, and its int refuses 5,000 digits with a ValueError of its own
    with pytest.raises(BadLabel) as bad:
        parse_age(text)
    assert bad.value.kind == kind and len(str(bad.value)) < 100


def test_a_name_with_digits_that_are_not_ascii_is_no_utkface_name():
    assert parse_utkface_name("²_0_0_20170101.jpg") is None
    with pytest.raises(BadLabel, match="in the name") as bad:
        parse_utkface_name("9" * 5000 + "_0_0_20170101.jpg")
    assert bad.value.kind == "age_out_of_range"


# ---------------------------------------------------------------------------------------------- reading sets


def _bad_set(folder: Path) -> Path:
    """Photos (any bytes: labels only) and a table with one of every bad row."""
    folder.mkdir(parents=True)
    for name in ("ok1.jpg", "ok2.jpg", "sub/ok3.png", "norow.jpg", "dup.jpg", "old.jpg", "odd.jpg", "odd2.jpg",
                 "41_0_3_20170101.jpg", "250_0_0_20170101.jpg", "other/dup.jpg"):  # fmt: skip
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "stray.csv").write_text("a,b\n1,2\n")  # a table without a file column
    rows = [
        "file,age,gender,ethnicity",
        "ok1.jpg,30,male,White",  # row 2
        "ok2.jpg,30-39,F,East Asian",
        "sub/ok3.png,,woman,",
        "missing.jpg,20,m,Black",  # row 5: names no photo
        "sub/dup.jpg,20,m,Black",  # no such photo either (the sub folder has none)
        "other/dup.jpg,20,m,Black",
        "other/dup.jpg,21,m,Black",  # row 8: second row for a photo
        "old.jpg,130,m,Black",  # row 9
        "odd.jpg,30,x,Black",  # row 10
        "odd2.jpg,30,m,Purple",
        "dup.jpg,,,",  # labels nothing
        ",30,m,Black",  # row 13: no file
    ]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_bad_labels_are_problems_named_and_counted_and_the_rest_is_read(tmp_path):
    found = read_labelled(_bad_set(tmp_path / "set"))
    assert found.labels == {
        "41_0_3_20170101.jpg": FaceLabel(
            41, classes={"gender": MALE, "ethnicity": 3}
        ),  # no row: its UTKFace-style name labels it
        "ok1.jpg": FaceLabel(
            30, classes={"gender": MALE, "ethnicity": 0, "ethnicity7": 0}
        ),  # the column holds the seven groups: White is a race group
        "ok2.jpg": FaceLabel(
            30, 39, {"gender": FEMALE, "ethnicity": ETHNICITIES.index("Asian"), "ethnicity7": RACES.index("East Asian")}
        ),
        "other/dup.jpg": FaceLabel(20, classes={"gender": MALE, "ethnicity": 1, "ethnicity7": 1}),
        "sub/ok3.png": FaceLabel(NO_LABEL, classes={"gender": FEMALE, "ethnicity": NO_LABEL}),
    }
    problems = found.problems
    assert {kind: problems.count(kind) for kind in problems.items} == {
        "row_without_file": 3, "duplicate_row": 1, "age_out_of_range": 2, "unknown_class": 2,
        "file_without_labels": 2, "table_without_file_column": 1,
    }  # fmt: skip
    assert problems.items["row_without_file"][0] == "labels.csv row 5: missing.jpg"
    assert problems.items["duplicate_row"] == ["labels.csv row 8: other/dup.jpg"]
    assert any("norow.jpg" in item for item in problems.items["file_without_labels"])
    assert any("250_0_0" in item for item in problems.items["age_out_of_range"])
    message = problems.message(shown=1)
    assert "3 × row naming no photo of the set: labels.csv row 5: missing.jpg; and 2 more" in message
    assert "labels.csv row 9 (old.jpg): age '130'" in message and "stray.csv" in message
    assert problems.as_dict()["unknown_class"]["count"] == 2 and not Problems()


def test_an_ambiguous_row_and_a_separate_labels_file(tmp_path):
    folder = tmp_path / "set"
    for name in ("a/x.jpg", "b/x.jpg", "c/y.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    (folder / "inside.csv").write_text("file,age\nc/y.jpg,99\n")  # ignored: the labels file given wins
    labels = tmp_path / "mine.csv"
    labels.write_text("path,age\nx.jpg,20\ny.jpg,30\n")
    found = read_labelled(folder, labels)
    assert found.labels == {"c/y.jpg": FaceLabel(30, classes={"gender": NO_LABEL, "ethnicity": NO_LABEL})}
    assert found.problems.items["ambiguous_row"] == ["mine.csv row 2: x.jpg (a/x.jpg, b/x.jpg)"]
    assert found.problems.count("file_without_labels") == 2
    with pytest.raises(FileNotFoundError):
        read_labelled(folder, tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError):
        read_labelled(tmp_path / "nope")


def _archives(folder: Path, top: str = "faces") -> list[Path]:
    """The folder as a zip, a tar and a tar.gz (under a top folder)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    out = []
    with zipfile.ZipFile(folder.parent / "set.zip", "w") as archive:
        for path in files:
            archive.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    out.append(folder.parent / "set.zip")
    for mode, suffix in (("w", "tar"), ("w:gz", "tar.gz")):
        with tarfile.open(folder.parent / f"set.{suffix}", mode) as archive:
            for path in files:
                archive.add(path, f"{top}/{path.relative_to(folder).as_posix()}")
        out.append(folder.parent / f"set.{suffix}")
    return out


def test_zip_tar_and_tar_gz_read_as_the_folder(tmp_path):
    folder = _bad_set(tmp_path / "set")
    from_folder = read_labelled(folder)
    for archive in _archives(folder):
        found = read_labelled(archive)
        assert {k.removeprefix("faces/"): v for k, v in found.labels.items()} == from_folder.labels, archive
        counts = {kind: found.problems.count(kind) for kind in found.problems.items}
        assert counts == {kind: from_folder.problems.count(kind) for kind in from_folder.problems.items}
    assert not list(tmp_path.glob("faces"))  # nothing extracted


def test_a_damaged_archive_is_a_problem_not_a_crash(tmp_path, untrained_model):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    found = read_labelled(broken)
    assert not found.labels and found.problems.count("unreadable_image") == 1
    with pytest.raises(ValueError, match="no labelled face could be scored"):
        evaluate_labelled(untrained_model, broken)


# ---------------------------------------------------------------------------------------------- figures


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def _same_figures(ours: dict, theirs: dict, keys: tuple[str, ...]) -> None:
    for key in (*FIGURES, *keys):
        assert ours[key] == theirs[key], key


def test_utkface_style_names_give_the_utkface_sources_figures(tmp_path, untrained_model):
    names = [f"{age}_{gender}_{eth}_2017010100000{i:04d}.jpg.chip.jpg"
             for i, (age, gender, eth) in enumerate([(1, 0, 0), (8, 1, 1), (25, 0, 2), (33, 1, 3), (47, 0, 4),
                                                     (58, 1, 0), (64, 0, 1), (80, 1, 2), (19, 0, 3)])]  # fmt: skip
    folder = tmp_path / "utk"
    write_utkface_images(folder, names)
    (folder / "40_1_0_20170102000000001.jpg.chip.jpg").write_bytes(_jpeg(np.full((200, 200, 3), 128, np.uint8)))
    (folder / "41_1_0_20170102000000002.jpg.chip.jpg").write_bytes(b"not a photo")
    source, source_rows = evaluate(untrained_model, folder, "all")
    ours, rows, problems = evaluate_labelled(untrained_model, folder)
    _same_figures(ours, source, ("age_mae", "age_rmse", "gender_accuracy", "ethnicity_accuracy", "not_found"))
    assert ours["age_labels"] == "exact" and ours["n"] == 9 and ours["faces_total"] == 10
    assert problems.items["no_face_found"] == ["40_1_0_20170102000000001.jpg.chip.jpg"]
    assert problems.count("unreadable_image") == 1 and "41_1_0" in problems.items["unreadable_image"][0]
    assert rows == source_rows
    assert "age MAE" in labelled_headline(ours)


def test_fairface_strings_in_a_table_give_the_fairface_sources_figures(tmp_path, untrained_model):
    fairface_rows = [(age, gender, RACES[i % 7]) for i, (age, gender) in
                     enumerate([("20-29", "Male"), ("more than 70", "Female"), ("3-9", "Female")] * 4)]  # fmt: skip
    folder = write_fairface_source(tmp_path / "src", fairface_rows)
    source, source_rows = evaluate(untrained_model, folder, "all")
    # the same photos in a zip, flat, with a table in other spellings
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["Image", "Age", "Sex", "Race"])
    for n, (age, gender, race) in enumerate(fairface_rows, 1):
        writer.writerow([f"{n}.jpg", age, gender[0].lower(), race])
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for n in range(1, len(fairface_rows) + 1):
            out.write(folder / "train" / f"{n}.jpg", f"train/{n}.jpg")
        out.writestr("labels.csv", table.getvalue())
    for data in (archive, folder):  # and the FairFace layout itself, read by its own table
        ours, rows, problems = evaluate_labelled(untrained_model, data)
        assert not problems and ours["age_labels"] == "range"
        _same_figures(ours, source, ("age_in_range", "age_in_range_5",
                                     *(f"{head.name}_accuracy" for head in CLASS_HEADS)))  # fmt: skip
        # a race column of FairFace's groups labels both schemes: the seven groups and the five classes
        assert ours["n_labelled"] == {"age": len(fairface_rows)} | {h.name: len(fairface_rows) for h in CLASS_HEADS}
        assert [{k: r[k] for k in source_rows[0]} for r in rows] == source_rows
    assert "age in range" in labelled_headline(ours)


def test_missing_heads_are_not_scored_and_predictions_write(tmp_path, untrained_model):
    folder = tmp_path / "mine"
    folder.mkdir()
    for n, image in enumerate(face_images(6, 180, seed=4)):
        (folder / f"p{n}.jpg").write_bytes(_jpeg(image))
    (folder / "blank.jpg").write_bytes(_jpeg(np.full((160, 160, 3), 90, np.uint8)))
    labels = tmp_path / "labels.csv"
    labels.write_text("name,age,gender\np0.jpg,30,f\np1.jpg,40,m\np2.jpg,,f\np3.jpg,,1\np4.jpg,52,\n"
                      "p5.jpg,30-39,m\nblank.jpg,20,m\n")  # fmt: skip
    report, rows, problems = evaluate_labelled(untrained_model, folder, labels)
    assert problems.items == {"no_face_found": ["blank.jpg"]} and report["problems"]["no_face_found"]["count"] == 1
    assert report["age_labels"] == "range" and report["n"] == 6 and report["faces_total"] == 7
    assert report["n_labelled"] == {"age": 4} | {head.name: 0 for head in CLASS_HEADS} | {"gender": 5}
    assert "ethnicity_accuracy" not in report and "ethnicity" not in report["confusion"]
    assert "ethnicity" not in report["calibration"] and "ethnicity_accuracy" not in report["confidence_intervals"]
    assert "race" not in report["per_group"] and "race_to_ethnicity" not in report["confusion"]
    assert np.array(report["confusion"]["gender"]["counts"]).sum() == 5  # every gender label, with age or not
    assert report["exact_ages"]["n"] == 3 and report["calibration"]["age_interval"]["by_age_bucket"]
    assert 0 <= report["gender_accuracy"] <= 1 and len(report["confidence_intervals"]["gender_accuracy"]) == 2
    out = tmp_path / "predictions.csv"
    write_predictions(rows, out, "labelled")
    with out.open() as handle:
        written = list(csv.DictReader(handle))
    assert list(written[0]) == PREDICTION_COLUMNS["labelled"] and len(written) == 6
    by_file = {r["file"]: r for r in written}
    assert by_file["p2.jpg"]["age_true"] == "" and by_file["p4.jpg"]["gender_true"] == ""
    assert by_file["p5.jpg"]["age_range_true"] == "30-39" and by_file["p0.jpg"]["age_true"] == "30"
    # gender only: no age figures at all
    labels.write_text("file,gender\np0.jpg,male\np1.jpg,female\n")
    report, rows, _ = evaluate_labelled(untrained_model, folder, labels)
    assert report["age_labels"] == "none" and report["n"] == 2 and "age_mae" not in report
    assert set(report["confusion"]) == {"gender"} and "age_interval" not in report["calibration"]
    assert "gender" in labelled_headline(report)


def test_a_tar_gz_of_your_faces_evaluates_as_its_folder(tmp_path, untrained_model):
    folder = tmp_path / "set"
    names = ["23_0_0_20170101000000001.jpg", "37_1_1_20170101000000002.jpg", "61_0_2_20170101000000003.jpg"]
    write_utkface_images(folder, names, seed=2)
    shutil.copy(folder / names[0], folder / "holiday.jpg")  # no labels
    from_folder, rows_folder, _ = evaluate_labelled(untrained_model, folder)
    archive = _archives(folder)[2]
    from_archive, rows_archive, problems = evaluate_labelled(untrained_model, archive)
    _same_figures(from_archive, from_folder, ("age_mae", "gender_accuracy", "ethnicity_accuracy"))
    assert [r["file"] for r in rows_archive] == [f"faces/{n}" for n in sorted(names)]
    assert problems.items == {"file_without_labels": ["faces/holiday.jpg"]}


def test_uploads_evaluate_in_memory_as_their_folder(tmp_path, untrained_model):
    from face2data.ui.labelled import evaluate_uploads, metrics_json, predictions_csv

    folder = tmp_path / "set"
    names = ["23_0_0_20170101000000001.jpg", "37_1_1_20170101000000002.jpg", "61_0_2_20170101000000003.jpg"]
    write_utkface_images(folder, names, seed=5)
    expected, expected_rows, _ = evaluate_labelled(untrained_model, folder)
    archive = _archives(folder)[0]  # a zip of the UTKFace-named photos, beside a loose photo and a CSV
    labels = "file,age,gender,ethnicity\nparty.jpg,30-39,female,Asian\n"
    uploads = [(archive.name, archive.read_bytes()), ("party.jpg", (folder / names[0]).read_bytes()),
               ("labels.csv", labels.encode())]  # fmt: skip
    seen = []
    evaluation = evaluate_uploads(uploads, untrained_model, lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4) and len(evaluation.crops) == evaluation.report["n"] == 4
    assert not evaluation.problems and evaluation.report["age_labels"] == "range"
    # the five ethnicity classes label the ethnicity head only (not FairFace's seven groups)
    labelled = {"age": 4} | {head.name: 0 for head in CLASS_HEADS} | {"gender": 4, "ethnicity": 4}
    assert evaluation.report["n_labelled"] == labelled
    by_file = {row["file"]: row for row in evaluation.rows}
    assert by_file["party.jpg"]["age_range_true"] == "30-39" and by_file["party.jpg"]["ethnicity_true"] == "Asian"
    for row in expected_rows:  # the same faces, the same predictions
        mine = by_file[f"{archive.name}/faces/{row['file']}"]
        assert mine["age_true"] == row["age_true"] and mine["age_pred"] == row["age_pred"]
    written = list(csv.DictReader(io.StringIO(predictions_csv(evaluation))))
    assert len(written) == 4 and list(written[0]) == PREDICTION_COLUMNS["labelled"]
    assert '"n": 4' in metrics_json(evaluation) and expected["n"] == 3


def test_uploads_without_any_label_say_so(untrained_model):
    from face2data.ui.labelled import evaluate_uploads

    uploads = [("holiday.jpg", _jpeg(face_images(1, 160, seed=1)[0])), ("notes.txt", b"hello")]
    with pytest.raises(ValueError, match="No photo of these uploads has a label"):
        evaluate_uploads(uploads, untrained_model)


def test_the_cli_evaluates_your_photos_with_a_labels_file(tmp_path, capsys):
    from face2data.cli import main
    from face2data.paths import TFLITE_PATH

    if not TFLITE_PATH.is_file():
        pytest.skip("the shipped model is not in weights/")
    folder = tmp_path / "mine"
    folder.mkdir()
    for n, image in enumerate(face_images(3, 180, seed=6)):
        (folder / f"p{n}.jpg").write_bytes(_jpeg(image))
    labels = tmp_path / "labels.csv"
    labels.write_text("file,age,gender\np0.jpg,30,f\np1.jpg,41,m\np2.jpg,25,m\nmissing.jpg,20,m\n")
    metrics, predictions = tmp_path / "m.json", tmp_path / "p.csv"
    argv = ["evaluate", "--data", str(folder), "--labels", str(labels), "--json", str(metrics),
            "--predictions", str(predictions), "--model", str(TFLITE_PATH)]  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "age MAE" in out and "n=3 of 3" in out
    assert "missing.jpg" in err  # the row naming no photo is reported, the rest evaluated
    report = json.loads(metrics.read_text())
    assert report["model"] == TFLITE_PATH.name and report["labels"] == "labels.csv" and report["n"] == 3
    assert len(list(csv.DictReader(predictions.open()))) == 3
    assert main(["evaluate", "--data", str(tmp_path / "nowhere"), "--labels", str(labels)]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_photos_are_read_only_a_few_ahead_of_the_work_so_memory_stays_bounded():
    from concurrent.futures import ThreadPoolExecutor

    from face2data.data.labelled import bounded_map

    read = []

    def photos():
        for i in range(100):
            read.append(i)
            yield i

    with ThreadPoolExecutor(2) as pool:
        results = bounded_map(lambda item: pool.submit(lambda x: x * 2, item).result, photos(), ahead=4)
        assert next(results) == 0 and len(read) == 4  # Executor.map would have read all 100 first
        assert list(results) == [2 * i for i in range(1, 100)] and len(read) == 100


def test_labels_tables_in_utf16_work_and_odd_tables_are_named_with_a_hint(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    write_utkface_images(folder, ["a.jpg", "b.jpg"])
    (folder / "labels.csv").write_bytes("file,age,gender\na.jpg,30,female\n".encode("utf-16"))
    (folder / "semicolons.csv").write_text("file;age\nb.jpg;40\n")
    (folder / "huge.csv").write_text("file,age\nb.jpg," + "9" * 200_000 + "\n")
    found = read_labelled(folder)
    assert found.labels["a.jpg"] == FaceLabel(30, classes={"gender": FEMALE, "ethnicity": NO_LABEL})
    message = found.problems.message()
    assert "semicolons.csv" in message and "separated by ';'" in message
    assert "huge.csv: not a readable CSV table" in message


def test_a_report_lists_a_bounded_number_of_offenders_and_counts_them_all():
    from face2data.data.labelled import LISTED

    problems = Problems()
    for i in range(LISTED * 3):
        problems.add("row_without_file", f"labels.csv row {i + 2}: missing{i}.jpg")
    listed = problems.as_dict()["row_without_file"]
    assert listed["count"] == LISTED * 3 and len(listed["items"]) == LISTED


def test_your_ordinary_photos_with_a_table_inside_or_utkface_style_names_just_work(tmp_path, capsys, monkeypatch):
    from face2data.cli import main
    from face2data.paths import TFLITE_PATH

    if not TFLITE_PATH.is_file():
        pytest.skip("the shipped model is not in weights/")
    cache = tmp_path / "cache"
    monkeypatch.setenv("FACE2DATA_CACHE", str(cache))
    faces = face_images(3, 180, seed=8)
    photos = []
    for face in faces:  # an ordinary photo: a small face in a large frame, where the tight-crop settings miss it
        photo = np.full((720, 960, 3), 200, np.uint8)
        photo[300:480, 400:580] = face
        photos.append(photo)
    table = tmp_path / "table"
    table.mkdir()
    for n, photo in enumerate(photos):
        (table / f"p{n}.jpg").write_bytes(_jpeg(photo))
    (table / "labels.csv").write_text("file,age,gender\np0.jpg,30,f\np1.jpg,41,m\np2.jpg,25,m\n")
    archive = tmp_path / "table.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in sorted(table.iterdir()):
            out.write(file, f"mine/{file.name}")
    named = tmp_path / "named"
    named.mkdir()
    for n, photo in enumerate(photos):  # UTKFace-style names: your labels, not UTKFace's test split
        (named / f"{30 + n}_1_0_2024010112000{n}.jpg").write_bytes(_jpeg(photo))
    for data in (table, archive, named):
        assert main(["evaluate", "--data", str(data)]) == 0, capsys.readouterr().err
        assert "n=3 of 3" in capsys.readouterr().out
    assert not cache.exists() or not any(cache.iterdir())  # nothing of your photos is cached on disk


def test_a_table_naming_a_folder_matches_photos_uploaded_loose_by_their_bare_name():
    table = b"file,age\nimages/a.jpg,30\nimages/dup.jpg,40\nother/dup.jpg,41\n"
    uploads = [("a.jpg", b"x"), ("one/dup.jpg", b"x"), ("two/dup.jpg", b"x"), ("labels.csv", table)]
    found = read_labelled_uploads(uploads)
    assert found.labels["a.jpg"].age == 30
    assert not any("dup.jpg" in name for name in found.labels)  # two photos of that name: ambiguous, not guessed
    assert found.problems.count("row_without_file") == 2


@pytest.mark.parametrize("kind", ["uploaded zip", "zip on disk", "tar"])
def test_listing_a_set_reads_its_tables_not_its_photos(tmp_path, monkeypatch, kind):
    import face2data.inputs

    members = {f"mine/{n}_0_0_2024.jpg": b"photo" for n in range(20, 25)} | {"mine/labels.csv": b"file,age\n"}
    archive = tar_bytes(members, mode="w") if kind == "tar" else zip_bytes(members)
    read: list[bytes] = []
    real = face2data.inputs.read_member
    monkeypatch.setattr(face2data.inputs, "read_member", lambda handle: read.append(real(handle)) or read[-1])
    suffix = ".tar" if kind == "tar" else ".zip"
    if kind == "zip on disk":
        (tmp_path / f"set{suffix}").write_bytes(archive)
        found = read_labelled(tmp_path / f"set{suffix}")
    else:
        found = read_labelled_uploads([(f"set{suffix}", archive)])
    assert len(found.labels) == 5 and read == [b"file,age\n"]  # the photos are read once, when faces are found


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_labels_table_that_is_a_pipe_or_a_device_is_a_problem_not_a_hang(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "30_1_0_20170101.jpg").write_bytes(b"x")
    os.mkfifo(folder / "labels.csv")  # reading it would wait for a writer for ever
    (folder / "more.csv").symlink_to("/dev/zero")  # and this would fill the memory
    found = read_labelled(folder)
    assert sorted(found.problems.items["unreadable_table"]) == [
        "labels.csv: this is not a regular file",
        "more.csv: this is not a regular file",
    ]
    assert list(found.labels) == ["30_1_0_20170101.jpg"]
