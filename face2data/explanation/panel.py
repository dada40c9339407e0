"""One picture per face for the command line: the face and every head's overlay with its colour bar."""

from __future__ import annotations

import cv2
import numpy as np

from face2data.explanation.overlay import colour_bar, colour_limits, overlay
from face2data.explanation.shap_maps import FaceExplanation, HeadExplanation
from face2data.schema import CROP_SIZE, HEADS

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_SCALE = 0.4
LINE = 16  # pixels per text line
MARGIN = 6


def head_tile(crop: np.ndarray, head: HeadExplanation, size: int = CROP_SIZE) -> np.ndarray:
    """One head's overlay with a title (target, base -> output) and a colour bar with its limits."""
    face = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA) if crop.shape[:2] != (size, size) else crop
    low, high = colour_limits(head.values)
    if head.unit == "years":
        title, change = f"{head.target}: {head.output_value:.1f} y", f"base {head.base_value:.1f} y (blurred face)"
    else:
        title, change = f"{head.target} = {head.output_value:.2f}", f"base {head.base_value:.2f} (blurred face)"
    tile = np.full((2 * LINE + size + 12 + 2 * LINE, size, 3), 255, np.uint8)
    _text(tile, title, (MARGIN, LINE - 4))
    _text(tile, change, (MARGIN, 2 * LINE - 4))
    tile[2 * LINE : 2 * LINE + size] = overlay(face, head.values)
    bar_top = 2 * LINE + size + 2
    tile[bar_top : bar_top + 10] = colour_bar(10, size)
    _text(tile, f"{low:.2g}", (0, bar_top + 10 + LINE - 4))
    right = f"+{high:.2g}"
    _text(tile, right, (size - cv2.getTextSize(right, FONT, TEXT_SCALE, 1)[0][0] - 1, bar_top + 10 + LINE - 4))
    _text(tile, head.map_unit, (MARGIN, bar_top + 10 + 2 * LINE - 4))
    return tile


def explanation_panel(crop: np.ndarray, explanation: FaceExplanation) -> np.ndarray:
    """The face beside one overlay per head of the explanation (RGB uint8)."""
    tiles = [head_tile(crop, explanation[head]) for head in HEADS]
    face = np.full_like(tiles[0], 255)
    face[2 * LINE : 2 * LINE + CROP_SIZE] = cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
    _text(face, "face (red: pushed up,", (MARGIN, LINE - 4))
    _text(face, "blue: pushed down)", (MARGIN, 2 * LINE - 4))
    gap = np.full((tiles[0].shape[0], MARGIN, 3), 255, np.uint8)
    return np.concatenate([part for tile in [face, *tiles] for part in (tile, gap)][:-1], axis=1)


def _text(image: np.ndarray, text: str, origin: tuple[int, int]) -> None:
    cv2.putText(image, text, origin, FONT, TEXT_SCALE, (20, 20, 20), 1, cv2.LINE_AA)
