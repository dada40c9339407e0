"""SHAP maps for one aligned face: which regions pushed each head's prediction up or down.

One SHAP Partition explainer run explains all outputs at once (``core.OUTPUTS``: the
expected age and every class probability of every class head), from the same
masked model evaluations (one batched model call per batch of masks). Hidden
regions are filled with a box-blurred copy of the face, so the base value is the
prediction for the fully blurred face, and the explanation is exactly additive:
base value + sum of the map = the prediction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from face2data.explanation.core import (
    HIDDEN_BLUR,
    MASKED_BATCH,
    OUTPUTS,
    ClassChoice,
    checked_crop,
    class_choices,
    class_probabilities,
    output_columns,
    output_function,
    retargeted_heads,
)
from face2data.explanation.overlay import overlay_png
from face2data.schema import AGE_HEAD, HEAD_TABLE, INPUT_SIZE, to_model_input

# The explainer refines first where any output changes most; dividing the age by this
# puts years on the scale of probabilities so that the age does not steer alone.
AGE_SCALE = 20.0
# The unit of each head's explained output: "years" or "probability".
UNITS = {head.name: head.unit for head in HEAD_TABLE}
# What each column of OUTPUTS is divided by while the explainer runs (and multiplied by afterwards).
_STEERING = np.array([AGE_SCALE if i in output_columns(AGE_HEAD.name) else 1.0 for i in range(len(OUTPUTS))])


@dataclass(frozen=True)
class ExplainSettings:
    """The explainer's budget and masker."""

    # Masked faces per face (shared by all outputs): 300 answer in about 1.4 s on a 2-core CPU, maps correlating
    # about 0.79 with those of 2,000 (9 s; 500 took 2.0-2.3 s for 0.86), so that /v1/explain with its defaults stays
    # within 20 times MTCNN's detection; timing and agreement in benchmarks/RESULTS.md.
    max_evals: int = 300
    blur: int = HIDDEN_BLUR
    # The explainer expands its partition batch by batch, so the batch size also shapes the maps slightly.
    batch_size: int = MASKED_BATCH
    # Each masked face is averaged with its mirror image, as the shown predictions are, so the explained output
    # is the card's number (twice the model calls of the face as seen).
    flip: bool = True

    def describe(self) -> str:
        """One sentence saying how the maps were computed."""
        mirror = (
            " (each averaged with its mirror image, as the shown predictions are)"
            if self.flip
            else " of the face as seen (not averaged with the mirror image as the shown predictions are)"
        )
        return (
            f"SHAP Partition explainer (Owen values over a hierarchy of image rectangles) with "
            f"{self.max_evals} model evaluations{mirror}; a hidden region is filled with the same region of a "
            f"{self.blur}x{self.blur}-pixel box-blurred copy of the {INPUT_SIZE}x{INPUT_SIZE} face, so the base value "
            f"is the output for the fully blurred face and base value + sum of the map = the explained output."
        )


DEFAULT_SETTINGS = ExplainSettings()


@dataclass(frozen=True)
class HeadExplanation:
    """The SHAP map of one head's explained output."""

    head: str  # a name of the head table: "age", "gender", "ethnicity"
    target: str  # what is explained: "expected age", "P(female)", "P(Asian)"
    unit: str  # "years" or "probability"
    values: np.ndarray  # (INPUT_SIZE, INPUT_SIZE) float32: SHAP value per pixel (RGB summed)
    base_value: float  # the output for the fully masked (blurred) face
    output_value: float  # the output for the face: base_value + values.sum()

    @property
    def map_unit(self) -> str:
        """Unit of one map value, for a colour bar."""
        return f"{self.unit} per pixel"

    def shown_map(self) -> tuple[np.ndarray, str]:
        """The map in the unit the region values are shown in, with that unit per pixel: years, or percentage
        points of a probability (so the two panels of one face read alike)."""
        if self.unit == "probability":
            return self.values * 100.0, "percentage points per pixel"
        return self.values, self.map_unit

    def to_dict(self, crop: np.ndarray | None = None, arrays: bool = False) -> dict:
        """JSON form: target, unit, base value and output; with ``crop`` (the explained face, RGB uint8) the map
        over it as a base64 PNG (``overlay_png``); with ``arrays`` the map's values as nested lists."""
        result: dict = {
            "target": self.target,
            "unit": self.unit,
            "base_value": round(float(self.base_value), 5),
            "output": round(float(self.output_value), 5),
        }
        if crop is not None:
            result["overlay_png"] = overlay_png(crop, self.values)
        if arrays:
            result["values"] = np.round(self.values, 7).tolist()
        return result


@dataclass(frozen=True)
class FaceExplanation:
    """SHAP maps of every head for one face, plus the raw maps of every class."""

    heads: dict[str, HeadExplanation]
    method: str
    settings: ExplainSettings
    seconds: float
    all_values: np.ndarray = field(repr=False)  # (INPUT_SIZE, INPUT_SIZE, len(OUTPUTS)) float32
    all_base: np.ndarray = field(repr=False)  # (len(OUTPUTS),)
    all_output: np.ndarray = field(repr=False)  # (len(OUTPUTS),)

    def __getitem__(self, head: str) -> HeadExplanation:
        return self.heads[head]

    def probabilities(self, head: str) -> dict[str, float]:
        """The explained face's class probabilities of a class head (mirror-averaged)."""
        return class_probabilities(head, self.all_output)

    def retarget(self, classes: Mapping[str, ClassChoice] | None = None, /, **by_head: ClassChoice) -> FaceExplanation:
        """The same explanation with other classes explained (no recomputation).

        Classes per class head as a mapping or keywords: ``retarget(ethnicity="Asian")``,
        ``retarget({"ethnicity": "Asian", "gender": 1})`` (``ethnicity_class=`` works too); a head not named, or
        None, explains its predicted class. Raises ValueError for an unknown head or class.
        """
        return replace(self, heads=retargeted_heads(self.heads, self.all_output, classes, by_head, self._head))

    def to_dict(self, crop: np.ndarray | None = None, arrays: bool = False) -> dict:
        """JSON form: ``heads`` (each head's ``HeadExplanation.to_dict(crop, arrays)``) and ``method``."""
        return {"heads": {head: part.to_dict(crop, arrays) for head, part in self.heads.items()}, "method": self.method}

    def _head(self, head: str, column: int, target: str) -> HeadExplanation:
        return HeadExplanation(
            head=head,
            target=target,
            unit=UNITS[head],
            values=self.all_values[..., column],
            base_value=float(self.all_base[column]),
            output_value=float(self.all_output[column]),
        )


def explain_face(
    model,
    crop: np.ndarray,
    classes: Mapping[str, ClassChoice] | None = None,
    *,
    settings: ExplainSettings = DEFAULT_SETTINGS,
    progress: Callable[[float], None] | None = None,
    **by_head: ClassChoice,
) -> FaceExplanation:
    """SHAP maps of every head for one aligned RGB uint8 face crop.

    ``crop`` is a (CROP_SIZE, CROP_SIZE, 3) aligned face or one already at INPUT_SIZE. A class head's map
    explains the probability of the predicted class unless a class (name or index) is given, as a mapping
    (``{"ethnicity": "Asian"}``) or keywords (``ethnicity="Asian"``, or ``ethnicity_class="Asian"``). Raises
    ValueError for an unusable crop, head or class. ``progress``, when given, is called with the share of the
    masked faces run so far (0..1).
    """
    image = to_model_input(checked_crop(crop))
    chosen = class_choices(classes, **by_head)  # a bad class fails before the expensive part
    start = time.perf_counter()
    values, base, output = _run_partition(model, image, settings, progress)
    values.setflags(write=False)  # shared by the head views and often cached by the app
    explanation = FaceExplanation(
        heads={},
        method=settings.describe(),
        settings=settings,
        seconds=time.perf_counter() - start,
        all_values=values,
        all_base=base,
        all_output=output,
    )
    return explanation.retarget(chosen)


# --- the SHAP run -----------------------------------------------------------------------

# The explainer keeps per-call state and the masker caches the blurred image: one run at a time.
_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _explainer_parts(blur: int, size: int):
    """The image masker (building its partition tree is slow, so it is shared)."""
    import shap

    return shap.maskers.Image(f"blur({blur},{blur})", (size, size, 3))


def _run_partition(
    model, image: np.ndarray, settings: ExplainSettings, progress: Callable[[float], None] | None = None
):
    """Partition SHAP of all OUTPUTS for one model-ready image (S, S, 3) float32."""
    import shap

    size = image.shape[0]
    outputs = output_function(model, settings.flip)
    done = [0]

    def explained(flat: np.ndarray) -> np.ndarray:
        result = outputs(np.asarray(flat, np.float32).reshape(-1, size, size, 3)) / _STEERING
        done[0] += len(result)
        if progress is not None:
            progress(min(1.0, done[0] / settings.max_evals))
        return result

    with _LOCK:
        masker = _explainer_parts(settings.blur, size)
        # The masker caches the blurred image by id(); a new image may reuse an old id.
        masker.last_xid = None
        explainer = shap.explainers.Partition(explained, masker)
        # One row explained without the Explanation object calling the explainer builds around it (0.17 s of
        # slicing bookkeeping for 49,152 values of 16 outputs). A flat image stays one object inside SHAP, so its
        # blurred copy is computed once.
        result = explainer.explain_row(
            image.reshape(-1), max_evals=settings.max_evals, batch_size=settings.batch_size, silent=True,
            main_effects=False, error_bounds=False, outputs=None, fixed_context=None,
        )  # fmt: skip
        masker.last_xid = None
    values = np.asarray(result["values"], np.float64).reshape(size, size, 3, len(OUTPUTS)).sum(axis=2)
    base = np.asarray(result["expected_values"], np.float64)
    output = explained(image.reshape(1, -1))[0].astype(np.float64)
    values *= _STEERING
    base *= _STEERING
    output *= _STEERING
    return values.astype(np.float32), base, output
