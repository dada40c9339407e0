"""Global explanations: mean |SHAP| maps per head (and per class of a many-class head) over many test faces.

The file holds aggregated maps only (no face images): each map is stored as float16
normalised to a maximum of 1, with its float32 scale beside it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face2data.explanation.core import target_class
from face2data.explanation.shap_maps import DEFAULT_SETTINGS, UNITS, ExplainSettings, explain_face
from face2data.paths import SHAP_GLOBAL_PATH
from face2data.schema import CLASS_HEADS, HEADS, INPUT_SIZE

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# The heads whose classes get maps of their own: those of more than two classes (a two-class head's two
# probabilities move together, one the other's complement).
PER_CLASS_HEADS = tuple(head for head in CLASS_HEADS if len(head.classes) > 2)
# Map names: every head (each face's predicted class for a class head),
# then "<head>:<class>" for each class of PER_CLASS_HEADS, over the faces predicted as that class.
MAP_NAMES = (*HEADS, *(f"{head.name}:{label}" for head in PER_CLASS_HEADS for label in head.classes))


class GlobalMapsError(ValueError):
    """The global maps file is missing or unusable, with a message a person understands."""


@dataclass(frozen=True)
class GlobalMaps:
    """Mean |SHAP| maps (INPUT_SIZE x INPUT_SIZE float32) by name, with what they were computed from."""

    maps: dict[str, np.ndarray]
    counts: dict[str, int]  # faces averaged into each map
    n_faces: int
    method: str  # how each face was explained, plus how the maps were aggregated
    model: str  # the model file's name

    def unit(self, name: str) -> str:
        """Unit of a map's values, e.g. "years per pixel"."""
        return f"{UNITS[name.split(':')[0]]} per pixel"


def compute_global_maps(
    model,
    images: np.ndarray,
    settings: ExplainSettings = DEFAULT_SETTINGS,
    model_name: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> GlobalMaps:
    """Mean absolute SHAP maps over faces (N, H, W, 3) uint8 (aligned crops or model-sized)."""
    if len(images) == 0:
        raise ValueError("no faces to explain")
    sums = {name: np.zeros((INPUT_SIZE, INPUT_SIZE), np.float64) for name in MAP_NAMES}
    counts = dict.fromkeys(MAP_NAMES, 0)
    start = time.perf_counter()
    for i, image in enumerate(images):
        explanation = explain_face(model, image, settings=settings)
        for name, values in (
            *((head, explanation[head].values) for head in HEADS),
            *((f"{h.name}:{target_class(explanation[h.name].target)}", explanation[h.name].values)
              for h in PER_CLASS_HEADS),
        ):  # fmt: skip
            sums[name] += np.abs(values)
            counts[name] += 1
        if progress is not None:
            progress(i + 1, len(images))
    seconds = (time.perf_counter() - start) / len(images)
    method = (
        f"Mean absolute SHAP value per pixel over {len(images)} test faces (per "
        f"{' and '.join(h.name for h in PER_CLASS_HEADS) or 'head'} class: over the faces predicted as that class; "
        f"{' and '.join(h.name for h in CLASS_HEADS)}: the predicted class's probability; "
        f"{seconds:.1f} s per face). "
        f"Each face: {settings.describe()}"
    )
    maps = {name: (sums[name] / max(counts[name], 1)).astype(np.float32) for name in MAP_NAMES}
    return GlobalMaps(maps=maps, counts=counts, n_faces=len(images), method=method, model=model_name)


def save_global_maps(maps: GlobalMaps, path: str | Path = SHAP_GLOBAL_PATH) -> Path:
    """Write the maps (float16, normalised) to a small .npz file; returns its path."""
    path = Path(path)
    names = list(maps.maps)
    stack = np.stack([maps.maps[name] for name in names]).astype(np.float32)
    scales = np.abs(stack).reshape(len(names), -1).max(axis=1)
    normalised = stack / np.where(scales > 0, scales, 1.0)[:, None, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        version=np.int32(FORMAT_VERSION),
        names=np.array(names, dtype=str),
        maps=normalised.astype(np.float16),
        scales=scales.astype(np.float32),
        counts=np.array([maps.counts[name] for name in names], dtype=np.int32),
        n_faces=np.int32(maps.n_faces),
        method=np.array(maps.method),
        model=np.array(maps.model),
    )
    tmp.replace(path)
    return path


def load_global_maps(path: str | Path = SHAP_GLOBAL_PATH) -> GlobalMaps:
    """Read the maps written by ``python -m face2data explain-global``; raises GlobalMapsError."""
    path = Path(path)
    if not path.is_file():
        raise GlobalMapsError(
            f"no global SHAP maps at {path}; compute them with: python -m face2data explain-global --data UTKFACE"
        )
    try:
        with np.load(path, allow_pickle=False) as stored:
            if int(stored["version"]) != FORMAT_VERSION:
                raise GlobalMapsError(f"{path} has format version {int(stored['version'])}, expected {FORMAT_VERSION}")
            names = [str(name) for name in stored["names"]]
            stack = stored["maps"].astype(np.float32) * stored["scales"].astype(np.float32)[:, None, None]
            counts = [int(c) for c in stored["counts"]]
            result = GlobalMaps(
                maps=dict(zip(names, stack, strict=False)),
                counts=dict(zip(names, counts, strict=False)),
                n_faces=int(stored["n_faces"]),
                method=str(stored["method"]),
                model=str(stored["model"]),
            )
    except GlobalMapsError:
        raise
    except Exception as error:  # a damaged or foreign file: zip, key or shape errors
        raise GlobalMapsError(f"{path} is not a readable global SHAP maps file ({error})") from error
    if stack.ndim != 3 or len(names) != len(stack) or len(counts) != len(stack):
        raise GlobalMapsError(f"{path} is not a readable global SHAP maps file (inconsistent arrays)")
    return result
