"""Face detection with MTCNN: a box, a confidence and five keypoints per face, largest face first."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from face2data.limits import MIN_FACE_PX

# The order of the keypoint rows everywhere in face2data.faces. MTCNN's "left"/"right" are image sides:
# "left_eye" is the eye with the smaller x (the person's right eye in an unmirrored photo).
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

# Larger photos are shrunk to this longer side for detection only (speed); crops come from the full image.
DETECT_MAX_SIDE = 1600
# MTCNN's image pyramid cannot find faces smaller than this in the image it is given.
MTCNN_MIN_FACE = 20
# A tight face crop (a UTKFace image, a cropped selfie) leaves the detector no margin; when nothing is
# found, the image is searched again inside a neutral grey border of this fraction of its shorter side.
RETRY_BORDER = 0.2
BORDER_GREY = 127  # MTCNN normalises pixels as (x - 127.5) / 128, so this grey is its "nothing"


@dataclass(frozen=True)
class Detection:
    """One detected face in image pixel coordinates."""

    box: tuple[int, int, int, int]  # x, y, width, height, clipped to the image
    score: float  # detector confidence, 0..1
    keypoints: np.ndarray  # (5, 2) float x, y in KEYPOINT_NAMES order (may lie outside the image)

    @property
    def size(self) -> int:
        """The shorter side of the box in pixels."""
        return min(self.box[2], self.box[3])


class FaceDetector:
    """MTCNN loaded once; ``detect`` can be called for any number of images."""

    def __init__(self, min_face_px: int = MIN_FACE_PX, max_side: int = DETECT_MAX_SIDE) -> None:
        from mtcnn import MTCNN  # imports TensorFlow: keep it out of module import

        self._mtcnn = MTCNN()
        self.min_face_px = min_face_px
        self.max_side = max_side

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Every face of an RGB uint8 image (H, W, 3) at least ``min_face_px`` tall, largest first."""
        height, width = rgb.shape[:2]
        if min(height, width) < self.min_face_px:
            return []
        scale = min(1.0, self.max_side / max(height, width))
        small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        min_face = max(MTCNN_MIN_FACE, round(self.min_face_px * scale))
        rows = self._run(small, 0, min_face)
        if len(rows) == 0:
            border = round(RETRY_BORDER * min(small.shape[:2]))
            rows = self._run(small, border, min_face)
        detections = [self._to_detection(row, scale, width, height) for row in rows]
        detections = [d for d in detections if d.size >= self.min_face_px]
        return sorted(detections, key=lambda d: d.box[2] * d.box[3], reverse=True)

    def _run(self, rgb: np.ndarray, border: int, min_face: int) -> np.ndarray:
        """MTCNN rows (x1, y1, x2, y2, score, 5 x, 5 y) in the coordinates of ``rgb`` (border removed)."""
        if border:
            rgb = cv2.copyMakeBorder(rgb, border, border, border, border, cv2.BORDER_CONSTANT, value=(BORDER_GREY,) * 3)
        rows = self._mtcnn.detect_faces(
            np.ascontiguousarray(rgb), box_format="xyxy", output_type="numpy", min_face_size=min_face
        )
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 16)[:, 1:]
        rows[:, [0, 1, 2, 3]] -= border
        rows[:, 5:] -= border
        return rows

    @staticmethod
    def _to_detection(row: np.ndarray, scale: float, width: int, height: int) -> Detection:
        x1, y1, x2, y2 = np.clip(row[:4] / scale, 0, [width, height, width, height])
        x, y = int(round(x1)), int(round(y1))
        box = (x, y, int(round(x2)) - x, int(round(y2)) - y)
        keypoints = np.stack([row[5:10], row[10:15]], axis=1) / scale
        return Detection(box=box, score=float(row[4]), keypoints=keypoints)


@functools.cache
def default_detector() -> FaceDetector:
    """The process-wide detector (MTCNN's three networks are loaded on first use only)."""
    return FaceDetector()


def detect_faces(rgb: np.ndarray) -> list[Detection]:
    """Every face of an RGB uint8 image, largest first, with the shared detector."""
    return default_detector().detect(rgb)
