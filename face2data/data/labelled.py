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
import math
import multiprocessing
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from face2data.batch.inputs import Entry, is_archive_name, iter_entries, iter_upload_entries
from face2data.crops import SMALL_SOURCE
from face2data.data.arrays import FaceArrays, empty_faces
from face2data.data.labels import FaceLabel, parse_name
from face2data.data.sources import IMAGE_SUFFIXES
from face2data.faces import FaceDetector, find_faces
from face2data.image_loading import ImageLoadError, load_rgb
from face2data.machine import usable_cores
from face2data.safe_text import posix_name, safe_name
from face2data.schema import (
    AGE_MAX,
    AGE_MIN,
    ETHNICITIES,
    FAIRFACE_AGE_LABELS,
    GENDERS,
    NO_LABEL,
    RACE_TO_ETHNICITY,
    RACES,
    age_range_bounds,
    to_model_input,
)

SOURCE = "labelled"
# Column names accepted for the photo's file (compared lower-case, spaces and hyphens read as underscores).
FILE_COLUMNS = ("file", "filename", "file_name", "image", "image_name", "img", "path", "name", "photo")
AGE_MIN_COLUMNS = ("age_min", "age_low", "min_age")
AGE_MAX_COLUMNS = ("age_max", "age_high", "max_age")
GENDER_COLUMNS = ("gender", "sex")
ETHNICITY_COLUMNS = ("ethnicity",)
RACE_COLUMNS = ("race",)
GENDER_SPELLINGS = {
    **{word: GENDERS.index("male") for word in ("male", "m", "man", "men", "boy", "0")},  # UTKFace: 0 is male
    **{word: GENDERS.index("female") for word in ("female", "f", "woman", "women", "girl", "1")},
}
ETHNICITY_SPELLINGS = {
    **{name.lower(): i for i, name in enumerate(ETHNICITIES)},
    **{str(i): i for i in range(len(ETHNICITIES))},  # UTKFace's numbers
    "other": ETHNICITIES.index("Others"),
}
RACE_SPELLINGS = {
    **{name.lower(): i for i, name in enumerate(RACES)},
    **{name.lower().replace("_", " "): i for i, name in enumerate(RACES)},
    "latino": RACES.index("Latino_Hispanic"),
    "hispanic": RACES.index("Latino_Hispanic"),
    "latino/hispanic": RACES.index("Latino_Hispanic"),
}
AGE_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
AGE_AND_OVER = re.compile(r"^(\d+)\s*\+$")  # "70+": that age up to AGE_MAX
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


# ---------------------------------------------------------------------------------------------- label values


class BadLabel(ValueError):
    """A cell that cannot be read; ``kind`` is a key of PROBLEM_KINDS."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _checked_age(value: int, text: str) -> int:
    if not AGE_MIN <= value <= AGE_MAX:
        raise BadLabel("age_out_of_range", f"age {text!r}")
    return value


def parse_age(text: str) -> tuple[int, int | None] | None:
    """``(age, None)`` for an exact age, ``(first, last)`` for a range (``30-39``, FairFace's ``more than 70``),
    None for an empty cell. Raises BadLabel for anything else."""
    text = text.strip()
    if not text:
        return None
    if text.lower() in FAIRFACE_AGE_LABELS:
        return age_range_bounds(FAIRFACE_AGE_LABELS.index(text.lower()))
    if match := AGE_AND_OVER.match(text):
        low = _checked_age(int(match.group(1)), text)
        return (low, None) if low == AGE_MAX else (low, AGE_MAX)
    if match := AGE_RANGE.match(text):
        low, high = (_checked_age(int(g), text) for g in match.groups())
        if low > high:
            raise BadLabel("unknown_class", f"age range {text!r}")
        return (low, None) if low == high else (low, high)
    try:
        number = float(text)
    except ValueError:
        raise BadLabel("unknown_class", f"age {text!r}") from None
    if not math.isfinite(number):  # "nan", "inf": not a number of years at all
        raise BadLabel("unknown_class", f"age {text!r} (not a number of years)")
    if not number.is_integer():
        if not AGE_MIN <= number <= AGE_MAX:
            raise BadLabel("age_out_of_range", f"age {text!r}")
        raise BadLabel("unknown_class", f"age {text!r} (whole years only)")
    return _checked_age(int(number), text), None


def parse_age_bounds(low: str, high: str) -> tuple[int, int | None] | None:
    """An age from ``age_min`` and ``age_max`` cells (both or neither), as parse_age returns it."""
    low, high = low.strip(), high.strip()
    if not low and not high:
        return None
    if not low or not high:
        raise BadLabel("unknown_class", f"age_min {low!r} with age_max {high!r} (give both)")
    first, second = parse_age(low), parse_age(high)
    if first is None or second is None or first[1] is not None or second[1] is not None:
        raise BadLabel("unknown_class", f"age_min {low!r}, age_max {high!r}")
    if first[0] > second[0]:
        raise BadLabel("unknown_class", f"age_min {low!r} above age_max {high!r}")
    return (first[0], None) if first[0] == second[0] else (first[0], second[0])


def parse_gender(text: str) -> int:
    """Index into GENDERS, NO_LABEL for an empty cell; BadLabel for anything else."""
    text = text.strip().lower()
    if not text:
        return NO_LABEL
    if text in GENDER_SPELLINGS:
        return GENDER_SPELLINGS[text]
    raise BadLabel("unknown_class", f"gender {text!r}")


def _ethnicity_key(text: str) -> str:
    return " ".join(text.strip().lower().replace("-", " ").split())


def seven_groups(values: Iterable[str]) -> bool:
    """Whether a column's values are FairFace's seven race groups (some value is one of them and none is one of
    the five classes only, such as ``Asian``): then ``White``, ``Black`` and ``Indian`` are race groups too."""
    keys = {_ethnicity_key(v) for v in values} - {""}
    return any(k in RACE_SPELLINGS and k not in ETHNICITY_SPELLINGS for k in keys) and not any(
        k in ETHNICITY_SPELLINGS and k not in RACE_SPELLINGS for k in keys
    )


def parse_ethnicity(text: str, races: bool = True) -> tuple[int, int]:
    """``(ethnicity, race)``: one of FairFace's seven groups (mapped onto the five, race kept) or one of the five
    classes (race -1); with ``races`` False (a column of the five classes) the names both share (``White``,
    ``Black``, ``Indian``) are read as classes. ``(NO_LABEL, -1)`` for an empty cell; BadLabel for anything else."""
    key = _ethnicity_key(text)
    if not key:
        return NO_LABEL, -1
    if key in RACE_SPELLINGS and (races or key not in ETHNICITY_SPELLINGS):
        race = RACE_SPELLINGS[key]
        return ETHNICITIES.index(RACE_TO_ETHNICITY[RACES[race]]), race
    if key in ETHNICITY_SPELLINGS:
        return ETHNICITY_SPELLINGS[key], -1
    raise BadLabel("unknown_class", f"ethnicity {text.strip()!r}")


def _five_classes_only(values: Iterable[str]) -> bool:
    """Whether a column's values are the five classes (some value is one of them only, such as ``Asian``)."""
    keys = {_ethnicity_key(v) for v in values} - {""}
    return any(k in ETHNICITY_SPELLINGS and k not in RACE_SPELLINGS for k in keys)


def _column(header: dict[str, str], names: tuple[str, ...]) -> str | None:
    """The table's own spelling of the first of ``names`` it has."""
    return next((header[n] for n in names if n in header), None)


def _normal(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().lower().lstrip("\ufeff"))


def parse_row(row: dict[str, str], header: dict[str, str] | None = None, ethnicity_races: bool | None = None,
              race_races: bool = True) -> FaceLabel | None:  # fmt: skip
    """The label of one table row (columns as in the module docstring), or None when it labels no head at all.

    ``header`` maps normalised column names to the row's keys (computed from the row when not given).
    ``ethnicity_races`` and ``race_races`` say whether the ethnicity and race columns hold FairFace's seven groups
    (see seven_groups; by default an ethnicity column's ``White`` is the class, a race column's the race group).
    An age range has ``age_high`` set; no age label gives ``age == NO_LABEL``. Raises BadLabel.
    """
    header = header or {_normal(k): k for k in row if k is not None}

    def cell(names: tuple[str, ...]) -> str:
        column = _column(header, names)
        return (row.get(column) or "") if column is not None else ""

    age = parse_age(cell(("age",)))
    bounds = parse_age_bounds(cell(AGE_MIN_COLUMNS), cell(AGE_MAX_COLUMNS))
    if age is not None and bounds is not None and age != bounds:
        raise BadLabel("unknown_class", f"age {cell(('age',))!r} against age_min/age_max {bounds}")
    age = age or bounds
    gender = parse_gender(cell(GENDER_COLUMNS))
    ethnicity, race = parse_ethnicity(cell(ETHNICITY_COLUMNS), bool(ethnicity_races))
    race_ethnicity, race_group = parse_ethnicity(cell(RACE_COLUMNS), race_races)
    if race_ethnicity != NO_LABEL:
        if ethnicity not in (NO_LABEL, race_ethnicity):
            raise BadLabel("unknown_class", f"ethnicity {cell(ETHNICITY_COLUMNS)!r} against race "
                                            f"{cell(RACE_COLUMNS)!r}")  # fmt: skip
        ethnicity, race = race_ethnicity, race_group if race_group != -1 else race
    if age is None and gender == NO_LABEL and ethnicity == NO_LABEL:
        return None
    low, high = age if age is not None else (NO_LABEL, None)
    return FaceLabel(low, gender, ethnicity, age_high=high, race=race)


def parse_utkface_name(name: str) -> FaceLabel | None:
    """Labels of a UTKFace-style name (as data.labels.parse_name), None for a name not of that form; BadLabel
    for one of that form with an age or class out of range."""
    label = parse_name(name)
    if label is not None:
        return label
    fields = PurePosixPath(posix_name(name)).name.split("_")
    if len(fields) < 4 or not all(f.isdigit() for f in fields[:3]):
        return None
    age, gender, ethnicity = (int(f) for f in fields[:3])
    if not AGE_MIN <= age <= AGE_MAX:
        raise BadLabel("age_out_of_range", f"age {age} in the name")
    raise BadLabel("unknown_class", f"gender {gender} or ethnicity {ethnicity} in the name")


# ---------------------------------------------------------------------------------------------- reading a set


def _is_image(name: str) -> bool:
    return PurePosixPath(name).name.lower().endswith(IMAGE_SUFFIXES)


def _entries(path: Path, read: bool) -> Iterator[tuple[str, Entry]]:
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
        given = (Path(labels).name, table_text(Path(labels).read_bytes()))
    return _read_set(path, _entries(path, read=labels is None), given)


def read_labelled_uploads(files: Sequence[tuple[str, bytes]], name: str = "your uploads") -> LabelledSet:
    """The labels of uploaded photos and archives ``(file name, bytes)``, read in memory: CSV tables among the
    uploads (or inside an uploaded archive) label the photos they name; UTKFace-style names label the rest."""
    found = _read_set(Path(name), ((entry.name, entry) for entry in iter_upload_entries(files)), None)
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
        elif given is None and name.lower().endswith(".csv"):
            data = entry.data if entry.data is not None else Path(entry.path or "").read_bytes()
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
        header = {_normal(k): k for k in reader.fieldnames or [] if k is not None}
        file_column = _column(header, FILE_COLUMNS)
        if file_column is None:
            columns = ", ".join(reader.fieldnames or []) or "none"
            problems.add("table_without_file_column", f"{table} (columns: {columns}){_table_hint(text)}")
            return
        rows = list(reader)
    except csv.Error as error:  # a cell over the csv module's 131,072 characters, a NUL byte …
        problems.add("unreadable_table", f"{table}: not a readable CSV table ({error}){_table_hint(text)}")
        return
    groups: dict[tuple[str, ...], bool] = {}
    for names in (ETHNICITY_COLUMNS, RACE_COLUMNS):
        column = _column(header, names)
        values = [row.get(column) or "" for row in rows] if column is not None else []
        groups[names] = seven_groups(values) if names == ETHNICITY_COLUMNS else not _five_classes_only(values)
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
            label = parse_row(row, header, groups[ETHNICITY_COLUMNS], groups[RACE_COLUMNS])
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


_WORKER = threading.local()  # one detector per worker thread or process (a detector serves one call at a time)


def _photo_face(item: tuple[str, bytes | None, str | None]) -> tuple[str, np.ndarray | None, str | None]:
    """Worker: (name, the model-size aligned crop of the photo's largest read face or None, error or None).

    Your photos are ordinary photos: their faces are found exactly as the Predict page and ``predict`` find them
    (``find_faces``; possible faces are not read), not with the training crops' tight-crop settings."""
    name, data, error = item
    if data is None:
        return name, None, error
    if not hasattr(_WORKER, "detector"):
        _WORKER.detector = FaceDetector()
    try:
        rgb = load_rgb(data)
    except ImageLoadError as problem:
        return name, None, str(problem)
    read = [face for face in find_faces(rgb, _WORKER.detector) if not face.doubtful]
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
        genders=np.array([label.gender for _, label in rows], np.int32),
        ethnicities=np.array([label.ethnicity for _, label in rows], np.int32),
        races=np.array([label.race for _, label in rows], np.int32),
        sources=np.full(len(rows), SOURCE).astype(str),
        names=np.array([name for name, _ in rows], dtype=str),
        splits=np.full(len(rows), "all").astype(str),
    )
