"""From a photo to model-ready faces: detection, alignment onto the UTKFace layout, quality notes."""

from face2data.faces.alignment import align_face, reference_layout
from face2data.faces.detection import Detection, FaceDetector, default_detector
from face2data.faces.extraction import FoundFace, find_faces

__all__ = [
    "Detection",
    "FaceDetector",
    "FoundFace",
    "align_face",
    "default_detector",
    "find_faces",
    "reference_layout",
]
