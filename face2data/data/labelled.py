"""Your own labelled faces: a folder or a zip/tar(.gz) archive of photos, labelled by UTKFace-style names or a table.

Labels come from a CSV table (inside the set, or a separate file) or, for a photo no table row names, from a
UTKFace-style file name (``<age>_<gender>_<race>_<date>.jpg``). A table has a file column (``file``,
``filename``, ``image``, ``path``, ``name`` …) and any of:

- ``age``: an exact age (``35``), a range (``30-39``) or FairFace's labels (``30-39``, ``more than 70``);
  or ``age_min`` and ``age_max``;
- ``gender``: ``male``/``female``, ``m``/``f``, ``man``/``woman`` (any case) or UTKFace's ``0`` (male)/``1``;
- ``ethnicity``: one of the five classes (schema.ETHNICITIES, UTKFace's ``0``..``4``) or one of FairFace's seven
  race groups (schema.RACES, kept for the per-race figures); or a ``race`` column of either.

A missing column or an empty cell leaves that head unlabelled (schema.NO_LABEL, as All-Age-Faces' ethnicity):
it is not scored for that face; a face without an age label has NaN age bounds. Archives are read in memory,
never extracted. Rows and photos that cannot be used are collected in :class:`Problems` (kind, count, the first
offenders), never raised: the rest is evaluated.
"""

from __future__ import annotations

import contextlib
import csv
import io
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from face2data.data.arrays import FaceArrays, class_labels, empty_faces
from face2data.data.label_table import (
    FILE_COLUMNS,
    BadLabel,
    class_schemes,
    column_of,
    normal_column,
    parse_row,
    parse_utkface_name,
)
from face2data.data.labels import FaceLabel
from face2data.data.sources import IMAGE_SUFFIXES
from face2data.faces import default_detector, find_faces
from face2data.image_loading import ImageLoadError, load_rgb, read_image_bytes
from face2data.inputs import Entry, Reading, is_archive_name, iter_entries, iter_upload_entries
from face2data.limits import SMALL_SOURCE
from face2data.machine import usable_cores
from face2data.safe_text import posix_name, safe_name
from face2data.schema import (
    AGE_MAX,
    AGE_MIN,
    NO_LABEL,
    to_model_input,
)

SOURCE = "labelled"
# Column names accepted for the photo's file (compared lower-case, spaces and hyphens read as underscores).
SHOWN = 3  # offenders named per kind of problem in a message

# Kinds of problem, in the order a message lists them, with how a person reads them.
LISTED = 200  # offenders of one kind a report lists by name; all are counted
PROBLEM_KINDS = {
    "unknown_class": "unknown label",
    "age_out_of_range": f"age outside {AGE_MIN}..{AGE_MAX}",
    "row_without_file": "row naming no photo of the set",
    "ambiguous_row": "row naming more than one photo",
    "duplicate_row": "photo named by more than one row",
    "table_without_file_column": "table without a file column",
    "unreadable_table": "table that is not readable CSV",
    "file_without_labels": "photo without labels (no table row, not a UTKFace-style name)",
    "unreadable_image": "unreadable image",
    "no_face_found": "no face found",
}


@dataclass
class Problems:
    """What could not be used, by kind (see PROBLEM_KINDS): each entry names a row or a photo and says why."""

    items: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, what: str) -> None:
        if kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown kind of problem {kind!r}")
        self.items.setdefault(kind, []).append(what)

    def count(self, kind: str | None = None) -> int:
        """How many problems of one kind (or of every kind)."""
        if kind is None:
            return sum(len(v) for v in self.items.values())
        return len(self.items.get(kind, []))

    def __bool__(self) -> bool:
        return self.count() > 0

    def as_dict(self, listed: int = LISTED) -> dict[str, dict]:
        """JSON-ready: per kind its count, what it means and the first ``listed`` offenders (a 60 MB labels file
        of bad rows made a 187 MB report when every one was listed)."""
        return {kind: {"count": len(self.items[kind]), "meaning": PROBLEM_KINDS[kind],
                       "items": self.items[kind][:listed]}
                for kind in PROBLEM_KINDS if kind in self.items}  # fmt: skip

    def message(self, shown: int = SHOWN) -> str:
        """One line per kind: its count and the first offenders; empty when there are none."""
        lines = []
        for kind, meaning in PROBLEM_KINDS.items():
            items = self.items.get(kind, [])
            if items:
                more = f"; and {len(items) - shown} more" if len(items) > shown else ""
                lines.append(f"{len(items)} × {meaning}: {'; '.join(items[:shown])}{more}")
        return "\n".join(lines)


@dataclass
class LabelledSet:
    """The labels found in a set of photos (keyed by each photo's path inside the set) and the problems met."""

    path: Path  # the folder or archive; for uploads, only a name
    labels: dict[str, FaceLabel]
    problems: Problems
    images: list[str] = field(default_factory=list)  # every photo of the set, labelled or not
    uploads: Sequence[tuple[str, bytes]] = ()  # the set itself when it was uploaded: (file name, bytes), in memory

    def __len__(self) -> int:
        return len(self.labels)


# ---------------------------------------------------------------------------------------------- reading a set


def _is_image(name: str) -> bool:
    return PurePosixPath(name).name.lower().endswith(IMAGE_SUFFIXES)


def _entries(path: Path, read: Reading) -> Iterator[tuple[str, Entry]]:
    """``(name inside the set, entry)`` for every file of a folder or archive (archives read in memory); names
    are ``safe_text.safe_name`` text, as the entries'."""
    spec, shown = str(path), safe_name(path)
    for entry in iter_entries([spec], read=read):
        if entry.name == shown:  # a single file given, or an archive that cannot be read at all
            yield safe_name(path.name), entry
        elif path.is_dir():
            yield Path(entry.name).relative_to(shown).as_posix(), entry
        else:
            yield entry.name[len(shown) + 1 :], entry


def _is_table(name: str) -> bool:
    """Whether a member is a labels table: the only members whose bytes listing a set reads (its photos are read
    once, when their faces are found)."""
    return name.lower().endswith(".csv")


def _suffixes(name: str) -> Iterator[str]:
    parts = PurePosixPath(name).parts
    for i in range(len(parts)):
        yield "/".join(parts[i:])


def _clean_file_cell(text: str) -> str:
    name = posix_name(text.strip())
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def read_labelled(path: str | Path, labels: str | Path | None = None) -> LabelledSet:
    """The labels of a folder or zip/tar(.gz) archive of photos: from ``labels`` (a CSV file) when given, else
    from the CSV tables inside the set, else (and for photos no row names) from UTKFace-style names.

    Raises FileNotFoundError for a missing path; every bad row or photo becomes a problem instead.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such folder or archive")
    if labels is not None and not Path(labels).is_file():
        raise FileNotFoundError(f"{labels}: no such labels file")
    if path.is_file() and not is_archive_name(path.name) and not _is_image(path.name):
        raise ValueError(f"{path} is neither a folder nor a zip or tar archive of photos")
    given = None
    if labels is not None:
        try:
            given = (Path(labels).name, table_text(read_image_bytes(labels)))
        except ImageLoadError as error:
            raise ValueError(f"{safe_name(labels)}: {error}") from None
    return _read_set(path, _entries(path, read=_is_table if labels is None else False), given)


def read_labelled_uploads(files: Sequence[tuple[str, bytes]], name: str = "your uploads") -> LabelledSet:
    """The labels of uploaded photos and archives ``(file name, bytes)``, read in memory: CSV tables among the
    uploads (or inside an uploaded archive) label the photos they name; UTKFace-style names label the rest."""
    found = _read_set(Path(name), ((entry.name, entry) for entry in iter_upload_entries(files, _is_table)), None)
    found.uploads = files
    return found


def _read_set(path: Path, entries: Iterable[tuple[str, Entry]], given: tuple[str, str] | None) -> LabelledSet:
    """A LabelledSet of the ``(name, entry)`` files of a set; ``given`` (name, CSV text) replaces its own tables."""
    problems = Problems()
    images: list[str] = []
    tables: list[tuple[str, str]] = []
    for name, entry in entries:
        if entry.error is not None:
            problems.add("unreadable_image", f"{name}: {entry.error}")
        elif _is_image(name) and not PurePosixPath(name).name.startswith("."):
            images.append(name)
        elif given is None and _is_table(name):
            try:  # read as a photo is: a regular file of at most MAX_FILE_BYTES (not a pipe, not /dev/zero)
                data = entry.read()
            except ImageLoadError as error:
                problems.add("unreadable_table", f"{name}: {error}")
                continue
            tables.append((name, table_text(data)))
    if given is not None:
        tables = [given]
    images.sort()
    by_suffix: dict[str, list[str]] = {}
    for name in images:
        for suffix in _suffixes(name):
            by_suffix.setdefault(suffix, []).append(name)
    found: dict[str, FaceLabel] = {}
    claimed: set[str] = set()  # photos named by a row, good or bad
    for table, text in tables:
        _read_table(table, text, by_suffix, found, claimed, problems)
    for name in images:
        if name in claimed:
            continue
        try:
            label = parse_utkface_name(name)
        except BadLabel as bad:
            problems.add(bad.kind, f"{name}: {bad}")
            continue
        if label is None:
            problems.add("file_without_labels", name)
        else:
            found[name] = label
    return LabelledSet(path, dict(sorted(found.items())), problems, images)


def _set_entries(labelled: LabelledSet, read: bool) -> Iterator[tuple[str, Entry]]:
    """``(name, entry)`` for every file of the set: of its uploads, or of its folder or archive."""
    if labelled.uploads:
        return ((entry.name, entry) for entry in iter_upload_entries(labelled.uploads, read))
    return _entries(labelled.path, read)


def table_text(data: bytes) -> str:
    """A labels table's text: UTF-16 when it starts with a UTF-16 byte-order mark (spreadsheets save that as
    "Unicode text"), else UTF-8 (a BOM dropped; bytes that are not UTF-8 replaced)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _table_hint(text: str) -> str:
    """What a table that cannot be used probably is, in words ('' when nothing stands out)."""
    first = text.split("\n", 1)[0]
    if "\x00" in text[:4096]:
        return "; it looks like UTF-16 text: save it as CSV in UTF-8"
    if ";" in first and "," not in first:
        return "; its columns seem separated by ';': save it with commas"
    if "\t" in first and "," not in first:
        return "; its columns seem separated by tabs: save it with commas"
    return ""


def _read_table(table: str, text: str, by_suffix: dict[str, list[str]], found: dict[str, FaceLabel],
                claimed: set[str], problems: Problems) -> None:  # fmt: skip
    """Add the labels of one CSV table's rows to ``found``, its bad rows to ``problems``."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = {normal_column(k): k for k in reader.fieldnames or [] if k is not None}
        file_column = column_of(header, FILE_COLUMNS)
        if file_column is None:
            columns = ", ".join(reader.fieldnames or []) or "none"
            problems.add("table_without_file_column", f"{table} (columns: {columns}){_table_hint(text)}")
            return
        rows = list(reader)
    except csv.Error as error:  # a cell over the csv module's 131,072 characters, a NUL byte …
        problems.add("unreadable_table", f"{table}: not a readable CSV table ({error}){_table_hint(text)}")
        return
    schemes = class_schemes(header, rows)
    for number, row in enumerate(rows, 2):  # the header is line 1
        where = f"{table} row {number}"
        cell = _clean_file_cell(row.get(file_column) or "")
        matches = by_suffix.get(cell, []) if cell else []
        beside = PurePosixPath(table).parent / cell  # a path from the table's own folder
        for whole in (beside.as_posix(), cell):  # the photo's whole path, though other photos end the same way
            if whole in matches:
                matches = [whole]
                break
        if not matches and cell:  # "images/x.jpg" for a photo uploaded loose as "x.jpg": its bare name, if unique
            matches = by_suffix.get(PurePosixPath(cell).name, [])[:2]
            matches = matches if len(matches) == 1 else []
        if not matches:
            problems.add("row_without_file", f"{where}: {cell or '(empty)'}")
            continue
        if len(matches) > 1:
            problems.add("ambiguous_row", f"{where}: {cell} ({', '.join(matches[:SHOWN])})")
            continue
        name = matches[0]
        if name in claimed:
            problems.add("duplicate_row", f"{where}: {name}")
            continue
        claimed.add(name)
        try:
            label = parse_row(row, header, *schemes)
        except BadLabel as bad:
            problems.add(bad.kind, f"{where} ({name}): {bad}")
            continue
        if label is None:
            problems.add("file_without_labels", f"{where} ({name}): the row labels nothing")
        else:
            found[name] = label


# ---------------------------------------------------------------------------------------------- faces


def iter_labelled_bytes(labelled: LabelledSet) -> Iterator[tuple[str, bytes | None, str | None]]:
    """``(name, bytes, None)`` for every labelled photo, or ``(name, None, why)`` for one that cannot be read."""
    for name, entry in _set_entries(labelled, read=True):
        if name not in labelled.labels:
            continue
        try:
            yield name, entry.read(), None
        except Exception as error:  # ImageLoadError and anything a damaged member raises
            yield name, None, str(error) or type(error).__name__


def _photo_face(item: tuple[str, bytes | None, str | None]) -> tuple[str, np.ndarray | None, str | None]:
    """Worker: (name, the model-size aligned crop of the photo's largest read face or None, error or None).

    Your photos are ordinary photos: their faces are found exactly as the Predict page and ``predict`` find them
    (``find_faces``; possible faces are not read), not with the training crops' tight-crop settings. The threads
    of one process share its detector: a detector's network keeps buffers the size of the largest photo it has
    searched (230 MB at 1600 px), and a search (0.2 s at 1600 px) is short beside a large photo's decoding, which
    the threads do side by side."""
    name, data, error = item
    if data is None:
        return name, None, error
    try:
        rgb = load_rgb(data)
    except ImageLoadError as problem:
        return name, None, str(problem)
    read = [face for face in find_faces(rgb, default_detector()) if not face.doubtful]
    return name, (to_model_input(read[0].crop).round().astype(np.uint8) if read else None), None


def bounded_map(submit: Callable[[Any], Callable[[], Any]], items: Iterable, ahead: int) -> Iterator:
    """The results of ``submit(item)()`` in order, with at most ``ahead`` items submitted and not yet consumed.

    ``Executor.map`` and ``Pool.imap`` read their whole input at once; fed photos read from a zip, that held every
    photo's bytes in memory before the first was done (6 GB from a 31 MB zip). Here a photo is read only when one
    ahead of it is taken, so memory stays bounded by ``ahead`` photos whatever the set's size."""
    pending: deque[Callable[[], Any]] = deque()
    for item in items:
        pending.append(submit(item))
        if len(pending) >= ahead:
            yield pending.popleft()()
    while pending:
        yield pending.popleft()()


def labelled_faces(labelled: LabelledSet, workers: int | None = None,
                   progress: Callable[[int, int], object] | None = None, threads: bool = False
                   ) -> tuple[FaceArrays, Problems]:  # fmt: skip
    """The labelled photos' faces as FaceArrays (sorted by name): each photo's largest read face, found as the
    Predict page finds it (``_photo_face``); with the set's problems plus unreadable photos and photos in which no
    face is read. ``progress(done, total)`` is called after each photo. ``workers`` processes (default: every
    core) do the work, or with ``threads`` as many threads of this process (where new processes cannot be
    started, as in the app's server; OpenCV works outside Python's lock). Nothing is written to disk."""
    problems = Problems({kind: list(items) for kind, items in labelled.problems.items.items()})
    workers = workers or usable_cores()
    items: Iterable = iter_labelled_bytes(labelled)
    pool: Any = None
    if threads and workers > 1:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="face2data-crops")
    elif workers > 1 and len(labelled) > SMALL_SOURCE:
        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=cv2.setNumThreads, initargs=(1,))
    crops: dict[str, np.ndarray] = {}
    with pool or contextlib.nullcontext():
        if isinstance(pool, ThreadPoolExecutor):
            results: Iterable = bounded_map(lambda item: pool.submit(_photo_face, item).result, items, workers + 1)
        elif pool is not None:
            results = bounded_map(lambda item: pool.apply_async(_photo_face, (item,)).get, items, 2 * workers)
        else:
            results = map(_photo_face, items)
        for done, (name, data, error) in enumerate(results, start=1):
            if progress is not None:
                progress(done, len(labelled))
            if error is not None:
                problems.add("unreadable_image", f"{name}: {error}")
            elif data is None:
                problems.add("no_face_found", name)
            else:
                crops[name] = data
    return faces_arrays([(name, labelled.labels[name]) for name in sorted(crops)], [crops[n] for n in sorted(crops)]
                        ), problems  # fmt: skip


def faces_arrays(rows: list[tuple[str, FaceLabel]], images: list[np.ndarray]) -> FaceArrays:
    """FaceArrays of labelled crops (source ``labelled``, split ``all``); a face without an age label has NaN
    age bounds."""
    if not rows:
        return empty_faces()
    no_age = np.array([label.age == NO_LABEL for _, label in rows], bool)
    low = np.array([label.age_range[0] for _, label in rows], np.float32)
    high = np.array([label.age_range[1] for _, label in rows], np.float32)
    low[no_age] = high[no_age] = np.nan
    return FaceArrays(
        images=np.stack(images).astype(np.uint8),
        age_low=low,
        age_high=high,
        labels=class_labels([label for _, label in rows]),
        sources=np.full(len(rows), SOURCE).astype(str),
        names=np.array([name for name, _ in rows], dtype=str),
        splits=np.full(len(rows), "all").astype(str),
    )
