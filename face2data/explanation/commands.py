"""The ``explain``, ``explain-global`` and ``explain-regions-global`` commands, apart from parsing arguments."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2

from face2data.explanation.global_maps import compute_global_maps, save_global_maps
from face2data.explanation.panel import explanation_panel
from face2data.explanation.region_global import compute_region_global, save_region_global
from face2data.explanation.regions import explain_regions
from face2data.explanation.sampling import sample_test_faces
from face2data.explanation.shap_maps import DEFAULT_SETTINGS, ExplainSettings, explain_face
from face2data.schema import HEADS

log = logging.getLogger(__name__)


def _chosen_faces(image_path: str | Path, predictor, face: int | None) -> list:
    from face2data.image_loading import load_rgb_file

    faces = [found for found in predictor.predict_image(load_rgb_file(image_path)) if found.read]
    if not faces:
        raise ValueError(f"no face found in {image_path}")
    if face is not None:
        if not 1 <= face <= len(faces):
            raise ValueError(f"--face {face}: the photo has {len(faces)} face(s), numbered 1 (largest) to {len(faces)}")
        faces = [faces[face - 1]]
    return faces


def explain_photo(
    image_path: str | Path,
    out_dir: str | Path | None,
    predictor,
    face: int | None = None,
    ethnicity: str | None = None,
    gender: str | None = None,
    settings: ExplainSettings = DEFAULT_SETTINGS,
) -> tuple[list[str], list[dict]]:
    """Explain the faces (or face number ``face``, 1 = largest) of a photo: report lines and JSON records.

    Each record holds the face number, its prediction and its region values per head (base value, output, every
    region). With ``out_dir``, the pixel maps are computed too and one overlay PNG per face is written there.
    Raises ImageLoadError for an unusable image and ValueError for a bad face number or class.
    """
    classes = {"ethnicity": ethnicity, "gender": gender}
    faces = _chosen_faces(image_path, predictor, face)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    lines, records, methods = [], [], []
    for result in faces:
        number = result.index + 1
        regions = explain_regions(predictor.model, result.crop, classes)
        record = {"face": number, "prediction": result.to_dict(), "regions": regions.to_dict()}
        lines.append(f"face {number}: regions in {regions.seconds:.2f} s")
        for head in HEADS:
            part = regions[head]
            lines.append(f"  {head:9s} {part.target:15s} {part.sentence()}")
            lines.append("            " + ", ".join(f"{name} {value:+.2f}" for name, value in part.ranked()))
        methods = [regions.method]
        if out_dir is not None:
            explanation = explain_face(predictor.model, result.crop, classes, settings=settings)
            panel = Path(out_dir) / f"{Path(image_path).stem}_face{number}.png"
            cv2.imwrite(str(panel), explanation_panel(result.crop, explanation)[..., ::-1])
            record["overlay_png"] = str(panel)
            lines.append(f"  pixel maps: {panel}  ({explanation.seconds:.1f} s)")
            for head in HEADS:
                h = explanation[head]
                lines.append(
                    f"  {head:9s} {h.target:15s} base {h.base_value:8.3f} + sum of map {h.values.sum():+8.3f} "
                    f"= {h.base_value + h.values.sum():8.3f} (model output {h.output_value:.3f})"
                )
            methods = [regions.method, explanation.method]
        records.append(record)
    lines += [f"method: {method}" for method in methods]
    return lines, records


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
