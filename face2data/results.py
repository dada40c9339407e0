"""What a prediction for one face is, and every form it is written in: JSON, a flat row, a label, a report.

One definition for the CLI, the pages (downloads included), batch scoring and the API. A face's values are per
head of ``schema.HEAD_TABLE``: a new head appears in all these forms without a change here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from face2data.outputs import age_interval, expected_age
from face2data.safe_text import csv_text, safe_name
from face2data.schema import AGE_HEAD, CLASS_HEADS, HEAD_BY_NAME, Head, shown_heads

Progress = Callable[[int, int], None]  # told (faces read so far, faces found) while a photo is read


# Ages are written with this many decimals (JSON, rows, the API, an explanation's output) and read as whole years
# from them.
AGE_DECIMALS = 1


def whole_years(age: float) -> int:
    """An age as people read it: its written value (``AGE_DECIMALS``) rounded half up to whole years, so the
    ``age`` 29.5 written for 29.46 reads 30. The one rounding of the card, the photo labels, the CLI table, batch
    rows and the API (``age_years``), so a face is the same age everywhere."""
    return math.floor(round(age, AGE_DECIMALS) + 0.5)  # a written tenth plus a half lands exactly on a whole year


# Probabilities are written with this many decimals (JSON, rows, the API) and read as whole percents from them.
PROBABILITY_DECIMALS = 3


def whole_percent(probability: float) -> int:
    """A probability as people read it: its written value (``PROBABILITY_DECIMALS``) rounded half up to whole
    percent. The one rounding of the card, the faces table, the CLI table and the Batch page, so a written 0.675
    reads 68 % everywhere (0.6749 is written 0.675)."""
    thousandths = round(probability * 10**PROBABILITY_DECIMALS)
    return (thousandths + 5) // 10


@dataclass
class FaceResult:
    """What was predicted for one face of a photo (faces are numbered largest first).

    ``probabilities`` holds each head's output (mirror-averaged) by head name; it is empty for a possible face
    left unread, which has a box and notes and no attribute at all.
    """

    index: int
    box: tuple[int, int, int, int]  # x, y, width, height in photo pixels
    score: float  # detector confidence
    crop: np.ndarray  # the aligned (CROP_SIZE, CROP_SIZE, 3) uint8 RGB crop the model saw
    probabilities: dict[str, np.ndarray]
    quality_notes: list[str] = field(default_factory=list)
    doubtful: bool = False  # a possible face (the detector is not sure); see ``read``

    def in_photo_pixels(self, scale: float) -> FaceResult:
        """This face with its box multiplied by ``scale``: from a reduced decode's pixels to the photo's
        (``image_loading.load_rgb_scaled``)."""
        if scale == 1.0:
            return self
        x, y, width, height = (round(v * scale) for v in self.box)
        return replace(self, box=(x, y, width, height))

    @classmethod
    def unread(cls, index: int, box, score: float, crop: np.ndarray, notes: list[str]) -> FaceResult:
        """A possible face that was not read: no attribute is given for it."""
        x, y, width, height = (int(v) for v in box)
        return cls(index, (x, y, width, height), float(score), crop, {}, list(notes), doubtful=True)

    @property
    def read(self) -> bool:
        """False for a possible face left unread."""
        return bool(self.probabilities)

    @property
    def age_probabilities(self) -> np.ndarray:
        """The age distribution over ``schema.AGES``."""
        return self.probabilities[AGE_HEAD.name]

    @cached_property
    def age(self) -> float:
        """The expected value of the age distribution."""
        return float(expected_age(self.age_probabilities))

    @property
    def age_years(self) -> int:
        """The age in whole years (``whole_years``)."""
        return whole_years(self.age)

    @cached_property
    def age_range(self) -> tuple[float, float]:
        """The central ``AGE_INTERVAL_MASS`` interval of the age distribution."""
        low, high = age_interval(self.age_probabilities)
        return float(low[0]), float(high[0])

    @property
    def age_low(self) -> float:
        return self.age_range[0]

    @property
    def age_high(self) -> float:
        return self.age_range[1]

    def label(self, head: str) -> str:
        """The likeliest class of a class head."""
        return HEAD_BY_NAME[head].classes[int(np.argmax(self.probabilities[head]))]

    def probability(self, head: str, label: str | None = None) -> float:
        """The probability of ``label`` (default: the likeliest class) of a class head."""
        classes = HEAD_BY_NAME[head].classes
        return float(self.probabilities[head][classes.index(label or self.label(head))])

    def class_probabilities(self, head: str) -> dict[str, float]:
        """Every class of a class head with its probability, in the head's order."""
        return {name: float(p) for name, p in zip(HEAD_BY_NAME[head].classes, self.probabilities[head], strict=True)}

    def to_dict(self) -> dict:
        """The JSON object of ``python -m face2data predict --json`` (no image or age distribution).

        Per class head: ``<head>`` (the likeliest class), ``<head>_probability`` and ``<head>_probabilities``.
        A possible face carries ``"possible_face": true``; one left unread has its box, score and notes only.
        """
        out: dict[str, Any] = {"box": [int(v) for v in self.box], "score": round(float(self.score), 3)}
        if not self.read:
            return out | {"possible_face": True, "quality_notes": list(self.quality_notes)}
        out |= {"age": round(self.age, AGE_DECIMALS), "age_years": self.age_years, "age_low": int(self.age_low),
                "age_high": int(self.age_high)}  # fmt: skip
        for head in CLASS_HEADS:
            out |= {
                head.name: self.label(head.name),
                f"{head.name}_probability": round(self.probability(head.name), PROBABILITY_DECIMALS),
                f"{head.name}_probabilities": {
                    k: round(p, PROBABILITY_DECIMALS) for k, p in self.class_probabilities(head.name).items()
                },
            }
        out["quality_notes"] = list(self.quality_notes)
        return out | ({"possible_face": True} if self.doubtful else {})


def shown_class_heads(heads: Iterable[Head] | None = None) -> tuple[Head, ...]:
    """The class heads among ``heads``; by default one per attribute (``schema.shown_heads``), as cards and photo
    labels show a face: a second scheme of an attribute is shown only where it is chosen."""
    return tuple(head for head in (shown_heads() if heads is None else heads) if head.kind == "classes")


def short_label(age: float, labels: Mapping[str, str]) -> str:
    """'34 F White': the age and the short form of each class in ``labels`` (head name -> class, as
    ``labels_of`` gives them), for labels drawn on photos (ASCII)."""
    return " ".join([str(whole_years(age)), *(HEAD_BY_NAME[head].short_form(label) for head, label in labels.items())])


def word_label(age: float, labels: Mapping[str, str], separator: str = ", ", unit: str = " years") -> str:
    """'34 years, female, White': the age and each class in ``labels`` (head name -> class) in words."""
    return separator.join([f"{whole_years(age)}{unit}", *labels.values()])


def labels_of(face: FaceResult, heads: Iterable[Head] | None = None) -> dict[str, str]:
    """The likeliest class of each shown class head of a read face (``shown_class_heads``), in table order."""
    return {head.name: face.label(head.name) for head in shown_class_heads(heads)}


def class_summary(face: FaceResult, heads: Iterable[Head] | None = None) -> str:
    """'female 97%, White 88%': each shown class head's likeliest class with its probability (``whole_percent``)."""
    return ", ".join(
        f"{face.label(h.name)} {whole_percent(face.probability(h.name))}%" for h in shown_class_heads(heads)
    )


def probability_column(head: str, label: str) -> str:
    """The flat column of one class's probability: ``p_gender_female``. The head's name is part of it, so two
    heads with a class of the same name (two schemes of one attribute) never share a column."""
    return f"p_{head}_{label}"


@dataclass
class PhotoResult:
    """One photo's outcome, whatever door it came through: its faces (the read ones largest first, then the
    possible faces), or why it could not be read. Its JSON (``to_dict``), flat rows (``rows``) and the CLI's text
    table are all built from it."""

    file: str | None
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None

    @property
    def read(self) -> list[FaceResult]:
        """The faces read."""
        return [face for face in self.faces if face.read]

    @property
    def possible(self) -> list[FaceResult]:
        """The possible faces left unread (the detector was not sure)."""
        return [face for face in self.faces if not face.read]

    def in_photo_pixels(self, scale: float) -> PhotoResult:
        """The same result with every box in the photo's pixels (see ``FaceResult.in_photo_pixels``)."""
        return replace(self, faces=[face.in_photo_pixels(scale) for face in self.faces])

    def to_dict(self) -> dict:
        """The JSON form, as ``predict --json``, the API and the app's download write it: ``{"file", "faces",
        "error"}`` (no faces when the file could not be read). Names and errors are ``safe_text.safe_name`` text,
        so any file name writes as JSON."""
        return {"file": None if self.file is None else safe_name(self.file),
                "faces": [face.to_dict() for face in self.faces],
                "error": None if self.error is None else safe_name(self.error)}  # fmt: skip

    def rows(self) -> list[dict[str, Any]]:
        """The flat rows (``COLUMNS``): one per face, else one saying there is no face or why the file failed."""
        return file_rows(self.file or "", [face.to_dict() for face in self.faces], self.error)


# The flat row: one per face, or one per file without a face or with an error. Column name -> type ("str", "int"
# or "float"), in output order. A face's values are those of ``FaceResult.to_dict``, flattened; ``faces`` (the
# number of faces found in the file, on every row of it) lets a reader tell whether all rows of a file were
# written. Empty values are None (an empty cell in CSV, null in JSONL and Parquet). A possible face has
# ``possible_face`` 1 and, unless it was read on request, no attribute; the faces read have 0. Every class head
# has its columns (not only the shown one of an attribute): ``<head>``, ``<head>_probability`` and one
# ``probability_column`` per class (``p_gender_female``, ``p_ethnicity_White``).
COLUMNS: dict[str, str] = {
    "file": "str",
    "faces": "int",  # faces found in the file; None for a file that could not be read
    "face": "int",  # 1 = the largest face; None on a row without a face
    "x": "int",
    "y": "int",
    "width": "int",
    "height": "int",
    "score": "float",
    "age": "float",
    "age_years": "int",  # the age in whole years, as the card and the CLI show it
    "age_low": "int",
    "age_high": "int",
    **{
        column: kind
        for head in CLASS_HEADS
        for column, kind in (
            (head.name, "str"),
            (f"{head.name}_probability", "float"),
            *((probability_column(head.name, name), "float") for name in head.classes),
        )
    },
    "quality_notes": "str",  # "; "-separated
    "possible_face": "int",  # 1: the detector is not sure this is a face (see FaceResult.read); 0 for faces
    "error": "str",  # the loader's message for a file that could not be read
}


def face_row(file: str, faces: int, number: int, face: dict) -> dict[str, Any]:
    """The row of face ``number`` (1-based) from its ``FaceResult.to_dict()``."""
    x, y, width, height = face["box"]
    row = dict.fromkeys(COLUMNS)
    row.update(file=file, faces=faces, face=number, x=x, y=y, width=width, height=height, score=face["score"],
               quality_notes="; ".join(face["quality_notes"]) or None,
               possible_face=int(face.get("possible_face", False)))  # fmt: skip
    if "age" in face:  # not a possible face left unread
        row.update(age=face["age"], age_years=face["age_years"], age_low=face["age_low"], age_high=face["age_high"])
        for head in CLASS_HEADS:
            row[head.name] = face[head.name]
            row[f"{head.name}_probability"] = face[f"{head.name}_probability"]
            row.update({probability_column(head.name, k): p for k, p in face[f"{head.name}_probabilities"].items()})
    return row


def file_rows(file: str, faces: list[dict] | None, error: str | None = None) -> list[dict[str, Any]]:
    """The rows of one file: one per face (``to_dict`` forms), else one row saying no face or the error.

    The file name (and error) is ``safe_text.safe_name`` text: the one form every writer and ``--resume`` use."""
    file = safe_name(file)
    if error is not None:
        error = safe_name(error)
        return [{**dict.fromkeys(COLUMNS), "file": file, "error": error}]
    if not faces:
        return [{**dict.fromkeys(COLUMNS), "file": file, "faces": 0}]
    return [face_row(file, len(faces), number, face) for number, face in enumerate(faces, start=1)]


def is_read_face(row: dict[str, Any]) -> bool:
    """True on the row of a face that was read (not a file without a face, nor a possible face)."""
    return row["face"] is not None and not row.get("possible_face")


def encode_csv(rows: Iterable[dict[str, Any]], header: bool = False) -> str:
    """Rows as CSV text (the columns of ``results.COLUMNS``), with the header line when asked; text cells that a
    spreadsheet would run as a formula are quoted (``safe_text.csv_cell``)."""
    return csv_text([[row.get(name) for name in COLUMNS] for row in rows], list(COLUMNS) if header else None)
