"""face2data.outputs: the mirror images a prediction is averaged with."""

from __future__ import annotations

import numpy as np
import pytest

from face2data.outputs import predict_probabilities, with_mirror_images


@pytest.mark.parametrize("shape", [(5, 128, 128, 3), (1, 20, 31, 3), (0, 128, 128, 3)])
def test_mirror_images_follow_the_batch_reversed_left_to_right(shape):
    batch = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    for images in (batch, batch[::2]):  # a strided view too
        assert np.array_equal(with_mirror_images(images), np.concatenate([images, images[:, :, ::-1]]))


class _LeftHalfModel:
    """Probability of class 0 = the mean of the left half of the image, so a face and its mirror differ."""

    def predict_on_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        left = batch[:, :, : batch.shape[2] // 2].mean(axis=(1, 2, 3)) / 255
        return {"gender": np.stack([left, 1 - left], axis=1)}


def test_flipped_predictions_average_the_face_and_its_mirror():
    faces = np.zeros((2, 8, 8, 3), np.float32)
    faces[:, :, :4] = 255  # the left half white: 1.0 as seen, 0.0 mirrored
    probs = predict_probabilities(_LeftHalfModel(), faces, flip=True)["gender"]
    assert np.allclose(probs, 0.5)
    assert np.allclose(predict_probabilities(_LeftHalfModel(), faces, flip=False)["gender"][:, 0], 1.0)
