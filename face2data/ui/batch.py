"""From the uploads of the Batch page to its table, charts and CSV, all in memory.

Uploaded photos and archives are opened in memory (``face2data.inputs``), scored one after another with
the process's one Predictor and kept as the batch's rows (``face2data.batch.rows``, the CLI's schema) plus a
small JPEG thumbnail of each face; nothing is written to disk or logged. No Streamlit here, so it tests alone.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

from face2data.batch.rows import score
from face2data.inputs import iter_upload_entries
from face2data.limits import MAX_BATCH_BYTES, MAX_BATCH_FILES
from face2data.results import encode_csv, is_read_face, whole_percent
from face2data.schema import CLASS_HEADS
from face2data.ui.image_uri import jpeg_data_uri

THUMBNAIL_SIDE = 64


@dataclass
class BatchResult:
    """The rows of a batch (the CLI's schema) and a thumbnail data URI per row (None on a row without a face)."""

    digest: str
    rows: list[dict] = field(default_factory=list)
    thumbnails: list[str | None] = field(default_factory=list)
    photos: int = 0
    seconds: float = 0.0

    def count(self, kind: str) -> int:
        """Photos ``with_faces``, ``without_face`` or ``unreadable``, or ``faces`` (read) or ``possible_faces``
        (not read: the detector was not sure) in all."""
        if kind == "faces":
            return sum(is_read_face(row) for row in self.rows)
        if kind == "possible_faces":
            return sum(bool(row.get("possible_face")) for row in self.rows)
        photos: dict[str, list[dict]] = {}
        for row in self.rows:
            photos.setdefault(row["file"], []).append(row)
        if kind == "unreadable":
            return sum(rows[0]["error"] is not None for rows in photos.values())
        with_faces = sum(any(is_read_face(row) for row in rows) for rows in photos.values())
        if kind == "without_face":
            return sum(rows[0]["error"] is None for rows in photos.values()) - with_faces
        return with_faces


def digest_of_uploads(files: Sequence[tuple[str, bytes]]) -> str:
    """A fingerprint of the uploads, to recognise the same batch across reruns."""
    digest = hashlib.blake2b(digest_size=12)
    for name, data in files:
        digest.update(name.encode("utf-8", errors="replace") + b"\0" + len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def upload_problem(files: Sequence[tuple[str, bytes]]) -> tuple[int, str | None]:
    """The number of photos in the uploads (archives opened), and what is wrong with the batch (None if fine)."""
    size = sum(len(data) for _, data in files)
    if size > MAX_BATCH_BYTES:
        return 0, (f"These uploads hold {size / 2**20:.0f} MB; a batch may hold {MAX_BATCH_BYTES / 2**20:.0f} MB. "
                   "Please split it, or use `python -m face2data batch`, which has no limit.")  # fmt: skip
    count = sum(1 for _ in iter_upload_entries(files, read=False))
    if count > MAX_BATCH_FILES:
        return count, (f"These uploads hold {count} files; a batch may hold {MAX_BATCH_FILES}. Please split it, "
                       "or use `python -m face2data batch`, which has no limit.")  # fmt: skip
    if count == 0:
        return 0, "These uploads hold no file (an empty archive?)."
    return count, None


def score_uploads(files: Sequence[tuple[str, bytes]], predictor: Callable[[], object],
                  on_progress: Callable[[int, int], object] | None = None) -> BatchResult:  # fmt: skip
    """Score every photo of the uploads in this process; ``on_progress(done, total)`` after each one."""
    import time

    start = time.perf_counter()
    total, _ = upload_problem(files)
    result = BatchResult(digest=digest_of_uploads(files))
    model = predictor()
    for done, entry in enumerate(iter_upload_entries(files), start=1):
        scored = score(entry, model)
        result.rows.extend(scored.rows())
        result.thumbnails.extend([thumbnail_uri(face.crop) for face in scored.faces] or [None])
        result.photos = done
        if on_progress is not None:
            on_progress(done, max(total, done))
    result.seconds = time.perf_counter() - start
    return result


def thumbnail_uri(rgb: np.ndarray, side: int = THUMBNAIL_SIDE) -> str:
    """A small JPEG of an RGB image as a ``data:`` URI (what st.column_config.ImageColumn shows)."""
    small = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    return jpeg_data_uri(small, quality=85)


def results_table(result: BatchResult) -> pd.DataFrame:
    """One line per row of the batch, for people: thumbnail, file, face, age and range, each class head, notes.

    Possible faces (not read) are left out; a photo with nothing else says so in its notes.
    """
    lines = []
    read_files = {row["file"] for row in result.rows if is_read_face(row)}
    possible = Counter(row["file"] for row in result.rows if row.get("possible_face") and not is_read_face(row))
    noted: set[str] = set()
    for row, thumbnail in zip(result.rows, result.thumbnails, strict=True):
        if row.get("possible_face") and not is_read_face(row):
            if row["file"] in read_files or row["file"] in noted:
                continue
            noted.add(row["file"])
            n = possible[row["file"]]
            notes = f"no face read ({n} possible face{'s' if n > 1 else ''}: the detector was not sure)"
            lines.append({"thumbnail": None, "file": row["file"], "face": None, "notes": notes})
            continue
        face = row["face"] is not None
        lines.append({
            "thumbnail": thumbnail,
            "file": row["file"],
            "face": row["face"],
            "age": row["age_years"],
            "age range": f"{row['age_low']}–{row['age_high']}" if face else None,
            **{head.name: row[head.name] for head in CLASS_HEADS},
            **{f"P({head.name})": _percent(row[f"{head.name}_probability"]) for head in CLASS_HEADS},
            "notes": row["quality_notes"] or ("no face found" if row["faces"] == 0 else row["error"] or ""),
        })  # fmt: skip
    return pd.DataFrame(lines)


def _percent(probability: float | None) -> int | None:
    """A row's written probability in whole percent, as the card and the CLI table show it."""
    return None if probability is None else whole_percent(probability)


def results_csv(result: BatchResult) -> str:
    """The batch as the CSV ``python -m face2data batch --out results.csv`` writes."""
    return encode_csv(result.rows, header=True)


def summary_counts(result: BatchResult) -> dict[str, dict[str, int]]:
    """Faces per class of each class head (every class, in the schema's order) and photos per face count."""
    faces = [row for row in result.rows if is_read_face(row)]
    read_per_file = Counter(row["file"] for row in faces)
    files = {row["file"] for row in result.rows if row["error"] is None}
    per_photo = Counter(read_per_file[file] for file in files)
    per_class = {head.name: Counter(row[head.name] for row in faces) for head in CLASS_HEADS}
    return {
        **{head.name: {name: per_class[head.name][name] for name in head.classes} for head in CLASS_HEADS},
        "faces per photo": {str(n): per_photo[n] for n in range(max(per_photo, default=0) + 1)},
    }


def ages(result: BatchResult) -> list[float]:
    """The predicted age of every face."""
    return [row["age"] for row in result.rows if is_read_face(row)]
