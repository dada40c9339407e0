"""The explanation core shared by the pixel maps (``shap_maps``) and the region values (``regions``).

What is explained: the columns of ``OUTPUTS``, read from the head table in its order. An ``"age"`` head gives one
column, the expected age in years; a ``"classes"`` head gives one column per class, that class's probability. Each
masked face is averaged with its mirror image when ``flip`` is set, as the face's card is, so the explained output
is the number the card shows. A head's view explains one column: the expected age, or the probability of a chosen
class (by name in any case, or index; None = the class the face's output makes likeliest).

How a part of the face is hidden: filled from a box-blurred copy of the face (``HIDDEN_BLUR`` model pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from face2data.outputs import expected_age, predict_probabilities
from face2data.schema import CLASS_HEADS, HEAD_BY_NAME, HEAD_TABLE, INPUT_SIZE, Head

# Side, in model pixels, of the box blur that fills hidden parts of the face: a third of the face at any input size.
HIDDEN_BLUR = INPUT_SIZE // 3
# Masked faces per model call, for the pixel maps and the regions alike: on a 2-core CPU 16 took 15-20 % less time
# than 100 or 128 (a small batch's activations stay in the CPU's cache).
MASKED_BATCH = 16

# A class of a class head: its name (any case), its index, or None for the likeliest class.
ClassChoice = str | int | None


def _column_names(head: Head) -> tuple[str, ...]:
    return (head.name,) if head.kind == "age" else tuple(f"{head.name}:{label}" for label in head.classes)


# Outputs of the explained function, in order: "age", then "gender:male", ..., "ethnicity:Others".
OUTPUTS = tuple(name for head in HEAD_TABLE for name in _column_names(head))
_FIRST_COLUMN = {head.name: OUTPUTS.index(_column_names(head)[0]) for head in HEAD_TABLE}


def output_columns(head: str) -> range:
    """The columns of OUTPUTS a head fills: one for an age head, one per class for a class head."""
    first = _FIRST_COLUMN[head]
    return range(first, first + len(_column_names(HEAD_BY_NAME[head])))


def output_function(model: Any, flip: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """A batched function (N, S, S, 3) float32 -> (N, len(OUTPUTS)) float64, one model call per batch.

    The columns are OUTPUTS: expected ages in years, class probabilities; mirror-averaged like the shown
    predictions when ``flip``.
    """

    def run(batch: np.ndarray) -> np.ndarray:
        probs = predict_probabilities(model, batch, flip=flip, batch_size=max(len(batch), 1))
        parts = [expected_age(probs[h.name]) if h.kind == "age" else probs[h.name] for h in HEAD_TABLE]
        return np.column_stack(parts).astype(np.float64)

    return run


def checked_crop(crop: Any) -> np.ndarray:
    """The crop as an array; ValueError unless it is an RGB uint8 image of at least 8x8 pixels."""
    crop = np.asarray(crop)
    if crop.ndim != 3 or crop.shape[2] != 3 or min(crop.shape[:2]) < 8:
        raise ValueError(f"a face crop must be an RGB image (height, width, 3); got shape {crop.shape}")
    if crop.dtype != np.uint8:
        raise ValueError(f"a face crop must be uint8 RGB; got {crop.dtype}")
    return crop


def class_index(cls: ClassChoice, head: Head | str, probs: np.ndarray | None = None) -> int:
    """The index of a class of a class head given by name (any case) or index; the likeliest in ``probs`` for None.

    Raises ValueError for an unknown class.
    """
    labels = (HEAD_BY_NAME[head] if isinstance(head, str) else head).classes
    if cls is None:
        if probs is None:
            raise ValueError("the likeliest class needs the head's probabilities")
        return int(np.argmax(probs))
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and 0 <= cls < len(labels):
        return int(cls)
    if isinstance(cls, str):
        lowered = [label.lower() for label in labels]
        if cls.strip().lower() in lowered:
            return lowered.index(cls.strip().lower())
    raise ValueError(f"unknown class {cls!r}; choose one of {', '.join(labels)}")


def class_choices(classes: Mapping[str, ClassChoice] | None = None, **by_head: ClassChoice) -> dict[str, ClassChoice]:
    """The class to explain for every class head (None = the likeliest), checked before anything is computed.

    Classes come as a mapping, as keywords or both: ``{"ethnicity": "Asian"}``, ``ethnicity="Asian"``, or the older
    ``ethnicity_class="Asian"``. A head not named gets None. Raises ValueError for an unknown head or class.
    """
    if classes is not None and not isinstance(classes, Mapping):
        raise TypeError(f"classes must map class heads to classes, e.g. {{'ethnicity': 'Asian'}}; got {classes!r}")
    chosen: dict[str, ClassChoice] = {head.name: None for head in CLASS_HEADS}
    for key, cls in {**(classes or {}), **by_head}.items():
        name = key.removesuffix("_class")
        if name not in chosen:
            raise ValueError(f"no class head {key!r}; class heads: {', '.join(chosen)}")
        if cls is not None:
            class_index(cls, name)
        chosen[name] = cls
    return chosen


def explained_columns(classes: Mapping[str, ClassChoice], output: np.ndarray) -> dict[str, tuple[int, str]]:
    """Per head, in head-table order: the column of OUTPUTS its view explains and its target in words.

    The target is "expected age" or "P(<class>)"; a class head's class is ``classes[head]``, or the likeliest in
    ``output`` (the face's row of OUTPUTS) for None or an absent head.
    """
    result = {}
    for head in HEAD_TABLE:
        columns = output_columns(head.name)
        if head.kind == "age":
            result[head.name] = (columns.start, "expected age")
        else:
            index = class_index(classes.get(head.name), head, np.asarray(output)[columns.start : columns.stop])
            result[head.name] = (columns.start + index, f"P({head.classes[index]})")
    return result


def retargeted_heads(heads: Mapping[str, Any], output: np.ndarray, classes: Mapping[str, ClassChoice] | None,
                     by_head: Mapping[str, ClassChoice], view: Callable[[str, int, str], Any]
                     ) -> dict[str, Any]:  # fmt: skip
    """An explanation's per-head views explaining other classes: ``heads`` (views with a ``target``) kept where
    the target stays the same, else ``view(head, column, target)``; classes chosen as ``class_choices`` reads
    them, the rest explaining the likeliest class of ``output``."""
    chosen = class_choices(classes, **by_head)
    result = {}
    for head, (column, target) in explained_columns(chosen, output).items():
        kept = heads.get(head)  # a view that stays the same stays the same object
        result[head] = kept if kept is not None and kept.target == target else view(head, column, target)
    return result


def target_class(target: str) -> str | None:
    """The class a target names ("P(Asian)" -> "Asian"); None for a target that is not a class probability."""
    return target[2:-1] if target.startswith("P(") and target.endswith(")") else None


def target_column(head: str, target: str) -> int:
    """The column of OUTPUTS a head's target ("expected age", "P(Asian)") is."""
    columns = output_columns(head)
    label = target_class(target)
    return columns.start if label is None else columns.start + class_index(label, head)


def class_probabilities(head: str, output: np.ndarray) -> dict[str, float]:
    """A class head's class probabilities from one row of OUTPUTS."""
    columns = output_columns(head)
    labels = HEAD_BY_NAME[head].classes
    return {label: float(p) for label, p in zip(labels, np.asarray(output)[columns.start : columns.stop], strict=True)}
