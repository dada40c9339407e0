"""Aligned training crops: every labelled image of a source run through the serving path, cached on disk.

The model is trained on exactly what it is served: each source image (a tight UTKFace or FairFace crop) gets
a grey margin, is searched by the project's face detector and aligned onto the reference layout, then shrunk
to the network's input size. Images where no face is found are counted and reported ("missed"): training
skips them and evaluation counts them as not found.

The crops of a source are cached in one file (``FACE2DATA_CACHE``, default ``~/.cache/face2data``), WebP
encoded (about 2 kB a face, so 60,000 faces fit in about 130 MB); the file's name holds a hash of the source's
contents, the detector version and the alignment version, so changing any of them rebuilds it. ``python -m
face2data crops`` builds the cache and can write a self-contained copy (or a shard of it) for another machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from face2data.data.arrays import FaceArrays, class_labels
from face2data.data.labels import FaceLabel
from face2data.data.sources import iter_image_bytes, scan_labels, source_kind
from face2data.data.split import split_of
from face2data.faces.alignment import align_face, alignment_version, reference_layout
from face2data.faces.detection import DETECTOR, TIGHT_CROP_BORDER, Detector, new_detector
from face2data.image_loading import ImageLoadError, load_rgb
from face2data.limits import SMALL_SOURCE
from face2data.schema import INPUT_SIZE, NO_LABEL, to_model_input

log = logging.getLogger(__name__)

CROPS_FORMAT = 2  # 2: one label array per class head (label_<head>)
WEBP_QUALITY = 90  # mean absolute change of a pixel about 1.5 of 255: far below training's brightness jitter
CROPS_SUFFIX = ".crops.npz"
_LABEL_FIELDS = ("age_low", "age_high", "names", "splits")
_CLASS_PREFIX = "label_"  # a class head's labels are stored as label_<head name>


@dataclass
class CropSet:
    """The aligned crops of one source with what could not be used."""

    source: str  # "utkface" or "fairface"
    faces: FaceArrays
    missed: list[str] = field(default_factory=list)  # labelled images in which no face was found
    skipped: list[str] = field(default_factory=list)  # unlabelled or undecodable files
    key: dict = field(default_factory=dict)  # what the crops were made from and with

    def missed_in(self, *splits: str) -> list[str]:
        """The missed names that belong to these splits."""
        return [name for name in self.missed if split_of(name) in splits]


def source_digest(path: Path) -> str:
    """SHA-256 of a source's contents: the archive's bytes, or every file of a folder with its relative name.

    Contents rather than modification times, so that a fresh copy of the same data (a new checkout, a data
    folder copied again each session) reuses the crops; 0.35 s for the UTKFace and FairFace archives together.
    """
    digest = hashlib.sha256()
    folder = path.is_dir()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if folder else [path]:
        if folder:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def crop_key(path: Path) -> dict:
    """What a source's crops depend on; a change of any entry makes a new cache file."""
    return {
        "source_file": path.resolve().name,
        "source_sha256": source_digest(path),
        "detector": DETECTOR.version,
        "alignment": alignment_version(),
        "input_size": INPUT_SIZE,
        "format": CROPS_FORMAT,
    }


def cache_path(path: Path, key: dict) -> Path:
    """The cache file of a source for ``key``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    root = Path(os.environ.get("FACE2DATA_CACHE", Path.home() / ".cache" / "face2data"))
    return root / f"{source_kind(path)}-{digest[:16]}{CROPS_SUFFIX}"


_WORKER = threading.local()  # one detector per worker process or thread (a detector serves one call at a time)


def crop_image(data: bytes, detector: Detector) -> np.ndarray | None:
    """The aligned model-input crop (uint8) of the largest face of a tight face image, or None if none is found.

    Raises ImageLoadError for bytes that are not a usable image.
    """
    rgb = load_rgb(data)
    faces = detector.detect(rgb, border=TIGHT_CROP_BORDER)
    if not faces:
        return None
    crop = align_face(rgb, faces[0].keypoints, reference_layout())
    return to_model_input(crop).astype(np.uint8)


def _crop_encoded(item: tuple[str, bytes]) -> tuple[str, bytes | None, str | None]:
    """Worker: (name, WebP bytes of the crop or None if no face, error or None)."""
    if not hasattr(_WORKER, "detector"):
        _WORKER.detector = new_detector()
    name, data = item
    try:
        crop = crop_image(data, _WORKER.detector)
    except ImageLoadError as error:
        return name, None, str(error)
    if crop is None:
        return name, None, None
    ok, encoded = cv2.imencode(".webp", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, WEBP_QUALITY])
    return name, encoded.tobytes() if ok else None, None if ok else "could not encode the crop"


def _decode(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    images = np.empty((len(offsets) - 1, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    for i in range(len(images)):
        bgr = cv2.imdecode(blob[offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"crop {i} of the crops file cannot be decoded: the file is damaged; delete it")
        images[i] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return images


def build_crops(path: str | Path, workers: int | None = None, progress: bool = True) -> tuple[dict, list[str]]:
    """Detect and align every labelled image of a source; returns the arrays to store and the skipped names."""
    path = Path(path)
    kind = source_kind(path)
    found = scan_labels(path)
    labels: dict[str, FaceLabel] = dict(found.labelled)
    skipped = list(found.skipped)
    encoded: list[bytes] = []
    rows: list[tuple[str, FaceLabel]] = []
    missed: list[str] = []
    workers = workers or os.cpu_count() or 1
    items: Iterable[tuple[str, bytes]] = iter_image_bytes(path, wanted=set(labels))
    # Worker processes pay off only for real data sets (each one starts by loading the detector).
    pool = None
    if workers > 1 and len(labels) > SMALL_SOURCE:
        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=cv2.setNumThreads, initargs=(1,))
    with pool or contextlib.nullcontext():
        results: Iterable = pool.imap(_crop_encoded, items, chunksize=64) if pool else map(_crop_encoded, items)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(labels), desc=f"aligning {kind} faces", unit="face")
        for name, data, error in results:
            if error is not None:
                skipped.append(name)
            elif data is None:
                missed.append(name)
            else:
                encoded.append(data)
                rows.append((name, labels[name]))
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    stored = {
        "blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "offsets": offsets,
        "age_low": np.array([lab.age_range[0] for _, lab in rows], np.float32),
        "age_high": np.array([lab.age_range[1] for _, lab in rows], np.float32),
        **_stored_classes([lab for _, lab in rows]),
        "names": np.array([name for name, _ in rows], dtype=str),
        "splits": np.array([split_of(name) for name, _ in rows], dtype=str),
        "missed": np.array(sorted(missed), dtype=str),
        "skipped": np.array(sorted(skipped), dtype=str),
    }
    return stored, skipped


def _stored_classes(labels: list[FaceLabel]) -> dict[str, np.ndarray]:
    """Every class label the source has (not only the head table's: a head added later finds its labels)."""
    heads = sorted({head for label in labels for head in label.classes})
    return {_CLASS_PREFIX + h: np.array([label.of(h) for label in labels], np.int32) for h in heads}


def _write(stored: dict, file: Path, kind: str, key: dict) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp.npz")
    np.savez(tmp, source=np.array(kind), key=np.array(json.dumps(key)), **stored)
    tmp.replace(file)  # a killed build leaves no half-written cache behind


def read_crops_file(file: str | Path) -> CropSet:
    """A crops file written by ``load_crops`` (its cache) or ``python -m face2data crops --out``."""
    with np.load(file) as stored:
        kind = str(stored["source"])
        columns = {k: stored[k] for k in _LABEL_FIELDS}
        n = len(columns["names"])
        stored_labels = {k[len(_CLASS_PREFIX) :]: stored[k] for k in stored.files if k.startswith(_CLASS_PREFIX)}
        labels = {h: stored_labels.get(h, np.full(n, NO_LABEL, np.int32)) for h in class_labels([])}
        faces = FaceArrays(
            images=_decode(stored["blob"], stored["offsets"]),
            labels=labels,
            sources=np.full(n, kind, dtype=object).astype(str),
            **columns,
        )
        return CropSet(kind, faces, list(stored["missed"]), list(stored["skipped"]), json.loads(str(stored["key"])))


def load_crops(path: str | Path, workers: int | None = None) -> CropSet:
    """The aligned crops of a source (folder or archive, built once then read from the cache) or a crops file."""
    path = Path(path)
    if path.name.endswith(CROPS_SUFFIX):
        return read_crops_file(path)
    key = crop_key(path)
    file = cache_path(path, key)
    if not file.exists():
        log.info("aligning the faces of %s (first run; cached afterwards in %s)", path, file)
        stored, _ = build_crops(path, workers)
        _write(stored, file, source_kind(path), key)
    crops = read_crops_file(file)
    log.info("%s: %d aligned faces, %d without a face found, %d files skipped (from %s)",
             path.name, len(crops.faces), len(crops.missed), len(crops.skipped), file.name)  # fmt: skip
    return crops


def cached_crops(path: str | Path, names: list[str]) -> dict[str, np.ndarray] | None:
    """The cached aligned crops of the named faces of a source (those the cache holds), or None when the source
    is not there or its crops were never built (nothing is built here: that takes minutes)."""
    path = Path(path)
    if not path.exists():
        return None
    file = cache_path(path, crop_key(path))
    if not file.exists():
        return None
    with np.load(file) as stored:
        where = {str(name): i for i, name in enumerate(stored["names"])}
        rows = [where[name] for name in names if name in where]
        offsets, blob = stored["offsets"], stored["blob"]
        parts = [blob[offsets[i] : offsets[i + 1]] for i in rows]
    if not parts:
        return {}
    images = _decode(np.concatenate(parts), np.cumsum([0] + [len(p) for p in parts]))
    return dict(zip([n for n in names if n in where], images, strict=True))


def write_crops_copy(crops_path: str | Path, out: str | Path, splits: tuple[str, ...], shard: tuple[int, int]) -> int:
    """Copy the cached crops of a source (only ``splits``, only shard ``i`` of ``n``) to a file; returns faces."""
    path = Path(crops_path)
    file = path if path.name.endswith(CROPS_SUFFIX) else cache_path(path, crop_key(path))
    if not file.exists():
        load_crops(path)
    index, count = shard
    with np.load(file) as stored:
        keep = np.flatnonzero(np.isin(stored["splits"], splits))
        keep = keep[index::count]
        offsets = stored["offsets"]
        blob = stored["blob"]
        parts = [blob[offsets[i] : offsets[i + 1]] for i in keep]
        new = {k: stored[k][keep] for k in stored.files if k in _LABEL_FIELDS or k.startswith(_CLASS_PREFIX)}
        new["blob"] = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
        new["offsets"] = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
        new["missed"] = np.array([n for n in stored["missed"] if split_of(n) in splits][index::count], dtype=str)
        new["skipped"] = stored["skipped"] if index == 0 else np.zeros(0, str)
        kind, key = str(stored["source"]), json.loads(str(stored["key"]))
    _write(new, Path(out), kind, {**key, "splits": list(splits), "shard": f"{index}/{count}"})
    return len(keep)
