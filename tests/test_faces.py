"""From a photo to aligned faces with the real YuNet detector (loaded once per test module)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from face2data.data.sources import iter_image_bytes, list_image_names
from face2data.data.split import split_of
from face2data.faces import align_face, default_detector, find_faces
from face2data.faces.alignment import alignment_matrix, transform_points
from face2data.faces.detection import new_detector
from face2data.faces.quality import LOW_CONFIDENCE
from face2data.image_loading import load_rgb
from face2data.schema import CROP_SIZE

ASTRONAUT = Path(__file__).resolve().parents[1] / "face2data" / "assets" / "astronaut.jpg"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_rgb(ASTRONAUT.read_bytes())


@pytest.fixture(scope="module")
def detector():
    return default_detector()


def rotate_about_centre(rgb: np.ndarray, angle: float, canvas: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo rotated by ``angle`` degrees (counter-clockwise) in a larger grey canvas, and the matrix used."""
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    matrix[:, 2] += ((canvas - w) / 2, (canvas - h) / 2)
    return cv2.warpAffine(rgb, matrix, (canvas, canvas), borderValue=(128, 128, 128)), matrix


def test_one_face_in_the_astronaut_photo(astronaut, detector):
    faces = find_faces(astronaut, detector)
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200 and 60 < w < 160  # the face in the 512x512 portrait
    assert face.score > LOW_CONFIDENCE and face.crop.shape == (CROP_SIZE, CROP_SIZE, 3) and face.crop.dtype == np.uint8
    assert face.quality_notes == []


# YuNet's keypoints follow a tilted head only part of the way (a 20° tilt reads as a few degrees) and move by
# about 5 % of the face with the photo around it, so these bounds are looser than MTCNN's were.
@pytest.mark.parametrize("angle", [8.0, -8.0])
def test_a_slightly_rotated_photo_gives_nearly_the_same_upright_crop(astronaut, detector, angle):
    upright = find_faces(astronaut, detector)[0]
    rotated_photo, matrix = rotate_about_centre(astronaut, angle, 760)
    faces = find_faces(rotated_photo, detector)
    # The face is the largest hit; anything else the rotated backdrop may trigger is marked as doubtful.
    assert len(faces) >= 1 and all(any("low detector confidence" in n for n in f.quality_notes) for f in faces[1:])
    # The keypoints found in the rotated photo are the upright ones rotated by the known angle...
    np.testing.assert_allclose(faces[0].keypoints, transform_points(matrix, upright.keypoints), atol=9)
    # ...and aligning undoes the rotation: the two crops are nearly the same picture.
    inner = slice(CROP_SIZE // 4, 3 * CROP_SIZE // 4)  # the face itself, not the photo's borders around it
    difference = np.abs(faces[0].crop[inner, inner].astype(float) - upright.crop[inner, inner].astype(float)).mean()
    assert difference < 30, f"mean pixel difference {difference:.1f}"


def test_several_faces_come_largest_first(astronaut, detector):
    canvas = np.full((700, 1300, 3), 90, np.uint8)
    placed = []  # (x, y, side) of each pasted copy
    for x, y, side in ((40, 60, 520), (640, 80, 360), (1020, 300, 240)):
        canvas[y : y + side, x : x + side] = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
        placed.append((x, y, side))
    faces = find_faces(canvas, detector)
    assert len(faces) == 3
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)
    for face, (x, y, side) in zip(faces, placed, strict=True):  # largest copy first, so the order matches
        cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
        assert x < cx < x + side and y < cy < y + side


@pytest.mark.parametrize("kind", ["blank", "noise", "tiny"])
def test_no_face_gives_an_empty_list(detector, kind):
    rng = np.random.default_rng(0)
    image = {
        "blank": np.full((300, 400, 3), 255, np.uint8),
        "noise": (rng.random((300, 400, 3)) * 255).astype(np.uint8),
        "tiny": np.zeros((8, 8, 3), np.uint8),
    }[kind]
    assert find_faces(image, detector) == []


@pytest.mark.parametrize(
    ("orientation", "transpose"), [(6, Image.Transpose.ROTATE_90), (3, Image.Transpose.ROTATE_180)]
)
def test_exif_orientation_is_applied_before_detection(astronaut, detector, orientation, transpose):
    """A JPEG stored sideways with an EXIF Orientation tag finds the same face as the upright photo."""
    upright = Image.fromarray(astronaut)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright.transpose(transpose).save(buffer, format="JPEG", quality=95, exif=exif)
    # The same pixels, saved without the tag, as a control.
    expected = find_faces(load_rgb(_jpeg(upright)), detector)
    faces = find_faces(load_rgb(buffer.getvalue()), detector)
    assert len(faces) == len(expected) == 1
    np.testing.assert_allclose(faces[0].box, expected[0].box, atol=4)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_an_aligned_crop_is_found_again_and_aligns_to_itself(astronaut, detector):
    """A tight, UTKFace-like face crop (no margin around the face) works as an input."""
    crop = find_faces(astronaut, detector)[0].crop
    again = find_faces(crop, detector)
    assert len(again) == 1
    assert_nearly_identity(alignment_matrix(again[0].keypoints))
    assert np.abs(again[0].crop.astype(float) - crop.astype(float)).mean() < 30  # YuNet's keypoint jitter


def assert_nearly_identity(matrix: np.ndarray, scale_tol: float = 0.12, degrees: float = 8, pixels: float = 12) -> None:
    """A crop already framed like the reference is moved by a few pixels, degrees and percent at most."""
    scale = np.hypot(matrix[0, 0], matrix[1, 0])
    angle = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
    assert abs(scale - 1) < scale_tol and abs(angle) < degrees, f"scale {scale:.3f}, angle {angle:.1f}°"
    centre_shift = transform_points(matrix, np.array([[CROP_SIZE / 2, CROP_SIZE / 2]]))[0] - CROP_SIZE / 2
    assert np.all(np.abs(centre_shift) < pixels), f"the centre moves by {centre_shift}"


def test_quality_notes_flag_a_small_face_and_a_blurred_face(astronaut, detector):
    small = np.full((400, 400, 3), 120, np.uint8)
    small[100:300, 100:300] = cv2.resize(astronaut, (200, 200), interpolation=cv2.INTER_AREA)  # a ~40 px face
    notes = find_faces(small, detector)[0].quality_notes
    assert any(note.startswith("small face") for note in notes)
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 4)
    faces = find_faces(blurred, detector)
    assert len(faces) == 1 and any(note.startswith("blurred") for note in faces[0].quality_notes)


@pytest.mark.slow
def test_utkface_test_crops_are_found_and_align_close_to_the_original(utkface_archive, detector):
    names = [n for n in list_image_names(utkface_archive) if split_of(n) == "test"][:3000:600]
    crops = [load_rgb(data) for _, data in iter_image_bytes(utkface_archive, wanted=set(names))]
    assert len(crops) == len(names)
    for crop in crops:
        faces = find_faces(crop, detector)
        assert len(faces) >= 1
        assert faces[0].crop.shape == crop.shape
        # Single UTKFace crops scatter around the mean layout (keypoint SD 3-7 px), so looser bounds.
        assert_nearly_identity(alignment_matrix(faces[0].keypoints), scale_tol=0.25, degrees=15, pixels=25)


def test_align_face_matches_find_faces(astronaut, detector):
    face = find_faces(astronaut, detector)[0]
    np.testing.assert_array_equal(align_face(astronaut, face.keypoints), face.crop)


def test_a_face_looking_down_is_called_tilted_not_turned_to_the_side():
    from face2data.faces.alignment import reference_layout
    from face2data.faces.quality import quality_notes

    sharp = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)

    def notes(yaw: float, pitch: float) -> list[str]:
        eyes, mouth = [(40.0, 50.0), (80.0, 50.0)], [(45.0, 90.0), (75.0, 90.0)]
        nose = (60.0 + yaw * 40.0, 50.0 + pitch * 40.0)
        return quality_notes(150, 0.95, np.array([*eyes, nose, *mouth]), sharp, reference_layout())

    assert notes(0.3, 0.95) == ["head tilted far up or down: few training faces look like this"]
    assert notes(0.45, 0.55) == ["head turned far to the side: few training faces look like this"]
    assert notes(0.0, 0.55) == []


def test_one_detector_finds_the_same_faces_whatever_size_it_saw_before(astronaut):
    photos = [cv2.resize(astronaut, (side, side * 3 // 4)) for side in (640, 1000, 640, 2400, 400)]
    shared = new_detector()
    for photo in photos:
        assert [(d.box, round(d.score, 5)) for d in shared.detect(photo)] == [
            (d.box, round(d.score, 5)) for d in new_detector().detect(photo)
        ]


@pytest.mark.parametrize("shape", [(20, 70000), (70000, 20), (20, 30000), (40, 60000), (25, 1600)])
def test_a_long_thin_photo_has_no_face_and_no_error(shape):
    # it used to shrink to 0 px at a search scale: an OpenCV error, a 500 from the API, a crashed evaluation
    assert default_detector().detect(np.full((*shape, 3), 128, np.uint8)) == []
