"""The ``explain``, ``explain-global`` and ``explain-regions-global`` commands, apart from parsing arguments."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2

from face2data.explanation.global_maps import compute_global_maps, save_global_maps
from face2data.explanation.panel import explanation_panel
from face2data.explanation.region_global import compute_region_global, save_region_global
from face2data.explanation.regions import RegionExplanation, explain_regions
from face2data.explanation.sampling import sample_test_faces
from face2data.explanation.shap_maps import DEFAULT_SETTINGS, ExplainSettings, FaceExplanation, explain_face
from face2data.results import FaceResult

log = logging.getLogger(__name__)


def _chosen_faces(image_path: str | Path, predictor, face: int | None) -> list:
    from face2data.image_loading import load_rgb_scaled, read_image_bytes

    rgb, scale = load_rgb_scaled(read_image_bytes(image_path))
    faces = [found.in_photo_pixels(scale) for found in predictor.predict_image(rgb) if found.read]
    if not faces:
        raise ValueError(f"no face found in {image_path}")
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
        return record | ({"overlay_png": str(self.overlay)} if self.overlay is not None else {})


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
    faces = _chosen_faces(image_path, predictor, face)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    explained = []
    for result in faces:
        done = ExplainedFace(result, explain_regions(predictor.model, result.crop, chosen))
        if out_dir is not None:
            done.pixels = explain_face(predictor.model, result.crop, chosen, settings=settings)
            done.overlay = Path(out_dir) / f"{Path(image_path).stem}_face{done.number}.png"
            cv2.imwrite(str(done.overlay), explanation_panel(result.crop, done.pixels)[..., ::-1])
        explained.append(done)
    return explained


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
