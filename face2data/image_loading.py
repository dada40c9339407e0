"""The one function that turns bytes a user or a data set hands us into an RGB array.

Everything that reads an image (the app, the CLI, training) goes through
:func:`load_rgb`, so every odd file gets the same checks and the same clear answer:

* sizes are checked before decoding: the byte count first, then the pixel count
  from the header (Pillow reads only the header in ``Image.open``), so a
  decompression bomb is refused without allocating its pixels;
* a JPEG of more than ``DECODE_PIXELS`` is decoded at 1/2, 1/4 or 1/8 of its size
  (so its array is that much smaller), which bounds the cost of a small file whose
  header claims a huge image; an image of another format is averaged down as much
  once decoded, so what follows (detection, alignment, the queue of photos in
  flight) never holds more than ``DECODE_PIXELS`` per photo;
* only common photo formats are decoded (``FORMATS``); PostScript, PSD and the
  other formats Pillow can read are refused, which keeps the attack surface small;
* the first frame of an animation is used and the EXIF orientation is applied
  (a broken EXIF block is ignored rather than fatal);
* every mode Pillow opens is converted to RGB: transparency is composited on
  white, 16-bit images are scaled to 0..255 (not clipped), CMYK and RGB images
  with an embedded ICC profile are converted to sRGB through it;
* every failure is an :class:`ImageLoadError` whose message a person understands.

Nothing is written to disk or logged: the bytes stay in memory.
"""

from __future__ import annotations

import io
import re
import stat
import threading
import warnings
from os import PathLike
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

from face2data.limits import DECODE_PIXELS, DECODES_AT_ONCE, MAX_FILE_BYTES, MAX_JPEG_SCANS, MAX_PIXELS, MIN_IMAGE_SIDE

# Formats decoded: Pillow's name -> the name people know. JPEG includes MPO, the multi-picture JPEG some cameras
# write.
FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "BMP": "BMP", "WEBP": "WebP", "TIFF": "TIFF",
                "AVIF": "AVIF"}  # fmt: skip
FORMATS = tuple(FORMAT_NAMES)
SUPPORTED = ", ".join(list(FORMAT_NAMES.values())[:-1]) + " or " + list(FORMAT_NAMES.values())[-1]

# Deliberately shared with Pillow: anything in this process that opens an image gets a
# DecompressionBombWarning above our limit and a DecompressionBombError above twice it.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Image.open(formats=...) looks the names up among the plugins loaded so far.
Image.init()

# Transparent pixels are composited on white: what a browser shows on a light page,
# and what the person uploading a cut-out portrait expects to see around the face.
BACKGROUND = 255

# At most DECODES_AT_ONCE decodes in this process: peak memory stays that of as many MAX_PIXELS images however many
# uploads arrive together, while a set of large photos is decoded on every core (Pillow decodes outside Python's
# lock).
_DECODES = threading.BoundedSemaphore(DECODES_AT_ONCE)


def decode_one_at_a_time() -> None:
    """Have this process decode one image at a time: a server whose event loop must keep answering (the HTTP API)
    leaves it a core; its other worker thread still detects and runs the model."""
    global _DECODES
    _DECODES = threading.BoundedSemaphore(1)


# Pillow's warnings (a decompression bomb, which the header check refuses anyway; corrupt EXIF, odd chunks) would
# only leak details of an upload to the logs. Filtered once for the process: ``warnings.catch_warnings`` around each
# decode is not thread-safe.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
warnings.filterwarnings("ignore", module=r"PIL(\.|$)")

ORIENTATION_TAG = 0x0112
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
TRUNCATED = "the image is truncated: the file ends before the image does (an interrupted upload or copy?)"


class ImageLoadError(ValueError):
    """An input that cannot be used as an image, with a message a person understands."""


class ImageTooLargeError(ImageLoadError):
    """Too many bytes or pixels (the HTTP API answers 413)."""


class UnsupportedImageError(ImageLoadError):
    """A recognisable file of a kind that is not a supported image, e.g. a PDF or a HEIC photo (HTTP 415)."""


def load_rgb(data: bytes) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array (H, W, 3), EXIF orientation applied.

    An image of more than DECODE_PIXELS is returned at a reduced size (a JPEG decoded reduced, ``_reduce``;
    another format averaged down once decoded, ``_reduced``; ``load_rgb_scaled`` says by how much). Raises
    ImageLoadError with a readable message for an empty, oversized, undersized, truncated, damaged or non-image
    input.
    """
    return load_rgb_scaled(data)[0]


def load_rgb_scaled(data: bytes) -> tuple[np.ndarray, float]:
    """``load_rgb``'s array and the photo's size over the array's (1.0 unless the photo has more than
    DECODE_PIXELS): multiply the array's pixel coordinates by it to get the photo's."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"load_rgb takes the file's bytes, not {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise ImageLoadError("the file is empty")
    if size > MAX_FILE_BYTES:
        raise ImageTooLargeError(f"the file is too large ({_mb(size)}, the limit is {_mb(MAX_FILE_BYTES)})")
    with _DECODES:
        try:
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                _check_header(image, data)
                full_side = max(image.size)
                _reduce(image)
                image.load()
                rgb = pil_to_rgb(_apply_orientation(_reduced(image)))
            return rgb, full_side / max(rgb.shape[:2])
        except ImageLoadError:
            raise
        except Image.DecompressionBombError as error:
            raise ImageTooLargeError(_too_large_from_pillow(str(error))) from error
        except Image.UnidentifiedImageError as error:
            unsupported = _looks_like(bytes(data[:4096])) is not None
            raise (UnsupportedImageError if unsupported else ImageLoadError)(_not_an_image(data)) from error
        except MemoryError as error:
            raise ImageTooLargeError("the image is too large to decode in the memory available") from error
        except Exception as error:  # Pillow's decoders raise a zoo of types on bad data
            raise ImageLoadError(_decode_failure(error, data)) from error


def load_rgb_file(path: str | PathLike) -> np.ndarray:
    """:func:`load_rgb` for a file on disk; its size is checked before it is read."""
    return load_rgb(read_image_bytes(path))


def read_image_bytes(path: str | PathLike) -> bytes:
    """The bytes of an image file, refusing a missing, unreadable, special or oversized file before reading it."""
    path = Path(path)
    too_large = "the file is too large ({}, the limit is " + _mb(MAX_FILE_BYTES) + ")"
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ImageLoadError("this is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):  # a pipe or device could block or never end
            raise ImageLoadError("this is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ImageTooLargeError(too_large.format(_mb(info.st_size)))
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat()
    except FileNotFoundError:
        raise ImageLoadError("no such file") from None
    except PermissionError:
        raise ImageLoadError("the file cannot be read (permission denied)") from None
    except OSError as error:
        raise ImageLoadError(f"the file cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageTooLargeError(too_large.format("over " + _mb(MAX_FILE_BYTES)))
    return data


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow image, whatever its mode, as an RGB uint8 array (H, W, 3)."""
    mode = image.mode
    if mode.startswith("I;16"):
        gray = _scale_16bit(np.asarray(image))
    elif mode == "I":
        gray = _scale_int32(np.asarray(image), _stored_bits(image))
    elif mode == "F":
        gray = _scale_float(np.asarray(image))
    elif mode in ("LA", "La", "PA", "RGBA", "RGBa") or image.has_transparency_data:
        return _composite(image)
    elif mode in ("RGB", "CMYK") and image.info.get("icc_profile"):
        return np.array(_to_srgb(image), dtype=np.uint8)
    elif mode == "RGB":  # one copy of the pixels, not two (convert would copy an RGB image first)
        return np.array(image, dtype=np.uint8)
    else:
        return np.array(image.convert("RGB"), dtype=np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _check_header(image: Image.Image, data: bytes) -> None:
    """Refuse on the header alone: too many pixels, too small, or a JPEG with too many scans."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(
            f"image too large: {width}x{height} px ({_megapixels(width * height)} megapixels), "
            f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels"
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageLoadError(
            f"image too small to find a face ({width}x{height} px, the smallest is {MIN_IMAGE_SIDE} px a side)"
        )
    # Outside entropy-coded data 0xFF is stuffed, so this counts the start-of-scan markers
    # (plus those of an embedded thumbnail, which the generous limit absorbs).
    if image.format in ("JPEG", "MPO") and bytes(data).count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise ImageLoadError(f"the JPEG has more than {MAX_JPEG_SCANS} scans; it is damaged or crafted")


def _reduce(image: Image.Image) -> None:
    """Have a JPEG of more than DECODE_PIXELS decoded at 1/2, 1/4 or 1/8 of its size, the least that fits."""
    width, height = image.size
    if image.format not in ("JPEG", "MPO") or width * height <= DECODE_PIXELS:
        return
    # The reduced size rounds up; 1/8 is the most libjpeg can do.
    divisor = _divisor(width, height)
    image.draft(None, (width // divisor, height // divisor))  # decodes at 1/divisor: the largest scale this fits


def _divisor(width: int, height: int) -> int:
    """1, or the least of 2, 4 and 8 that brings an image to at most DECODE_PIXELS (sizes rounded up)."""
    return next((d for d in (1, 2, 4) if -(-width // d) * -(-height // d) <= DECODE_PIXELS), 8)


# Modes whose values Pillow's reduce averages as they are
_AVERAGED = ("RGB", "RGBA", "L", "LA", "CMYK", "I", "F")


def _reduced(image: Image.Image) -> Image.Image:
    """A decoded image of more than DECODE_PIXELS averaged down by ``_divisor`` (other formats than JPEG cannot
    be decoded reduced), before its pixels are copied into arrays: what follows (compositing, scaling a 16-bit or
    float image) works on at most DECODE_PIXELS. Palette, 1-bit and 16-bit images are first converted to a mode
    whose values average (a 70-megapixel palette PNG with transparency took 1.5 GB composited whole)."""
    divisor = _divisor(*image.size)
    if divisor == 1:
        return image
    if image.mode not in _AVERAGED:
        image = image.convert(_averaged_mode(image))
    return image.reduce(divisor)


def _averaged_mode(image: Image.Image) -> str:
    if image.mode.startswith("I;16"):
        return "I"
    if image.mode == "1":
        return "L"
    if image.mode == "La":
        return "LA"
    return "RGBA" if image.mode in ("PA", "RGBa") or image.has_transparency_data else "RGB"


def _apply_orientation(image: Image.Image) -> Image.Image:
    """The image turned upright by its EXIF orientation; unchanged when the EXIF is unreadable."""
    try:
        # Checked first because exif_transpose copies even an upright image.
        if image.getexif().get(ORIENTATION_TAG, 1) in range(2, 9):
            return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose an otherwise good photo
        pass
    return image


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """Full-range 16-bit values (0..65535) to 0..255, rounded: v / 257."""
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _stored_bits(image: Image.Image) -> int | None:
    """Bits per sample a TIFF declares (None for other formats)."""
    bits = getattr(image, "tag_v2", {}).get(258) if image.format == "TIFF" else None
    return int(bits[0] if isinstance(bits, tuple) else bits) if bits else None


def _scale_int32(values: np.ndarray, bits: int | None = None) -> np.ndarray:
    """Mode "I": Pillow uses it for 16-bit data (0..65535). A 32-bit file's values are read in the smallest range
    that holds them (8-bit values stored in 32 bits are 8-bit, not near-black 16-bit); any other range is
    stretched to 0..255."""
    if values.size and values.min() >= 0 and values.max() <= 255 and bits == 32:
        return values.astype(np.uint8)
    if values.size and values.min() >= 0 and values.max() <= 65535:
        return _scale_16bit(values)
    return _stretch(values.astype(np.float32))


def _scale_float(values: np.ndarray) -> np.ndarray:
    """Mode "F": 0..1 is the usual convention for float images; any other range is stretched."""
    values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0, copy=False)
    if values.size and values.min() >= 0.0 and values.max() <= 1.0:
        values *= 255
        return np.rint(values, out=values).astype(np.uint8)
    return _stretch(values)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Map the value range linearly onto 0..255 (a constant image becomes black)."""
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    values -= low
    values *= 255.0 / (high - low)
    return np.rint(values, out=values).astype(np.uint8)


_STRIP_ROWS = 256


def _composite(image: Image.Image) -> np.ndarray:
    """An image with transparency, composited on BACKGROUND (straight alpha)."""
    if image.mode == "La":
        image = image.convert("LA")
    rgba = np.asarray(image.convert("RGBA"))
    rgb = np.empty((*rgba.shape[:2], 3), np.uint8)
    for top in range(0, rgba.shape[0], _STRIP_ROWS):  # in strips: 16-bit sums of a whole photo took gigabytes
        strip = rgba[top : top + _STRIP_ROWS].astype(np.uint16)
        alpha = strip[:, :, 3:]
        rgb[top : top + _STRIP_ROWS] = (strip[:, :, :3] * alpha + BACKGROUND * (255 - alpha) + 127) // 255
    return rgb


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or CMYK through its embedded ICC profile to sRGB; Pillow's plain conversion when the profile fails."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        if source.profile.xcolor_space.strip() != image.mode:
            raise ValueError("the profile is for another colour space")
        # profileToProfile returns None only with inPlace=True, which is not used here
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")  # type: ignore[return-value]
    except Exception:  # a bad profile costs colour accuracy, not the photo
        return image.convert("RGB")


def _megapixels(pixels: int) -> str:
    """Megapixels of an image over MAX_PIXELS, with as many decimals as it takes to read above the limit."""
    for decimals in range(4):
        if round(pixels / 1e6, decimals) > MAX_PIXELS / 1e6:
            return f"{pixels / 1e6:.{decimals}f}"
    return f"{pixels / 1e6:.6f}"


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MB"


def _too_large_from_pillow(message: str) -> str:
    """Pillow's bomb error names only the pixel count; say it in megapixels."""
    found = re.search(r"\((\d+) pixels\)", message)
    pixels = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "far more pixels than allowed"
    return f"image too large: {pixels}, the limit is {MAX_PIXELS / 1e6:.0f} megapixels"


def _decode_failure(error: Exception, data: bytes) -> str:
    text = str(error)
    lowered = text.lower()
    if isinstance(error, EOFError) or "truncated" in lowered or _container_truncated(data):
        return TRUNCATED
    detail = f" ({text[:120]})" if text else ""
    return f"the image is damaged and cannot be decoded{detail}"


def _container_truncated(data: bytes) -> bool:
    """Whether a WebP (RIFF) or AVIF (ISO BMFF) file is shorter than its own size fields say."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return int.from_bytes(head[4:8], "little") + 8 > len(data)
    if head[4:8] != b"ftyp":
        return False
    offset, boxes = 0, 0
    while offset + 8 <= len(data) and boxes < 1000:
        boxes += 1  # top-level boxes: 4-byte size (1 = 64-bit size follows), 4-byte type
        size = int.from_bytes(data[offset : offset + 4], "big")
        if size == 1 and offset + 16 <= len(data):
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:  # 0: the last box runs to the end of the file; 2..7: not a box size
            return False
        offset += size
    return offset > len(data)


# Signatures of files people upload by mistake, each with what to do instead.
_HINTS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document; export the page as PNG or JPEG and upload that"),
    (b"%!PS", "a PostScript/EPS file; export it as PNG or JPEG"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file; export it as PNG or JPEG"),
    (b"8BPS", "a Photoshop document; export it as PNG or JPEG"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document); upload the image itself"),
    (b"\x1f\x8b", "a gzip-compressed file; upload the image itself"),
    (b"\x89HDF", "an HDF5 data file"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_VIDEO_BRANDS = (b"isom", b"iso2", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5", b"avc1", b"dash")


def _not_an_image(data: bytes) -> str:
    """'not an image', with what the file looks like when that is recognisable."""
    kind = _looks_like(bytes(data[:4096]))
    if kind:
        return f"not an image: this looks like {kind}"
    if _container_truncated(data):
        return TRUNCATED
    return f"not an image (or an image format that is not supported; use {SUPPORTED})"


def _looks_like(head: bytes) -> str | None:
    for magic, kind in _HINTS:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return (
                "a HEIC/HEIF photo, which is not supported; export it as JPEG "
                "(iPhone: Settings > Camera > Formats > Most Compatible)"
            )
        if brand in _VIDEO_BRANDS:
            return "a video; upload a still photo"
    text = _as_text(head)
    if text is None:
        return None
    start = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in start[:4096] and (start.startswith("<?xml") or start.startswith("<svg") or start.startswith("<!--")):
        return "an SVG drawing, which is not supported; export it as PNG"
    if start.startswith(("<!doctype html", "<html", "<head", "<body", "<meta", "<div")):
        return "a web page (HTML); save or upload the picture itself, not the page"
    if start.startswith(("<?xml", "<")):
        return "an XML or markup text file"
    return "a text file"


def _as_text(head: bytes) -> str | None:
    """The head of the file as text when it is text (UTF-8 or UTF-16, almost all printable)."""
    encoding = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
    text = head.decode(encoding, errors="replace")
    printable = sum(ch != "\ufffd" and (ch.isprintable() or ch in "\r\n\t") for ch in text)
    return text if text and printable >= 0.95 * len(text) else None
