"""Shared fixtures: where the UTKFace data is, and small UTKFace-named images the tests make."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from face2data.data.split import split_of
from face2data.paths import MODEL_PATH, TFLITE_PATH

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
UTKFACE_ARCHIVE = SHARED_DATA / "UTKFace.tar.gz"
SCENES_DIR = SHARED_DATA / "scenes"


@pytest.fixture(scope="session")
def utkface_archive() -> Path:
    """The UTKFace archive; tests using it skip where ../shared is absent."""
    if not UTKFACE_ARCHIVE.exists():
        pytest.skip(f"UTKFace archive not found at {UTKFACE_ARCHIVE}")
    return UTKFACE_ARCHIVE


@pytest.fixture(scope="session")
def shipped_model_path() -> Path:
    """The shipped model; tests using it skip when it has not been trained yet."""
    if not MODEL_PATH.exists():
        pytest.skip(f"no trained model at {MODEL_PATH}")
    return MODEL_PATH


@pytest.fixture(scope="session")
def shipped_tflite_path(shipped_model_path) -> Path:
    """The shipped model as the app runs it (weights/face2data.tflite), made by ``python -m face2data export``."""
    if not TFLITE_PATH.exists():
        pytest.fail(f"{TFLITE_PATH} is missing: run `python -m face2data export` and commit it")
    return TFLITE_PATH


def utkface_names(per_split: dict[str, int], seed: int = 0) -> list[str]:
    """UTKFace-style file names with random labels, ``per_split[split]`` of each split."""
    rng = np.random.default_rng(seed)
    wanted = dict(per_split)
    names: list[str] = []
    stamp = 20170101000000000
    while any(wanted.values()):
        stamp += 1
        name = f"{rng.integers(1, 90)}_{rng.integers(0, 2)}_{rng.integers(0, 5)}_{stamp}.jpg.chip.jpg"
        if wanted.get(split_of(name), 0) > 0:
            wanted[split_of(name)] -= 1
            names.append(name)
    return names


def write_utkface_images(folder: Path, names: list[str], seed: int = 0) -> list[Path]:
    """Write a 200x200 random-texture JPEG under each name (no real faces: for plumbing tests)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        image = cv2.GaussianBlur((rng.random((200, 200, 3)) * 255).astype(np.uint8), (0, 0), 3)
        path = folder / name
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths
