"""Live webcam frames: every face boxed and labelled, labels steadied by tracking, the frame rate measured.

``LiveAnnotator`` is plain Python, testable without a browser or PyAV; the Live page plugs it into
streamlit-webrtc, which calls it from its own worker thread for every frame of the browser's camera.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from face2data.faces import find_faces
from face2data.faces.tracking import FaceTracker
from face2data.outputs import expected_age
from face2data.predictor import Predictor
from face2data.results import shown_class_heads, word_label
from face2data.schema import AGE_HEAD, CLASS_HEADS, Head

BOX_COLOUR = (46, 111, 186)  # the app's primary colour, RGB
POSSIBLE_COLOUR = (200, 200, 200)  # a thin light box: a possible face, not read
FPS_WINDOW = 30  # frames over which the frame rate is measured


# A shown value changes only when the smoothed one has moved clearly away from it (hysteresis): a still face whose
# age sits near 32.5 or whose two likeliest classes are close must not flip its label from frame to frame.
AGE_HYSTERESIS = 1.0  # years
CLASS_HYSTERESIS = 0.1  # probability by which another class must lead


@dataclass
class ShownLabel:
    """What is shown for one tracked face: updated only past the hysteresis margins."""

    age: float
    classes: dict[str, int]  # the shown class index per class head

    def update(self, probabilities: dict[str, np.ndarray]) -> None:
        """Move the shown values towards the smoothed probabilities where they clearly differ."""
        age = float(expected_age(probabilities[AGE_HEAD.name]))
        if abs(age - self.age) >= AGE_HYSTERESIS:
            self.age = age
        self.classes = {head: _leader(probabilities[head], shown) for head, shown in self.classes.items()}

    def text(self, heads: Sequence[Head] | None = None) -> str:
        """``34 · female · White``: the age and the classes of ``heads`` (default: one head per attribute)."""
        labels = {head.name: head.classes[self.classes[head.name]] for head in shown_class_heads(heads)}
        return word_label(self.age, labels, " · ", unit="")

    @classmethod
    def of(cls, probabilities: dict[str, np.ndarray]) -> ShownLabel:
        """The label first shown for a new face."""
        age = float(expected_age(probabilities[AGE_HEAD.name]))
        return cls(age, {head.name: int(np.argmax(probabilities[head.name])) for head in CLASS_HEADS})


def _leader(probabilities: np.ndarray, shown: int) -> int:
    best = int(np.argmax(probabilities))
    return best if probabilities[best] - probabilities[shown] >= CLASS_HYSTERESIS else shown


class LiveAnnotator:
    """Annotates frames in order; safe to read its latest frame and statistics from another thread.

    ``heads`` are the heads whose classes the labels name (default: one head per attribute); the page may set it
    again while the stream runs (one assignment, read once per frame).
    """

    def __init__(self, predictor: Predictor, heads: Sequence[Head] | None = None) -> None:
        self.predictor = predictor
        self.heads = heads
        self.tracker = FaceTracker()
        self._lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._ends: deque[float] = deque(maxlen=FPS_WINDOW)
        self._labels: list[str] = []
        self._shown: dict[int, ShownLabel] = {}
        self._frames = 0

    def annotate(self, rgb: np.ndarray) -> np.ndarray:
        """The frame with a box and a steady label on every face, and the frame rate in a corner."""
        found = self.predictor.predict_faces(find_faces(rgb, self.predictor.detector))
        results = [face for face in found if face.read]  # possible faces get a faint box, no label
        tracks = self.tracker.update([r.box for r in results], [r.probabilities for r in results])
        labels = []
        for track in tracks:
            smoothed = track.smoothed()
            shown = self._shown.get(track.track_id)
            if shown is None:
                shown = self._shown[track.track_id] = ShownLabel.of(smoothed)
            else:
                shown.update(smoothed)
            labels.append(shown.text(self.heads))
        live = {track.track_id for track in self.tracker.tracks}
        self._shown = {i: label for i, label in self._shown.items() if i in live}
        out = rgb.copy()
        for result, label in zip(results, labels, strict=True):
            _draw_box(out, result.box, label)
        for possible in found[len(results) :]:
            x, y, w, h = possible.box
            cv2.rectangle(out, (x, y), (x + w, y + h), POSSIBLE_COLOUR, 1, cv2.LINE_AA)
        with self._lock:
            self._ends.append(time.perf_counter())
            fps = self._fps()
            self._latest, self._labels = rgb, labels
            self._frames += 1
        # white on a dark outline: readable on any video
        cv2.putText(out, f"{fps:.1f} fps", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(out, f"{fps:.1f} fps", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        return out

    def _fps(self) -> float:
        if len(self._ends) < 2:
            return 0.0
        return (len(self._ends) - 1) / max(self._ends[-1] - self._ends[0], 1e-9)

    def latest_frame(self) -> np.ndarray | None:
        """The last frame seen (without drawings), or None before the first."""
        with self._lock:
            return None if self._latest is None else self._latest.copy()

    def stats(self) -> dict:
        """Frames per second over the last frames, the current labels and the frames annotated so far."""
        with self._lock:
            return {"fps": self._fps(), "labels": list(self._labels), "frames": self._frames}


def _draw_box(image: np.ndarray, box: tuple[int, int, int, int], label: str) -> None:
    x, y, w, h = box
    thickness = max(2, round(w / 60))
    cv2.rectangle(image, (x, y), (x + w, y + h), BOX_COLOUR, thickness)
    scale = float(np.clip(w / 180, 0.45, 0.9))
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = y - th - base - 6 if y - th - base - 6 >= 0 else y + h  # above the box, else below it
    left = int(np.clip(x, 0, max(0, image.shape[1] - tw - 8)))
    cv2.rectangle(image, (left, top), (left + tw + 8, top + th + base + 6), BOX_COLOUR, -1)
    cv2.putText(image, label, (left + 4, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip
