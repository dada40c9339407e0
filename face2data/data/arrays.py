"""UTKFace decoded into model-ready arrays, with an on-disk cache for training."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face2data.data.labels import FaceLabel
from face2data.data.sources import LabelledFiles, iter_image_bytes, scan_labels
from face2data.data.split import split_of
from face2data.image_loading import ImageLoadError, load_rgb
from face2data.schema import INPUT_SIZE, to_model_input

log = logging.getLogger(__name__)

CACHE_VERSION = 1


@dataclass
class FaceArrays:
    """Images at INPUT_SIZE (uint8) with their labels, names and splits."""

    images: np.ndarray
    ages: np.ndarray
    genders: np.ndarray
    ethnicities: np.ndarray
    names: np.ndarray
    splits: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, mask: np.ndarray) -> FaceArrays:
        """The rows where ``mask`` is true."""
        return FaceArrays(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    def of_splits(self, *splits: str) -> FaceArrays:
        """The rows that belong to any of the given splits."""
        return self.subset(np.isin(self.splits, splits))


def decode_labelled(path: str | Path, labelled: list[tuple[str, FaceLabel]]) -> tuple[FaceArrays, list[str]]:
    """Decode the listed images of a source; returns the arrays and names that failed to decode."""
    labels = dict(labelled)
    images, rows, failed = [], [], []
    for name, data in iter_image_bytes(path, wanted=set(labels)):
        try:
            images.append(to_model_input(load_rgb(data)).astype(np.uint8))
        except ImageLoadError:
            failed.append(name)
            continue
        rows.append((name, labels.pop(name)))
    arrays = FaceArrays(
        images=np.stack(images) if images else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8),
        ages=np.array([lab.age for _, lab in rows], dtype=np.float32),
        genders=np.array([lab.gender for _, lab in rows], dtype=np.int32),
        ethnicities=np.array([lab.ethnicity for _, lab in rows], dtype=np.int32),
        names=np.array([name for name, _ in rows], dtype=str),
        splits=np.array([split_of(name) for name, _ in rows], dtype=str),
    )
    return arrays, failed


def load_faces(path: str | Path, splits: tuple[str, ...] | None = None) -> tuple[FaceArrays, list[str]]:
    """Decode the labelled images of a source, optionally only some splits.

    Returns the arrays and the skipped names (unlabelled or undecodable).
    """
    found: LabelledFiles = scan_labels(path)
    wanted = [(n, lab) for n, lab in found.labelled if splits is None or split_of(n) in splits]
    arrays, failed = decode_labelled(path, wanted)
    return arrays, found.skipped + failed


def _cache_file(path: Path) -> Path:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{INPUT_SIZE}|{CACHE_VERSION}"
    root = Path(os.environ.get("FACE2DATA_CACHE", Path.home() / ".cache" / "face2data"))
    return root / f"utkface-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def load_faces_cached(path: str | Path) -> tuple[FaceArrays, list[str]]:
    """All labelled images of a source, decoded once and then read from a local cache."""
    path = Path(path)
    cache = _cache_file(path)
    if cache.exists():
        with np.load(cache) as stored:
            arrays = FaceArrays(**{k: stored[k] for k in FaceArrays.__dataclass_fields__})
            skipped = list(stored["skipped"])
        log.info("read %d decoded faces from cache %s", len(arrays), cache)
        return arrays, skipped
    log.info("decoding %s (first run; cached afterwards in %s)", path, cache)
    arrays, skipped = load_faces(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    fields = {k: getattr(arrays, k) for k in FaceArrays.__dataclass_fields__}
    np.savez(tmp, skipped=np.array(skipped, dtype=str), **fields)
    tmp.replace(cache)
    return arrays, skipped
