"""The readable table ``python -m face2data predict`` prints: one line per face, or why a file has none."""

from __future__ import annotations

from face2data.results import PhotoResult, whole_percent
from face2data.safe_text import printable
from face2data.schema import AGE_INTERVAL_MASS, CLASS_HEADS

FILE_WIDTH = 28
# Width of each column after the file name: face number, box, age, then one per class head (widened to its longest
# "class 100%" cell), notes last.
_WIDTHS = (4, 20, 16, *(max(len(n) for n in head.classes) + 6 for head in CLASS_HEADS))


def format_table(photos: list[PhotoResult]) -> str:
    """A table of photos' results: a line per face, or one saying why a photo has none."""
    header = f"{'file':<{FILE_WIDTH}} " + _row(
        ["face", "box (x,y w×h)", f"age ({AGE_INTERVAL_MASS:.0%} range)", *(h.name for h in CLASS_HEADS), "notes"]
    )
    lines = [header, "-" * len(header)]
    for photo in photos:
        report = photo.to_dict()
        name = _shorten(printable(report["file"] or ""), FILE_WIDTH)
        if report["error"]:
            lines.append(f"{name:<{FILE_WIDTH}} error: {printable(report['error'])}")
            continue
        if not report["faces"]:
            lines.append(f"{name:<{FILE_WIDTH}} no face found")
            continue
        for i, (face, result) in enumerate(zip(report["faces"], photo.faces, strict=True), start=1):
            x, y, w, h = face["box"]
            notes = "; ".join(face["quality_notes"])
            if "age" in face:
                age = f"{face['age_years']} ({face['age_low']}-{face['age_high']})"
                classes = [f"{face[h.name]} {whole_percent(result.probability(h.name))}%" for h in CLASS_HEADS]
            else:  # a possible face, not read
                age, classes = "—", ["—"] * len(CLASS_HEADS)
            cells = [str(i), f"{x},{y} {w}×{h}", age, *classes, notes]
            lines.append(f"{name if i == 1 else '':<{FILE_WIDTH}} " + _row(cells))
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    first, *middle, notes = cells
    padded = " ".join(f"{cell:<{width}}" for cell, width in zip(middle, _WIDTHS[1:], strict=True))
    return f"{first:>{_WIDTHS[0]}}  {padded} {notes}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]
