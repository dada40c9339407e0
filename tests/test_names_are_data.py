"""Names are data, never code or encoding errors: a file name of any bytes, or one a spreadsheet would run as a
formula, goes through batch scoring (CSV, JSON Lines, Parquet, ``--resume``), ``evaluate --predictions`` and the
pages' downloads as valid text, and no CSV cell we write starts a formula."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

import cv2
import pytest
from conftest import face_images, tar_bytes

from face2data.batch.rows import expected_rows
from face2data.batch.writers import RowWriter, prepare_resume, read_rows
from face2data.cli import main
from face2data.data.labels import parse_name
from face2data.inputs import iter_entries, iter_upload_entries
from face2data.results import COLUMNS, encode_csv, file_rows
from face2data.safe_text import FORMULA_STARTS, csv_cell, from_csv_cell, posix_name, safe_name

BAD_BYTES = os.fsdecode(b"30_1_2_20170101\xe9.jpg")  # how Linux hands Python a name that is not UTF-8
BAD_SHOWN = "30_1_2_20170101\\xe9.jpg"  # ... and how every output writes it
FORMULAS = ['=HYPERLINK("evil").jpg', "=1+2.jpg", "+1+2.jpg", "-x.jpg", "@SUM(1).jpg", "\tx.jpg", "\rx.jpg"]
TABLE_LABELLED = FORMULAS[:5]  # a labels table can name these (its cells are stripped of tabs and returns)


def jpeg(image) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def csv_file_cells(text: str) -> list[str]:
    """The raw ``file`` cells of a CSV text (as a spreadsheet would see them)."""
    return [row["file"] for row in csv.DictReader(io.StringIO(text))]


def assert_no_formula(cells: list[str]) -> None:
    assert cells and not [cell for cell in cells if cell[:1] in FORMULA_STARTS], cells


# --- the helper ---------------------------------------------------------------------------


def test_names_of_any_bytes_become_one_valid_text_that_is_stable():
    assert safe_name(BAD_BYTES) == safe_name(os.fsencode(BAD_BYTES)) == safe_name(Path(BAD_BYTES)) == BAD_SHOWN
    for name in (BAD_BYTES, "café.jpg", "a\ud800b.jpg", *FORMULAS):
        shown = safe_name(name)
        assert safe_name(shown) == shown and shown.encode("utf-8")  # idempotent: resume matches what it wrote
    assert safe_name("café.jpg") == "café.jpg"
    assert parse_name(BAD_SHOWN) == parse_name("30_1_2_20170101.jpg")  # the \xNN escape is no folder separator
    assert posix_name("set\\a\\30_1_2_x\\xe9.jpg") == "set/a/30_1_2_x\\xe9.jpg"


def test_csv_cells_that_would_run_as_formulas_are_quoted_and_read_back_exactly():
    for text in [*FORMULAS, "'=x", "''+1", "'x", "x'", "", "plain.jpg", "-0.5"]:
        cell = csv_cell(text)
        assert str(cell)[:1] not in FORMULA_STARTS and from_csv_cell(str(cell)) == text, text
    assert csv_cell("=1+2") == "'=1+2" and csv_cell("'x") == "'x"
    assert [csv_cell(v) for v in (-0.5, -3, None, 2.0)] == [-0.5, -3, None, 2.0]  # numbers stay numbers


# --- inputs and writers, without a model ----------------------------------------------------


def test_bad_byte_names_from_folders_and_tar_members_are_listed_as_text_and_skipped_on_resume(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / BAD_BYTES).write_bytes(b"x")
    (folder / FORMULAS[0]).write_bytes(b"y")
    archive = tar_bytes({BAD_BYTES: b"z", "ok.jpg": b"w"}, mode="w")
    (folder / "set.tar").write_bytes(archive)
    names = [entry.name for entry in iter_entries([str(folder)])]
    inside = [BAD_SHOWN, FORMULAS[0], f"set.tar/{BAD_SHOWN}", "set.tar/ok.jpg"]
    assert names == [f"{folder}/{name}" for name in inside]
    assert [entry.read() for entry in iter_entries([str(folder)])] == [b"x", b"y", b"z", b"w"]  # read by real name
    assert [entry.name for entry in iter_entries([str(folder)], skip={names[0], names[2]})] == [names[1], names[3]]
    uploads = [(BAD_BYTES, b"x"), ("set.tar", archive)]
    assert [entry.name for entry in iter_upload_entries(uploads)] == [BAD_SHOWN, *inside[2:]]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_rows_of_any_name_write_read_back_and_resume_in_every_format(tmp_path, suffix):
    names = (BAD_BYTES, *FORMULAS, "line\u2028separator.jpg", "next\x85line.jpg", "plain.jpg")
    rows = [row for name in names for row in file_rows(name, [])]
    rows += file_rows("=error.jpg", None, error="-not an image")
    rows[-2]["score"] = -0.5  # a negative number in a number column
    out = tmp_path / f"out{suffix}"
    RowWriter(out).write(rows)
    back = read_rows(out)
    assert back == rows and back[0]["file"] == BAD_SHOWN
    assert prepare_resume(out) == {row["file"] for row in rows} and read_rows(out) == rows
    if suffix == ".csv":
        text = out.read_text(encoding="utf-8")
        assert_no_formula(csv_file_cells(text))
        assert "'-not an image" in text and ",-0.5," in text  # text quoted, the number not


# --- the CLI and the pages, with the shipped model -------------------------------------------


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory) -> Path:
    """~30 face photos: UTKFace-style names, one of them not UTF-8, and names that are formulas."""
    folder = tmp_path_factory.mktemp("odd") / "photos"
    folder.mkdir()
    plain = [f"{20 + n}_{n % 2}_{n % 5}_2017010100000{n:04d}.jpg" for n in range(22)]
    for name, image in zip([*plain, BAD_BYTES, *FORMULAS], face_images(30, 180, seed=7), strict=True):
        (folder / name).write_bytes(jpeg(image))
    return folder


def shown_names(folder: Path, names) -> set[str]:
    return {safe_name(str(folder / name)) for name in names}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_batch_and_resume_finish_with_a_row_for_every_odd_name(shipped_tflite_path, odd_folder, tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    first = [str(odd_folder / name) for name in (BAD_BYTES, *FORMULAS[:2])]
    assert main(["batch", *first, "--out", str(out), "--workers", "1", "--quiet"]) == 0
    partial = read_rows(out)
    assert {row["file"] for row in partial} == shown_names(odd_folder, (BAD_BYTES, *FORMULAS[:2]))
    for _ in range(2):  # a resume, then a resume of the finished output
        assert main(["batch", str(odd_folder), "--out", str(out), "--resume", "--workers", "1", "--quiet"]) == 0
        rows = read_rows(out)
        assert all(row in rows for row in partial)  # done files were matched by name and not scored again
        counts = Counter(row["file"] for row in rows)
        assert set(counts) == shown_names(odd_folder, os.listdir(odd_folder)) and len(counts) == 30
        assert all(counts[row["file"]] == expected_rows(row) for row in rows)  # every file once, whole
    if suffix == ".csv":
        assert_no_formula(csv_file_cells(out.read_text(encoding="utf-8")))


def test_evaluate_predictions_carry_odd_names_and_quote_formulas(shipped_tflite_path, odd_folder, tmp_path):
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("file", "age", "gender"), *((name, 30, "f") for name in TABLE_LABELLED)])
    predictions = tmp_path / "predictions.csv"
    argv = ["evaluate", "--data", str(odd_folder), "--labels", str(labels), "--predictions", str(predictions),
            "--json", str(tmp_path / "metrics.json"), "--model", str(shipped_tflite_path)]  # fmt: skip
    assert main(argv) == 0
    text = predictions.read_bytes().decode("utf-8")  # strict: the file is whole UTF-8
    cells = csv_file_cells(text)
    assert_no_formula(cells)
    utkface = [name for name in os.listdir(odd_folder) if name[:1].isdigit()]
    assert {from_csv_cell(cell) for cell in cells} == {safe_name(n) for n in [*utkface, *TABLE_LABELLED]}
    assert len(cells) == 28 and BAD_SHOWN in cells  # the tab and return names have no label: problems, no rows
    ages = [float(row["age_pred"]) for row in csv.DictReader(io.StringIO(text))]
    assert len(ages) == 28 and json.loads((tmp_path / "metrics.json").read_text())["n"] == 28


def test_the_batch_and_evaluation_pages_downloads_carry_odd_names(shipped_tflite_path, odd_folder):
    from face2data.predictor import Predictor
    from face2data.tflite_model import load_inference_model
    from face2data.ui.batch import results_csv, score_uploads
    from face2data.ui.labelled import evaluate_uploads, predictions_csv

    photos = {name: (odd_folder / name).read_bytes() for name in (BAD_BYTES, *FORMULAS[:4])}
    uploads = [(FORMULAS[0], photos[FORMULAS[0]]), ("set.tar", tar_bytes(photos, mode="w"))]
    result = score_uploads(uploads, lambda: Predictor(model_path=shipped_tflite_path))
    cells = csv_file_cells(results_csv(result))
    assert_no_formula(cells)
    assert {from_csv_cell(cell) for cell in cells} == {FORMULAS[0], *(f"set.tar/{safe_name(n)}" for n in photos)}
    assert encode_csv(result.rows, header=True) == results_csv(result) and list(result.rows[0]) == list(COLUMNS)
    labelled = [(BAD_BYTES, photos[BAD_BYTES]), (FORMULAS[2], photos[FORMULAS[2]]),
                ("labels.csv", f"file,age,ethnicity\n{FORMULAS[2]},40,Asian\n".encode())]  # fmt: skip
    evaluation = evaluate_uploads(labelled, load_inference_model(shipped_tflite_path))
    cells = csv_file_cells(predictions_csv(evaluation))
    assert sorted(cells) == sorted([BAD_SHOWN, "'" + FORMULAS[2]])


def test_a_name_printed_to_a_terminal_or_a_log_cannot_act_on_it():
    from face2data.results import PhotoResult
    from face2data.safe_text import printable
    from face2data.text_table import format_table

    name = "a\x1b[31mred\nline\u202egpj.png"  # colours a terminal, breaks a table, reverses the text
    assert printable(name) == "a\\x1b[31mred\\nline\\u202egpj.png"
    assert printable(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg" and printable("日本.jpg") == "日本.jpg"
    table = format_table([PhotoResult(name, error="the file is\x1b[2J empty")])
    assert "\x1b" not in table and "\u202e" not in table and len(table.splitlines()) == 3
