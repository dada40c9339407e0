"""Labels parsed from UTKFace file names: ``age_gender_race_date.jpg.chip.jpg``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from face2data.schema import AGE_MAX, AGE_MIN, ETHNICITIES, GENDERS


@dataclass(frozen=True)
class FaceLabel:
    """The ground truth of one UTKFace image."""

    age: int
    gender: int
    ethnicity: int


def parse_name(name: str) -> FaceLabel | None:
    """Labels of a UTKFace file name, or None when the name cannot be labelled.

    Only the first three underscore-separated fields matter, so names with a
    stray space or a missing dot in the date part still parse; names with a
    field missing (``39_1_20170116174525125.jpg.chip.jpg``) do not.
    """
    fields = PurePosixPath(name.replace("\\", "/")).name.split("_")
    if len(fields) < 4:
        return None
    try:
        age, gender, ethnicity = (int(f) for f in fields[:3])
    except ValueError:
        return None
    if not (AGE_MIN <= age <= AGE_MAX and 0 <= gender < len(GENDERS) and 0 <= ethnicity < len(ETHNICITIES)):
        return None
    return FaceLabel(age, gender, ethnicity)
