"""Every face of a photo as an aligned crop with its box, confidence and quality notes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from face2data.faces.alignment import align_face, reference_layout
from face2data.faces.detection import TIGHT_CROP_BORDER, Detector, default_detector
from face2data.faces.quality import CONFIRM_SCORE, DOUBTFUL_SCORE, POSSIBLE_FACE_NOTE, quality_notes


@dataclass
class FoundFace:
    """One face of a photo, ready for the model."""

    box: tuple[int, int, int, int]  # x, y, width, height in photo pixels
    score: float  # detector confidence
    keypoints: np.ndarray  # (5, 2) in photo pixels
    crop: np.ndarray  # (CROP_SIZE, CROP_SIZE, 3) uint8 RGB, framed like a UTKFace crop
    quality_notes: list[str] = field(default_factory=list)
    doubtful: bool = False  # a possible face: not read unless asked (see second_look)


def second_look(crop: np.ndarray, detector: Detector) -> float:
    """The detector's best score on an aligned crop, searched like a training crop (0 when it finds nothing)."""
    return max((found.score for found in detector.detect(crop, border=TIGHT_CROP_BORDER)), default=0.0)


def find_faces(rgb: np.ndarray, detector: Detector | None = None) -> list[FoundFace]:
    """Detect, align and check every face of an RGB uint8 photo (EXIF already applied), largest first.

    A detection scored below DOUBTFUL_SCORE whose aligned crop the detector does not confirm (CONFIRM_SCORE)
    is marked ``doubtful``: a possible face, which predictions leave unread unless asked.
    """
    detector = detector or default_detector()
    layout = reference_layout()
    faces = []
    for detection in detector.detect(rgb):
        crop = align_face(rgb, detection.keypoints, layout)
        notes = quality_notes(detection.size, detection.score, detection.keypoints, crop, layout)
        doubtful = detection.score < DOUBTFUL_SCORE and second_look(crop, detector) < CONFIRM_SCORE
        if doubtful:
            notes.insert(0, POSSIBLE_FACE_NOTE.format(score=detection.score))
        faces.append(FoundFace(detection.box, detection.score, detection.keypoints, crop, notes, doubtful))
    return faces
