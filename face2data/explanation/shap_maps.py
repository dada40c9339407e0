"""SHAP maps for one aligned face: which regions pushed each head's prediction up or down.

One SHAP Partition explainer run explains all outputs at once: the expected age,
both gender probabilities and the five ethnicity probabilities, from the same
masked model evaluations (one batched model call per batch of masks). Hidden
regions are filled with a box-blurred copy of the face, so the base value is the
prediction for the fully blurred face, and the explanation is exactly additive:
base value + sum of the map = the prediction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from face2data.schema import ETHNICITIES, GENDERS, HEADS, INPUT_SIZE, to_model_input

# Outputs of the explained function, in order; one explanation covers them all.
OUTPUTS = ("age", *(f"gender:{g}" for g in GENDERS), *(f"ethnicity:{e}" for e in ETHNICITIES))
# The explainer refines first where any output changes most; dividing the age by this
# puts years on the scale of probabilities so that the age does not steer alone.
AGE_SCALE = 20.0
UNITS = {"age": "years", "gender": "probability", "ethnicity": "probability"}
# Side, in model pixels, of the box blur that fills hidden parts of the face: a third of the face at any input size.
HIDDEN_BLUR = INPUT_SIZE // 3
# Masked faces per model call, for the pixel maps and the regions alike: on a 2-core CPU 16 took 15-20 % less time
# than 100 or 128 (a small batch's activations stay in the CPU's cache).
MASKED_BATCH = 16


@dataclass(frozen=True)
class ExplainSettings:
    """The explainer's budget and masker."""

    max_evals: int = 2000  # masked faces per face (shared by all outputs); timing in benchmarks/RESULTS.md
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

    head: str  # "age" | "gender" | "ethnicity"
    target: str  # what is explained: "expected age", "P(female)", "P(Asian)"
    unit: str  # "years" or "probability"
    values: np.ndarray  # (INPUT_SIZE, INPUT_SIZE) float32: SHAP value per pixel (RGB summed)
    base_value: float  # the output for the fully masked (blurred) face
    output_value: float  # the output for the face: base_value + values.sum()

    @property
    def map_unit(self) -> str:
        """Unit of one map value, for a colour bar."""
        return f"{self.unit} per pixel"


@dataclass(frozen=True)
class FaceExplanation:
    """SHAP maps of the three heads for one face, plus the raw maps of every class."""

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
        """The explained face's class probabilities of the gender or ethnicity head (mirror-averaged)."""
        labels = GENDERS if head == "gender" else ETHNICITIES
        return {label: float(p) for label, p in zip(labels, self._probs(head), strict=True)}

    def retarget(
        self, ethnicity_class: str | int | None = None, gender_class: str | int | None = None
    ) -> FaceExplanation:
        """The same explanation with other classes explained (no recomputation); None = the predicted class."""
        heads = dict(self.heads)
        gender = _class_index(gender_class, GENDERS, self._probs("gender"))
        ethnicity = _class_index(ethnicity_class, ETHNICITIES, self._probs("ethnicity"))
        heads["gender"], heads["ethnicity"] = self._head("gender", gender), self._head("ethnicity", ethnicity)
        return replace(self, heads=heads)

    def _probs(self, head: str) -> np.ndarray:
        return np.array([self.all_output[i] for i, name in enumerate(OUTPUTS) if name.startswith(head + ":")])

    def _head(self, head: str, cls: int | None = None) -> HeadExplanation:
        if head == "age":
            index, target = 0, "expected age"
        else:
            if cls is None:  # a real bug before: the class index was used unchecked
                cls = _class_index(None, GENDERS if head == "gender" else ETHNICITIES, self._probs(head))
            label = (GENDERS if head == "gender" else ETHNICITIES)[cls]
            index, target = OUTPUTS.index(f"{head}:{label}"), f"P({label})"
        return HeadExplanation(
            head=head,
            target=target,
            unit=UNITS[head],
            values=self.all_values[..., index],
            base_value=float(self.all_base[index]),
            output_value=float(self.all_output[index]),
        )


def explain_face(
    model,
    crop: np.ndarray,
    ethnicity_class: str | int | None = None,
    gender_class: str | int | None = None,
    settings: ExplainSettings = DEFAULT_SETTINGS,
    progress: Callable[[float], None] | None = None,
) -> FaceExplanation:
    """SHAP maps of the age, gender and ethnicity heads for one aligned RGB uint8 face crop.

    ``crop`` is a (CROP_SIZE, CROP_SIZE, 3) aligned face or one already at INPUT_SIZE.
    The gender and ethnicity maps explain the probability of the predicted class unless a
    class (name or index) is given. Raises ValueError for an unusable crop or class.
    ``progress``, when given, is called with the share of the masked faces run so far (0..1).
    """
    image = to_model_input(_checked_crop(crop))
    for cls, labels in ((ethnicity_class, ETHNICITIES), (gender_class, GENDERS)):
        if cls is not None:  # a bad class fails before the expensive part
            _class_index(cls, labels, np.zeros(len(labels)))
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
    explanation = replace(explanation, heads={"age": explanation._head("age")})
    explanation = explanation.retarget(ethnicity_class, gender_class)
    return replace(explanation, heads={head: explanation.heads[head] for head in HEADS})


def warm_up(model, settings: ExplainSettings = DEFAULT_SETTINGS) -> None:
    """Compile SHAP's numba kernels once (about 18 s on 2 cores; every later explanation skips it).

    Also runs one region explanation, so the model's batch buffers for it are allocated before a user waits.
    """
    from face2data.explanation.regions import explain_regions  # regions imports this module

    crop = np.full((INPUT_SIZE, INPUT_SIZE, 3), 128, np.uint8)
    explain_face(model, crop, settings=replace(settings, max_evals=20))
    explain_regions(model, crop)


def _checked_crop(crop) -> np.ndarray:
    crop = np.asarray(crop)
    if crop.ndim != 3 or crop.shape[2] != 3 or min(crop.shape[:2]) < 8:
        raise ValueError(f"a face crop must be an RGB image (height, width, 3); got shape {crop.shape}")
    if crop.dtype != np.uint8:
        raise ValueError(f"a face crop must be uint8 RGB; got {crop.dtype}")
    return crop


def _class_index(cls: str | int | None, labels: tuple[str, ...], probs: np.ndarray) -> int:
    """The index of a class given by name (any case) or index; the most probable one for None."""
    if cls is None:
        return int(np.argmax(probs))
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and 0 <= cls < len(labels):
        return int(cls)
    if isinstance(cls, str):
        lowered = [label.lower() for label in labels]
        if cls.strip().lower() in lowered:
            return lowered.index(cls.strip().lower())
    raise ValueError(f"unknown class {cls!r}; choose one of {', '.join(labels)}")


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
    outputs = _output_function(model, settings.flip)
    done = [0]

    def explained(flat: np.ndarray) -> np.ndarray:
        result = outputs(np.asarray(flat, np.float32).reshape(-1, size, size, 3))
        done[0] += len(result)
        if progress is not None:
            progress(min(1.0, done[0] / settings.max_evals))
        return result

    with _LOCK:
        masker = _explainer_parts(settings.blur, size)
        # The masker caches the blurred image by id(); a new image may reuse an old id.
        masker.last_xid = None
        explainer = shap.explainers.Partition(explained, masker)
        # A flat image stays one object inside SHAP, so its blurred copy is computed once.
        result = explainer(
            image.reshape(1, -1), max_evals=settings.max_evals, batch_size=settings.batch_size, silent=True
        )
        masker.last_xid = None
    values = np.asarray(result.values[0], np.float64).reshape(size, size, 3, len(OUTPUTS)).sum(axis=2)
    base = np.asarray(result.base_values[0], np.float64)
    output = explained(image.reshape(1, -1))[0].astype(np.float64)
    values[..., 0] *= AGE_SCALE
    base[0] *= AGE_SCALE
    output[0] *= AGE_SCALE
    return values.astype(np.float32), base, output


def _output_function(model, flip: bool):
    """A batched function (N, S, S, 3) float32 -> (N, len(OUTPUTS)) float64: one model call per batch.

    The outputs are the expected age (divided by AGE_SCALE), then the gender and ethnicity probabilities,
    mirror-averaged like the served predictions when ``flip``.
    """
    from face2data.outputs import expected_age, predict_probabilities

    def run(x: np.ndarray) -> np.ndarray:
        probs = predict_probabilities(model, x, flip=flip, batch_size=max(len(x), 1))
        age = expected_age(probs["age"]) / AGE_SCALE
        return np.column_stack([age, probs["gender"], probs["ethnicity"]]).astype(np.float64)

    return run
