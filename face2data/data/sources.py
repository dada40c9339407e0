"""Where labelled faces come from: UTKFace, FairFace or All-Age-Faces, as a folder (searched recursively) or a
tar archive.

UTKFace keeps its labels in the file names; FairFace in a label table (``fairface_label_*.csv``) beside its
``train/`` (and ``val/``) folders; All-Age-Faces the age in the file names (``00123A35.jpg``) and the gender in
``AllAgeFaces/labels.csv``. Either way a source is read as ``(name, FaceLabel)`` pairs and the bytes of those
names; a FairFace name is the table's ``file`` (``train/1.jpg``), any other the file's base name.
"""

from __future__ import annotations

import csv
import functools
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from face2data.data.labels import FaceLabel, parse_allagefaces, parse_fairface_row, parse_name

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FAIRFACE_TABLE_PREFIX = "fairface_label_"
ALLAGEFACES_FOLDER = "allagefaces"  # the folder holding All-Age-Faces' images and table (any case)
ALLAGEFACES_TABLE = "labels.csv"


@dataclass
class LabelledFiles:
    """What a scan of a source found: labelled images and the names it skipped."""

    labelled: list[tuple[str, FaceLabel]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _is_archive(path: Path) -> bool:
    return path.is_file() and tarfile.is_tarfile(path)


def _is_image_name(name: str) -> bool:
    base = PurePosixPath(name).name
    return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)


def _is_fairface_table(name: str) -> bool:
    base = PurePosixPath(name).name
    return base.startswith(FAIRFACE_TABLE_PREFIX) and base.endswith(".csv")


def _is_allagefaces_table(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.name == ALLAGEFACES_TABLE and path.parent.name.lower() == ALLAGEFACES_FOLDER


def _table_kind(name: str) -> str | None:
    """The source a label table belongs to, or None for any other file."""
    if _is_fairface_table(name):
        return "fairface"
    if _is_allagefaces_table(name):
        return "allagefaces"
    return None


def _folder_images(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and _is_image_name(p.name))


def _key(member: str, source: str) -> str:
    """The name a file is known by: the base name (UTKFace) or its last folder and base name (FairFace)."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    return "/".join(parts[-2:]) if source == "fairface" else parts[-1]


def source_kind(path: str | Path) -> str:
    """``"fairface"`` or ``"allagefaces"`` when the source holds that set's label table, else ``"utkface"``."""
    path = Path(path)
    if path.is_dir():
        for table in sorted(path.rglob("*.csv")):
            kind = _table_kind(str(table))
            if kind is not None:
                return kind
        return "utkface"
    if _is_archive(path):
        stat = path.stat()
        return _archive_kind(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    raise FileNotFoundError(f"{path} is neither a folder nor a tar archive of images")


UTKFACE_SUFFIX = ".jpg.chip.jpg"  # the official UTKFace archive's "aligned & cropped" image names


def dataset_kind(path: str | Path) -> str | None:
    """The shipped data set a folder or tar archive is (its own label table, or UTKFace's ``*.jpg.chip.jpg``
    images), or None for anything else: your own photos, labelled by their names or a table of yours, are not
    a data set's test split."""
    path = Path(path)
    if not (path.is_dir() or _is_archive(path)):
        return None
    kind = source_kind(path)
    if kind != "utkface":
        return kind
    if path.is_dir():
        return "utkface" if next(path.rglob(f"*{UTKFACE_SUFFIX}"), None) is not None else None
    with tarfile.open(path, "r:*") as archive:
        return "utkface" if any(member.name.endswith(UTKFACE_SUFFIX) for member in archive) else None


@functools.cache
def _archive_kind(path: str, size: int, mtime_ns: int) -> str:
    """The kind of a tar archive from the label tables anywhere in it (one pass, remembered per file version)."""
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if member.isfile() and (kind := _table_kind(member.name)) is not None:
                return kind
    return "utkface"


def iter_image_bytes(path: str | Path, wanted: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, file bytes)`` for every image file under a folder or in an archive.

    ``wanted``, when given, limits the files read to those names (see the module docstring).
    """
    path = Path(path)
    kind = source_kind(path)
    if path.is_dir():
        for file in _folder_images(path):
            name = _key(str(file), kind)
            if wanted is None or name in wanted:
                yield name, file.read_bytes()
        return
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if not member.isfile() or not _is_image_name(member.name):
                continue
            name = _key(member.name, kind)
            if wanted is not None and name not in wanted:
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                yield name, handle.read()


def list_image_names(path: str | Path) -> list[str]:
    """Names of every image file under a folder or in an archive, sorted."""
    path = Path(path)
    kind = source_kind(path)
    if path.is_dir():
        return sorted(_key(str(p), kind) for p in _folder_images(path))
    with tarfile.open(path, "r:*") as archive:
        return sorted(_key(m.name, kind) for m in archive if m.isfile() and _is_image_name(m.name))


def _label_tables(path: Path, kind: str) -> Iterator[str]:
    """The text of every label table of a source of this kind."""
    if path.is_dir():
        for table in sorted(path.rglob("*.csv")):
            if _table_kind(str(table)) == kind:
                yield table.read_text(encoding="utf-8")
        return
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if member.isfile() and _table_kind(member.name) == kind:
                handle = archive.extractfile(member)
                if handle is not None:
                    yield handle.read().decode("utf-8")


def scan_labels(path: str | Path) -> LabelledFiles:
    """Labels of every image of a source; unlabelled images (or table rows) are skipped, not fatal."""
    path = Path(path)
    kind = source_kind(path)
    found = LabelledFiles()
    if kind == "utkface":
        for name in list_image_names(path):
            label = parse_name(name)
            if label is None:
                found.skipped.append(name)
            else:
                found.labelled.append((name, label))
        return found
    images = set(list_image_names(path))
    for table in _label_tables(path, kind):
        for row in csv.DictReader(io.StringIO(table)):
            name = _key(row.get("file") or "", kind)
            label = _table_row_label(kind, name, row)
            if label is None or name not in images:
                found.skipped.append(name or "(a table row with no file)")
            else:
                found.labelled.append((name, label))
    labelled = {name for name, _ in found.labelled}
    found.skipped += sorted(images - labelled - set(found.skipped))  # images the table does not label
    found.labelled.sort()
    return found


def _table_row_label(kind: str, name: str, row: dict[str, str]) -> FaceLabel | None:
    """The label of one row of a FairFace or All-Age-Faces table, or None when it cannot be labelled."""
    if kind == "fairface":
        return parse_fairface_row(row.get("age") or "", row.get("gender") or "", row.get("race") or "")
    label = parse_allagefaces(name, row.get("gender") or "")
    if label is None or (row.get("age") or "").strip() not in ("", str(label.age)):
        return None  # the table's age must agree with the name's
    return label
