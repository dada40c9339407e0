"""The ``explain`` and ``explain-global`` commands: what they do, apart from parsing arguments."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2

from face2data.explanation.global_maps import compute_global_maps, sample_test_faces, save_global_maps
from face2data.explanation.panel import explanation_panel
from face2data.explanation.shap_maps import DEFAULT_SETTINGS, ExplainSettings, explain_face
from face2data.schema import HEADS

log = logging.getLogger(__name__)


def explain_photo(
    image_path: str | Path,
    out_dir: str | Path,
    predictor,
    face: int | None = None,
    ethnicity: str | None = None,
    gender: str | None = None,
    settings: ExplainSettings = DEFAULT_SETTINGS,
) -> list[str]:
    """Explain the faces (or face number ``face``, 1 = largest) of a photo; write PNGs; return report lines.

    Raises ImageLoadError for an unusable image and ValueError for a bad face number or class.
    """
    from face2data.image_loading import load_rgb_file

    faces = predictor.predict_image(load_rgb_file(image_path))
    if not faces:
        raise ValueError(f"no face found in {image_path}")
    if face is not None:
        if not 1 <= face <= len(faces):
            raise ValueError(f"--face {face}: the photo has {len(faces)} face(s), numbered 1 (largest) to {len(faces)}")
        faces = [faces[face - 1]]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines, method = [], ""
    for result in faces:
        number = result.index + 1
        explanation = explain_face(predictor.model, result.crop, ethnicity, gender, settings=settings)
        method = explanation.method
        stem = f"{Path(image_path).stem}_face{number}"
        panel = out_dir / f"{stem}.png"
        cv2.imwrite(str(panel), explanation_panel(result.crop, explanation)[..., ::-1])
        lines.append(f"face {number}: {panel}  ({explanation.seconds:.1f} s)")
        for head in HEADS:
            h = explanation[head]
            lines.append(
                f"  {head:9s} {h.target:15s} base {h.base_value:8.3f} + sum of map {h.values.sum():+8.3f} "
                f"= {h.base_value + h.values.sum():8.3f} (model output {h.output_value:.3f})"
            )
    lines.append(f"method: {method}")
    return lines


def explain_global(
    model, data: str | Path, out: str | Path, n: int, seed: int, settings: ExplainSettings, model_name: str
) -> Path:
    """Mean |SHAP| maps over ``n`` seeded test-split faces of ``data``, written to ``out``."""
    images, _ = sample_test_faces(data, n, seed)
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done == 1 or done % 10 == 0 or done == total:
            elapsed = time.perf_counter() - start
            log.info("explained %d/%d faces, %.0f s left", done, total, elapsed / done * (total - done))

    maps = compute_global_maps(model, images, settings=settings, model_name=model_name, progress=progress)
    return save_global_maps(maps, out)
