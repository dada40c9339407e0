"""Similarity alignment of a detected face onto the UTKFace reference layout (a 200x200 crop)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face2data.schema import CROP_SIZE

REFERENCE_PATH = Path(__file__).with_name("reference_keypoints.json")
# Downscaling by more than this factor is done by supersampling then area-averaging, not by a plain
# bilinear warp, so a large face is not aliased into its crop.
MAX_SUPERSAMPLE = 8


@dataclass(frozen=True)
class ReferenceLayout:
    """Where the five keypoints sit in a UTKFace crop, and the spread of pose and sharpness there."""

    keypoints: np.ndarray  # (5, 2) x, y in the CROP_SIZE frame, KEYPOINT_NAMES order
    yaw_range: tuple[float, float]  # quality.pose_ratios yaw between these covers most training faces
    pitch_range: tuple[float, float]
    min_sharpness: float  # quality.sharpness below this is blurrier than nearly every training face


@functools.cache
def reference_layout(path: Path = REFERENCE_PATH) -> ReferenceLayout:
    """The measured reference layout shipped with the package (measured by ``benchmarks/reference_layout.py``)."""
    stored = json.loads(Path(path).read_text())
    if stored["crop_size"] != CROP_SIZE:
        raise ValueError(f"{path} was measured for {stored['crop_size']} px crops, not {CROP_SIZE}")
    return ReferenceLayout(
        keypoints=np.array([stored["keypoints"][name] for name in stored["keypoint_names"]], dtype=np.float64),
        yaw_range=tuple(stored["pose"]["yaw_range"]),
        pitch_range=tuple(stored["pose"]["pitch_range"]),
        min_sharpness=float(stored["sharpness"]["min"]),
    )


@functools.cache
def alignment_version(path: Path = REFERENCE_PATH) -> str:
    """Names the alignment (layout file and warp settings), for caches of aligned crops."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return f"layout-{digest}/cubic/supersample{MAX_SUPERSAMPLE}"


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, shift) mapping ``source`` points onto ``target``.

    Returns the 2x3 matrix. The threshold makes every point an inlier, so OpenCV's estimate is the
    plain least-squares fit over all five points rather than a RANSAC pick among them.
    """
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(source, dtype=np.float64).reshape(-1, 1, 2),
        np.asarray(target, dtype=np.float64).reshape(-1, 1, 2),
        method=cv2.RANSAC,
        ransacReprojThreshold=1e9,
        refineIters=50,
    )
    if matrix is None:
        raise ValueError("the keypoints are degenerate (all in one place); the face cannot be aligned")
    return matrix


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def alignment_matrix(keypoints: np.ndarray, layout: ReferenceLayout | None = None) -> np.ndarray:
    """The 2x3 matrix from image pixels into the CROP_SIZE reference frame for one face."""
    layout = layout or reference_layout()
    return similarity_transform(keypoints, layout.keypoints)


def align_face(rgb: np.ndarray, keypoints: np.ndarray, layout: ReferenceLayout | None = None) -> np.ndarray:
    """Cut the face with these five keypoints out of ``rgb``, framed like a UTKFace crop.

    ``rgb`` is RGB uint8 (H, W, 3); the result is a (CROP_SIZE, CROP_SIZE, 3) uint8 crop. Parts of the
    frame outside the photo are mirrored in, as training augmentation does. Bicubic sampling: a bilinear
    warp visibly softens an enlarged face, and the model's answers move with that softening.
    """
    matrix = alignment_matrix(keypoints, layout)
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    factor = min(MAX_SUPERSAMPLE, max(1, math.ceil(1 / scale)))
    # Warp at ``factor`` times the crop size, then average blocks down: the frame's pixel centres map as
    # u_big = factor * u + (factor - 1) / 2.
    big = matrix * factor
    big[:, 2] += (factor - 1) / 2
    size = CROP_SIZE * factor
    warped = cv2.warpAffine(
        np.ascontiguousarray(rgb), big, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )
    if factor > 1:
        warped = cv2.resize(warped, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
    return warped
