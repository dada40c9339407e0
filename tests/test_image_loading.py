"""Every odd file a person may upload gets a correct RGB array or a clear ImageLoadError."""

from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from face2data import image_loading
from face2data.image_loading import (
    FORMATS,
    ImageLoadError,
    load_rgb,
    load_rgb_file,
    load_rgb_scaled,
    pil_to_rgb,
    read_image_bytes,
)
from face2data.limits import DECODE_PIXELS, MAX_FILE_BYTES, MAX_JPEG_SCANS, MAX_PIXELS, MIN_IMAGE_SIDE

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(7)
NOISE = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def handmade_png(width: int, height: int, idat: bytes, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A PNG written byte by byte: IHDR (valid CRC), one IDAT of the given zlib data, IEND."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header for a huge RGB image and 100 rows of zeros: cheap to make, explosive to decode."""
    return handmade_png(width, height, zlib.compress(b"\0" * ((width * 3 + 1) * 100), 9))


def jpeg_with_scan_markers(count: int) -> bytes:
    """A valid JPEG with ``count`` start-of-scan byte pairs hidden in a comment segment."""
    data = encode(Image.fromarray(NOISE), "JPEG")
    comment = b"\xff\xda" * count
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]


def heif_header() -> bytes:
    return b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64)


def good(fmt: str) -> bytes:
    return encode(Image.fromarray(NOISE), fmt)


def cut(data: bytes, fraction: float = 0.6) -> bytes:
    return data[: int(len(data) * fraction)]


BAD_INPUTS = {
    # name: (make the bytes, what the message must say)
    "empty": (lambda: b"", "the file is empty"),
    "random bytes": (lambda: np.random.default_rng(1).bytes(3000), "not an image"),
    "text": (lambda: b"Dear reader,\nthis is a plain text file.\n" * 20, "not an image: this looks like a text file"),
    "html": (lambda: b"<!DOCTYPE html>\n<html><body><img src=face.jpg></body></html>", "web page"),
    "svg": (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9"/>', "SVG"),
    "pdf": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF document"),
    "postscript": (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "PostScript"),
    "photoshop": (lambda: b"8BPS\0\x01" + bytes(40), "Photoshop"),
    "zip": (lambda: b"PK\x03\x04" + bytes(60), "ZIP archive"),
    "heic": (heif_header, "HEIC/HEIF photo"),
    "truncated jpeg": (lambda: cut(good("JPEG")), "truncated"),
    "truncated png": (lambda: cut(good("PNG")), "truncated"),
    "truncated gif": (lambda: cut(good("GIF")), "truncated"),
    "truncated webp": (lambda: cut(good("WEBP")), "truncated"),
    "truncated tiff": (lambda: cut(good("TIFF")), "truncated"),
    "truncated avif": (lambda: cut(good("AVIF")), "truncated"),
    "jpeg header only": (lambda: good("JPEG")[:200], "truncated"),
    "1x1": (lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "image too small to find a face (1x1 px"),
    "10x10": (lambda: encode(Image.new("RGB", (10, 10)), "JPEG"), "image too small to find a face (10x10 px"),
    "thin strip": (lambda: encode(Image.new("L", (4000, 12)), "PNG"), "too small"),
    "100000x100000 png": (lambda: bomb_png(100_000, 100_000), "image too large"),
    "9000x9000 png": (lambda: bomb_png(9000, 9000), "image too large: 9000x9000 px (81 megapixels), the limit is 70"),
    "file over the byte limit": (lambda: b"\xff\xd8\xff" + bytes(MAX_FILE_BYTES), "the file is too large (50 MB"),
    "jpeg with too many scans": (lambda: jpeg_with_scan_markers(MAX_JPEG_SCANS + 1), "more than 1000 scans"),
    "unsupported format (pcx)": (lambda: good("PCX"), "not an image (or an image format that is not supported"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_message(name):
    make, message = BAD_INPUTS[name]
    with pytest.raises(ImageLoadError) as caught:
        load_rgb(make())
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (9000, 9000), (MAX_PIXELS // 1000 + 1, 1000)])
def test_oversized_image_is_refused_from_its_header_without_decoding(monkeypatch, width, height):
    decoded = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self) or original(self))
    data = bomb_png(width, height)
    started = time.perf_counter()
    with pytest.raises(ImageLoadError, match="image too large"):
        load_rgb(data)
    assert time.perf_counter() - started < 5  # decoding 10^10 pixels would take minutes, or exhaust memory
    assert decoded == []  # rejected on the header: no pixel memory was ever allocated


def test_image_exactly_at_the_pixel_limit_passes_the_header_check():
    width = 10_000
    height = MAX_PIXELS // width
    compressor = zlib.compressobj(9)
    rows = compressor.compress(b"\0" * ((width * 3 + 1) * 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    data = handmade_png(width, height, rows)
    # The zlib stream stops after 20 rows: refused as truncated while decoding, not for its size.
    with pytest.raises(ImageLoadError, match="truncated"):
        load_rgb(data)


def test_pillow_bomb_limit_is_ours():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF", "AVIF"])
def test_every_supported_format_decodes(fmt):
    lossless = fmt in ("PNG", "BMP", "TIFF")
    options = {"lossless": True} if fmt == "WEBP" else {}
    rgb = load_rgb(encode(Image.fromarray(NOISE), fmt, **options))
    assert rgb.shape == NOISE.shape and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    if lossless or fmt == "WEBP":
        np.testing.assert_array_equal(rgb, NOISE)


def test_bytes_like_inputs_are_accepted_and_other_types_are_a_programming_error():
    data = good("PNG")
    np.testing.assert_array_equal(load_rgb(bytearray(data)), NOISE)
    np.testing.assert_array_equal(load_rgb(memoryview(data)), NOISE)
    with pytest.raises(TypeError):
        load_rgb("face.png")


def test_huge_valid_photo_within_the_limits_decodes():
    tile = RNG.integers(0, 256, (400, 600, 3), dtype=np.uint8)
    data = encode(Image.fromarray(np.tile(tile, (10, 10, 1))), "JPEG", quality=80)
    assert len(data) < MAX_FILE_BYTES
    rgb = load_rgb(data)
    assert rgb.shape == (4000, 6000, 3)
    assert abs(float(rgb[:400, :600].mean()) - float(tile.mean())) < 2


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG of a few hundred bytes whose header claims ``width`` x ``height`` (its one block then ends early:
    libjpeg fills the rest with grey)."""
    data = bytearray(encode(Image.new("RGB", (64, 64), (128, 128, 128)), "JPEG"))
    struct.pack_into(">HH", data, data.index(b"\xff\xc0") + 5, height, width)  # SOF0: lines, then samples per line
    return bytes(data)


@pytest.mark.parametrize(
    ("width", "height", "decoded"),
    [(8000, 8000, (4000, 4000)), (9248, 6936, (4624, 3468)), (20_000, 3000, (10_000, 1500))],
)
def test_a_jpeg_far_larger_than_needed_is_decoded_at_reduced_size(monkeypatch, width, height, decoded):
    loads = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.size) or original(self))
    data = jpeg_claiming(width, height)
    started = time.process_time()
    rgb = load_rgb(data)
    assert len(data) < 5000 and set(loads) == {decoded} and rgb.shape == (decoded[1], decoded[0], 3)
    assert decoded[0] * decoded[1] <= DECODE_PIXELS < width * height
    assert time.process_time() - started < 2  # 64 megapixels decoded whole took 3 s of CPU and 0.9 GB
    assert load_rgb_scaled(data)[1] == pytest.approx(width / decoded[0])  # boxes are given in the photo's pixels


def test_a_png_larger_than_needed_is_averaged_down_once_decoded_and_its_boxes_map_back():
    from conftest import ASTRONAUT

    from face2data.predictor import Predictor

    photo = Image.new("RGB", (7200, 4000), (118, 118, 118))  # 28.8 megapixels: more than DECODE_PIXELS
    photo.paste(Image.open(ASTRONAUT).resize((1200, 1200)), (3000, 1400))
    data = encode(photo, "PNG")
    rgb, scale = load_rgb_scaled(data)
    assert rgb.shape == (2000, 3600, 3) and scale == 2.0  # what follows holds a quarter of the pixels
    assert rgb.shape[0] * rgb.shape[1] <= DECODE_PIXELS < 7200 * 4000
    [face] = Predictor().predict_photo("big.png", data).faces
    x, y, width, height = face.box  # in the photo's pixels, around the pasted face
    assert 3000 <= x < x + width <= 4200 and 1400 <= y < y + height <= 2600 and width > 150


def _transparent_palette() -> Image.Image:
    image = Image.new("P", (400, 200), 0)
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.paste(1, (0, 0, 200, 200))  # left half colour 1, right half colour 0 (transparent)
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize(
    ("make", "left", "right"),
    [
        (_transparent_palette, (200, 100, 50), (255, 255, 255)),  # composited on white
        (lambda: Image.new("I;16", (400, 200), 65535), (255, 255, 255), (255, 255, 255)),
        (lambda: Image.new("F", (400, 200), 0.5), (128, 128, 128), (128, 128, 128)),
        (lambda: Image.new("1", (400, 200), 1), (255, 255, 255), (255, 255, 255)),
        (lambda: Image.new("LA", (400, 200), (0, 0)), (255, 255, 255), (255, 255, 255)),
    ],
)
def test_a_large_image_of_any_mode_is_averaged_down_before_its_pixels_are_converted(monkeypatch, make, left, right):
    # A 70-megapixel palette PNG with transparency took 1.5 GB to composite at full size; every mode is now reduced
    # first (here DECODE_PIXELS is made small, so a 400x200 image counts as large)
    monkeypatch.setattr(image_loading, "DECODE_PIXELS", 20_000)
    converted = []
    original = image_loading.pil_to_rgb
    monkeypatch.setattr(image_loading, "pil_to_rgb", lambda image: converted.append(image.size) or original(image))
    image = make()
    rgb, scale = load_rgb_scaled(encode(image, "TIFF" if image.mode == "F" else "PNG"))
    assert converted == [(200, 100)] and rgb.shape == (100, 200, 3) and scale == 2.0
    assert tuple(rgb[50, 40]) == left and tuple(rgb[50, 160]) == right


def test_smallest_accepted_image_side():
    assert load_rgb(encode(Image.new("RGB", (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)), "PNG")).shape[:2] == (20, 20)
    with pytest.raises(ImageLoadError, match="too small"):
        load_rgb(encode(Image.new("RGB", (MIN_IMAGE_SIDE - 1, 200)), "PNG"))


# ---- modes: every one Pillow opens becomes the right RGB --------------------------------------


def gradient16(width: int = 256, height: int = 24) -> np.ndarray:
    return np.tile(np.linspace(0, 65535, width).round().astype(np.uint16), (height, 1))


def assert_full_range_gradient(rgb: np.ndarray) -> None:
    assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
    row = rgb[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)
    assert abs(row[len(row) // 2] - 128) <= 1
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])


def test_16bit_grayscale_png_uses_the_full_range_not_clipped():
    data = encode(Image.fromarray(gradient16()), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    assert_full_range_gradient(load_rgb(data))


@pytest.mark.parametrize("dtype", ["<u2", ">u2"])
def test_16bit_tiff_little_and_big_endian_scale_to_full_range(dtype):
    data = encode(Image.fromarray(gradient16().astype(dtype)), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == ("I;16" if dtype == "<u2" else "I;16B")
    assert_full_range_gradient(load_rgb(data))


@pytest.mark.parametrize(("mode", "dtype"), [("I;16L", "<u2"), ("I;16N", "=u2"), ("I;16B", ">u2")])
def test_every_16bit_mode_scales_to_full_range(mode, dtype):
    values = gradient16()
    image = Image.frombytes(mode, (values.shape[1], values.shape[0]), values.astype(dtype).tobytes())
    assert_full_range_gradient(pil_to_rgb(image))


def test_16bit_rgb_png_keeps_its_colours():
    width, height = 256, 24
    values = np.linspace(0, 65535, width).round().astype(">u2")
    pixel_row = np.stack([values, 65535 - values, np.full(width, 32768, ">u2")], axis=1)
    rows = b"".join(b"\0" + pixel_row.astype(">u2").tobytes() for _ in range(height))
    rgb = load_rgb(handmade_png(width, height, zlib.compress(rows), bit_depth=16, colour_type=2))
    assert rgb.shape == (height, width, 3)
    assert (rgb[0, 0] == [0, 255, 128]).all() and (rgb[0, -1] == [255, 0, 128]).all()


def test_32bit_integer_tiff_in_16bit_range_scales_like_16bit():
    data = encode(Image.fromarray(gradient16().astype(np.int32), mode="I"), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    assert_full_range_gradient(load_rgb(data))


def test_32bit_integer_tiff_with_negative_values_is_stretched():
    values = np.tile(np.linspace(-100_000, 300_000, 200).astype(np.int32), (30, 1))
    assert_full_range_gradient(load_rgb(encode(Image.fromarray(values, mode="I"), "TIFF")))


def test_float_tiff_in_0_1_is_scaled_by_255():
    values = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (30, 1))
    rgb = load_rgb(encode(Image.fromarray(values, mode="F"), "TIFF"))
    np.testing.assert_array_equal(rgb[0, :, 0], np.arange(256))


def test_float_image_out_of_range_or_with_nan_is_stretched():
    values = np.tile(np.linspace(-5, 5, 256, dtype=np.float32), (30, 1))
    assert_full_range_gradient(pil_to_rgb(Image.fromarray(values, mode="F")))
    values[0, 3] = np.nan
    assert pil_to_rgb(Image.fromarray(values, mode="F")).shape == (30, 256, 3)


def test_bilevel_and_grayscale():
    checker = (np.indices((24, 24)).sum(axis=0) % 2).astype(bool)
    rgb = load_rgb(encode(Image.fromarray(checker), "PNG"))
    np.testing.assert_array_equal(rgb[..., 0], np.where(checker, 255, 0))
    gray = np.tile(np.arange(256, dtype=np.uint8), (24, 1))
    np.testing.assert_array_equal(load_rgb(encode(Image.fromarray(gray), "PNG")), np.repeat(gray[..., None], 3, 2))


CMYK_PURE = {
    (255, 0, 0, 0): (0, 255, 255),  # cyan
    (0, 255, 0, 0): (255, 0, 255),  # magenta
    (0, 0, 255, 0): (255, 255, 0),  # yellow
    (0, 0, 0, 255): (0, 0, 0),  # black
    (0, 0, 0, 0): (255, 255, 255),  # paper white
}


def cmyk_stripes() -> Image.Image:
    image = Image.new("CMYK", (16 * len(CMYK_PURE), 24))
    for i, cmyk in enumerate(CMYK_PURE):
        image.paste(cmyk, (16 * i, 0, 16 * i + 16, 24))
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_pure_colours_map_to_the_right_rgb(fmt):
    data = encode(cmyk_stripes(), fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    if fmt == "JPEG":
        assert b"Adobe" in data  # an Adobe (inverted) CMYK JPEG, like Photoshop writes
    rgb = load_rgb(data)
    for i, expected in enumerate(CMYK_PURE.values()):
        np.testing.assert_allclose(rgb[12, 16 * i + 8], expected, atol=4)


def test_png_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (24, 24), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 12, 24))
    rgb = load_rgb(encode(image, "PNG", transparency=1))
    assert (rgb[:, :12] == 255).all()  # transparent green became white, not green or black
    assert (rgb[:, 12:] == [255, 0, 0]).all()


def test_gif_transparency_is_composited_on_white():
    image = Image.new("P", (24, 24), 0)
    image.putpalette([0, 0, 255, 9, 9, 9] + [0] * 762)
    image.paste(1, (0, 0, 24, 5))
    rgb = load_rgb(encode(image, "GIF", transparency=1))
    assert (rgb[:5] == 255).all() and (rgb[5:] == [0, 0, 255]).all()


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGBA"), ("PNG", "LA"), ("TIFF", "PA"), ("WEBP", "RGBA")])
def test_alpha_is_composited_on_white(fmt, mode):
    alpha = np.tile(np.array([0, 128, 255], dtype=np.uint8).repeat(8), (24, 1))
    rgba = np.dstack([np.full((24, 24, 3), 40, np.uint8), alpha])
    if mode == "PA":  # Pillow cannot convert to PA keeping the alpha: build it
        image = Image.new("P", (24, 24), 0)
        image.putpalette([40, 40, 40] * 256)
        image = image.convert("PA")
        image.putalpha(Image.fromarray(alpha))
    else:
        image = Image.fromarray(rgba, "RGBA").convert(mode)
    rgb = load_rgb(encode(image, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    np.testing.assert_allclose(rgb[10, 2], [255, 255, 255], atol=1)  # transparent: the background
    np.testing.assert_allclose(rgb[10, 10], [148, 148, 148], atol=2)  # half: 40 * 128/255 + 255 * 127/255
    np.testing.assert_allclose(rgb[10, 20], [40, 40, 40], atol=1)  # opaque: the colour


def test_premultiplied_alpha_modes():
    straight = Image.new("RGBA", (24, 24), (200, 100, 50, 128))
    expected = np.array([200, 100, 50]) * 128 / 255 + 255 * 127 / 255
    np.testing.assert_allclose(pil_to_rgb(straight.convert("RGBa"))[0, 0], expected, atol=2)
    gray = Image.new("LA", (24, 24), (200, 128))
    np.testing.assert_allclose(pil_to_rgb(gray.convert("La"))[0, 0], [200 * 128 / 255 + 255 * 127 / 255] * 3, atol=2)


def test_grayscale_and_rgb_with_a_transparent_colour():
    rgb = load_rgb(encode(Image.new("RGB", (24, 24), (1, 2, 3)), "PNG", transparency=(1, 2, 3)))
    assert (rgb == 255).all()
    rgb = load_rgb(encode(Image.new("L", (24, 24), 7), "PNG", transparency=7))
    assert (rgb == 255).all()


COLOUR = (200, 30, 40)


@pytest.mark.parametrize("mode", ["YCbCr", "LAB", "HSV", "RGBX", "CMYK", "P"])
def test_other_colour_spaces_round_trip_to_rgb(mode):
    rgb_image = Image.new("RGB", (24, 24), COLOUR)
    if mode == "LAB":
        to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
        image = ImageCms.applyTransform(rgb_image, to_lab)
    elif mode == "P":
        image = rgb_image.convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = rgb_image.convert(mode)
    if mode in ("YCbCr", "LAB", "CMYK"):  # modes a TIFF can hold: through the file
        data = encode(image, "TIFF")
        assert Image.open(io.BytesIO(data)).mode == mode
        rgb = load_rgb(data)
    else:
        rgb = pil_to_rgb(image)
    np.testing.assert_allclose(rgb[5, 5], COLOUR, atol=4)


def test_embedded_icc_profile_is_applied_and_a_broken_one_ignored():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.fromarray(NOISE)
    np.testing.assert_allclose(load_rgb(encode(image, "PNG", icc_profile=srgb)), NOISE, atol=2)
    np.testing.assert_array_equal(load_rgb(encode(image, "PNG", icc_profile=b"not a profile" * 9)), NOISE)


# ---- animation and orientation ------------------------------------------------------------------

FRAMES = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


@pytest.mark.parametrize(("fmt", "options"), [("GIF", {}), ("PNG", {}), ("WEBP", {"lossless": True})])
def test_animated_image_gives_its_first_frame(fmt, options):
    frames = [Image.new("RGB", (32, 24), colour) for colour in FRAMES]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    rgb = load_rgb(data)
    assert rgb.shape == (24, 32, 3)
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(axis=0), FRAMES[0], atol=2)


def marked_photo() -> np.ndarray:
    """60 wide x 40 high, blue, with a red square in the top-left corner."""
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[...] = (0, 0, 255)
    pixels[:12, :12] = (255, 0, 0)
    return pixels


def with_orientation(pixels: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(pixels), "JPEG", quality=95, exif=exif.tobytes())


def is_red(pixel: np.ndarray) -> bool:
    return pixel[0] > 200 and pixel[2] < 60


@pytest.mark.parametrize(
    ("orientation", "shape", "red_corner"),
    [
        (1, (40, 60, 3), (3, 3)),  # upright: top-left
        (3, (40, 60, 3), (-4, -4)),  # upside down: turned 180 degrees, bottom-right
        (6, (60, 40, 3), (3, -4)),  # camera turned right: rotate 90 clockwise, top-left goes top-right
        (8, (60, 40, 3), (-4, 3)),  # camera turned left: rotate 90 anticlockwise, top-left goes bottom-left
    ],
)
def test_exif_orientation_is_applied(orientation, shape, red_corner):
    rgb = load_rgb(with_orientation(marked_photo(), orientation))
    assert rgb.shape == shape
    assert is_red(rgb[red_corner])
    assert sum(is_red(rgb[y, x]) for y in (3, -4) for x in (3, -4)) == 1


BROKEN_EXIFS = [
    b"Exif\0\0MM\0\x2a\0\0\0\x08" + b"\xff" * 40,  # an IFD with 65535 entries and no room for them
    b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x09\0\0\0",  # orientation 9 does not exist
    b"Exif\0\0II*\0\xff\xff\xff\x7f",  # the first IFD points far beyond the data
    b"Exif\0\0garbage",
]


def with_exif(exif: bytes) -> bytes:
    data = encode(Image.fromarray(marked_photo()), "JPEG", quality=95)
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:]


@pytest.mark.parametrize("exif", BROKEN_EXIFS)
def test_broken_exif_is_ignored(exif):
    rgb = load_rgb(with_exif(exif))
    assert rgb.shape == (40, 60, 3) and is_red(rgb[3, 3])


def test_pillows_warnings_do_not_reach_the_logs():
    # In a fresh process with Python's default filters (pytest records warnings itself): Pillow's "corrupt EXIF"
    # and decompression-bomb warnings would print details of an upload to stderr.
    photos = [with_exif(exif) for exif in BROKEN_EXIFS] + [bomb_png(9000, 8000)]
    script = (
        "import sys, pickle\n"
        "from face2data.image_loading import ImageLoadError, load_rgb\n"
        "for data in pickle.loads(sys.stdin.buffer.read()):\n"
        "    try:\n        load_rgb(data)\n    except ImageLoadError:\n        pass\n"
    )
    done = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(photos), capture_output=True,
                          cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode(errors="replace")


def test_photos_decode_side_by_side_in_threads_as_they_do_one_by_one():
    photos = [encode(Image.fromarray(marked_photo()).rotate(angle), fmt) for angle in (0, 90) for fmt in FORMATS[:4]]
    photos += [with_exif(exif) for exif in BROKEN_EXIFS]
    filters = list(warnings.filters)
    alone = [load_rgb(data) for data in photos]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(load_rgb, photos * 4))
    assert all(np.array_equal(a, b) for a, b in zip(alone * 4, together, strict=True))
    assert warnings.filters == filters  # per-decode warning contexts raced here and left filters behind


# ---- files and privacy ----------------------------------------------------------------------------


def test_files_are_size_checked_before_reading(tmp_path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as handle:  # sparse: no disk space used
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ImageLoadError, match="the file is too large"):
        read_image_bytes(huge)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_rgb_file(tmp_path / "missing.jpg")
    with pytest.raises(ImageLoadError, match="folder"):
        load_rgb_file(tmp_path)
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_rgb_file("/dev/zero")  # would never end if read
    (tmp_path / "face.png").write_bytes(good("PNG"))
    np.testing.assert_array_equal(load_rgb_file(str(tmp_path / "face.png")), NOISE)


def test_decoding_writes_nothing_to_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF", "AVIF"):
        load_rgb(good(fmt))
    for data in (b"%PDF-1.4", cut(good("JPEG")), bomb_png(100_000, 100_000)):
        with pytest.raises(ImageLoadError):
            load_rgb(data)
    assert [p.name for p in tmp_path.rglob("*")] == ["tmp"]


def test_a_32_bit_integer_tiff_holding_8_bit_values_is_not_black():
    values = np.tile(np.arange(0, 256, dtype=np.int32), (24, 1))
    data = encode(Image.fromarray(values, mode="I"), "TIFF")
    rgb = load_rgb(data)
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255 and rgb[0, 128, 0] == 128
