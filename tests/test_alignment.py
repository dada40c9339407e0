"""Alignment maths: the similarity fit, the warp into the reference frame, pose and sharpness measures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face2data.faces.alignment import align_face, reference_layout, similarity_transform, transform_points
from face2data.faces.quality import pose_ratios, sharpness
from face2data.schema import CROP_SIZE

DOT_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]], dtype=np.uint8)


def similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    theta = np.deg2rad(angle_deg)
    rotation = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return np.hstack([rotation, np.array(shift, dtype=np.float64)[:, None]])


def dot_centres(image: np.ndarray) -> np.ndarray:
    """Centroid of each coloured dot (pixels within a tolerance of its colour)."""
    centres = []
    for colour in DOT_COLOURS:
        mask = np.all(np.abs(image.astype(int) - colour) < 60, axis=-1)
        ys, xs = np.nonzero(mask)
        assert len(xs) > 0, f"dot {colour} missing from the aligned crop"
        centres.append((xs.mean(), ys.mean()))
    return np.array(centres)


def test_reference_layout_is_an_upright_face_inside_the_frame():
    points = reference_layout().keypoints
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    assert points.shape == (5, 2) and np.all((points > 0) & (points < CROP_SIZE))
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert abs(left_eye[1] - right_eye[1]) < 2  # UTKFace crops are aligned with level eyes
    assert abs((left_eye[0] + right_eye[0]) / 2 - CROP_SIZE / 2) < 5  # and centred


@pytest.mark.parametrize(("angle", "scale"), [(0.0, 1.0), (33.0, 2.5), (-20.0, 0.4), (90.0, 1.3)])
def test_similarity_transform_recovers_a_known_transform(angle, scale):
    source = reference_layout().keypoints
    known = similarity(angle, scale, (40.0, -12.5))
    target = transform_points(known, source)
    np.testing.assert_allclose(similarity_transform(source, target), known, atol=1e-4)


def test_similarity_transform_is_the_least_squares_fit_over_all_points():
    rng = np.random.default_rng(1)
    source = reference_layout().keypoints
    target = transform_points(similarity(12, 1.7, (5, 9)), source) + rng.normal(0, 4, (5, 2))
    # Closed form: unknowns (a, b, tx, ty) of [[a, -b, tx], [b, a, ty]], two linear equations per point.
    rows = [r for x, y in source for r in ([x, -y, 1, 0], [y, x, 0, 1])]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), target.reshape(-1), rcond=None)[0]
    np.testing.assert_allclose(similarity_transform(source, target), [[a, -b, tx], [b, a, ty]], atol=1e-4)


def test_degenerate_keypoints_are_refused_clearly():
    with pytest.raises(ValueError, match="degenerate"):
        similarity_transform(np.zeros((5, 2)), reference_layout().keypoints)


@pytest.mark.parametrize(("angle", "scale"), [(30.0, 3.0), (-75.0, 0.6), (180.0, 1.0)])
def test_a_rotated_face_comes_back_upright(angle, scale):
    """Dots drawn where a face rotated by ``angle`` has its keypoints land on the reference layout."""
    reference = reference_layout().keypoints
    centre_shift = np.array([400.0, 350.0]) - scale * reference.mean(axis=0)
    placed = transform_points(similarity(angle, scale, (0, 0)), reference - reference.mean(axis=0))
    placed += reference.mean(axis=0) * scale + centre_shift
    photo = np.full((800, 760, 3), 40, np.uint8)
    radius = max(3, round(4 * scale))
    for (x, y), colour in zip(placed, DOT_COLOURS, strict=True):
        cv2.circle(photo, (round(x), round(y)), radius, colour.tolist(), -1, lineType=cv2.LINE_AA)
    crop = align_face(photo, placed)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    np.testing.assert_allclose(dot_centres(crop), reference, atol=1.0)


def test_align_face_keeps_the_frame_filled_near_the_photo_edge():
    reference = reference_layout().keypoints
    photo = np.full((120, 120, 3), 200, np.uint8)  # the face frame reaches well outside this photo
    crop = align_face(photo, reference * 0.5)
    assert crop.min() == 200  # mirrored in, no black border


def test_pose_ratios_ignore_rotation_and_scale_and_see_a_turned_head():
    reference = reference_layout().keypoints
    yaw, pitch = pose_ratios(reference)
    assert abs(yaw) < 0.05 and 0.4 < pitch < 0.7
    moved = transform_points(similarity(-50, 3.2, (17, 4)), reference)
    np.testing.assert_allclose(pose_ratios(moved), (yaw, pitch), atol=1e-9)
    turned = reference.copy()
    turned[2, 0] = reference[0, 0]  # nose in line with the left eye: a near-profile face
    assert pose_ratios(turned)[0] < reference_layout().yaw_range[0]


def test_sharpness_drops_with_blur():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur((rng.random((CROP_SIZE, CROP_SIZE, 3)) * 255).astype(np.uint8), (0, 0), 1.5)
    blurred = cv2.GaussianBlur(texture, (0, 0), 6)
    assert sharpness(blurred) < reference_layout().min_sharpness < sharpness(texture)
