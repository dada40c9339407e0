"""Training-time augmentation in NumPy/OpenCV: backend-agnostic and cheap on a CPU."""

from __future__ import annotations

import cv2
import numpy as np

# The ranges at strength 1: rotation in degrees; zoom, shift and contrast as fractions; brightness in grey levels.
ROTATION = 12
ZOOM = 0.1
SHIFT = 0.06
CONTRAST = 0.2
BRIGHTNESS = 25


def describe_augmentation(strength: float = 1.0) -> str:
    """The augmentation at ``strength`` in words, for the model card."""
    return (
        f"mirror flips, rotation ±{ROTATION * strength:g}°, zoom ±{ZOOM * strength:.0%}, "
        f"shifts ±{SHIFT * strength:.0%}, contrast ±{CONTRAST * strength:.0%} "
        f"and brightness ±{BRIGHTNESS * strength:g} grey levels"
    )


def augment_batch(images: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Randomly flip, rotate, zoom, shift and change contrast and brightness (``describe_augmentation``).

    ``strength`` scales every range but the flip's. ``images`` are uint8 (N, S, S, 3); the result is float32 in
    0..255.
    """
    n, size = len(images), images.shape[1]
    out = np.empty(images.shape, dtype=np.float32)
    angles = rng.uniform(-ROTATION, ROTATION, n) * strength
    scales = 1 + rng.uniform(-ZOOM, ZOOM, n) * strength
    shifts = rng.uniform(-SHIFT, SHIFT, (n, 2)) * size * strength
    flips = rng.random(n) < 0.5
    gains = 1 + rng.uniform(-CONTRAST, CONTRAST, n) * strength
    biases = rng.uniform(-BRIGHTNESS, BRIGHTNESS, n) * strength
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
