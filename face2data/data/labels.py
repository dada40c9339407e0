"""Labels of the training sources: UTKFace file names, FairFace's label table, All-Age-Faces' names and table."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from face2data.safe_text import posix_name
from face2data.schema import (
    AGE_MAX,
    AGE_MIN,
    ETHNICITIES,
    FAIRFACE_AGE_LABELS,
    GENDERS,
    NO_LABEL,
    RACE_TO_ETHNICITY,
    RACES,
    age_range_bounds,
)


@dataclass(frozen=True)
class FaceLabel:
    """The ground truth of one face: an exact age or an age range, and a class index per class head it has a
    label for (``classes``, keyed by head name; a head left out, or given NO_LABEL, is unlabelled)."""

    age: int  # the exact age, or the first year of the range when ``age_high`` is set
    age_high: int | None = None  # the last year of an age range (inclusive); None for an exact age
    classes: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", {h: int(c) for h, c in self.classes.items() if c != NO_LABEL})

    def of(self, head: str) -> int:
        """The class index of ``head``, or NO_LABEL."""
        return self.classes.get(head, NO_LABEL)

    @property
    def age_range(self) -> tuple[int, int]:
        """First and last year of the label (equal for an exact age)."""
        return self.age, self.age if self.age_high is None else self.age_high


def parse_name(name: str) -> FaceLabel | None:
    """Labels of a UTKFace file name ``age_gender_race_date.jpg.chip.jpg``, or None when it cannot be labelled.

    Only the first three underscore-separated fields matter, so names with a
    stray space or a missing dot in the date part still parse; names with a
    field missing (``39_1_20170116174525125.jpg.chip.jpg``) do not.
    """
    fields = PurePosixPath(posix_name(name)).name.split("_")
    if len(fields) < 4:
        return None
    try:
        age, gender, ethnicity = (int(f) for f in fields[:3])
    except ValueError:
        return None
    if not (AGE_MIN <= age <= AGE_MAX and 0 <= gender < len(GENDERS) and 0 <= ethnicity < len(ETHNICITIES)):
        return None
    return FaceLabel(age, classes={"gender": gender, "ethnicity": ethnicity})


def parse_fairface_row(age: str, gender: str, race: str) -> FaceLabel | None:
    """Labels of one row of FairFace's label table (``50-59``, ``Male``, ``East Asian``), or None if unknown."""
    try:
        bucket = FAIRFACE_AGE_LABELS.index(age.strip())
        gender_index = GENDERS.index(gender.strip().lower())
        race_index = RACES.index(race.strip())
    except ValueError:
        return None
    low, high = age_range_bounds(bucket)
    ethnicity = ETHNICITIES.index(RACE_TO_ETHNICITY[RACES[race_index]])
    return FaceLabel(low, high, {"gender": gender_index, "ethnicity": ethnicity, "ethnicity7": race_index})


# All-Age-Faces names a photo ``<person number>A<age>.jpg`` (``00123A35.jpg``): the age is in the name.
ALLAGEFACES_NAME = re.compile(r"^(\d+)A(\d+)\.jpg$", re.IGNORECASE)


def parse_allagefaces(name: str, gender: str) -> FaceLabel | None:
    """Labels of an All-Age-Faces photo: the exact age from its name, the gender from its table row
    (``female``/``male``), no ethnicity; None for a name not of that form or an unknown gender."""
    match = ALLAGEFACES_NAME.match(PurePosixPath(name.replace("\\", "/")).name)
    if match is None:
        return None
    age = int(match.group(2))
    try:
        gender_index = GENDERS.index(gender.strip().lower())
    except ValueError:
        return None
    if not AGE_MIN <= age <= AGE_MAX:
        return None
    return FaceLabel(age, classes={"gender": gender_index})
