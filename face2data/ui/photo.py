"""From the bytes a user hands the app to what the Predict page shows: checked, predicted, boxes drawn.

All in memory: the bytes are decoded, predicted on and dropped; nothing here writes or logs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from face2data.image_loading import ImageLoadError, load_rgb_scaled
from face2data.results import FaceResult, PhotoResult, Progress, encode_csv, shown_class_heads
from face2data.schema import Head
from face2data.ui.face_labels import FONT, Rect, label_text, layout_labels

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "assets" / "astronaut.jpg"
SAMPLE_CAPTION = "Sample: Eileen Collins, NASA astronaut — official NASA portrait, public domain."
# Longest side of the photo sent to the browser: enough to see every box, small enough to send quickly.
DISPLAY_SIDE = 1400
# Smaller photos are shown enlarged to about this side, so faces, boxes and labels stay readable.
MIN_DISPLAY_SIDE = 640
# On a narrow screen (a phone) the photo is drawn separately for a column about this wide (a 390-px phone), at
# twice that many pixels so that it stays crisp on the phone's dense screen, with labels sized for it.
NARROW_COLUMN_PX = 358
NARROW_DENSITY = 2
BOX_COLOURS = ((46, 111, 186), (217, 130, 43), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))
POSSIBLE_COLOUR = (235, 235, 235)  # the faint corners of a possible face, not read


class FacePredictor(Protocol):
    """What the page needs of ``face2data.predictor.Predictor``."""

    def predict_image(self, rgb: np.ndarray, progress: Progress | None = None, read_possible: bool = False) -> list: ...


@dataclass
class Analysis:
    """The outcome of one photo: the faces found, the annotated photo, or a message why there is none."""

    digest: str
    source: str
    result: PhotoResult | None = None  # the faces, in the decoded photo's pixels (see ``decode_scale``)
    read_possible: bool = False  # whether possible faces were read on request (then they are in ``faces``)
    photo: np.ndarray | None = None
    scale: float = 1.0  # shown photo pixels per original photo pixel
    narrow_photo: np.ndarray | None = None  # the same, drawn for a phone's column (NARROW_COLUMN_PX)
    narrow_scale: float = 1.0
    # The shown copies without boxes or labels, so the labels can be drawn again for other heads (``relabelled``).
    plain: np.ndarray | None = None
    narrow_plain: np.ndarray | None = None
    label_heads: tuple[str, ...] = ()  # the heads whose classes the labels on ``photo`` name
    decode_scale: float = 1.0  # photo pixels per decoded pixel (>1 for a very large JPEG decoded reduced)
    error: str | None = None
    file: str | None = None  # the uploaded file's name: what the downloads call the photo (else its source)

    @property
    def faces(self) -> list[FaceResult]:
        """The faces read."""
        return self.result.read if self.result is not None else []

    @property
    def possible(self) -> list[FaceResult]:
        """The possible faces, not read (the detector was not sure)."""
        return self.result.possible if self.result is not None else []

    def photo_result(self) -> PhotoResult:
        """The result as every other door gives it: boxes in the photo's own pixels, or the error."""
        if self.result is None:
            return PhotoResult(self.file or self.source, error=self.error)
        return self.result.in_photo_pixels(self.decode_scale)

    @property
    def ok(self) -> bool:
        """True when the photo was read (whether or not a face was found)."""
        return self.error is None


def digest_of(data: bytes) -> str:
    """A short fingerprint of an input, to recognise the same photo across reruns without keeping a copy."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def sample_bytes() -> bytes:
    """The shipped sample photo."""
    return SAMPLE_PATH.read_bytes()


def analyze(
    data: bytes,
    predictor: Callable[[], FacePredictor],
    source: str = "upload",
    progress: Progress | None = None,
    read_possible: bool = False,
    heads: Sequence[Head] | None = None,
    file: str | None = None,
) -> Analysis:
    """Check, decode and predict one photo; every failure of the input becomes a message in ``Analysis.error``.

    ``predictor`` is called only once the photo has been decoded, so a bad file is answered without a model.
    ``progress(read, found)`` is told how far the reading of the faces has come. Possible faces are kept apart,
    unread, unless ``read_possible``. The labels on the photo name the classes of ``heads`` (default: one head per
    attribute, ``results.labels_of``). ``file``, an uploaded file's name, is what the downloads call the photo.
    """
    result = Analysis(digest=digest_of(data), source=source, file=file, read_possible=read_possible)
    try:
        rgb, result.decode_scale = load_rgb_scaled(data)
        found = list(predictor().predict_image(rgb, progress, read_possible=read_possible))
    except ImageLoadError as error:
        result.error = f"This file cannot be used as a photo — {error}."
        return result
    result.result = PhotoResult(file or source, found)
    result.scale = display_scale(*rgb.shape[:2])
    result.plain = _resized(rgb, result.scale)
    result.narrow_scale = NARROW_COLUMN_PX * NARROW_DENSITY / rgb.shape[1]
    result.narrow_plain = _resized(rgb, result.narrow_scale)
    return relabelled(result, heads)


def relabelled(analysis: Analysis, heads: Sequence[Head] | None = None) -> Analysis:
    """The analysis with its photos' labels naming the classes of ``heads`` (default: one head per attribute):
    itself when they already do, else drawn again from the plain copies (no model call)."""
    names = tuple(head.name for head in shown_class_heads(heads))
    if analysis.plain is None or analysis.narrow_plain is None:  # a photo that could not be read
        return analysis
    if analysis.photo is not None and analysis.label_heads == names:
        return analysis
    wide = _draw(analysis.plain.copy(), analysis.faces, analysis.scale, analysis.possible, 1.0, heads)
    narrow = _draw(analysis.narrow_plain.copy(), analysis.faces, analysis.narrow_scale, analysis.possible,
                   NARROW_DENSITY, heads)  # fmt: skip
    return replace(analysis, photo=wide, narrow_photo=narrow, label_heads=names)


def display_scale(height: int, width: int) -> float:
    """The factor from photo to shown pixels: big photos shrink to DISPLAY_SIDE, small ones grow to MIN_DISPLAY_SIDE.

    Small photos grow by a whole factor (2x, 3x) so the face stays crisp and its box and label have room.
    """
    side = max(height, width)
    if side > DISPLAY_SIDE:
        return DISPLAY_SIDE / side
    return float(max(1, MIN_DISPLAY_SIDE // side))


def annotate(
    rgb: np.ndarray,
    faces: list,
    scale: float | None = None,
    possible: Sequence = (),
    unit: float = 1.0,
    heads: Sequence[Head] | None = None,
) -> np.ndarray:
    """A display copy of the photo with a box per face and, beside it, a label that covers no other label; possible
    faces (not read) get faint corners and no label. ``unit``: the copy's pixels per screen pixel where shown;
    ``heads``: whose classes the labels name (default: one head per attribute)."""
    scale = display_scale(*rgb.shape[:2]) if scale is None else scale
    return _draw(_resized(rgb, scale), faces, scale, possible, unit, heads)


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    """A copy of the photo at ``scale``."""
    if scale == 1:
        return rgb.copy()
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=interpolation)


def _draw(
    out: np.ndarray, faces: list, scale: float, possible: Sequence, unit: float, heads: Sequence[Head] | None
) -> np.ndarray:
    """Boxes and labels drawn onto ``out``, a copy of the photo at ``scale``."""
    height, width = out.shape[:2]
    for face in possible:
        _corners(out, Rect(*(round(v * scale) for v in face.box)))
    boxes = [Rect(*(round(v * scale) for v in face.box)) for face in faces]
    for face, box in zip(faces, boxes, strict=True):
        thickness = round(max(1, min(3, round(box.width / (60 * unit)))) * unit)
        colour = BOX_COLOURS[face.index % len(BOX_COLOURS)]
        cv2.rectangle(out, (box.x, box.y), (box.x + box.width, box.y + box.height), colour, thickness)
    texts, tags = [label_text(face, heads) for face in faces], [str(face.index + 1) for face in faces]
    labels = layout_labels(boxes, texts, width, height, tags, unit)
    for face, label in zip(faces, labels, strict=True):
        if label is None:
            continue
        r = label.rect
        colour = BOX_COLOURS[face.index % len(BOX_COLOURS)]
        cv2.rectangle(out, (r.x, r.y), (r.x + r.width - 1, r.y + r.height - 1), colour, cv2.FILLED)
        origin = (r.x + (r.height - label.baseline) // 2 + 1, r.y + label.baseline)
        cv2.putText(out, label.text, origin, FONT, label.font_scale, (255, 255, 255), label.thickness, cv2.LINE_AA)
    return out


def _corners(out: np.ndarray, box: Rect) -> None:
    """Faint corner marks around a box: something was seen there, nothing is claimed about it."""
    arm = max(3, min(box.width, box.height) // 4)
    x0, y0, x1, y1 = box.x, box.y, box.x + box.width, box.y + box.height
    for (x, y), (dx, dy) in (((x0, y0), (1, 1)), ((x1, y0), (-1, 1)), ((x0, y1), (1, -1)), ((x1, y1), (-1, -1))):
        cv2.line(out, (x, y), (x + dx * arm, y), POSSIBLE_COLOUR, 1, cv2.LINE_AA)
        cv2.line(out, (x, y), (x, y + dy * arm), POSSIBLE_COLOUR, 1, cv2.LINE_AA)


def results_json(analysis: Analysis) -> str:
    """The analysis as the JSON object of ``python -m face2data predict --json`` for one file."""
    return json.dumps(analysis.photo_result().to_dict(), ensure_ascii=False, indent=1)


def results_csv(analysis: Analysis) -> str:
    """The analysis as CSV rows, the columns of batch scoring's output (one row per face, or one saying why none)."""
    return encode_csv(analysis.photo_result().rows(), header=True)


def annotated_png(analysis: Analysis) -> bytes:
    """The photo with its numbered boxes, as PNG bytes (empty when there is no photo)."""
    if analysis.photo is None:
        return b""
    ok, png = cv2.imencode(".png", cv2.cvtColor(analysis.photo, cv2.COLOR_RGB2BGR))
    return png.tobytes() if ok else b""
