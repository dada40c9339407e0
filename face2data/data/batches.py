"""Keras PyDataset feeding shuffled, augmented batches (no tf.data, so any backend trains)."""

from __future__ import annotations

import math

import keras
import numpy as np

from face2data.data.arrays import FaceArrays
from face2data.data.augment import augment_batch
from face2data.schema import AGE_HEAD, NO_LABEL


def targets_of(faces: FaceArrays) -> dict[str, np.ndarray]:
    """Every head's training targets: a class head's class index (NO_LABEL masks it), and for the age head the
    label's first and last year (N, 2)."""
    age = np.stack([faces.age_low, faces.age_high], axis=1).astype(np.float32)
    return {AGE_HEAD.name: age, **faces.labels}


class FaceBatches(keras.utils.PyDataset):
    """Batches of faces; with ``augment`` the order is reshuffled every epoch from a fixed seed and the faces are
    augmented (``augment_strength`` scales the ranges, see ``augment_batch``).

    ``pad_to`` > 1 pads a short last batch to a multiple of it (data-parallel training splits every batch evenly
    over the devices) with blank faces labelled NO_LABEL for every head, which add nothing to losses or metrics.
    """

    def __init__(
        self,
        faces: FaceArrays,
        batch_size: int,
        augment: bool,
        seed: int = 0,
        augment_strength: float = 1.0,
        pad_to: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.pad_to = pad_to
        self.faces = faces
        self.batch_size = batch_size
        self.augment = augment
        self.augment_strength = augment_strength
        self.seed = seed
        self.epoch = 0
        self.targets = targets_of(faces)
        self.order = np.arange(len(faces))
        self._reshuffle()

    def _reshuffle(self) -> None:
        if self.augment:
            self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.faces))

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle order of ``epoch`` (so a resumed run sees the same order)."""
        self.epoch = epoch
        self._reshuffle()

    def __len__(self) -> int:
        return math.ceil(len(self.faces) / self.batch_size)

    def __getitem__(self, index: int):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        images = self.faces.images[rows]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            x = augment_batch(images, rng, self.augment_strength)
        else:
            x = images.astype(np.float32)
        y = {head: target[rows] for head, target in self.targets.items()}
        missing = -len(rows) % self.pad_to
        if missing:
            x = np.concatenate([x, np.zeros((missing, *x.shape[1:]), x.dtype)])
            y = {h: np.concatenate([t, np.full((missing, *t.shape[1:]), NO_LABEL, t.dtype)]) for h, t in y.items()}
        return x, y

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)
