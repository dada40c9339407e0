"""Two metrics reports of one test set side by side: each headline figure, its difference, and whether the two
95 % bootstrap intervals overlap (when they do not, the difference is unlikely to be chance)."""

from __future__ import annotations

import json

from face2data.data.scores import RANGE_HIT_KEY
from face2data.schema import AGE_RANGE_TOLERANCE, CLASS_HEADS

# Figure key -> (what it is called, whether higher is better, unit: "%" for shares, "years").
FIGURES = {
    "faces_found": ("faces found", True, "%"),
    "age_mae": ("age MAE", False, "years"),
    "age_rmse": ("age RMSE", False, "years"),
    "age_in_range": ("age inside the range", True, "%"),
    RANGE_HIT_KEY: (f"age within range ± {AGE_RANGE_TOLERANCE}", True, "%"),
    "age_interval_coverage": ("age interval coverage", True, "%"),
    **{f"{head.name}_accuracy": (f"{head.title.lower()} accuracy", True, "%") for head in CLASS_HEADS},
}


class NotComparable(ValueError):
    """The two reports are not of the same test set (or one is not a metrics report at all)."""


def read_report(data: bytes) -> dict:
    """A metrics report from the bytes of a JSON file written by ``evaluate --json``; NotComparable if it is not."""
    try:
        report = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise NotComparable(f"not a JSON file ({error})") from None
    if not isinstance(report, dict) or "n" not in report or not any(key in report for key in FIGURES):
        raise NotComparable("not a metrics file of `python -m face2data evaluate --json`")
    return report


def compare_reports(shipped: dict, other: dict) -> list[dict]:
    """One row per figure both reports hold: its name, both values, the difference (other minus shipped, in
    percentage points for shares), which is better, and whether the 95 % intervals overlap (None without both).

    Raises NotComparable when the reports are of different test sets or splits.
    """
    for key in ("source", "test_set", "split"):
        if shipped.get(key) != other.get(key):
            raise NotComparable(
                f"the files are of different test sets: {key} {shipped.get(key)!r} against {other.get(key)!r}"
            )
    rows = []
    for key, (name, higher_is_better, unit) in FIGURES.items():
        if key not in shipped or key not in other:
            continue
        scale = 100 if unit == "%" else 1
        a, b = scale * float(shipped[key]), scale * float(other[key])
        ia = (shipped.get("confidence_intervals") or {}).get(key)
        ib = (other.get("confidence_intervals") or {}).get(key)
        overlap = None if ia is None or ib is None else bool(ia[0] <= ib[1] and ib[0] <= ia[1])
        better = "same" if round(b - a, 2) == 0 else "other" if (b > a) == higher_is_better else "shipped"
        rows.append({"figure": name, "unit": "points" if unit == "%" else unit, "shipped": a, "other": b,
                     "difference": b - a, "better": better, "intervals_overlap": overlap})  # fmt: skip
    return rows
