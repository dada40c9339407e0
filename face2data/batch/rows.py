"""A batch's rows: scoring one entry into the flat rows that ``results`` defines (``results.COLUMNS``), for the
CLI's files, the Ray engine's Parquet and the app's table and CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from face2data.image_loading import ImageLoadError
from face2data.inputs import Entry
from face2data.results import file_rows


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
