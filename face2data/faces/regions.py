"""Named facial regions on the reference layout: the parts of a face the region explanations speak of.

Every aligned crop follows one reference layout (``reference_keypoints.json``), so the same pixels hold the same
part of every face. The regions are drawn from the five reference keypoints as ellipses and polygons and painted
in order into one label image: every pixel belongs to exactly one region. "Left" and "right" are as seen in the
picture. Ten regions keep exact Shapley values affordable (2^10 masked faces per explanation).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from face2data.faces.alignment import reference_layout
from face2data.schema import CROP_SIZE

# In label order: REGIONS[k] is the name of label k.
REGIONS = (
    "hair & forehead",
    "brows",
    "left eye",
    "right eye",
    "nose",
    "left cheek",
    "right cheek",
    "mouth",
    "chin & jaw",
    "background",
)
# Short phrases for sentences ("the left eye added ...").
REGION_PHRASES = {
    "hair & forehead": "the hair and forehead",
    "brows": "the brows",
    "left eye": "the left eye",
    "right eye": "the right eye",
    "nose": "the nose",
    "left cheek": "the left cheek",
    "right cheek": "the right cheek",
    "mouth": "the mouth",
    "chin & jaw": "the chin and jaw",
    "background": "the background (ears, neck, surroundings)",
}


def _ellipse(mask: np.ndarray, centre: np.ndarray, axes: tuple[float, float], angle: float = 0.0) -> np.ndarray:
    """``mask`` with a filled ellipse drawn in (1/16-pixel precision)."""
    shift = 4
    centre_fixed = tuple(int(round(v * 2**shift)) for v in centre)
    axes_fixed = tuple(int(round(v * 2**shift)) for v in axes)
    return cv2.ellipse(mask, centre_fixed, axes_fixed, angle, 0, 360, 1, -1, cv2.LINE_8, shift)


def _polygon(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    shift = 4
    fixed = np.round(np.asarray(points) * 2**shift).astype(np.int32)
    return cv2.fillPoly(mask, [fixed], 1, cv2.LINE_8, shift)


@functools.cache
def region_labels(size: int = CROP_SIZE) -> np.ndarray:
    """The label image (size x size, uint8, values index REGIONS); drawn at CROP_SIZE, resized by nearest pixel."""
    if size != CROP_SIZE:
        labels = cv2.resize(region_labels(CROP_SIZE), (size, size), interpolation=cv2.INTER_NEAREST)
        labels.setflags(write=False)
        return labels
    left_eye, right_eye, nose, mouth_left, mouth_right = reference_layout().keypoints
    eyes = (left_eye + right_eye) / 2
    mouth = (mouth_left + mouth_right) / 2
    d = float(np.linalg.norm(right_eye - left_eye))  # eye distance: the scale of every shape
    h = float(mouth[1] - eyes[1])  # eyes to mouth, vertically
    angle = float(np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])))
    blank = functools.partial(np.zeros, (CROP_SIZE, CROP_SIZE), np.uint8)
    ys, xs = np.mgrid[0:CROP_SIZE, 0:CROP_SIZE]
    midline = np.interp(ys, [eyes[1], mouth[1]], [eyes[0], mouth[0]])  # x of the face's middle at each row

    face = _ellipse(blank(), np.array([eyes[0], eyes[1] + 0.45 * h]), (1.02 * d, 1.62 * h), angle).astype(bool)
    brow_line = eyes[1] - 0.32 * d
    labels = np.full((CROP_SIZE, CROP_SIZE), REGIONS.index("background"), np.uint8)
    labels[face] = REGIONS.index("chin & jaw")
    upper_face = face & (ys < mouth[1] + 0.05 * h)
    labels[upper_face & (xs < midline)] = REGIONS.index("left cheek")
    labels[upper_face & (xs >= midline)] = REGIONS.index("right cheek")
    labels[ys < brow_line] = REGIONS.index("hair & forehead")
    brows = blank()
    for eye in (left_eye, right_eye):
        _ellipse(brows, eye + np.array([0.0, -0.27 * d]), (0.34 * d, 0.11 * d), angle)
    labels[brows.astype(bool) & (ys >= brow_line - 0.06 * d)] = REGIONS.index("brows")
    for name, eye in (("left eye", left_eye), ("right eye", right_eye)):
        labels[_ellipse(blank(), eye, (0.3 * d, 0.15 * d), angle).astype(bool)] = REGIONS.index(name)
    bridge = 0.09 * d
    nostrils = 0.27 * d
    nose_shape = np.array(
        [
            [eyes[0] - bridge, brow_line + 0.08 * d],
            [eyes[0] + bridge, brow_line + 0.08 * d],
            [nose[0] + 0.6 * bridge, nose[1] - 0.25 * h],
            [nose[0] + nostrils, nose[1] + 0.05 * h],
            [nose[0] + 0.5 * nostrils, nose[1] + 0.18 * h],
            [nose[0] - 0.5 * nostrils, nose[1] + 0.18 * h],
            [nose[0] - nostrils, nose[1] + 0.05 * h],
            [nose[0] - 0.6 * bridge, nose[1] - 0.25 * h],
        ]
    )
    labels[_polygon(blank(), nose_shape).astype(bool)] = REGIONS.index("nose")
    half_width = float(np.linalg.norm(mouth_right - mouth_left)) / 2 + 0.12 * d
    labels[_ellipse(blank(), mouth, (half_width, 0.24 * h), angle).astype(bool)] = REGIONS.index("mouth")
    labels.setflags(write=False)
    return labels


def region_masks(size: int = CROP_SIZE) -> np.ndarray:
    """One boolean mask per region, (len(REGIONS), size, size); together they cover the frame once."""
    labels = region_labels(size)
    return labels[None] == np.arange(len(REGIONS), dtype=np.uint8)[:, None, None]
