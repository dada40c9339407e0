"""Quality notes for a found face: too small, blurred, turned away, or perhaps not a face."""

from __future__ import annotations

import cv2
import numpy as np

from face2data.faces.alignment import ReferenceLayout
from face2data.schema import to_model_input

# Below this box side the face is enlarged into the model input and its detail is mostly interpolated
# (a UTKFace face box is ~160 px of the 200 px crop, ~77 px of a 96 px input).
SMALL_FACE_PX = 48
# YuNet reports faces from detection.SCORE_THRESHOLD; 99 % of the FairFace training crops score above this,
# so a face scored lower is unusual enough to doubt.
LOW_CONFIDENCE = 0.8
# A detection scored below DOUBTFUL_SCORE gets a second look: the detector runs again on its aligned crop (as on
# a training crop). Unless that finds a face scored at least CONFIRM_SCORE, it is a "possible face": drawn, not
# read. On the 24 group photos of ../shared/data/scenes this marks 5 of 528 boxes, none of them a face of 40 px
# or more, and leaves every clear face read (benchmarks/possible_faces.py, benchmarks/RESULTS.md).
DOUBTFUL_SCORE = 0.65
CONFIRM_SCORE = 0.8
POSSIBLE_FACE_NOTE = "possible face: the detector is not sure this is a face ({score:.2f})"


def pose_ratios(keypoints: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch proxies from five keypoints, independent of in-plane rotation and scale.

    Yaw: how far the nose sits from the eyes' midpoint along the eye line, in eye distances (0 frontal,
    about ±0.5 when the nose passes an eye). Pitch: how far down the nose sits between the eye line and
    the mouth line (0 at the eyes, 1 at the mouth).
    """
    left_eye, right_eye, nose, mouth_left, mouth_right = np.asarray(keypoints, dtype=np.float64)
    eyes_mid, mouth_mid = (left_eye + right_eye) / 2, (mouth_left + mouth_right) / 2
    across = right_eye - left_eye
    eye_distance = max(float(np.linalg.norm(across)), 1e-6)
    across /= eye_distance
    down = np.array([-across[1], across[0]])
    face_height = max(float((mouth_mid - eyes_mid) @ down), 1e-6)
    return float((nose - eyes_mid) @ across / eye_distance), float((nose - eyes_mid) @ down / face_height)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the crop at the size the model sees it (low = blurred)."""
    small = to_model_input(crop).astype(np.uint8)
    return float(cv2.Laplacian(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def _beyond(value: float, bounds: tuple[float, float]) -> float:
    """How far ``value`` lies outside ``bounds``, in widths of the range (0 inside)."""
    low, high = bounds
    return max(low - value, value - high, 0.0) / max(high - low, 1e-9)


def quality_notes(
    box_size: int, score: float, keypoints: np.ndarray, crop: np.ndarray, layout: ReferenceLayout
) -> list[str]:
    """Readable warnings for one face; empty when nothing stands out."""
    notes = []
    if box_size < SMALL_FACE_PX:
        notes.append(f"small face ({box_size} px): little detail, less reliable")
    blur = sharpness(crop)
    if blur < layout.min_sharpness:
        notes.append(f"blurred (sharpness {blur:.0f}, training faces mostly above {layout.min_sharpness:.0f})")
    yaw, pitch = pose_ratios(keypoints)
    # A face looking down also shifts its nose across the eyes' line, so when both ratios are out of range the
    # note names the one further out (in widths of its range), not always the side turn.
    beyond = {"turned far to the side": _beyond(yaw, layout.yaw_range),
              "tilted far up or down": _beyond(pitch, layout.pitch_range)}  # fmt: skip
    pose, distance = max(beyond.items(), key=lambda item: item[1])
    if distance > 0:
        notes.append(f"head {pose}: few training faces look like this")
    if score < LOW_CONFIDENCE:
        notes.append(f"low detector confidence ({score:.2f}): this may not be a face")
    return notes
