"""Fuzzing the loader: mutated images either decode to RGB or raise ImageLoadError, nothing else."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from face2data.image_loading import ImageLoadError, load_rgb
from face2data.limits import MIN_IMAGE_SIDE


def _seeds() -> dict[str, bytes]:
    """Small valid files of every supported format (and some variants) to mutate."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6
    variants = {
        "jpeg": (image, "JPEG", {"exif": exif.tobytes()}),
        "progressive jpeg": (image, "JPEG", {"progressive": True}),
        "cmyk jpeg": (image.convert("CMYK"), "JPEG", {}),
        "png": (image, "PNG", {}),
        "palette png": (image.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", {"transparency": 0}),
        "16-bit png": (Image.fromarray(pixels[..., 0].astype(np.uint16) * 257), "PNG", {}),
        "rgba png": (image.convert("RGBA"), "PNG", {}),
        "gif": (image, "GIF", {"save_all": True, "append_images": [image.rotate(90)]}),
        "bmp": (image, "BMP", {}),
        "webp": (image, "WEBP", {}),
        "lossless webp": (image.convert("RGBA"), "WEBP", {"lossless": True}),
        "tiff": (image, "TIFF", {"compression": "tiff_deflate"}),
        "float tiff": (Image.fromarray(pixels[..., 0].astype(np.float32) / 255), "TIFF", {}),
        "avif": (image, "AVIF", {}),
    }
    seeds = {}
    for name, (picture, fmt, options) in variants.items():
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **options)
        seeds[name] = buffer.getvalue()
    return seeds


SEEDS = _seeds()


@st.composite
def mutated_images(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and at < len(data):
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
    return bytes(data)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images())
def test_mutated_images_decode_or_raise_image_load_error(data):
    try:
        rgb = load_rgb(data)
    except ImageLoadError as error:
        assert str(error)
        return
    assert isinstance(rgb, np.ndarray)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert min(rgb.shape[:2]) >= MIN_IMAGE_SIDE


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_escape_as_another_exception(data):
    try:
        load_rgb(data)
    except ImageLoadError:
        pass


def test_every_seed_decodes():
    for name, data in SEEDS.items():
        rgb = load_rgb(data)
        assert rgb.shape in ((24, 32, 3), (32, 24, 3)), name
