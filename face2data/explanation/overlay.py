"""Colouring SHAP maps: red where a region pushed the output up, blue where it pushed it down."""

from __future__ import annotations

import base64

import cv2
import numpy as np

# A diverging blue-white-red scale (ColorBrewer RdBu, reversed): value -> RGB.
COLOUR_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (-1.0, (33, 102, 172)),
    (-0.5, (146, 197, 222)),
    (0.0, (247, 247, 247)),
    (0.5, (244, 165, 130)),
    (1.0, (178, 24, 43)),
)
DEFAULT_ALPHA = 0.65


def colour_limits(shap_map: np.ndarray) -> tuple[float, float]:
    """Symmetric colour-scale limits (-L, L) of a map, L = its largest absolute value (> 0)."""
    largest = float(np.max(np.abs(shap_map))) if np.size(shap_map) else 0.0
    limit = largest if np.isfinite(largest) and largest > 0 else 1e-12
    return -limit, limit


def colourise(scaled: np.ndarray) -> np.ndarray:
    """RGB float32 colours (..., 3) in 0..255 of values in -1..1 (clipped)."""
    scaled = np.clip(np.nan_to_num(np.asarray(scaled, np.float32)), -1.0, 1.0)
    positions = np.array([p for p, _ in COLOUR_STOPS], np.float32)
    colours = np.array([c for _, c in COLOUR_STOPS], np.float32)
    return np.stack([np.interp(scaled, positions, colours[:, k]) for k in range(3)], axis=-1).astype(np.float32)


def overlay(
    crop: np.ndarray, shap_map: np.ndarray, alpha: float = DEFAULT_ALPHA, limit: float | None = None
) -> np.ndarray:
    """The map coloured over the grey face: an RGB uint8 image the size of ``crop``.

    The map is stretched to the crop, scaled symmetrically around 0 by ``limit``
    (default: its largest absolute value, see colour_limits) and blended in with an
    opacity growing from 0 (no effect: plain grey face) to ``alpha`` (the strongest).
    """
    crop = np.asarray(crop)
    if crop.ndim != 3 or crop.shape[2] != 3:
        raise ValueError(f"overlay needs an RGB image (height, width, 3); got shape {crop.shape}")
    shap_map = np.asarray(shap_map, np.float32)
    if shap_map.ndim != 2:
        raise ValueError(f"a SHAP map is 2-D; got shape {shap_map.shape}")
    limit = colour_limits(shap_map)[1] if limit is None else float(limit)
    height, width = crop.shape[:2]
    grey = cv2.cvtColor(crop.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None]
    scaled = cv2.resize(np.nan_to_num(shap_map) / max(limit, 1e-12), (width, height), interpolation=cv2.INTER_LINEAR)
    scaled = np.clip(scaled, -1.0, 1.0)
    opacity = (float(np.clip(alpha, 0.0, 1.0)) * np.abs(scaled))[..., None]
    blended = grey * (1.0 - opacity) + colourise(scaled) * opacity
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def overlay_png(crop: np.ndarray, shap_map: np.ndarray) -> str:
    """The ``overlay`` of the map on the crop (RGB uint8) as a base64-encoded PNG, for JSON."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(overlay(crop, shap_map), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("the overlay could not be encoded")
    return base64.b64encode(png.tobytes()).decode("ascii")


def colour_bar(height: int = 12, width: int = 200) -> np.ndarray:
    """A horizontal colour bar, from -limit (left, blue) to +limit (right, red), RGB uint8."""
    row = colourise(np.linspace(-1.0, 1.0, width))
    return np.repeat(row[None], height, axis=0).round().astype(np.uint8)


def plotly_colorscale() -> list[list]:
    """The same colours as a Plotly colorscale (positions 0..1), for a page's colour bar."""
    return [[(p + 1) / 2, f"rgb{tuple(c)}"] for p, c in COLOUR_STOPS]
