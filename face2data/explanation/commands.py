"""The ``explain``, ``explain-global`` and ``explain-regions-global`` commands, apart from parsing arguments."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face2data.explanation.global_maps import compute_global_maps, save_global_maps
from face2data.explanation.panel import explanation_panel
from face2data.explanation.region_global import compute_region_global, save_region_global
from face2data.explanation.regions import RegionExplanation, explain_regions
from face2data.explanation.sampling import sample_test_faces
from face2data.explanation.shap_maps import DEFAULT_SETTINGS, ExplainSettings, FaceExplanation, explain_face
from face2data.results import FaceResult
from face2data.safe_text import safe_name

log = logging.getLogger(__name__)


def _chosen_faces(image_path: str | Path, predictor, face: int | None) -> list:
    from face2data.image_loading import load_rgb_scaled, read_image_bytes

    rgb, scale = load_rgb_scaled(read_image_bytes(image_path))
    faces = [found.in_photo_pixels(scale) for found in predictor.predict_image(rgb) if found.read]
    if not faces:
        raise ValueError(f"no face found in {safe_name(image_path)}")
    if face is not None:
        if not 1 <= face <= len(faces):
            raise ValueError(f"--face {face}: the photo has {len(faces)} face(s), numbered 1 (largest) to {len(faces)}")
        faces = [faces[face - 1]]
    return faces


@dataclass
class ExplainedFace:
    """One face of a photo with its region values per head and, when asked, its pixel maps and their PNG."""

    result: FaceResult
    regions: RegionExplanation
    pixels: FaceExplanation | None = None
    overlay: Path | None = None

    @property
    def number(self) -> int:
        """The face's number in its photo (1 = the largest)."""
        return self.result.index + 1

    def to_dict(self) -> dict:
        """``explain --json``'s record: face number, prediction, region values per head (and the PNG's path)."""
        record = {"face": self.number, "prediction": self.result.to_dict(), "regions": self.regions.to_dict()}
        return record | ({"overlay_png": safe_name(self.overlay)} if self.overlay is not None else {})


def explain_photo(
    image_path: str | Path,
    out_dir: str | Path | None,
    predictor,
    face: int | None = None,
    classes: Mapping[str, str | None] | None = None,
    settings: ExplainSettings = DEFAULT_SETTINGS,
) -> list[ExplainedFace]:
    """Explain the faces (or face number ``face``, 1 = largest) of a photo: region values per head, explaining the
    class ``classes`` names for a head (default: the predicted one). With ``out_dir``, the pixel maps are computed
    too and one overlay PNG per face is written there. Raises ImageLoadError for an unusable image and ValueError
    for a bad face number or class.
    """
    chosen = {head: name for head, name in (classes or {}).items() if name is not None}
    if out_dir is not None:  # before the work, which a bad folder would otherwise lose
        _writable_folder(Path(out_dir))
    faces = _chosen_faces(image_path, predictor, face)
    explained = []
    for result in faces:
        done = ExplainedFace(result, explain_regions(predictor.model, result.crop, chosen))
        if out_dir is not None:
            done.pixels = explain_face(predictor.model, result.crop, chosen, settings=settings)
            done.overlay = Path(out_dir) / overlay_name(image_path, done.number)
            _write_png(done.overlay, explanation_panel(result.crop, done.pixels))
        explained.append(done)
    return explained


# A file name's most bytes on common file systems, less room for "_face<N>.png"
_MAX_STEM_BYTES = 200


def overlay_name(image_path: str | Path, number: int) -> str:
    """``<photo's stem>_face<number>.png``, the stem cut to fit a file name; any bytes of the photo's name are kept
    as they are (a name that is not UTF-8 stays one)."""
    stem = os.fsencode(Path(image_path).stem)[:_MAX_STEM_BYTES]
    return os.fsdecode(stem) + f"_face{number}.png"


def _writable_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot write to {safe_name(folder)}: {error.strerror or error}") from None


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """The PNG written by Python, not ``cv2.imwrite``: OpenCV takes a path as UTF-8 text and cannot name a file
    whose name is not UTF-8."""
    ok, png = cv2.imencode(".png", rgb[..., ::-1])
    try:
        if not ok:
            raise OSError("the image could not be encoded")
        path.write_bytes(png.tobytes())
    except OSError as error:
        raise ValueError(f"cannot write {safe_name(path)}: {error.strerror or error}") from None


def explain_regions_global(model, data: list[str | Path], out: str | Path, n: int, seed: int, model_name: str) -> Path:
    """Mean region values per head and group over ``n`` seeded test-split faces of each source, written to ``out``."""
    from face2data.data.arrays import FaceArrays

    faces = FaceArrays.concatenate([sample_test_faces(source, n, seed) for source in data])
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done == 1 or done % 25 == 0 or done == total:
            elapsed = time.perf_counter() - start
            log.info("explained %d/%d faces, %.0f s left", done, total, elapsed / done * (total - done))

    report = compute_region_global(model, faces, model_name=model_name, progress=progress)
    return save_region_global(report, out)


def explain_global(
    model, data: str | Path, out: str | Path, n: int, seed: int, settings: ExplainSettings, model_name: str
) -> Path:
    """Mean |SHAP| maps over ``n`` seeded test-split faces of ``data``, written to ``out``."""
    images = sample_test_faces(data, n, seed).images
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done == 1 or done % 10 == 0 or done == total:
            elapsed = time.perf_counter() - start
            log.info("explained %d/%d faces, %.0f s left", done, total, elapsed / done * (total - done))

    maps = compute_global_maps(model, images, settings=settings, model_name=model_name, progress=progress)
    return save_global_maps(maps, out)
