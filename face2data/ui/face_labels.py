"""Where each face's label goes on the shown photo: beside its box, scaled to the face, never over another label.

Pure geometry (no drawing), so the placement can be checked without a browser: the drawing code in
``face2data.ui.photo`` draws exactly the labels laid out here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2

from face2data.results import labels_of, short_label
from face2data.schema import Head

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Label text height as a share of the face's width on the shown photo, and its bounds in display pixels.
LABEL_HEIGHT_SHARE = 0.22
MIN_LABEL_PX = 11
MAX_LABEL_PX = 30
# Faces narrower than this on the shown photo get their number only, not the full label (hovering tells all).
MIN_LABELLED_FACE_PX = 26
# When no place beside the box is free, the label shrinks by these factors before it gives up.
SHRINK_STEPS = (1.0, 0.8, 0.64)


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in display pixels."""

    x: int
    y: int
    width: int
    height: int

    def overlaps(self, other: Rect) -> bool:
        """True when the two rectangles share any area (touching edges do not count)."""
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )

    def inside(self, width: int, height: int) -> bool:
        """True when the rectangle lies wholly within an image of this size."""
        return self.x >= 0 and self.y >= 0 and self.x + self.width <= width and self.y + self.height <= height


@dataclass(frozen=True)
class PlacedLabel:
    """One face's label: its text, where its background goes, and the font that fits it."""

    face: int  # the face's index (the number shown is face + 1)
    text: str
    rect: Rect
    font_scale: float
    thickness: int
    baseline: int  # text baseline inside the rectangle, from its top


def label_text(face, heads: Iterable[Head] | None = None) -> str:
    """'3: 34 F White' — the face's number, then its age and the classes of ``heads`` (default: one head per
    attribute, ``results.labels_of``) in short form (``results.short_label``)."""
    return f"{face.index + 1}: {short_label(face.age, labels_of(face, heads))}"


def layout_labels(
    boxes: list[Rect], texts: list[str], width: int, height: int, tags: list[str] | None = None, unit: float = 1.0
) -> list[PlacedLabel | None]:
    """A label rectangle for each box (None only where not even the face's number finds a free place).

    Boxes come largest first, so big faces choose first. A label goes below, above, right or left of its box, or
    inside its top edge, shifted inside the image; it may not cover another label or another face's box. Where the
    full text finds no room (a dense crowd) or the face is small, the face's short tag (its number) is tried the
    same way, then allowed over other faces' boxes (still never over a label).
    ``unit`` is the photo's pixels per screen pixel where it is shown (2 for a phone's photo drawn at twice the
    column's width, for a crisp picture): the size bounds hold on the screen.
    """
    placed: list[PlacedLabel | None] = []
    taken: list[Rect] = []
    for index, (box, text) in enumerate(zip(boxes, texts, strict=True)):
        label = None
        others = [b for j, b in enumerate(boxes) if j != index]
        if box.width >= MIN_LABELLED_FACE_PX * unit:
            label = _place(index, box, text, width, height, taken, others, unit)
        if label is None and tags is not None:  # a small face or a dense crowd: its number at least
            label = _place(index, box, tags[index], width, height, taken, others, unit)
            if label is None:  # the number may cover part of another face's box, never another label
                label = _place(index, box, tags[index], width, height, taken, [], unit)
        placed.append(label)
        if label is not None:
            taken.append(label.rect)
    return placed


def _place(
    index: int, box: Rect, text: str, width: int, height: int, taken: list[Rect], others: list[Rect], unit: float
) -> PlacedLabel | None:
    wanted = min(MAX_LABEL_PX * unit, max(MIN_LABEL_PX * unit, round(box.width * LABEL_HEIGHT_SHARE)))
    for shrink in SHRINK_STEPS:
        size = wanted * shrink
        if size < MIN_LABEL_PX * unit - 0.5:
            break
        scale, thickness, rect_w, rect_h, baseline = _measure(text, size)
        if rect_w > width or rect_h > height:
            continue
        for rect in _candidates(box, rect_w, rect_h, width, height):
            if not any(rect.overlaps(r) for r in taken) and not any(rect.overlaps(b) for b in others):
                return PlacedLabel(index, text, rect, scale, thickness, baseline)
    return None


def _measure(text: str, text_px: float) -> tuple[float, int, int, int, int]:
    """Font scale and thickness for a text about ``text_px`` high, and the padded rectangle it needs."""
    scale = text_px / 22.0  # FONT_HERSHEY_SIMPLEX at scale 1 is about 22 px from baseline to cap height
    thickness = max(1, round(scale * 1.6))
    (text_w, text_h), descent = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, round(text_h * 0.2))
    return scale, thickness, text_w + 2 * pad, text_h + descent + 2 * pad, pad + text_h


def _candidates(box: Rect, w: int, h: int, width: int, height: int) -> list[Rect]:
    gap = max(1, h // 8)
    spots = [
        (box.x, box.y + box.height + gap),  # below
        (box.x, box.y - h - gap),  # above
        (box.x + box.width + gap, box.y),  # right
        (box.x - w - gap, box.y),  # left
        (box.x + gap, box.y + gap),  # inside, along the top edge
    ]
    rects = []
    for x, y in spots:
        rect = Rect(min(max(0, x), width - w), min(max(0, y), height - h), w, h)  # shifted inside the image
        if rect not in rects:
            rects.append(rect)
    return rects
