"""The single source of truth for labels, input size and preprocessing.

Training, evaluation, prediction and the app all import from here, so what the
model is trained on and what it is served cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

AGE_MIN = 0
AGE_MAX = 116
AGES = np.arange(AGE_MIN, AGE_MAX + 1, dtype=np.float32)
NUM_AGES = len(AGES)

GENDERS = ("male", "female")
ETHNICITIES = ("White", "Black", "Asian", "Indian", "Others")

# Lower edges of the age buckets used for confusion matrices and per-group figures: FairFace's nine ranges.
AGE_BUCKET_EDGES = (0, 3, 10, 20, 30, 40, 50, 60, 70)
AGE_BUCKETS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")

# The labelled training sources. UTKFace gives exact ages and the five ethnicity classes; FairFace gives an
# age range (one of AGE_BUCKETS, spelt as in FAIRFACE_AGE_LABELS) and one of seven race groups; All-Age-Faces
# gives exact ages and gender only (its faces carry NO_LABEL for ethnicity, which masks that head's loss).
SOURCES = ("utkface", "fairface", "allagefaces")
# All-Age-Faces' ages, as its authors give them (each face's exact age is in its file name)
ALLAGEFACES_AGES = (2, 80)
ALLAGEFACES_AGES_TEXT = f"every age from {ALLAGEFACES_AGES[0]} to {ALLAGEFACES_AGES[1]}"
# The class index of a head whose label a face lacks: that head's loss and metrics leave the face out.
NO_LABEL = -1
FAIRFACE_AGE_LABELS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70")
RACES = ("White", "Black", "Indian", "East Asian", "Southeast Asian", "Middle Eastern", "Latino_Hispanic")
# FairFace's race groups in the five ethnicity classes (UTKFace's "Others" covers Hispanic, Latino and
# Middle Eastern faces).
RACE_TO_ETHNICITY = {
    "White": "White",
    "Black": "Black",
    "Indian": "Indian",
    "East Asian": "Asian",
    "Southeast Asian": "Asian",
    "Middle Eastern": "Others",
    "Latino_Hispanic": "Others",
}
# FairFace's groups as written on photo labels (ASCII, short)
RACE_SHORT = {"East Asian": "E Asian", "Southeast Asian": "SE Asian", "Middle Eastern": "M Eastern",
              "Latino_Hispanic": "Latino"}  # fmt: skip
# Range labels are scored as hits when the predicted age lies inside the range widened by this many years.
AGE_RANGE_TOLERANCE = 5

# The aligned face frame: UTKFace's "aligned & cropped" images are 200x200.
CROP_SIZE = 200
# The square side the network sees.
INPUT_SIZE = 128
# Central probability mass of the predicted age distribution reported as the age interval.
AGE_INTERVAL_MASS = 0.8


@dataclass(frozen=True)
class Head:
    """One output of the network. Everything that differs between heads is read from here: the model's output
    layer (by ``name``), its loss and metric, the LiteRT output mapping, the result's probabilities, the flat
    columns, the explanation targets, the live smoothing and the captions.

    ``kind`` is ``"age"`` (a distribution over AGES, reported as its expected value and interval) or ``"classes"``
    (a softmax over ``classes``, reported as the likeliest class and its probability).
    """

    name: str
    kind: Literal["age", "classes"]
    title: str  # for people: "Gender"
    classes: tuple[str, ...] = ()  # class names of a "classes" head, in output order
    short: dict[str, str] = field(default_factory=dict)  # a class's short form on photo labels (default: as is)
    # What the head tells about a face (default: its name). Heads of one attribute are alternative schemes of it
    # (the five ethnicity classes, FairFace's seven groups): a face card or photo label shows one of them.
    attribute: str = ""
    scheme: str = ""  # for people, how this head divides its attribute ("UTKFace's 5 classes"); "" for the only one

    def __post_init__(self) -> None:
        if not self.attribute:
            object.__setattr__(self, "attribute", self.name)

    @property
    def size(self) -> int:
        """The number of outputs of the head's layer."""
        return NUM_AGES if self.kind == "age" else len(self.classes)

    @property
    def unit(self) -> str:
        """What the head's reported number is in: years for an age, a probability for a class."""
        return "years" if self.kind == "age" else "probability"

    def short_form(self, label: str) -> str:
        """A class name as written on a photo label (ASCII: OpenCV's fonts have no more)."""
        return self.short.get(label, label)


# The network's heads, in output order. A new head: its labels in the sources, one row here, retrain.
HEAD_TABLE = (
    Head("age", "age", "Age"),
    Head("gender", "classes", "Gender", GENDERS, {"male": "M", "female": "F"}),
    Head("ethnicity", "classes", "Ethnicity", ETHNICITIES, attribute="ethnicity", scheme="UTKFace's 5 classes"),
    Head("ethnicity7", "classes", "Ethnicity (7 groups)", RACES, RACE_SHORT, "ethnicity", "FairFace's 7 groups"),
)
HEADS = tuple(head.name for head in HEAD_TABLE)
HEAD_BY_NAME = {head.name: head for head in HEAD_TABLE}
CLASS_HEADS = tuple(head for head in HEAD_TABLE if head.kind == "classes")
AGE_HEAD = next(head for head in HEAD_TABLE if head.kind == "age")


def shown_heads(choice: Mapping[str, str] | None = None, table: Sequence[Head] = HEAD_TABLE) -> tuple[Head, ...]:
    """One head per attribute, in table order: the head ``choice`` names for its attribute (``{"ethnicity":
    "ethnicity7"}``), else the attribute's first head. A name that is not a head of that attribute is ignored."""
    choice = choice or {}
    chosen: dict[str, Head] = {}
    for head in table:
        if head.attribute not in chosen or choice.get(head.attribute) == head.name:
            chosen[head.attribute] = head
    return tuple(head for head in table if chosen[head.attribute] is head)


def age_bucket(ages: np.ndarray | float) -> np.ndarray:
    """Index into AGE_BUCKETS for each age."""
    return np.searchsorted(np.asarray(AGE_BUCKET_EDGES), np.asarray(ages), side="right") - 1


def age_range_bounds(bucket: int) -> tuple[int, int]:
    """The first and last whole age of AGE_BUCKETS[bucket] (the last range ends at AGE_MAX)."""
    edges = (*AGE_BUCKET_EDGES, AGE_MAX + 1)
    return edges[bucket], edges[bucket + 1] - 1


def to_model_input(crops: np.ndarray) -> np.ndarray:
    """Turn aligned RGB uint8 face crops (H, W, 3) or (N, H, W, 3) into network input.

    The network takes float32 pixels in 0..255 at INPUT_SIZE and rescales inside
    itself, so this resize is all the preprocessing there is.
    """
    single = crops.ndim == 3
    batch = crops[None] if single else crops
    out = np.empty((len(batch), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    for i, crop in enumerate(batch):
        if crop.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
            crop = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        out[i] = crop
    return out[0] if single else out
