"""Exact Shapley values of every head over the named facial regions of one face.

A region is hidden the way the pixel maps hide pixels: filled from a box-blurred copy of the face. With the ten
regions of ``face2data.faces.regions`` every coalition (2^10 = 1024 masked faces) is run through the model in
small batches, and the Shapley values follow from the standard weighted sum over coalitions, in float64.
They are exact, not sampled: the same face always gets the same values, and the values of a head add up to its
output minus the output for the fully hidden (blurred) face. Each masked face is averaged with its mirror image,
as the shown predictions are, so the explained output is the number on the face's card. Exhaustive enumeration
costs 2^n masked faces (twice as many model runs with the mirror); a dozen regions would take four times as long
as ten.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from face2data.explanation.core import (
    HIDDEN_BLUR,
    MASKED_BATCH,
    ClassChoice,
    checked_crop,
    class_choices,
    output_columns,
    output_function,
    retargeted_heads,
    target_column,
)
from face2data.faces.regions import REGION_PHRASES, REGIONS, region_labels
from face2data.results import whole_percent
from face2data.schema import HEAD_BY_NAME, HEAD_TABLE, HEADS, INPUT_SIZE, to_model_input

# Region values in the head's own unit: years for an age, percentage points for a probability.
REGION_UNITS = {head.name: "years" if head.kind == "age" else "percentage points" for head in HEAD_TABLE}
_SCALE = {head.name: 1.0 if head.kind == "age" else 100.0 for head in HEAD_TABLE}
# Contributions smaller than this (in the head's unit) are not worth a sentence.
NEGLIGIBLE = {head.name: 0.05 if head.kind == "age" else 0.1 for head in HEAD_TABLE}


@dataclass(frozen=True)
class RegionSettings:
    """How regions are hidden and how the masked faces are batched."""

    blur: int = HIDDEN_BLUR  # as the pixel maps
    batch_size: int = MASKED_BATCH  # masked faces per model call, as the pixel maps
    # Each masked face is averaged with its mirror image, as the shown predictions are, so "this face" in an
    # explanation is the card's number (twice the model calls of the face as seen).
    flip: bool = True

    def describe(self) -> str:
        """One sentence saying how the region values were computed."""
        n = len(REGIONS)
        mirror = " (each averaged with its mirror image)" if self.flip else " of the face as seen"
        return (
            f"Exact Shapley values over {n} named facial regions: all 2^{n} = {2**n} combinations of shown and "
            f"hidden regions were run through the model{mirror}; a hidden region is filled from a "
            f"{self.blur}x{self.blur}-pixel box-blurred copy of the {INPUT_SIZE}x{INPUT_SIZE} face, so the base value "
            "is the output for the fully blurred face and base value + sum of the region values = the output."
        )

    def describe_estimate(self, coalitions: int) -> str:
        """One sentence saying how an estimate of the region values was computed."""
        n = len(REGIONS)
        mirror = " (each averaged with its mirror image)" if self.flip else " of the face as seen"
        return (
            f"Estimated Shapley values over {n} named facial regions: {coalitions} of the 2^{n} = {2**n} "
            f"combinations of shown and hidden regions were run through the model{mirror} (every single region "
            "shown or hidden, and pairs of a combination and its opposite drawn by the Shapley kernel's weight), "
            "and the values fitted to them by KernelSHAP's weighted least squares; the ± is a 95 % bootstrap "
            f"interval. A hidden region is filled from a {self.blur}x{self.blur}-pixel box-blurred copy of the face."
        )


DEFAULT_REGION_SETTINGS = RegionSettings()


@dataclass(frozen=True)
class RegionHead:
    """One head's region values, in its own unit (years, or percentage points of a probability)."""

    head: str  # a name of the head table: "age", "gender", "ethnicity"
    target: str  # "expected age", "P(female)", "P(Asian)"
    unit: str  # "years" | "percentage points"
    values: np.ndarray  # (len(REGIONS),) float64, REGIONS order
    base_value: float  # output for the fully blurred face (years, or percent)
    output_value: float  # output for the face: base_value + values.sum()
    uncertainty: float | None = None  # an estimate's largest 95 % half-width over the regions; None when exact

    def ranked(self) -> list[tuple[str, float]]:
        """(region, value) pairs, largest absolute value first."""
        order = np.argsort(-np.abs(self.values), kind="stable")
        return [(REGIONS[i], float(self.values[i])) for i in order]

    def level(self, value: float) -> str:
        """An output or base value in words: '34.1 years' or '62%'."""
        return f"{value:.1f} years" if self._is_age else f"{whole_percent(value / 100)}%"

    def amount(self, value: float) -> str:
        """A region value's size in words: '12.0 years' or '3.4 percentage points'."""
        return f"{abs(value):.1f} {self.unit}"

    def sentence(self, top: int = 3) -> str:
        """The largest contributions in words: 'Compared with a blurred face, the left eye added 12.0 years; ...'."""
        big = [(name, v) for name, v in self.ranked()[:top] if abs(v) >= NEGLIGIBLE[self.head]]
        what = "the expected age" if self._is_age else self.target
        total = f"(all regions: {self.level(self.base_value)} → {self.level(self.output_value)})"
        if not big:
            return f"No region changed {what} by more than {self.amount(NEGLIGIBLE[self.head])} {total}."
        clauses = []
        for sign, verb, after in ((1, "added", ""), (-1, "took", " away")):
            group = [(REGION_PHRASES[name], v) for name, v in big if np.sign(v) == sign]
            if group:
                first = f"{group[0][0]} {verb} {self.amount(group[0][1])}{after}"
                rest = [f"{phrase} {abs(v):.1f}" for phrase, v in group[1:]]
                clauses.append(_join([first, *rest]))
        lead = "Compared with a blurred face,"
        lead = lead if self._is_age else f"For {self.target}, {lead[0].lower()}{lead[1:]}"
        return f"{lead} {'; '.join(clauses)} {total}."

    def to_dict(self) -> dict:
        """JSON form: target, unit, base value, output and the value of every region; an estimate adds its
        ``uncertainty`` (the largest 95 % half-width over the regions, in the unit)."""
        out = {
            "target": self.target,
            "unit": self.unit,
            "base_value": round(self.base_value, 4),
            "output": round(self.output_value, 4),
            "regions": {name: round(float(v), 4) for name, v in zip(REGIONS, self.values, strict=True)},
        }
        return out if self.uncertainty is None else out | {"uncertainty": round(self.uncertainty, 4)}

    @property
    def _is_age(self) -> bool:
        return HEAD_BY_NAME[self.head].kind == "age"


@dataclass(frozen=True)
class WhatIfHead:
    """One head's output for a face with some regions hidden, beside its output for the whole face."""

    target: str  # what the head's view explains: "expected age", "P(female)"
    value: float  # the target with the regions hidden: years, or percent
    full_value: float  # the target for the whole face (the card's number)
    likeliest: str | None  # a class head's likeliest class with the regions hidden (None for an age)
    likeliest_percent: float | None


@dataclass(frozen=True)
class WhatIf:
    """Every head's output with ``hidden`` regions hidden (``RegionExplanation.what_if``)."""

    hidden: tuple[str, ...]  # in REGIONS order
    heads: dict[str, WhatIfHead]

    def sentence(self, heads: Iterable[str] | None = None) -> str:
        """'Without the hair and the forehead: 31 years, female 71 %, White 88 %.' for ``heads`` (default: all;
        a page passes the heads it shows, one scheme per attribute, so no group is said twice)."""
        parts = [self.heads[head] for head in heads if head in self.heads] if heads is not None else self.heads.values()
        said = [
            f"{part.value:.1f} years"
            if part.likeliest_percent is None
            else f"{part.likeliest} {whole_percent(part.likeliest_percent / 100)} %"
            for part in parts
        ]
        shown = f"Without {_join([REGION_PHRASES[name] for name in self.hidden])}" if self.hidden else "The whole face"
        return f"{shown}: {', '.join(said)}."


def coalition_of(hidden: Iterable[str]) -> int:
    """The row of a coalition table whose face shows every region but ``hidden`` (bit k set = region k shown)."""
    hidden = set(hidden)
    return sum(1 << k for k, name in enumerate(REGIONS) if name not in hidden)


@dataclass(frozen=True)
class RegionExplanation:
    """Region values of every head of one face, plus every class's values and all coalition outputs."""

    heads: dict[str, RegionHead]
    method: str
    seconds: float
    all_values: np.ndarray = field(repr=False)  # (len(REGIONS), len(OUTPUTS)) float64; age in years, probabilities
    all_base: np.ndarray = field(repr=False)  # (len(OUTPUTS),)
    all_output: np.ndarray = field(repr=False)  # (len(OUTPUTS),)
    coalitions: np.ndarray = field(repr=False)  # (2^len(REGIONS), len(OUTPUTS)): bit k set = region k shown
    # An estimate's 95 % half-widths (len(REGIONS), len(OUTPUTS)), and its table holds NaN for the coalitions it
    # did not run; None for exact values.
    uncertainty: np.ndarray | None = field(default=None, repr=False)

    def __getitem__(self, head: str) -> RegionHead:
        return self.heads[head]

    @property
    def exact(self) -> bool:
        """True for exact values (every coalition run), False for an estimate."""
        return self.uncertainty is None

    def _needs_exact(self, what: str) -> None:
        if not self.exact:
            raise ValueError(f"{what} reads every coalition: it needs the exact explanation, not an estimate")

    def retarget(
        self, classes: Mapping[str, ClassChoice] | None = None, /, **by_head: ClassChoice
    ) -> RegionExplanation:
        """The same explanation with other classes explained (no recomputation).

        Classes per class head as a mapping or keywords: ``retarget(ethnicity="Asian")``,
        ``retarget({"ethnicity": "Asian", "gender": 1})`` (``ethnicity_class=`` works too); a head not named, or
        None, explains its predicted class. Raises ValueError for an unknown head or class.
        """
        return replace(self, heads=retargeted_heads(self.heads, self.all_output, classes, by_head, self._head))

    def output_index(self, head: str) -> int:
        """The column of OUTPUTS a head's view explains."""
        return target_column(head, self.heads[head].target)

    def hidden_outputs(self, head: str, order: list[int] | np.ndarray) -> np.ndarray:
        """The head's output (its unit) with no region hidden, then the first 1, 2, ... regions of ``order`` hidden.

        Read from the coalition table: the same masked faces the values were computed from.
        """
        self._needs_exact("hiding regions in order")
        column, mask = self.output_index(head), 2 ** len(REGIONS) - 1
        path = [mask]
        for region in order:
            mask &= ~(1 << int(region))
            path.append(mask)
        return self.coalitions[path, column] * _SCALE[head]

    def what_if(self, hidden: Iterable[str]) -> WhatIf:
        """Every head's output with the named regions hidden (the rest shown), read from the coalition table: the
        very masked face whose outputs the Shapley sums are built from, so no model call is made. Raises
        ValueError for a name that is not a region."""
        self._needs_exact("the what-if")
        unknown = set(hidden) - set(REGIONS)
        if unknown:
            raise ValueError(f"not a region: {', '.join(sorted(unknown))}; regions: {', '.join(REGIONS)}")
        row = self.coalitions[coalition_of(hidden)]
        heads = {}
        for head, part in self.heads.items():
            column = self.output_index(head)
            if HEAD_BY_NAME[head].kind == "age":
                heads[head] = WhatIfHead(part.target, row[column], part.output_value, None, None)
            else:
                columns = list(output_columns(head))
                best = int(np.argmax(row[columns]))
                likeliest = HEAD_BY_NAME[head].classes[best]
                heads[head] = WhatIfHead(part.target, row[column] * 100, part.output_value, likeliest,
                                         row[columns[best]] * 100)  # fmt: skip
        return WhatIf(tuple(name for name in REGIONS if name in set(hidden)), heads)

    def to_dict(self) -> dict:
        """JSON form: per head its target, unit, base value, output and region values; and the method."""
        heads = {head: self.heads[head].to_dict() for head in HEADS}
        return {"heads": heads, "method": self.method} | ({} if self.exact else {"exact": False})

    def _head(self, head: str, column: int, target: str) -> RegionHead:
        scale = _SCALE[head]
        return RegionHead(
            head=head,
            target=target,
            unit=REGION_UNITS[head],
            values=self.all_values[:, column] * scale,
            base_value=float(self.all_base[column]) * scale,
            output_value=float(self.all_output[column]) * scale,
            uncertainty=None if self.uncertainty is None else float(np.max(self.uncertainty[:, column])) * scale,
        )


def explain_regions(
    model,
    crop: np.ndarray,
    classes: Mapping[str, ClassChoice] | None = None,
    *,
    settings: RegionSettings = DEFAULT_REGION_SETTINGS,
    progress: Callable[[float], None] | None = None,
    known: RegionExplanation | None = None,
    **by_head: ClassChoice,
) -> RegionExplanation:
    """Exact Shapley values of every head over the named regions of one aligned RGB uint8 face crop.

    ``crop`` is a (CROP_SIZE, CROP_SIZE, 3) aligned face or one already at INPUT_SIZE. A class head explains the
    probability of the predicted class unless a class (name or index) is given, as a mapping
    (``{"ethnicity": "Asian"}``) or keywords (``ethnicity="Asian"``, or ``ethnicity_class="Asian"``). Raises
    ValueError for an unusable crop, head or class. ``progress``, when given, is called with the share of the
    masked faces run so far (0..1). ``known``, an estimate of the same face with the same settings, lends the
    coalitions it ran: only the others are run.
    """
    image = to_model_input(checked_crop(crop))
    chosen = class_choices(classes, **by_head)  # a bad class fails before the model runs
    start = time.perf_counter()
    if known is None:
        table = coalition_outputs(model, image, settings, progress)
    else:
        table = known.coalitions.copy()
        missing = np.flatnonzero(np.isnan(table[:, 0]))
        table[missing] = coalition_outputs(model, image, settings, progress, coalitions=missing)
    values = shapley_values(table)
    explanation = RegionExplanation(
        heads={},
        method=settings.describe(),
        seconds=time.perf_counter() - start,
        all_values=values,
        all_base=table[0],
        all_output=table[-1],
        coalitions=table,
    )
    return explanation.retarget(chosen)


def hidden_face(
    crop: np.ndarray, hidden: Iterable[str], settings: RegionSettings = DEFAULT_REGION_SETTINGS
) -> np.ndarray:
    """The model input (float32, INPUT_SIZE) with the named regions hidden exactly as the explanation hides them:
    the face the coalition table holds the outputs of."""
    image = to_model_input(checked_crop(crop))
    shown = np.isin(region_labels(image.shape[0]), [k for k, name in enumerate(REGIONS) if name not in set(hidden)])
    return np.where(shown[..., None], image, cv2.blur(image, (settings.blur, settings.blur))).astype(np.float32)


def coalition_outputs(
    model,
    image: np.ndarray,
    settings: RegionSettings = DEFAULT_REGION_SETTINGS,
    progress: Callable[[float], None] | None = None,
    coalitions: np.ndarray | None = None,
) -> np.ndarray:
    """Outputs (len(coalitions), len(OUTPUTS)) float64 of coalitions of shown regions of a model-ready face (bit k
    set = region k shown); by default every one of the 2^n, in order."""
    # One label per value, not per pixel: a mask of the batch's own shape copies 25 times faster than one
    # broadcast over the colour axis.
    labels = np.repeat(region_labels(image.shape[0])[..., None], image.shape[2], axis=2)
    blurred = cv2.blur(image, (settings.blur, settings.blur))
    outputs = output_function(model, settings.flip)
    n = len(REGIONS)
    coalitions = np.arange(2**n) if coalitions is None else np.asarray(coalitions, np.int64)
    shown = ((coalitions[:, None] >> np.arange(n)) & 1).astype(bool)  # (2^n, n)
    parts = []
    buffer = np.empty((settings.batch_size, *image.shape), np.float32)  # reused: the model copies its input
    for first in range(0, len(coalitions), settings.batch_size):
        pixels_shown = shown[first : first + settings.batch_size][:, labels]  # (B, S, S, 3)
        batch = buffer[: len(pixels_shown)]
        np.copyto(batch, blurred)
        np.copyto(batch, image, where=pixels_shown)
        parts.append(outputs(batch))
        if progress is not None:
            progress(min(1.0, (first + len(batch)) / len(coalitions)))
    return np.concatenate(parts)


def shapley_values(table: np.ndarray) -> np.ndarray:
    """Shapley values (n, k) from the outputs of all 2^n coalitions (bit i of the row index = player i present)."""
    table = np.asarray(table, np.float64)
    n = int(round(math.log2(len(table))))
    if 2**n != len(table):
        raise ValueError(f"a coalition table has 2^n rows; got {len(table)}")
    coalitions = np.arange(2**n)
    sizes = np.array([bin(c).count("1") for c in coalitions])
    weights = np.array([math.factorial(s) * math.factorial(n - 1 - s) / math.factorial(n) for s in range(n)])
    values = np.empty((n, table.shape[1]), np.float64)
    for i in range(n):
        without = coalitions[(coalitions >> i) & 1 == 0]
        gains = table[without | (1 << i)] - table[without]
        values[i] = weights[sizes[without]] @ gains
    return values


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
