"""Live frames without a browser: boxes and steady labels on a still face, the frame rate, the latest frame."""

from __future__ import annotations

import numpy as np
from conftest import astronaut_face_crop

from face2data.predictor import Predictor
from face2data.ui.live import LiveAnnotator


def test_a_still_face_keeps_one_label_and_the_frame_rate_is_measured(shipped_tflite_path):
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[140:340, 220:420] = astronaut_face_crop()
    annotator = LiveAnnotator(Predictor())
    labels = []
    for _ in range(12):
        noisy = np.clip(frame + np.random.default_rng(len(labels)).normal(0, 3, frame.shape), 0, 255)
        out = annotator.annotate(noisy.astype(np.uint8))
        labels.append(annotator.stats()["labels"])
    assert out.shape == frame.shape and not np.array_equal(out, frame)  # boxes and text drawn
    assert all(len(frame_labels) == 1 for frame_labels in labels)
    assert len({frame_labels[0] for frame_labels in labels[4:]}) == 1  # steady once the window has filled
    stats = annotator.stats()
    assert stats["frames"] == 12 and stats["fps"] > 0
    latest = annotator.latest_frame()
    assert latest is not None and latest.shape == frame.shape and len(annotator.tracker.tracks) == 1


def _probabilities(age: float, **classes: np.ndarray) -> dict[str, np.ndarray]:
    """A face's probabilities: ages about ``age``; ``classes`` by head, every other class head its last class."""
    from face2data.schema import AGES, CLASS_HEADS, NUM_AGES

    ages = np.exp(-0.5 * ((AGES - age) / 3.0) ** 2)
    assert len(ages) == NUM_AGES
    last = {head.name: np.eye(len(head.classes))[-1] for head in CLASS_HEADS}
    return {"age": ages / ages.sum()} | last | classes


def test_a_label_near_a_boundary_does_not_flip():
    from face2data.ui.live import ShownLabel

    def probs(age: float, p_female: float) -> dict[str, np.ndarray]:
        return _probabilities(age, gender=np.array([1 - p_female, p_female]),
                              ethnicity=np.array([0.5, 0.45, 0.05, 0.0, 0.0]))  # fmt: skip

    label = ShownLabel.of(probs(32.6, 0.52))
    first = label.text()
    for age, p_female in ((32.4, 0.48), (32.7, 0.53), (32.3, 0.47)):
        label.update(probs(age, p_female))
        assert label.text() == first
    label.update(probs(36.0, 0.2))  # a clear change does show
    assert label.text().startswith("36 · male")


def test_a_label_names_the_heads_it_is_given():
    from face2data.schema import HEAD_BY_NAME, RACES
    from face2data.ui.live import ShownLabel

    seven = np.array([0.05, 0.05, 0.05, 0.7, 0.05, 0.05, 0.05])  # East Asian
    assert len(seven) == len(RACES)
    probs = _probabilities(40.0, gender=np.array([0.2, 0.8]), ethnicity=np.array([0.1, 0.1, 0.7, 0.1, 0.0]),
                           ethnicity7=seven)  # fmt: skip
    label = ShownLabel.of(probs)
    assert label.text() == "40 · female · Asian"  # by default one head per attribute: its first (the five classes)
    assert label.text([HEAD_BY_NAME["ethnicity"]]) == "40 · Asian"
    assert label.text([HEAD_BY_NAME["gender"], HEAD_BY_NAME["ethnicity7"]]) == "40 · female · East Asian"
