"""Every face of a photo as an aligned crop with its box, confidence and quality notes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from face2data.faces.alignment import align_face, reference_layout
from face2data.faces.detection import FaceDetector, default_detector
from face2data.faces.quality import quality_notes


@dataclass
class FoundFace:
    """One face of a photo, ready for the model."""

    box: tuple[int, int, int, int]  # x, y, width, height in photo pixels
    score: float  # detector confidence
    keypoints: np.ndarray  # (5, 2) in photo pixels
    crop: np.ndarray  # (CROP_SIZE, CROP_SIZE, 3) uint8 RGB, framed like a UTKFace crop
    quality_notes: list[str] = field(default_factory=list)


def find_faces(rgb: np.ndarray, detector: FaceDetector | None = None) -> list[FoundFace]:
    """Detect, align and check every face of an RGB uint8 photo (EXIF already applied), largest first."""
    detector = detector or default_detector()
    layout = reference_layout()
    faces = []
    for detection in detector.detect(rgb):
        crop = align_face(rgb, detection.keypoints, layout)
        notes = quality_notes(detection.size, detection.score, detection.keypoints, crop, layout)
        faces.append(FoundFace(detection.box, detection.score, detection.keypoints, crop, notes))
    return faces
