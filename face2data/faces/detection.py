"""Face detection with YuNet (OpenCV's ``FaceDetectorYN``): a box, a score and five keypoints per face.

The network ships in ``face2data/faces/yunet/`` with its license (Apache-2.0) and source; nothing is
downloaded. YuNet runs on any image size and is small enough for one CPU core per photo (timings in
benchmarks/RESULTS.md).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import cv2
import numpy as np

from face2data.limits import MIN_FACE_PX

# The order of the keypoint rows everywhere in face2data.faces (YuNet's and MTCNN's order). "left"/"right"
# are image sides: "left_eye" is the eye with the smaller x (the person's right eye in an unmirrored photo).
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

# OpenCV Zoo's face_detection_yunet_2023mar.onnx: of the two YuNet files measured (benchmarks/RESULTS.md) it
# was the faster one and found as many faces on the group photos.
YUNET_PATH = Path(__file__).with_name("yunet") / "yunet_s_640_640.onnx"

# OpenCV's default of 0.9 misses many faces of crowd photos; at 0.6 YuNet found at least as many real faces
# as MTCNN did on every group photo of the scenes benchmark.
SCORE_THRESHOLD = 0.6
NMS_THRESHOLD = 0.3
TOP_K = 5000
# Photos are searched at up to this longer side (small faces of a large photo stay findable) and, when larger
# than LARGE_FACE_SIDE, once more at that side, where a face filling the photo has the size YuNet was trained
# on. Boxes of the two passes are merged by non-maximum suppression.
DETECT_MAX_SIDE = 1600
LARGE_FACE_SIDE = 640
# A tight face crop (a UTKFace or FairFace image, a cropped selfie) leaves the detector little context; when
# nothing is found, the image is searched again inside a grey border of this fraction of its longer side
# (training crops get it from the start, see face2data.crops). On 400 FairFace crops a grey border found as
# many faces as a mirrored or replicated one with fewer second "faces" in the mirrored parts.
TIGHT_CROP_BORDER = 0.15
BORDER_GREY = 127
# A pass at a scale where the photo's shorter side is under this many pixels is skipped: YuNet finds no face that
# small, and a long thin strip (20x70000 px) would shrink to nothing.
MIN_SEARCH_SIDE = 10
# Part of the crop cache key (face2data.crops): a change of detector or of these settings rebuilds it.
DETECTOR_VERSION = (
    f"yunet_s_640_640-2023mar/score{SCORE_THRESHOLD}/nms{NMS_THRESHOLD}/sides{DETECT_MAX_SIDE}+{LARGE_FACE_SIDE}"
    f"/grey-border{TIGHT_CROP_BORDER}"
)


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


class Detector(Protocol):
    """The one seam for face detectors: training crops, Predict, live video and your labelled photos all find
    faces through the detector ``new_detector`` makes, so what the model is trained on is what it is served."""

    version: ClassVar[str]  # part of the crop caches' key: a new detector or new settings rebuild them

    def detect(self, rgb: np.ndarray, border: float = 0.0) -> list[Detection]:
        """Every face of an RGB uint8 image, largest first; ``border`` > 0 searches inside a grey margin of that
        fraction of the longer side (for tight face crops)."""
        ...


class FaceDetector:
    """YuNet loaded once; ``detect`` may be called from several threads (calls take turns)."""

    version: ClassVar[str] = DETECTOR_VERSION

    def __init__(
        self,
        min_face_px: int = MIN_FACE_PX,
        max_side: int = DETECT_MAX_SIDE,
        score_threshold: float = SCORE_THRESHOLD,
        model_path: Path = YUNET_PATH,
    ) -> None:
        self._input_size = (320, 320)  # the network's; set again only when it changes (1.6 ms at 640x480)
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5 warns about its graph engine
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model_path), "", self._input_size, score_threshold, NMS_THRESHOLD, TOP_K
            )
        finally:
            cv2.utils.logging.setLogLevel(level)
        self._lock = threading.Lock()  # setInputSize + detect on one network must not interleave
        self.min_face_px = min_face_px
        self.max_side = max_side

    def detect(self, rgb: np.ndarray, border: float = 0.0) -> list[Detection]:
        """Every face of an RGB uint8 image (H, W, 3) at least ``min_face_px`` tall, largest first.

        ``border`` > 0 searches inside a grey margin of that fraction of the longer side from the start
        (for crops known to be tight); otherwise the margin is tried only when nothing was found.
        """
        height, width = rgb.shape[:2]
        if min(height, width) < self.min_face_px:
            return []
        # Once at the largest side searched, in BGR: a large photo is neither converted nor shrunk twice
        scale = min(1.0, self.max_side / max(height, width))
        if min(height, width) * scale < MIN_SEARCH_SIDE:
            return []
        small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR)
        rows = self._search(bgr, border)
        if len(rows) == 0 and border == 0.0:
            rows = self._search(bgr, TIGHT_CROP_BORDER, large_faces_only=True)
        rows[:, :14] /= scale
        detections = [self._to_detection(row, width, height) for row in rows]
        detections = [d for d in detections if d.size >= self.min_face_px]
        return sorted(detections, key=lambda d: d.box[2] * d.box[3], reverse=True)

    def _search(self, bgr: np.ndarray, border: float, large_faces_only: bool = False) -> np.ndarray:
        """YuNet rows (x, y, w, h, 5 keypoint x/y pairs, score) in the coordinates of ``bgr`` (at most
        DETECT_MAX_SIDE a side, border added), searched as it is and, when larger, at LARGE_FACE_SIDE; with
        ``large_faces_only``, at LARGE_FACE_SIDE alone (the retry inside a border looks for a face filling the
        photo: the search of the photo as it is, at a finer scale, has already looked for smaller ones)."""
        pad = round(border * max(bgr.shape[:2]))
        if pad:
            bgr = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(BORDER_GREY,) * 3)
        longest = max(bgr.shape[:2])
        scales = [min(1.0, self.max_side / longest)]  # < 1 only for the grey border of a large photo
        if longest * scales[0] > LARGE_FACE_SIDE:
            scales = [LARGE_FACE_SIDE / longest] if large_faces_only else [*scales, LARGE_FACE_SIDE / longest]
        found = [self._run(bgr, scale) for scale in scales if min(bgr.shape[:2]) * scale >= MIN_SEARCH_SIDE]
        rows = np.concatenate(found) if found else np.zeros((0, 15))
        if len(found) > 1 and len(rows):
            keep = cv2.dnn.NMSBoxes(rows[:, :4].tolist(), rows[:, 14].tolist(), 0.0, NMS_THRESHOLD)
            rows = rows[np.asarray(keep, dtype=int).reshape(-1)]
        rows[:, :14] -= pad  # x, y of the box and of every keypoint
        return rows

    def _run(self, bgr: np.ndarray, scale: float) -> np.ndarray:
        small = bgr if scale == 1.0 else cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        size = (small.shape[1], small.shape[0])
        with self._lock:
            if size != self._input_size:
                self._net.setInputSize(size)
                self._input_size = size
            _, rows = self._net.detect(small)
        if rows is None:
            return np.zeros((0, 15))
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 15)
        rows[:, :14] /= scale
        return rows

    @staticmethod
    def _to_detection(row: np.ndarray, width: int, height: int) -> Detection:
        x, y, w, h = row[:4]
        x1, y1, x2, y2 = np.clip([x, y, x + w, y + h], 0, [width, height, width, height])
        left, top = int(round(x1)), int(round(y1))
        box = (left, top, int(round(x2)) - left, int(round(y2)) - top)
        return Detection(box=box, score=float(row[14]), keypoints=row[4:14].reshape(5, 2).copy())


# The detector every path uses (a new one: a class with ``version`` and ``detect``, set here).
DETECTOR: type[Detector] = FaceDetector


def new_detector() -> Detector:
    """A detector of its own (for a worker thread or process: one detector serves one call at a time)."""
    return DETECTOR()


@functools.cache
def default_detector() -> Detector:
    """The process-wide detector."""
    return new_detector()
