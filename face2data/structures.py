"""What a prediction for one face is, and its JSON form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from face2data.schema import AGE_INTERVAL_MASS

Progress = Callable[[int, int], None]  # told (faces read so far, faces found) while a photo is read


@dataclass
class FaceResult:
    """Age, gender and ethnicity predicted for one face of a photo (faces are numbered largest first)."""

    index: int
    box: tuple[int, int, int, int]  # x, y, width, height in photo pixels
    score: float  # detector confidence
    crop: np.ndarray  # the aligned (CROP_SIZE, CROP_SIZE, 3) uint8 RGB crop the model saw
    age: float  # expected value of the age distribution
    age_low: float  # central AGE_INTERVAL_MASS interval of the age distribution
    age_high: float
    age_probabilities: np.ndarray  # (NUM_AGES,)
    gender: str  # "male" | "female"
    gender_probability: float  # probability of ``gender``
    ethnicity: str
    ethnicity_probabilities: dict[str, float]
    quality_notes: list[str] = field(default_factory=list)
    doubtful: bool = False  # a possible face (the detector is not sure); see ``read``
    read: bool = True  # False for a possible face left unread: it has a box and notes, no age, gender or ethnicity

    @classmethod
    def unread(cls, index: int, box, score: float, crop: np.ndarray, notes: list[str]) -> FaceResult:
        """A possible face that was not read: no attribute is given for it (NaN ages, empty classes)."""
        nan = float("nan")
        x, y, width, height = (int(v) for v in box)
        return cls(index, (x, y, width, height), float(score), crop, nan, nan, nan, np.zeros(0), "", nan, "", {},
                   list(notes), doubtful=True, read=False)  # fmt: skip

    def to_dict(self) -> dict:
        """The JSON object of ``python -m face2data predict --json`` (no image or age distribution).

        A possible face carries ``"possible_face": true``; one left unread has its box, score and notes only.
        """
        if not self.read:
            return {
                "box": [int(v) for v in self.box],
                "score": round(float(self.score), 3),
                "possible_face": True,
                "quality_notes": list(self.quality_notes),
            }
        return {
            "box": [int(v) for v in self.box],
            "score": round(float(self.score), 3),
            "age": round(float(self.age), 1),
            "age_low": int(self.age_low),
            "age_high": int(self.age_high),
            "gender": self.gender,
            "gender_probability": round(float(self.gender_probability), 3),
            "ethnicity": self.ethnicity,
            "ethnicity_probabilities": {k: round(float(p), 3) for k, p in self.ethnicity_probabilities.items()},
            "quality_notes": list(self.quality_notes),
        } | ({"possible_face": True} if self.doubtful else {})


def format_table(reports: list[dict]) -> str:
    """A readable table of ``predict_files`` reports: one line per face, or why a file has none."""
    age_column = f"age ({AGE_INTERVAL_MASS:.0%} range)"
    header = f"{'file':<28} " + _row("face", "box (x,y w×h)", age_column, "gender", "ethnicity", "notes")
    lines = [header, "-" * len(header)]
    for report in reports:
        name = _shorten(report["file"], 28)
        if report["error"]:
            lines.append(f"{name:<28} error: {report['error']}")
            continue
        if not report["faces"]:
            lines.append(f"{name:<28} no face found")
            continue
        for i, face in enumerate(report["faces"], start=1):
            x, y, w, h = face["box"]
            box = f"{x},{y} {w}×{h}"
            if "age" not in face:  # a possible face, not read
                notes = "; ".join(face["quality_notes"])
                lines.append(f"{name if i == 1 else '':<28} " + _row(str(i), box, "—", "—", "—", notes))
                continue
            age = f"{face['age']:.0f} ({face['age_low']}-{face['age_high']})"
            gender = f"{face['gender']} {face['gender_probability']:.0%}"
            ethnicity = f"{face['ethnicity']} {face['ethnicity_probabilities'][face['ethnicity']]:.0%}"
            notes = "; ".join(face["quality_notes"])
            lines.append(f"{name if i == 1 else '':<28} " + _row(str(i), box, age, gender, ethnicity, notes))
    return "\n".join(lines)


def _row(face: str, box: str, age: str, gender: str, ethnicity: str, notes: str) -> str:
    return f"{face:>4}  {box:<20} {age:<16} {gender:<13} {ethnicity:<14} {notes}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]
