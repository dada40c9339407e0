"""Labelled faces as model-ready arrays: one row per face, any mix of sources."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from face2data.schema import CLASS_HEADS, INPUT_SIZE, NO_LABEL


@dataclass
class FaceArrays:
    """Faces at INPUT_SIZE (uint8) with their labels, names, sources and splits.

    An exact age has ``age_low == age_high``; a range label (FairFace) spans ``age_low..age_high`` inclusive.
    ``labels`` holds one int32 array per class head of the head table (class index, NO_LABEL where a face has
    no such label).
    """

    images: np.ndarray
    age_low: np.ndarray
    age_high: np.ndarray
    labels: dict[str, np.ndarray]
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
        return FaceArrays(**{f.name: _rows(getattr(self, f.name), mask) for f in fields(self)})

    def labelled(self, head: str) -> np.ndarray:
        """True where a face has a label of ``head``."""
        return self.labels[head] != NO_LABEL

    def of_splits(self, *splits: str) -> FaceArrays:
        """The rows that belong to any of the given splits."""
        return self.subset(np.isin(self.splits, splits))

    @staticmethod
    def concatenate(parts: list[FaceArrays]) -> FaceArrays:
        """All rows of several arrays, in order."""
        if not parts:
            return empty_faces()
        return FaceArrays(**{f.name: _joined([getattr(p, f.name) for p in parts]) for f in fields(FaceArrays)})


def _rows(column: Any, mask: np.ndarray) -> Any:
    return {head: values[mask] for head, values in column.items()} if isinstance(column, dict) else column[mask]


def _joined(columns: list) -> Any:
    if isinstance(columns[0], dict):
        return {head: np.concatenate([c[head] for c in columns]) for head in columns[0]}
    return np.concatenate(columns)


def class_labels(labels: list) -> dict[str, np.ndarray]:
    """The ``labels`` field of FaceArrays from FaceLabel-like objects (anything with ``of(head)``)."""
    return {head.name: np.array([label.of(head.name) for label in labels], np.int32) for head in CLASS_HEADS}


def empty_faces() -> FaceArrays:
    """No faces."""
    return FaceArrays(
        images=np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8),
        age_low=np.zeros(0, np.float32),
        age_high=np.zeros(0, np.float32),
        labels=class_labels([]),
        sources=np.zeros(0, str),
        names=np.zeros(0, str),
        splits=np.zeros(0, str),
    )
