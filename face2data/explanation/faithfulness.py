"""Is an explanation faithful? Hide regions in the order it ranks them and see how fast the output moves.

For one face and head: hide the regions one by one (filled from the blurred copy, as the explanation does), in the
explanation's order (largest absolute value first) and in random orders. The area over the perturbation curve
(AOPC) over the first k steps is the mean of |output of the face - output with the first j regions hidden|,
j = 1..k. A faithful ranking moves the output faster than random orders; the app shows a head's region values as
an explanation only where ranked hiding moved the output at least ``MIN_RATIO`` times as much as random orders
over the first ``FIRST_K`` regions (``benchmarks/explain_faithfulness.py`` measures it and writes the file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face2data.explanation.regions import RegionExplanation
from face2data.paths import FAITHFULNESS_PATH
from face2data.schema import HEADS

FIRST_K = 3
MIN_RATIO = 2.0


def aopc(outputs: np.ndarray, k: int) -> float:
    """Mean |outputs[0] - outputs[j]| for j = 1..k: how far hiding the first k regions moved the output."""
    outputs = np.asarray(outputs, np.float64)
    return float(np.mean(np.abs(outputs[1 : k + 1] - outputs[0])))


def ranked_order(scores: np.ndarray) -> np.ndarray:
    """Region indices by decreasing absolute score."""
    return np.argsort(-np.abs(np.asarray(scores)), kind="stable")


def face_curves(
    explanation: RegionExplanation, head: str, scores: np.ndarray, rng: np.random.Generator, n_random: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The head's outputs along the ranked order of ``scores`` (n+1,) and along ``n_random`` random orders."""
    ranked = explanation.hidden_outputs(head, ranked_order(scores))
    n = len(scores)
    random = np.stack([explanation.hidden_outputs(head, rng.permutation(n)) for _ in range(n_random)])
    return ranked, random


@dataclass(frozen=True)
class Faithfulness:
    """Ranked-over-random AOPC ratios per head over the first FIRST_K regions, for one model."""

    ratios: dict[str, float]  # head -> ratio, region explanation
    faces: int
    model_sha256: str

    def passes(self, head: str) -> bool:
        """True when the head's region ranking moved the output at least MIN_RATIO times as much as random."""
        return self.ratios.get(head, 0.0) >= MIN_RATIO


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
        ratios = {head: float(stored["ratio_first_k"]["regions"][head]) for head in HEADS}
        return Faithfulness(ratios=ratios, faces=int(stored["faces"]), model_sha256=str(stored["model_sha256"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
