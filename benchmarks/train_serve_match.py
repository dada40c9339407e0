"""Train/serve match: does detect → align → predict on a photo give what the model gives on the training crop?

Each test-split UTKFace crop (the original 200x200 file) is pasted into a synthetic photo: a random
background, scaled, shifted and rotated up to ±20°, saved as a JPEG. The photo then goes through the
served path (``Predictor.predict_photo``: decode, detect, align, predict) and the crop itself through the
training path (the aligned crop the model was trained on: ``face2data.crops``, a grey margin, detection,
alignment, cached). Same model, same flip TTA, so the gap measures the path.

    python benchmarks/train_serve_match.py [--limit N] [--model PATH] [--data PATH] [--seed S]

Prints a table and one JSON line. Targets: faces found ≥ 99 %, each class head's accuracy drop ≤ 1.5 points,
age MAE rise ≤ 0.5 years.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.crops import load_crops  # noqa: E402
from face2data.data.scores import accuracy  # noqa: E402
from face2data.data.sources import iter_image_bytes, scan_labels  # noqa: E402
from face2data.data.split import split_of  # noqa: E402
from face2data.faces.alignment import reference_layout, transform_points  # noqa: E402
from face2data.image_loading import load_rgb  # noqa: E402
from face2data.outputs import expected_age, predict_probabilities  # noqa: E402
from face2data.paths import TFLITE_PATH  # noqa: E402
from face2data.predictor import Predictor  # noqa: E402
from face2data.results import FaceResult  # noqa: E402
from face2data.schema import AGE_HEAD, CLASS_HEADS, CROP_SIZE, HEADS, NO_LABEL  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "UTKFace.tar.gz"
TARGETS = {"found_percent": 99.0, "accuracy_drop_points": 1.5, "age_mae_rise_years": 0.5}
MAX_ANGLE = 20.0
SCALES = (0.6, 1.6)  # crop side 120..320 px in the photo
JPEG_QUALITY = 90
CONTEXT = 0.25  # mirrored surroundings added around the crop, as a fraction of its side


def background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A photo-like backdrop: a colour gradient in a random direction plus blurred noise."""
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    t = (np.cos(theta) * xx / width + np.sin(theta) * yy / height + 1) / 2
    image = a + (b - a) * t[..., None]
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)), (0, 0), rng.uniform(3, 25))
    image += noise / max(noise.std(), 1e-6) * rng.uniform(5, 40)
    return np.clip(image, 0, 255)


def synthesize_photo(crop: np.ndarray, rng: np.random.Generator, context: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Paste the crop into a random photo; returns the RGB photo and the crop→photo 2x3 matrix.

    With ``context`` the crop is first extended by mirroring its borders (CONTEXT of its side), the way
    training augmentation fills, so a rotated face keeps head-like surroundings in its aligned frame
    instead of a synthetic background edge cutting through the frame's corners (in a real photo the
    head and scene continue there).
    """
    scale, angle = rng.uniform(*SCALES), rng.uniform(-MAX_ANGLE, MAX_ANGLE)
    border = round(CONTEXT * CROP_SIZE) if context else 0
    patch = cv2.copyMakeBorder(crop, border, border, border, border, cv2.BORDER_REFLECT_101)
    radians = np.deg2rad(angle)
    half = patch.shape[0] * scale * (abs(np.cos(radians)) + abs(np.sin(radians))) / 2
    height = max(int(rng.integers(420, 720)), int(np.ceil(2 * half)) + 2)
    width = max(int(rng.integers(560, 960)), height * 4 // 3)
    cx, cy = rng.uniform(half, width - half), rng.uniform(half, height - half)
    centre = (CROP_SIZE - 1) / 2
    matrix = cv2.getRotationMatrix2D((centre, centre), angle, scale)
    matrix[:, 2] += (cx - centre, cy - centre)
    to_photo = matrix.astype(np.float64)  # the patch's own pixels are offset by the border
    to_photo[:, 2] -= matrix[:, :2] @ np.array([border, border], dtype=np.float64)
    warped = cv2.warpAffine(patch, to_photo, (width, height), flags=cv2.INTER_CUBIC).astype(np.float64)
    mask = np.ones(patch.shape[:2], np.float32)
    if border:  # feather the outer edge of the mirrored context into the background
        ramp = np.minimum(np.arange(patch.shape[0]), np.arange(patch.shape[0])[::-1]) / (border / 2)
        mask = np.minimum.outer(np.clip(ramp, 0, 1), np.clip(ramp, 0, 1)).astype(np.float32)
    mask = cv2.warpAffine(mask, to_photo, (width, height), flags=cv2.INTER_LINEAR)[..., None]
    photo = warped * mask + background(height, width, rng) * (1 - mask)
    return np.clip(photo, 0, 255).round().astype(np.uint8), matrix


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return encoded.tobytes()


def test_names(source: Path, limit: int | None, seed: int) -> list[str]:
    """Names of the test-split images, all or a seeded sample of ``limit``."""
    names = [n for n, _ in scan_labels(source).labelled if split_of(n) == "test"]
    if limit is not None and limit < len(names):
        names = random.Random(seed).sample(names, limit)
    return sorted(names)


def summarise(ages: np.ndarray, labels: dict[str, np.ndarray], probs: dict[str, np.ndarray]) -> dict[str, float]:
    """Age MAE and each labelled class head's accuracy (in %) of predictions against the true ages and labels."""
    return {
        "age_mae": float(np.mean(np.abs(expected_age(probs[AGE_HEAD.name]) - ages))),
        **{f"{head}_accuracy": accuracy(truth, probs[head].argmax(1)) * 100 for head, truth in labels.items()},
    }


def run(source: Path, limit: int | None, model_path: Path, seed: int) -> dict:
    wanted = test_names(source, limit, seed)
    predictor = Predictor(model_path=model_path)
    layout_centre = reference_layout().keypoints.mean(axis=0)
    rng = np.random.default_rng(seed)
    trained = load_crops(source).faces
    row_of = {str(name): i for i, name in enumerate(trained.names)}
    wanted = [name for name in wanted if name in row_of]  # faces the training path found
    names: list[str] = []
    served: list[FaceResult | None] = []
    extra_faces, seconds = 0, 0.0
    for name, data in iter_image_bytes(source, wanted=set(wanted)):
        crop = load_rgb(data)
        if crop.shape[:2] != (CROP_SIZE, CROP_SIZE):
            crop = cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
        photo, matrix = synthesize_photo(crop, rng)
        start = time.perf_counter()
        faces = predictor.predict_photo("photo.jpg", jpeg_bytes(photo)).faces
        seconds += time.perf_counter() - start
        # The pasted face is the found face whose box centre is nearest to where the crop's face went.
        target = transform_points(matrix, layout_centre[None])[0]
        side = CROP_SIZE * np.hypot(matrix[0, 0], matrix[1, 0])
        distances = [np.hypot(f.box[0] + f.box[2] / 2 - target[0], f.box[1] + f.box[3] / 2 - target[1]) for f in faces]
        match = int(np.argmin(distances)) if faces and min(distances) < 0.25 * side else None
        extra_faces += len(faces) - (match is not None)
        names.append(name)
        served.append(None if match is None else faces[match])
    rows = [row_of[n] for n in names]
    ages = trained.age_low[rows].astype(np.float64)
    labels = {head.name: trained.labels[head.name][rows] for head in CLASS_HEADS}
    labels = {head: truth for head, truth in labels.items() if (truth != NO_LABEL).any()}  # the source's heads
    original = predict_probabilities(
        predictor.model, trained.images[rows].astype(np.float32), flip=True, batch_size=256
    )
    found = np.array([face is not None for face in served])
    if not found.any():
        raise SystemExit(f"none of the {len(names)} pasted faces was found; nothing to compare")
    serve_probs = _probabilities([face for face in served if face is not None])
    paired = {head: p[found] for head, p in original.items()}
    found_labels = {head: truth[found] for head, truth in labels.items()}
    on_crop, on_photo = summarise(ages[found], found_labels, paired), summarise(ages[found], found_labels, serve_probs)
    return {
        "images": len(names),
        "found_percent": float(found.mean() * 100),
        "extra_faces": extra_faces,
        "original_all": summarise(ages, labels, original),
        "original": on_crop,
        "served": on_photo,
        **{
            f"{head}_accuracy_drop_points": on_crop[f"{head}_accuracy"] - on_photo[f"{head}_accuracy"]
            for head in labels
        },
        "age_mae_rise_years": on_photo["age_mae"] - on_crop["age_mae"],
        "agreement": agreement(paired, serve_probs),
        "seconds_per_photo": seconds / max(len(names), 1),
        "model": str(model_path),
        "seed": seed,
    }


def _probabilities(faces: list[FaceResult]) -> dict[str, np.ndarray]:
    """Per-head probability arrays of served results, in schema order."""
    return {head: np.stack([f.probabilities[head] for f in faces]) for head in HEADS}


def agreement(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict[str, float]:
    """How often two prediction sets give the same class of each class head, and their mean absolute age
    difference."""
    same = {f"{h.name}_percent": float(np.mean(first[h.name].argmax(1) == second[h.name].argmax(1)) * 100)
            for h in CLASS_HEADS}  # fmt: skip
    age_gap = float(np.mean(np.abs(expected_age(first[AGE_HEAD.name]) - expected_age(second[AGE_HEAD.name]))))
    return {**same, "mean_abs_age_difference": age_gap}


def report(result: dict) -> str:
    """The table printed for a run, with the verdict against TARGETS."""
    crop, photo, agree = result["original"], result["served"], result["agreement"]
    heads = [key.removesuffix("_accuracy") for key in crop if key.endswith("_accuracy")]
    drop, found, rise = TARGETS["accuracy_drop_points"], result["found_percent"], result["age_mae_rise_years"]

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    lines = [
        f"train/serve match on {result['images']} test images (seed {result['seed']}, {result['model']})",
        f"faces found        {found:6.1f} %   (target ≥ {TARGETS['found_percent']:.0f} %)  "
        f"{verdict(found >= TARGETS['found_percent'])}   extra faces on backgrounds: {result['extra_faces']}",
        f"{'':18} {'crop':>8} {'photo':>8} {'change':>8}",
    ]
    for head in heads:
        change = result[f"{head}_accuracy_drop_points"]
        lines.append(f"{head + ' accuracy':18} {crop[f'{head}_accuracy']:8.1f} {photo[f'{head}_accuracy']:8.1f} "
                     f"{-change:+8.1f}   (drop ≤ {drop} points)  {verdict(change <= drop)}")  # fmt: skip
    same = ", ".join(f"{head} {agree[f'{head}_percent']:.1f} %" for head in heads)
    return "\n".join([
        *lines,
        f"age MAE (years)    {crop['age_mae']:8.2f} {photo['age_mae']:8.2f} {rise:+8.2f}"
        f"   (rise ≤ {TARGETS['age_mae_rise_years']})  {verdict(rise <= TARGETS['age_mae_rise_years'])}",
        f"same answer on crop and photo: {same}, mean |age difference| {agree['mean_abs_age_difference']:.2f} years",
        f"served path: {result['seconds_per_photo']:.2f} s per photo (decode, detect, align, predict)",
    ])  # fmt: skip


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UTKFace archive or folder")
    parser.add_argument("--limit", type=int, help="use a seeded sample of this many test images")
    parser.add_argument(
        "--model", type=Path, default=TFLITE_PATH, help="the .tflite (default, as the app) or .keras model"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(args.data, args.limit, args.model, args.seed)
    print(report(result))
    print(json.dumps(_rounded(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
