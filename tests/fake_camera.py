"""A video for Chromium's fake camera (``--use-file-for-fake-video-capture``), made from an image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 10, size: tuple[int, int] = (640, 480), fps: int = 30) -> Path:
    """A YUV4MPEG2 (C420) video of ``rgb`` centred on grey, played by the fake camera at ``fps`` frames a second."""
    width, height = size
    canvas = np.full((height, width, 3), 128, np.uint8)
    side = min(width, height)
    face = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    x0, y0 = (width - side) // 2, (height - side) // 2
    canvas[y0 : y0 + side, x0 : x0 + side] = face
    i420 = cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420).tobytes()  # Y plane, then U, then V
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + i420)
    return path
