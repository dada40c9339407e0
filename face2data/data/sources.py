"""Where UTKFace images come from: a folder (searched recursively) or a tar archive."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from face2data.data.labels import FaceLabel, parse_name

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


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


def _folder_images(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and _is_image_name(p.name))


def iter_image_bytes(path: str | Path, wanted: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(base name, file bytes)`` for every image file under a folder or in an archive.

    ``wanted``, when given, limits the files read to those base names.
    """
    path = Path(path)
    if path.is_dir():
        for file in _folder_images(path):
            if wanted is None or file.name in wanted:
                yield file.name, file.read_bytes()
    elif _is_archive(path):
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                base = PurePosixPath(member.name).name
                if not member.isfile() or not _is_image_name(base):
                    continue
                if wanted is not None and base not in wanted:
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    yield base, handle.read()
    else:
        raise FileNotFoundError(f"{path} is neither a folder nor a tar archive of images")


def list_image_names(path: str | Path) -> list[str]:
    """Base names of every image file under a folder or in an archive, sorted."""
    path = Path(path)
    if path.is_dir():
        return sorted(p.name for p in _folder_images(path))
    if _is_archive(path):
        with tarfile.open(path, "r:*") as archive:
            return sorted(PurePosixPath(m.name).name for m in archive if m.isfile() and _is_image_name(m.name))
    raise FileNotFoundError(f"{path} is neither a folder nor a tar archive of images")


def scan_labels(path: str | Path) -> LabelledFiles:
    """Parse the labels of every image name in a source; unlabelled names are skipped, not fatal."""
    found = LabelledFiles()
    for name in list_image_names(path):
        label = parse_name(name)
        if label is None:
            found.skipped.append(name)
        else:
            found.labelled.append((name, label))
    return found
