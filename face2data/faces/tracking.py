"""Faces followed across video frames, so that live labels stay steady instead of flickering.

Each frame's faces are matched to the tracks of the frames before by box overlap (greedy, largest overlap
first); a track averages its face's class probabilities over its last ``window`` frames, and the labels shown
come from those averages. A track that finds no face for ``max_missed`` frames is dropped.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height


def box_overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = min(ax + aw, bx + bw) - max(ax, bx)
    height = min(ay + ah, by + bh) - max(ay, by)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / float(aw * ah + bw * bh - inter)


@dataclass
class Track:
    """One face followed over frames: its latest box and the recent probabilities of each head."""

    track_id: int
    box: Box
    history: dict[str, deque] = field(default_factory=dict)
    missed: int = 0

    def add(self, box: Box, probabilities: dict[str, np.ndarray], window: int) -> None:
        """Record this frame's box and per-head probabilities."""
        self.box, self.missed = box, 0
        for head, probs in probabilities.items():
            self.history.setdefault(head, deque(maxlen=window)).append(np.asarray(probs, np.float64))

    def smoothed(self) -> dict[str, np.ndarray]:
        """Per head, the mean of the probabilities over the recent frames."""
        return {head: np.mean(list(values), axis=0) for head, values in self.history.items()}


class FaceTracker:
    """Matches each frame's faces to tracks and smooths their probabilities."""

    def __init__(self, window: int = 8, min_overlap: float = 0.3, max_missed: int = 5) -> None:
        self.window = window
        self.min_overlap = min_overlap
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def update(self, boxes: list[Box], probabilities: list[dict[str, np.ndarray]]) -> list[Track]:
        """Add one frame's faces; returns the track of each face, in the order given."""
        pairs = sorted(
            ((box_overlap(track.box, box), t, f) for t, track in enumerate(self.tracks) for f, box in enumerate(boxes)),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, t, f in pairs:
            if overlap < self.min_overlap:
                break
            if t in used or f in assigned:
                continue
            assigned[f] = self.tracks[t]
            used.add(t)
        for t, track in enumerate(self.tracks):
            if t not in used:
                track.missed += 1
        result = []
        for f, (box, probs) in enumerate(zip(boxes, probabilities, strict=True)):
            track = assigned.get(f) or Track(next(self._ids), box)
            if f not in assigned:
                self.tracks.append(track)
            track.add(box, probs, self.window)
            result.append(track)
        self.tracks = [track for track in self.tracks if track.missed <= self.max_missed]
        return result
