"""Is an explanation faithful? Hide regions in the order it ranks them and see how fast the output moves.

For one face and head: hide the regions one by one (filled from the blurred copy, as the explanation does), in the
explanation's order and in random orders. The order is "most relevant first" (MoRF): the regions that moved the
output furthest towards this face's output (away from the blurred face's) come first, so hiding them should undo
the prediction fastest. The area over the perturbation curve over the first k steps, AOPC_k, is the mean over
j = 1..k of how far the output fell back towards the blurred face's (in the head's unit) with the first j regions
hidden. The app shows a head's region values as an explanation only where ranked hiding did so at least
``MIN_RATIO`` times as much as random orders over the first ``FIRST_K`` regions (``benchmarks/
explain_faithfulness.py`` measures it on test faces and writes the file). ``aopc(..., direction=None)`` is the
unsigned variant: how far the output moved either way, ranking by absolute value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from face2data.explanation.regions import RegionExplanation
from face2data.paths import FAITHFULNESS_PATH
from face2data.schema import HEADS

FIRST_K = 3
MIN_RATIO = 2.0


def direction(explanation: RegionExplanation, head: str) -> float:
    """+1 when the face's output is above the blurred face's, else -1: which way "towards the prediction" is."""
    part = explanation[head]
    return 1.0 if part.output_value >= part.base_value else -1.0


def aopc(outputs: np.ndarray, k: int, direction: float | None = 1.0) -> float:
    """Mean over j = 1..k of direction * (outputs[0] - outputs[j]), or of |outputs[0] - outputs[j]| for None.

    ``outputs[0]`` is the output of the face, ``outputs[j]`` the output with the first j regions hidden.
    """
    outputs = np.asarray(outputs, np.float64)
    change = outputs[0] - outputs[1 : k + 1]
    return float(np.mean(np.abs(change) if direction is None else direction * change))


def ranked_order(scores: np.ndarray, direction: float | None = 1.0) -> np.ndarray:
    """Region indices, most relevant first: by direction * score, or by |score| for ``direction=None``."""
    scores = np.asarray(scores, np.float64)
    keys = np.abs(scores) if direction is None else direction * scores
    return np.argsort(-keys, kind="stable")


def face_curves(
    explanation: RegionExplanation,
    head: str,
    scores: np.ndarray,
    rng: np.random.Generator,
    n_random: int = 10,
    direction: float | None = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The head's outputs along the ranked order of ``scores`` (n+1,) and along ``n_random`` random orders."""
    ranked = explanation.hidden_outputs(head, ranked_order(scores, direction))
    n = len(scores)
    random = np.array([explanation.hidden_outputs(head, rng.permutation(n)) for _ in range(n_random)])
    return ranked, random


@dataclass(frozen=True)
class Faithfulness:
    """Ranked-over-random AOPC ratios per head over the first FIRST_K regions, for one model."""

    ratios: dict[str, float]  # head -> ratio, region explanation
    faces: int
    model_sha256: str
    pixel_ratios: dict[str, float] = field(default_factory=dict)  # head -> ratio, regions ranked by the pixel map

    def passes(self, head: str, pixels: bool = False) -> bool:
        """True when the head's ranking (regions, or the pixel map's) beat random orders at least MIN_RATIO times."""
        return (self.pixel_ratios if pixels else self.ratios).get(head, 0.0) >= MIN_RATIO


def save_faithfulness(report: dict, path: str | Path = FAITHFULNESS_PATH) -> Path:
    """Write the benchmark's figures (a JSON object with ``regions`` ratios per head, faces, model) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path


def load_faithfulness(path: str | Path = FAITHFULNESS_PATH) -> Faithfulness | None:
    """The measured faithfulness, or None when it has not been measured (or the file is unreadable)."""
    try:
        stored = json.loads(Path(path).read_text())
        measured = stored["ratio_first_k"]
        ratios = {head: float(measured["regions"][head]) for head in HEADS}
        pixels = {head: float(measured["pixel map"][head]) for head in HEADS if head in measured.get("pixel map", {})}
        return Faithfulness(ratios, int(stored["faces"]), str(stored["model_sha256"]), pixels)
    except (OSError, ValueError, KeyError, TypeError):
        return None
