"""A quick estimate of the region values from a sample of coalitions, with its uncertainty.

KernelSHAP with paired sampling (Lundberg and Lee, 2017; Covert and Lee, 2021): the Shapley values are the
weighted least-squares fit of the coalitions' outputs, under the constraint that they add up to the output minus
the blurred face's. Every coalition of one region shown or one hidden (the kernel's heaviest) is run; between
them, coalitions are drawn with their complements by the Shapley kernel's weight per size. Each masked face is
averaged with its mirror image, as the card is, so the estimate explains the card's numbers like the exact values.
The uncertainty is a 95 % bootstrap interval over the drawn pairs. The coalitions run for an estimate are rows of
the exact table too: ``explain_regions(..., known=estimate)`` runs only the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from face2data.explanation.core import ClassChoice, checked_crop, class_choices
from face2data.explanation.regions import (
    DEFAULT_REGION_SETTINGS,
    RegionExplanation,
    RegionSettings,
    coalition_outputs,
)
from face2data.faces.regions import REGIONS
from face2data.schema import to_model_input

ESTIMATE_PAIRS = 53  # with the 2n single-region coalitions, 128 coalitions: an eighth of the exact table
# Coalitions an estimate runs: no region and every region shown, each single region shown or hidden, the pairs.
ESTIMATE_COALITIONS = 2 + 2 * len(REGIONS) + 2 * ESTIMATE_PAIRS
BOOTSTRAP_ROUNDS = 200
Z95 = 1.96


def _kernel_weight(n: int, size: int) -> float:
    """The Shapley kernel's weight of one coalition of ``size`` players out of ``n``."""
    return (n - 1) / (math.comb(n, size) * size * (n - size))


def estimate_design(n: int = len(REGIONS), pairs: int = ESTIMATE_PAIRS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The coalitions an estimate runs (bit k set = region k shown) and their weights in the fit; the first 2n are
    the single-region ones, then ``pairs`` drawn coalitions each followed by its complement. Seeded: every face
    gets the same design, so the same face always gets the same estimate."""
    full = 2**n - 1
    singles = [1 << k for k in range(n)] + [full & ~(1 << k) for k in range(n)]
    weights = [_kernel_weight(n, 1)] * (2 * n)
    middle = np.arange(2, n - 1)
    mass = np.array([(n - 1) / (s * (n - s)) for s in middle])
    available = (2**n - 2 - 2 * n) // 2
    if not 0 <= pairs <= available:
        raise ValueError(f"between 0 and {available} pairs of coalitions, not {pairs}")
    rng = np.random.default_rng(seed)
    drawn: list[int] = []
    seen: set[int] = set()
    while len(drawn) < 2 * pairs:
        size = int(rng.choice(middle, p=mass / mass.sum()))
        members = rng.choice(n, size, replace=False)
        coalition = int(np.sum(1 << members))
        if min(coalition, full & ~coalition) not in seen:
            seen.add(min(coalition, full & ~coalition))
            drawn += [coalition, full & ~coalition]
    middle_weight = float(mass.sum()) / max(len(drawn), 1)
    return np.array(singles + drawn, np.int64), np.array(weights + [middle_weight] * len(drawn))


def kernel_fit(
    outputs: np.ndarray, coalitions: np.ndarray, weights: np.ndarray, base: np.ndarray, full: np.ndarray, n: int
) -> np.ndarray:
    """Shapley values (n, k) fitted to the outputs (rows, k) of ``coalitions``: weighted least squares under the
    constraint that the values add up to ``full - base``."""
    shown = ((coalitions[:, None] >> np.arange(n)) & 1).astype(np.float64)  # (rows, n)
    gram = shown.T @ (weights[:, None] * shown)
    moments = shown.T @ (weights[:, None] * (outputs - base))
    inverse = np.linalg.inv(gram)
    ones = np.ones(n)
    solved, spread = inverse @ moments, inverse @ ones
    correction = (ones @ solved - (full - base)) / (ones @ spread)
    return solved - np.outer(spread, correction)


def estimate_from_table(
    table: np.ndarray, coalitions: np.ndarray, weights: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(values, 95 % half-widths), each (n, k), from the outputs of a design's coalitions (``table`` is indexed
    by coalition: rows not in the design are not read)."""
    n = int(round(math.log2(len(table))))
    base, full = table[0], table[-1]
    values = kernel_fit(table[coalitions], coalitions, weights, base, full, n)
    singles, pairs = 2 * n, (len(coalitions) - 2 * n) // 2
    if pairs < 2:
        return values, np.full_like(values, np.nan)
    rng = np.random.default_rng(seed)
    draws = np.empty((rounds, *values.shape))
    for r in range(rounds):
        picked = rng.integers(0, pairs, pairs)
        rows = np.concatenate([np.arange(singles), singles + 2 * picked, singles + 2 * picked + 1])
        draws[r] = kernel_fit(table[coalitions[rows]], coalitions[rows], weights[rows], base, full, n)
    return values, Z95 * draws.std(axis=0)


def estimate_regions(
    model,
    crop: np.ndarray,
    classes: Mapping[str, ClassChoice] | None = None,
    *,
    settings: RegionSettings = DEFAULT_REGION_SETTINGS,
    pairs: int = ESTIMATE_PAIRS,
    **by_head: ClassChoice,
) -> RegionExplanation:
    """Estimated region values of every head of one face (``explain_regions``' arguments), from an eighth of
    the coalitions, with their 95 % half-widths (``RegionHead.uncertainty``). Not exact: ``exact`` is False, and
    the what-if needs the exact table."""
    import time

    image = to_model_input(checked_crop(crop))
    chosen = class_choices(classes, **by_head)
    start = time.perf_counter()
    n = len(REGIONS)
    design, weights = estimate_design(n, pairs)
    rows = np.concatenate([[0, 2**n - 1], design])
    outputs = coalition_outputs(model, image, settings, coalitions=rows)
    table = np.full((2**n, outputs.shape[1]), np.nan)
    table[rows] = outputs
    values, uncertainty = estimate_from_table(table, design, weights)
    explanation = RegionExplanation(
        heads={},
        method=settings.describe_estimate(len(rows)),
        seconds=time.perf_counter() - start,
        all_values=values,
        all_base=table[0],
        all_output=table[-1],
        coalitions=table,
        uncertainty=uncertainty,
    )
    return explanation.retarget(chosen)
