"""Training-time augmentation in NumPy/OpenCV: backend-agnostic and cheap on a CPU."""

from __future__ import annotations

import cv2
import numpy as np


def augment_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomly flip, rotate (±12°), zoom (±10 %), shift (±6 %) and change brightness/contrast.

    ``images`` are uint8 (N, S, S, 3); the result is float32 in 0..255.
    """
    n, size = len(images), images.shape[1]
    out = np.empty(images.shape, dtype=np.float32)
    angles = rng.uniform(-12, 12, n)
    scales = rng.uniform(0.9, 1.1, n)
    shifts = rng.uniform(-0.06, 0.06, (n, 2)) * size
    flips = rng.random(n) < 0.5
    gains = rng.uniform(0.8, 1.2, n)  # contrast
    biases = rng.uniform(-25, 25, n)  # brightness
    centre = (size / 2 - 0.5, size / 2 - 0.5)
    for i in range(n):
        image = images[i][:, ::-1] if flips[i] else images[i]
        matrix = cv2.getRotationMatrix2D(centre, angles[i], scales[i])
        matrix[:, 2] += shifts[i]
        warped = cv2.warpAffine(
            np.ascontiguousarray(image), matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        ).astype(np.float32)
        mean = warped.mean()
        out[i] = (warped - mean) * gains[i] + mean + biases[i]
    return np.clip(out, 0, 255, out=out)
