"""FairFace and All-Age-Faces as labelled sources: their labels, their split, and recognising which source a
path holds."""

from __future__ import annotations

import tarfile
from collections import Counter

import pytest
from conftest import write_allagefaces_source, write_fairface_source

from face2data.data.labels import FaceLabel, parse_allagefaces, parse_fairface_row
from face2data.data.sources import scan_labels, source_kind
from face2data.data.split import SPLITS, split_of
from face2data.schema import AGE_MAX, ETHNICITIES, FAIRFACE_AGE_LABELS, GENDERS, NO_LABEL, RACES

EXPECTED_RANGES = {
    "0-2": (0, 2), "3-9": (3, 9), "10-19": (10, 19), "20-29": (20, 29), "30-39": (30, 39),
    "40-49": (40, 49), "50-59": (50, 59), "60-69": (60, 69), "more than 70": (70, AGE_MAX),
}  # fmt: skip
EXPECTED_ETHNICITY = {
    "White": "White", "Black": "Black", "Indian": "Indian", "East Asian": "Asian", "Southeast Asian": "Asian",
    "Middle Eastern": "Others", "Latino_Hispanic": "Others",
}  # fmt: skip


@pytest.mark.parametrize("age", FAIRFACE_AGE_LABELS)
def test_every_age_range_parses_to_its_years(age):
    label = parse_fairface_row(age, "Female", "White")
    assert label is not None and label.age_range == EXPECTED_RANGES[age] and label.age_high is not None


@pytest.mark.parametrize("race", RACES)
def test_every_race_group_maps_onto_the_five_classes(race):
    label = parse_fairface_row("20-29", "Male", race)
    assert label == FaceLabel(
        20, 29, {"gender": 0, "ethnicity": ETHNICITIES.index(EXPECTED_ETHNICITY[race]), "ethnicity7": RACES.index(race)}
    )


def test_unknown_values_are_not_labelled():
    assert parse_fairface_row("70+", "Male", "White") is None
    assert parse_fairface_row("20-29", "Other", "White") is None
    assert parse_fairface_row("20-29", "Male", "Martian") is None


def test_fairface_names_split_deterministically_and_disjointly():
    names = [f"train/{n}.jpg" for n in range(1, 20001)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(f"FairFace/{n}") for n in names] == [split_of(n) for n in names]
    counts = Counter(splits)
    assert set(counts) == set(SPLITS) and sum(counts.values()) == len(names)  # each name in exactly one split
    assert abs(counts["test"] / len(names) - 0.1) < 0.01 and abs(counts["val"] / len(names) - 0.1) < 0.01


def _folder_and_archive(folder, kind: str):
    """The labels scanned from a source folder and from a tar.gz of it, after checking both are recognised."""
    archive = folder.parent / f"{folder.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    assert source_kind(folder) == source_kind(archive) == kind
    return scan_labels(folder), scan_labels(archive)


def test_a_fairface_folder_and_its_archive_read_alike(tmp_path):
    rows = [("20-29", "Male", "Indian"), ("more than 70", "Female", "East Asian"), ("bad", "Male", "White")]
    folder = write_fairface_source(tmp_path / "src", rows)
    from_folder, from_archive = _folder_and_archive(folder, "fairface")
    assert from_folder.labelled == from_archive.labelled
    assert [name for name, _ in from_folder.labelled] == ["train/1.jpg", "train/2.jpg"]
    assert from_folder.skipped == ["train/3.jpg"]  # the row with an unknown age range


def test_a_utkface_folder_is_recognised(tmp_path):
    (tmp_path / "30_0_1_20170101000000001.jpg.chip.jpg").write_bytes(b"")
    assert source_kind(tmp_path) == "utkface"


def test_an_all_age_faces_name_gives_the_exact_age_and_its_row_the_gender():
    label = parse_allagefaces("AllAgeFaces/00123A35.jpg", "male")
    assert label == FaceLabel(35, classes={"gender": GENDERS.index("male"), "ethnicity": NO_LABEL})
    assert parse_allagefaces("07000A02.JPG", " Female ").of("gender") == GENDERS.index("female")
    for odd in ("00123B35.jpg", "00123A.jpg", "A35.jpg", "00123A35.png", "00123A999.jpg", "photo.jpg"):
        assert parse_allagefaces(odd, "male") is None, odd
    assert parse_allagefaces("00123A35.jpg", "unknown") is None


def test_an_all_age_faces_folder_and_its_archive_read_alike_and_report_what_they_skip(tmp_path):
    folder = write_allagefaces_source(tmp_path / "src", [(2, "female"), (35, "male"), (80, "female")])
    (folder / "holiday snap.jpg").write_bytes((folder / "00000A02.jpg").read_bytes())  # an odd name, no row
    with (folder / "labels.csv").open("a") as table:
        table.write("00009A40.jpg,40,male\n")  # a row naming no file
        table.write("00001A35.jpg,36,male\n")  # a second row for a file, disagreeing with its name
    from_folder, from_archive = _folder_and_archive(folder, "allagefaces")
    assert from_folder.labelled == from_archive.labelled
    assert from_folder.skipped == from_archive.skipped
    labelled = dict(from_folder.labelled)
    assert sorted(labelled) == ["00000A02.jpg", "00001A35.jpg", "00002A80.jpg"]
    assert labelled["00002A80.jpg"] == FaceLabel(80, classes={"gender": GENDERS.index("female"), "ethnicity": NO_LABEL})
    assert set(from_folder.skipped) == {"00009A40.jpg", "00001A35.jpg", "holiday snap.jpg"}


def test_all_age_faces_names_split_deterministically_and_disjointly():
    names = [f"{n:05d}A{2 + n % 79:02d}.jpg" for n in range(12000)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(f"AllAgeFaces/{n}") for n in names]
    counts = Counter(splits)
    assert set(counts) == set(SPLITS) and sum(counts.values()) == len(names)
    assert abs(counts["test"] / len(names) - 0.1) < 0.01 and abs(counts["val"] / len(names) - 0.1) < 0.01
