"""Your labels table, one row at a time: the column names and spellings it may use and the FaceLabel of a row
(see data/labelled.py for the table's form). Every cell that cannot be read raises BadLabel, saying why."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from face2data.data.labels import FaceLabel, parse_name
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

FILE_COLUMNS = ("file", "filename", "file_name", "image", "image_name", "img", "path", "name", "photo")
AGE_MIN_COLUMNS = ("age_min", "age_low", "min_age")
AGE_MAX_COLUMNS = ("age_max", "age_high", "max_age")
GENDER_COLUMNS = ("gender", "sex")
ETHNICITY_COLUMNS = ("ethnicity",)
RACE_COLUMNS = ("race",)
GENDER_SPELLINGS = {
    **{word: GENDERS.index("male") for word in ("male", "m", "man", "men", "boy", "0")},  # UTKFace: 0 is male
    **{word: GENDERS.index("female") for word in ("female", "f", "woman", "women", "girl", "1")},
}
ETHNICITY_SPELLINGS = {
    **{name.lower(): i for i, name in enumerate(ETHNICITIES)},
    **{str(i): i for i in range(len(ETHNICITIES))},  # UTKFace's numbers
    "other": ETHNICITIES.index("Others"),
}
RACE_SPELLINGS = {
    **{name.lower(): i for i, name in enumerate(RACES)},
    **{name.lower().replace("_", " "): i for i, name in enumerate(RACES)},
    "latino": RACES.index("Latino_Hispanic"),
    "hispanic": RACES.index("Latino_Hispanic"),
    "latino/hispanic": RACES.index("Latino_Hispanic"),
}
# Ages are written in ASCII digits: "²" or "١" are not ages, and 1_0 or 1e1 (which Python's float reads) are not
# how a table writes 10.
AGE_RANGE = re.compile(r"^([0-9]+)\s*-\s*([0-9]+)$")
AGE_AND_OVER = re.compile(r"^([0-9]+)\s*\+$")  # "70+": that age up to AGE_MAX
AGE_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]*)?$")
AGE_DIGITS = 4  # more digits are no age at all (and a 5,000-digit number is too long for Python's int)


class BadLabel(ValueError):
    """A cell that cannot be read; ``kind`` is a key of PROBLEM_KINDS."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _checked_age(digits: str, text: str) -> int:
    """The age written in ``digits`` (ASCII, maybe with a minus), or BadLabel when it is out of range."""
    if len(digits.lstrip("0")) > AGE_DIGITS or not AGE_MIN <= int(digits) <= AGE_MAX:
        raise BadLabel("age_out_of_range", f"age {_shown(text)}")
    return int(digits)


def _shown(text: str, limit: int = 40) -> str:
    """A cell quoted in a message, cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_age(text: str) -> tuple[int, int | None] | None:
    """``(age, None)`` for an exact age, ``(first, last)`` for a range (``30-39``, FairFace's ``more than 70``),
    None for an empty cell. Raises BadLabel for anything else."""
    text = text.strip()
    if not text:
        return None
    if text.lower() in FAIRFACE_AGE_LABELS:
        return age_range_bounds(FAIRFACE_AGE_LABELS.index(text.lower()))
    if match := AGE_AND_OVER.match(text):
        low = _checked_age(match.group(1), text)
        return (low, None) if low == AGE_MAX else (low, AGE_MAX)
    if match := AGE_RANGE.match(text):
        low, high = (_checked_age(g, text) for g in match.groups())
        if low > high:
            raise BadLabel("unknown_class", f"age range {_shown(text)}")
        return (low, None) if low == high else (low, high)
    if not AGE_NUMBER.match(text):  # "nan", "inf", "1e1", "thirty": not a number of years as tables write one
        raise BadLabel("unknown_class", f"age {_shown(text)} (not a number of years)")
    whole, _, fraction = text.partition(".")
    age = _checked_age(whole, text)
    if fraction.strip("0"):
        raise BadLabel("unknown_class", f"age {_shown(text)} (whole years only)")
    return age, None


def parse_age_bounds(low: str, high: str) -> tuple[int, int | None] | None:
    """An age from ``age_min`` and ``age_max`` cells (both or neither), as parse_age returns it."""
    low, high = low.strip(), high.strip()
    if not low and not high:
        return None
    if not low or not high:
        raise BadLabel("unknown_class", f"age_min {low!r} with age_max {high!r} (give both)")
    first, second = parse_age(low), parse_age(high)
    if first is None or second is None or first[1] is not None or second[1] is not None:
        raise BadLabel("unknown_class", f"age_min {low!r}, age_max {high!r}")
    if first[0] > second[0]:
        raise BadLabel("unknown_class", f"age_min {low!r} above age_max {high!r}")
    return (first[0], None) if first[0] == second[0] else (first[0], second[0])


def parse_gender(text: str) -> int:
    """Index into GENDERS, NO_LABEL for an empty cell; BadLabel for anything else."""
    text = text.strip().lower()
    if not text:
        return NO_LABEL
    if text in GENDER_SPELLINGS:
        return GENDER_SPELLINGS[text]
    raise BadLabel("unknown_class", f"gender {text!r}")


def _ethnicity_key(text: str) -> str:
    return " ".join(text.strip().lower().replace("-", " ").split())


def seven_groups(values: Iterable[str]) -> bool:
    """Whether a column's values are FairFace's seven race groups (some value is one of them and none is one of
    the five classes only, such as ``Asian``): then ``White``, ``Black`` and ``Indian`` are race groups too."""
    keys = {_ethnicity_key(v) for v in values} - {""}
    return any(k in RACE_SPELLINGS and k not in ETHNICITY_SPELLINGS for k in keys) and not any(
        k in ETHNICITY_SPELLINGS and k not in RACE_SPELLINGS for k in keys
    )


def parse_ethnicity(text: str, races: bool = True) -> tuple[int, int]:
    """``(ethnicity, race)``: one of FairFace's seven groups (mapped onto the five, race kept) or one of the five
    classes (race -1); with ``races`` False (a column of the five classes) the names both share (``White``,
    ``Black``, ``Indian``) are read as classes. ``(NO_LABEL, -1)`` for an empty cell; BadLabel for anything else."""
    key = _ethnicity_key(text)
    if not key:
        return NO_LABEL, -1
    if key in RACE_SPELLINGS and (races or key not in ETHNICITY_SPELLINGS):
        race = RACE_SPELLINGS[key]
        return ETHNICITIES.index(RACE_TO_ETHNICITY[RACES[race]]), race
    if key in ETHNICITY_SPELLINGS:
        return ETHNICITY_SPELLINGS[key], -1
    raise BadLabel("unknown_class", f"ethnicity {text.strip()!r}")


def _five_classes_only(values: Iterable[str]) -> bool:
    """Whether a column's values are the five classes (some value is one of them only, such as ``Asian``)."""
    keys = {_ethnicity_key(v) for v in values} - {""}
    return any(k in ETHNICITY_SPELLINGS and k not in RACE_SPELLINGS for k in keys)


def column_of(header: dict[str, str], names: tuple[str, ...]) -> str | None:
    """The table's own spelling of the first of ``names`` it has."""
    return next((header[n] for n in names if n in header), None)


def normal_column(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().lower().lstrip("\ufeff"))


def parse_row(row: dict[str, str], header: dict[str, str] | None = None, ethnicity_races: bool | None = None,
              race_races: bool = True) -> FaceLabel | None:  # fmt: skip
    """The label of one table row (columns as in the module docstring), or None when it labels no head at all.

    ``header`` maps normalised column names to the row's keys (computed from the row when not given).
    ``ethnicity_races`` and ``race_races`` say whether the ethnicity and race columns hold FairFace's seven groups
    (see seven_groups; by default an ethnicity column's ``White`` is the class, a race column's the race group).
    An age range has ``age_high`` set; no age label gives ``age == NO_LABEL``. Raises BadLabel.
    """
    header = header or {normal_column(k): k for k in row if k is not None}

    def cell(names: tuple[str, ...]) -> str:
        column = column_of(header, names)
        return (row.get(column) or "") if column is not None else ""

    age = parse_age(cell(("age",)))
    bounds = parse_age_bounds(cell(AGE_MIN_COLUMNS), cell(AGE_MAX_COLUMNS))
    if age is not None and bounds is not None and age != bounds:
        raise BadLabel("unknown_class", f"age {cell(('age',))!r} against age_min/age_max {bounds}")
    age = age or bounds
    gender = parse_gender(cell(GENDER_COLUMNS))
    ethnicity, race = parse_ethnicity(cell(ETHNICITY_COLUMNS), bool(ethnicity_races))
    race_ethnicity, race_group = parse_ethnicity(cell(RACE_COLUMNS), race_races)
    if race_ethnicity != NO_LABEL:
        if ethnicity not in (NO_LABEL, race_ethnicity):
            raise BadLabel("unknown_class", f"ethnicity {cell(ETHNICITY_COLUMNS)!r} against race "
                                            f"{cell(RACE_COLUMNS)!r}")  # fmt: skip
        ethnicity, race = race_ethnicity, race_group if race_group != -1 else race
    if age is None and gender == NO_LABEL and ethnicity == NO_LABEL:
        return None
    low, high = age if age is not None else (NO_LABEL, None)
    return FaceLabel(low, high, {"gender": gender, "ethnicity": ethnicity, "ethnicity7": race})


def parse_utkface_name(name: str) -> FaceLabel | None:
    """Labels of a UTKFace-style name (as data.labels.parse_name), None for a name not of that form; BadLabel
    for one of that form with an age or class out of range."""
    label = parse_name(name)
    if label is not None:
        return label
    fields = PurePosixPath(posix_name(name)).name.split("_")
    if len(fields) < 4 or not all(re.fullmatch("[0-9]+", f) for f in fields[:3]):
        return None
    age, gender, ethnicity = fields[:3]
    try:
        _checked_age(age, age)
    except BadLabel as error:
        raise BadLabel(error.kind, f"{error} in the name") from None
    raise BadLabel("unknown_class", f"gender {_shown(gender)} or ethnicity {_shown(ethnicity)} in the name")


def class_schemes(header: dict[str, str], rows: list[dict[str, str]]) -> tuple[bool, bool]:
    """Whether a table's ethnicity column and its race column hold FairFace's seven groups (``parse_row``'s
    ``ethnicity_races`` and ``race_races``), judged from all their values."""
    ethnicity, race = (column_of(header, names) for names in (ETHNICITY_COLUMNS, RACE_COLUMNS))
    ethnicities = [row.get(ethnicity) or "" for row in rows] if ethnicity is not None else []
    races = [row.get(race) or "" for row in rows] if race is not None else []
    return seven_groups(ethnicities), not _five_classes_only(races)
