"""Shared fixtures: where the UTKFace data is, and small UTKFace-named images the tests make."""

from __future__ import annotations

import functools
import io
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from face2data.data.split import split_of
from face2data.paths import MODEL_PATH, TFLITE_PATH

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
UTKFACE_ARCHIVE = SHARED_DATA / "UTKFace.tar.gz"
SCENES_DIR = SHARED_DATA / "scenes"


@pytest.fixture(autouse=True, scope="session")
def private_crop_cache(tmp_path_factory):
    """Aligned-crop caches of the tests go to a temporary folder, not the user's ~/.cache."""
    import os

    previous = os.environ.get("FACE2DATA_CACHE")
    os.environ["FACE2DATA_CACHE"] = str(tmp_path_factory.mktemp("crop-cache"))
    yield
    if previous is None:
        os.environ.pop("FACE2DATA_CACHE", None)
    else:
        os.environ["FACE2DATA_CACHE"] = previous


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


ASTRONAUT = Path(__file__).resolve().parents[1] / "face2data" / "assets" / "astronaut.jpg"


@functools.cache
def astronaut_face_crop() -> np.ndarray:
    """The aligned 200x200 face of the public-domain sample portrait (RGB), found with the real detector."""
    from face2data.faces import find_faces
    from face2data.image_loading import load_rgb_file

    return find_faces(load_rgb_file(ASTRONAUT))[0].crop


def face_images(count: int, size: int = 200, seed: int = 0) -> list[np.ndarray]:
    """``count`` varied RGB face images (the sample face, shifted, scaled, mirrored, recoloured)."""
    rng = np.random.default_rng(seed)
    face = astronaut_face_crop()
    images = []
    for _ in range(count):
        matrix = cv2.getRotationMatrix2D((100, 100), rng.uniform(-5, 5), rng.uniform(0.9, 1.05))
        matrix[:, 2] += rng.uniform(-6, 6, 2)
        image = cv2.warpAffine(face, matrix, (200, 200), borderMode=cv2.BORDER_REFLECT_101)
        image = image[:, ::-1] if rng.random() < 0.5 else image
        image = np.clip(image * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
        images.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    return images


def crowd_photo(rows: int = 6, cols: int = 8, side: int = 96, gap: int = 34, seed: int = 3) -> np.ndarray:
    """A group photo of ``rows * cols`` faces (the sample face, varied) on grey, each with room for a label."""
    faces = face_images(rows * cols, size=side, seed=seed)
    canvas = np.full((rows * (side + gap) + gap, cols * (side + gap) + gap, 3), 150, np.uint8)
    for i, face in enumerate(faces):
        row, col = divmod(i, cols)
        y, x = gap + row * (side + gap), gap + col * (side + gap)
        canvas[y : y + side, x : x + side] = face
    return canvas


def write_utkface_images(folder: Path, names: list[str], seed: int = 0) -> list[Path]:
    """Write a 200x200 JPEG of a varied sample face under each name (labels are random: for plumbing tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in zip(names, face_images(len(names), seed=seed), strict=True):
        path = folder / name
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def write_fairface_source(root: Path, rows: list[tuple[str, str, str]], seed: int = 0) -> Path:
    """A FairFace-style folder: ``FairFace/fairface_label_train.csv`` and 144 px face crops ``train/<n>.jpg``.

    ``rows`` are (age range, gender, race) in FairFace's spelling; returns the FairFace folder.
    """
    folder = root / "FairFace"
    (folder / "train").mkdir(parents=True, exist_ok=True)
    lines = ["file,age,gender,race,service_test"]
    for n, ((age, gender, race), image) in enumerate(zip(rows, face_images(len(rows), 144, seed), strict=True), 1):
        cv2.imwrite(str(folder / "train" / f"{n}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        lines.append(f"train/{n}.jpg,{age},{gender},{race},False")
    (folder / "fairface_label_train.csv").write_text("\n".join(lines) + "\n")
    return folder


def write_allagefaces_source(root: Path, rows: list[tuple[int, str]], seed: int = 0) -> Path:
    """An All-Age-Faces-style folder: ``AllAgeFaces/labels.csv`` and face photos ``<n>A<age>.jpg``.

    ``rows`` are (age, gender) with gender ``female``/``male``; returns the AllAgeFaces folder.
    """
    folder = root / "AllAgeFaces"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["file,age,gender"]
    for n, ((age, gender), image) in enumerate(zip(rows, face_images(len(rows), 144, seed), strict=True)):
        name = f"{n:05d}A{age:02d}.jpg"
        cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        lines.append(f"{name},{age},{gender}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def zip_bytes(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive, in memory, of ``{member name: bytes}``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_bytes(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    """A tar archive, in memory, of ``{member name: bytes}`` (GNU format: names may hold any bytes)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode, format=tarfile.GNU_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()
