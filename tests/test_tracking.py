"""Following faces across frames: matching by overlap and steady labels."""

import numpy as np

from face2data.faces.tracking import FaceTracker, box_overlap


def _probs(p_female: float) -> dict[str, np.ndarray]:
    return {"gender": np.array([1 - p_female, p_female])}


def test_box_overlap():
    assert box_overlap((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_overlap((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(box_overlap((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_a_moving_face_keeps_its_track_and_a_new_face_gets_another():
    tracker = FaceTracker()
    first = tracker.update([(100, 100, 50, 50)], [_probs(0.9)])[0]
    moved = tracker.update([(104, 102, 50, 50), (400, 50, 40, 40)], [_probs(0.8), _probs(0.1)])
    assert moved[0] is first and moved[1].track_id != first.track_id


def test_probabilities_are_smoothed_so_a_label_does_not_flip_on_one_frame():
    tracker = FaceTracker(window=8)
    for _ in range(7):
        tracker.update([(100, 100, 50, 50)], [_probs(0.8)])
    track = tracker.update([(101, 100, 50, 50)], [_probs(0.3)])[0]  # one frame says "male"
    assert track.smoothed()["gender"].argmax() == 1  # the shown label stays "female"


def test_a_track_is_dropped_after_missing_frames():
    tracker = FaceTracker(max_missed=2)
    tracker.update([(0, 0, 50, 50)], [_probs(0.5)])
    for _ in range(3):
        tracker.update([], [])
    assert tracker.tracks == []
