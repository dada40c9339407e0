"""A batch's rows: scoring one entry into the flat rows that ``results`` defines (``results.COLUMNS``), for the
CLI's files, the Ray engine's Parquet and the app's table and CSV."""

from __future__ import annotations

from typing import Any

from face2data.image_loading import ImageLoadError
from face2data.inputs import Entry
from face2data.results import PhotoResult


def expected_rows(row: dict[str, Any]) -> int:
    """How many rows the file of ``row`` has when all were written."""
    return max(int(row["faces"] or 0), 1)


def score(entry: Entry, predictor) -> PhotoResult:
    """Read and predict one entry; any failure becomes the result's error (a batch never stops for one file)."""
    try:
        return predictor.predict_photo(entry.name, entry.read())
    except ImageLoadError as error:  # the entry itself could not be read (a damaged archive member)
        return PhotoResult(entry.name, error=str(error))
    except Exception as error:  # a decoder or detector failure on one odd file must not end a million-photo run
        message = f"the photo could not be processed ({type(error).__name__}: {error})"
        return PhotoResult(entry.name, error=message[:300])
