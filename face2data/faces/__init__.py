"""From a photo to model-ready faces: detection, alignment onto the UTKFace layout, quality notes."""

from face2data.faces.alignment import align_face, reference_layout
from face2data.faces.detection import Detection, Detector, default_detector, new_detector
from face2data.faces.extraction import FoundFace, find_faces

__all__ = [
    "Detection",
    "Detector",
    "FoundFace",
    "align_face",
    "default_detector",
    "find_faces",
    "new_detector",
    "reference_layout",
]
