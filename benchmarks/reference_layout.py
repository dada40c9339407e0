"""Measure the reference keypoint layout from UTKFace's own aligned crops (a measuring tool, not run by the app).

``python benchmarks/reference_layout.py --data PATH/UTKFace.tar.gz`` runs the detector on a seeded sample
of training-split crops, averages where each keypoint sits in the 200x200 frame (corrected so that
aligning those crops leaves them where they are, see ``unbiased_layout``) and writes
``face2data/faces/reference_keypoints.json`` (``face2data.faces.alignment.REFERENCE_PATH``), with the spread
of pose and sharpness over the same faces (what the quality notes compare against).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path

import common

common.setup_path()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.data.labels import parse_name  # noqa: E402
from face2data.data.sources import iter_image_bytes, list_image_names  # noqa: E402
from face2data.data.split import split_of  # noqa: E402
from face2data.faces.alignment import (  # noqa: E402
    REFERENCE_PATH,
    ReferenceLayout,
    align_face,
    similarity_transform,
    transform_points,
)
from face2data.faces.detection import KEYPOINT_NAMES, Detector, default_detector  # noqa: E402
from face2data.faces.quality import pose_ratios, sharpness  # noqa: E402
from face2data.image_loading import ImageLoadError, load_rgb  # noqa: E402
from face2data.schema import CROP_SIZE  # noqa: E402

log = logging.getLogger(__name__)

# Pose and sharpness outside these percentiles of the training faces get a quality note.
POSE_PERCENTILES = (0.5, 99.5)
SHARPNESS_PERCENTILE = 1.0


def sample_training_names(source: str | Path, count: int, seed: int = 0) -> list[str]:
    """A seeded random sample of labelled training-split image names of a UTKFace source."""
    names = [n for n in list_image_names(source) if parse_name(n) is not None and split_of(n) == "train"]
    random.Random(seed).shuffle(names)
    return sorted(names[:count])


def unbiased_layout(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """The layout onto which aligning the measured crops leaves them, on average, where they are.

    The plain mean of the keypoints is slightly too small a target: the least-squares similarity from
    noisy keypoints underestimates scale (regression dilution, about 1.5 % here), so every aligned face
    would come out zoomed out against the crops the model was trained on. Starting from the mean, the
    layout is moved by the inverse of the mean fitted transform until that mean is the identity.
    """
    layout = points.mean(axis=0)
    for _ in range(iterations):
        mean_transform = np.mean([similarity_transform(p, layout) for p in points], axis=0)
        layout = transform_points(cv2.invertAffineTransform(mean_transform), layout)
    return layout


def measure_reference(source: str | Path, count: int = 800, seed: int = 0, detector: Detector | None = None) -> dict:
    """Detect the faces of ``count`` training crops and summarise their keypoint layout (JSON-ready)."""
    detector = detector or default_detector()
    names = sample_training_names(source, count, seed)
    crops, keypoints, missed = [], [], []
    for name, data in iter_image_bytes(source, wanted=set(names)):
        try:
            rgb = load_rgb(data)
        except ImageLoadError:
            missed.append(name)
            continue
        if rgb.shape[:2] != (CROP_SIZE, CROP_SIZE):
            raise ValueError(f"{name} is {rgb.shape[1]}x{rgb.shape[0]}, not a {CROP_SIZE} px UTKFace crop")
        faces = detector.detect(rgb)
        if not faces:
            missed.append(name)
            continue
        crops.append(rgb)
        keypoints.append(faces[0].keypoints)
    if not keypoints:
        raise ValueError(f"no face was detected in the {len(names)} sampled crops of {source}")
    points = np.stack(keypoints)
    mean = unbiased_layout(points)
    poses = np.array([pose_ratios(k) for k in points])
    layout = ReferenceLayout(mean, (-np.inf, np.inf), (-np.inf, np.inf), 0.0)
    blur = np.array([sharpness(align_face(rgb, k, layout)) for rgb, k in zip(crops, points, strict=True)])
    low, high = POSE_PERCENTILES
    return {
        "crop_size": CROP_SIZE,
        "keypoint_names": list(KEYPOINT_NAMES),
        "keypoints": {n: [round(float(v), 2) for v in xy] for n, xy in zip(KEYPOINT_NAMES, mean, strict=True)},
        "keypoint_mean": {
            n: [round(float(v), 2) for v in xy] for n, xy in zip(KEYPOINT_NAMES, points.mean(axis=0), strict=True)
        },
        "keypoint_sd": {
            n: [round(float(v), 2) for v in xy] for n, xy in zip(KEYPOINT_NAMES, points.std(axis=0), strict=True)
        },
        "pose": {
            "yaw_range": [round(float(np.percentile(poses[:, 0], p)), 3) for p in (low, high)],
            "pitch_range": [round(float(np.percentile(poses[:, 1], p)), 3) for p in (low, high)],
            "percentiles": [low, high],
        },
        "sharpness": {
            "min": round(float(np.percentile(blur, SHARPNESS_PERCENTILE)), 1),
            "percentile": SHARPNESS_PERCENTILE,
            "median": round(float(np.median(blur)), 1),
        },
        "measured_on": {
            "source": Path(source).name,
            "split": "train",
            "sampled": len(names),
            "detected": len(points),
            "missed": sorted(missed),
            "seed": seed,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: measure and write the reference layout."""
    parser = argparse.ArgumentParser(prog="python benchmarks/reference_layout.py", description=__doc__)
    parser.add_argument("--data", required=True, help="UTKFace folder or archive")
    parser.add_argument("--count", type=int, default=800, help="training crops to measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REFERENCE_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    measured = measure_reference(args.data, args.count, args.seed)
    args.out.write_text(json.dumps(measured, indent=2) + "\n")
    found = measured["measured_on"]
    print(f"{found['detected']}/{found['sampled']} faces measured; layout written to {args.out}")
    print(json.dumps(measured["keypoints"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
