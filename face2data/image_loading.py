"""The one function that turns bytes a user or a data set hands us into an RGB array."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps


class ImageLoadError(ValueError):
    """An input that cannot be used as an image, with a message a person understands."""


def load_rgb(data: bytes) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array (H, W, 3), EXIF orientation applied."""
    if not data:
        raise ImageLoadError("the file is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            image = ImageOps.exif_transpose(image)
            return np.asarray(image.convert("RGB"))
    except Image.UnidentifiedImageError as error:
        raise ImageLoadError("not an image") from error
    except OSError as error:
        raise ImageLoadError(f"the image cannot be decoded ({error})") from error
