"""Labelled faces as model-ready arrays: one row per face, any mix of sources."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from face2data.schema import INPUT_SIZE


@dataclass
class FaceArrays:
    """Faces at INPUT_SIZE (uint8) with their labels, names, sources and splits.

    An exact age has ``age_low == age_high``; a range label (FairFace) spans ``age_low..age_high`` inclusive.
    ``races`` holds FairFace's seven groups (index into schema.RACES) and -1 for sources without them.
    """

    images: np.ndarray
    age_low: np.ndarray
    age_high: np.ndarray
    genders: np.ndarray
    ethnicities: np.ndarray
    races: np.ndarray
    sources: np.ndarray
    names: np.ndarray
    splits: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    @property
    def exact(self) -> np.ndarray:
        """True where the age label is an exact age."""
        return self.age_low == self.age_high

    def subset(self, mask: np.ndarray) -> FaceArrays:
        """The rows where ``mask`` is true (or at these indices)."""
        return FaceArrays(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def of_splits(self, *splits: str) -> FaceArrays:
        """The rows that belong to any of the given splits."""
        return self.subset(np.isin(self.splits, splits))

    @staticmethod
    def concatenate(parts: list[FaceArrays]) -> FaceArrays:
        """All rows of several arrays, in order."""
        if not parts:
            return empty_faces()
        return FaceArrays(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(FaceArrays)})


def empty_faces() -> FaceArrays:
    """No faces."""
    return FaceArrays(
        images=np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8),
        age_low=np.zeros(0, np.float32),
        age_high=np.zeros(0, np.float32),
        genders=np.zeros(0, np.int32),
        ethnicities=np.zeros(0, np.int32),
        races=np.zeros(0, np.int32),
        sources=np.zeros(0, str),
        names=np.zeros(0, str),
        splits=np.zeros(0, str),
    )
