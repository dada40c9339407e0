"""A head fitted on the frozen trunk (``train-heads``): the new head learns, every other head stays as it was."""

from __future__ import annotations

import numpy as np
import pytest

from face2data.data.arrays import FaceArrays
from face2data.head_training import train_new_heads
from face2data.model import build_model
from face2data.schema import CLASS_HEADS, HEAD_TABLE, INPUT_SIZE, NO_LABEL

pytestmark = pytest.mark.slow  # builds two full-size networks


def _faces(count: int, seed: int = 0) -> FaceArrays:
    rng = np.random.default_rng(seed)
    labels = {head.name: rng.integers(0, head.size, count).astype(np.int32) for head in CLASS_HEADS}
    labels["gender"][:2] = NO_LABEL  # unlabelled faces are left out, not an error
    return FaceArrays(
        images=rng.integers(0, 256, (count, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8),
        age_low=np.full(count, 30, np.float32),
        age_high=np.full(count, 30, np.float32),
        labels=labels,
        sources=np.full(count, "utkface"),
        names=np.array([f"{i}.jpg" for i in range(count)]),
        splits=np.array(["train", "val"] * (count // 2)),
    )


def test_a_head_the_model_lacks_is_fitted_and_the_others_keep_their_outputs():
    full = build_model()
    new_head = HEAD_TABLE[-1].name
    kept = {name: output for name, output in full.output.items() if name != new_head}
    trained = type(full)(full.inputs, kept)  # a trained model of the table without its last row
    faces = _faces(16)
    model, fits = train_new_heads(trained, faces)
    assert [fit.head for fit in fits] == [new_head] and fits[0].train_faces == fits[0].val_faces == 16
    batch = faces.images[:4].astype(np.float32)
    before, after = trained.predict_on_batch(batch), model.predict_on_batch(batch)
    for name in kept:
        np.testing.assert_allclose(after[name], before[name], atol=1e-6)
    assert after[new_head].shape == (4, HEAD_TABLE[-1].size)
    np.testing.assert_allclose(after[new_head].sum(axis=1), 1.0, atol=1e-5)
    assert train_new_heads(model, faces)[1] == []  # nothing is missing any more: nothing is fitted
