"""Images as ``data:`` URIs: how figures and tables carry a picture to the browser."""

from __future__ import annotations

import base64

import cv2
import numpy as np

# A JPEG is a tenth of a PNG's size and far smaller than Plotly's pixel array (a 240x240 map: 20 KB against 230 KB)
JPEG_QUALITY = 90


def jpeg_data_uri(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """An RGB uint8 image as a ``data:image/jpeg;base64,…`` URI ("" when it cannot be encoded)."""
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii") if ok else ""
