"""Photo in, one prediction per face out: the detector and the model loaded once and reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from face2data.faces import Detector, FoundFace, default_detector, find_faces
from face2data.image_loading import ImageLoadError, load_rgb_scaled
from face2data.outputs import predict_probabilities
from face2data.paths import TFLITE_PATH
from face2data.results import FaceResult, PhotoResult, Progress
from face2data.schema import to_model_input
from face2data.tflite_model import load_inference_model

PROGRESS_BATCH = 16  # faces per model call when someone follows the progress


class Predictor:
    """Finds every face of a photo and predicts every head (age, gender, …) for all of them in one model call."""

    def __init__(self, model=None, model_path: str | Path = TFLITE_PATH, detector: Detector | None = None) -> None:
        """``model``: any object with the Keras ``predict_on_batch`` contract; else the .tflite or .keras file."""
        self.model = model if model is not None else load_inference_model(model_path)
        self.detector = detector or default_detector()

    def predict_photo(self, name: str, data: bytes, read_possible: bool = False) -> PhotoResult:
        """The result of an encoded photo, boxes in its pixels; a file that is not a usable image gets the
        loader's message as its error."""
        try:
            rgb, scale = load_rgb_scaled(data)
        except ImageLoadError as error:
            return PhotoResult(name, error=str(error))
        return PhotoResult(name, self.predict_image(rgb, read_possible=read_possible)).in_photo_pixels(scale)

    def predict_image(
        self, rgb: np.ndarray, progress: Progress | None = None, read_possible: bool = False
    ) -> list[FaceResult]:
        """Predictions for every face of an RGB uint8 photo (EXIF already applied), largest face first.

        Possible faces (``FoundFace.doubtful``) come after the faces read, unread (``FaceResult.read`` False)
        unless ``read_possible``. ``progress(read, found)``, when given, hears once the faces are found and after
        each batch of faces read.
        """
        return self.predict_faces(find_faces(rgb, self.detector), progress, read_possible)

    def predict_faces(
        self, found: list[FoundFace], progress: Progress | None = None, read_possible: bool = False
    ) -> list[FaceResult]:
        """Predictions for already found and aligned faces: one batched model call, or batches when followed.

        The faces read come first, largest first; possible faces left unread follow, with no attributes.
        """
        faces = [face for face in found if read_possible or not face.doubtful]
        unread = [face for face in found if face.doubtful and not read_possible]
        possible = [
            FaceResult.unread(len(faces) + i, face.box, face.score, face.crop, face.quality_notes)
            for i, face in enumerate(unread)
        ]
        if not faces:
            if progress is not None:
                progress(0, 0)
            return possible
        crops = np.stack([face.crop for face in faces])
        if progress is None:
            probabilities = self.predict_crops(crops)
        else:
            progress(0, len(faces))
            parts = []
            for start in range(0, len(faces), PROGRESS_BATCH):
                parts.append(self.predict_crops(crops[start : start + PROGRESS_BATCH]))
                progress(min(start + PROGRESS_BATCH, len(faces)), len(faces))
            probabilities = {head: np.concatenate([part[head] for part in parts]) for head in parts[0]}
        read = [_result(i, face, {h: p[i] for h, p in probabilities.items()}) for i, face in enumerate(faces)]
        return read + possible

    def predict_crops(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Per-head probabilities (mirror-averaged) for aligned uint8 crops (N, H, W, 3)."""
        return predict_probabilities(self.model, to_model_input(crops), flip=True)


def _result(index: int, face: FoundFace, probabilities: dict[str, np.ndarray]) -> FaceResult:
    x, y, width, height = (int(v) for v in face.box)
    return FaceResult(index, (x, y, width, height), float(face.score), face.crop, probabilities,
                      list(face.quality_notes), doubtful=face.doubtful)  # fmt: skip
