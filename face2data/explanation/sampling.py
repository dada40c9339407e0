"""The test faces the global explanations and the faithfulness benchmark are computed over."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from face2data.data.arrays import FaceArrays


def sample_test_faces(data: str | Path, n: int, seed: int = 0) -> FaceArrays:
    """A seeded sample of ``n`` labelled test-split faces (model-sized uint8) of one source, in file order."""
    from face2data.crops import load_crops

    test = load_crops(data).faces.of_splits("test")
    if len(test) == 0:
        raise ValueError(f"no test-split faces found in {data}")
    chosen = np.sort(np.random.default_rng(seed).choice(len(test), size=min(n, len(test)), replace=False))
    return test.subset(chosen)
