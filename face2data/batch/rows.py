"""The flat row of a batch: one per face, or one per file without a face or with an error.

One definition for the CLI's files, the Ray engine's Parquet and the app's table and CSV. A face's values are
those of ``FaceResult.to_dict`` (the JSON of ``predict --json``), flattened; ``faces`` (the number of faces
found in the file, on every row of it) lets a reader tell whether all rows of a file were written (see
``outputs``). Empty values are None (an empty cell in CSV, null in JSONL and Parquet). A possible face (the
detector is not sure it is one) has ``possible_face`` 1 and, unless it was read on request, no age, gender or
ethnicity; the faces read have 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from face2data.batch.inputs import Entry
from face2data.image_loading import ImageLoadError
from face2data.schema import ETHNICITIES

# Column name -> type ("str", "int" or "float"), in output order.
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
    "age_low": "int",
    "age_high": "int",
    "gender": "str",
    "gender_probability": "float",
    "ethnicity": "str",
    **{f"p_{name}": "float" for name in ETHNICITIES},
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
        probabilities = face["ethnicity_probabilities"]
        row.update(age=face["age"], age_low=face["age_low"], age_high=face["age_high"], gender=face["gender"],
                   gender_probability=face["gender_probability"], ethnicity=face["ethnicity"])  # fmt: skip
        row.update({f"p_{name}": probabilities[name] for name in ETHNICITIES})
    return row


def file_rows(file: str, faces: list[dict] | None, error: str | None = None) -> list[dict[str, Any]]:
    """The rows of one file: one per face (``to_dict`` forms), else one row saying no face or the error."""
    if error is not None:
        return [{**dict.fromkeys(COLUMNS), "file": file, "error": error}]
    if not faces:
        return [{**dict.fromkeys(COLUMNS), "file": file, "faces": 0}]
    return [face_row(file, len(faces), number, face) for number, face in enumerate(faces, start=1)]


def is_read_face(row: dict[str, Any]) -> bool:
    """True on the row of a face that was read (not a file without a face, nor a possible face)."""
    return row["face"] is not None and not row.get("possible_face")


def expected_rows(row: dict[str, Any]) -> int:
    """How many rows the file of ``row`` has when all were written."""
    return max(int(row["faces"] or 0), 1)


@dataclass
class Scored:
    """What one entry gave: its faces (``FaceResult`` objects), or the reason it has none."""

    name: str
    faces: list = field(default_factory=list)
    error: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """Its output rows."""
        return file_rows(self.name, [face.to_dict() for face in self.faces], self.error)


def score(entry: Entry, predictor) -> Scored:
    """Read and predict one entry; any failure becomes ``Scored.error`` (a batch never stops for one file)."""
    try:
        return Scored(entry.name, list(predictor.predict_bytes(entry.read())))
    except ImageLoadError as error:
        return Scored(entry.name, error=str(error))
    except Exception as error:  # a decoder or detector failure on one odd file must not end a million-photo run
        return Scored(entry.name, error=f"the photo could not be processed ({type(error).__name__}: {error})"[:300])
