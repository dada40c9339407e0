"""The app's explanations computed ahead (face2data.ui.prefetch): the same values as on demand, bounded work."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_regions import SoftmaxModel, face  # noqa: F401  (face: the module's crop fixture)

from face2data.explanation.regions import explain_regions
from face2data.ui import prefetch


@pytest.fixture(autouse=True)
def no_start_delay(monkeypatch):
    monkeypatch.setattr(prefetch, "START_DELAY_S", 0.0)


class SlowModel(SoftmaxModel):
    """The stand-in model, 20 ms a call: long enough to be cancelled midway."""

    def predict_on_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        time.sleep(0.02)
        return super().predict_on_batch(batch)


def test_an_explanation_computed_ahead_equals_the_one_computed_on_demand(face):  # noqa: F811
    model = SoftmaxModel()
    task = prefetch.start(("photo", 0), face, model)
    assert task.done.wait(60) and task.estimate is not None and task.exact is not None
    assert task.estimate.exact is False and task.exact.exact is True
    on_demand = explain_regions(model, face)
    np.testing.assert_allclose(task.exact.all_values, on_demand.all_values, atol=1e-12)
    assert task._crop is None  # the task lets go of the face's pixels


def test_a_new_task_cancels_the_one_before(face):  # noqa: F811
    model = SlowModel()
    first = prefetch.start(("photo", 0), face, model)
    first.estimated.wait(60)
    second = prefetch.start(("another photo", 0), face, model)
    assert first.done.wait(5) and first.cancelled and first.exact is None  # stopped at its next batch
    assert second.done.wait(120) and second.exact is not None


def test_a_face_that_cannot_be_explained_ends_its_task_without_values():
    task = prefetch.start(("photo", 0), np.zeros((7, 7, 3), np.uint8), SoftmaxModel())
    assert task.done.wait(10) and task.estimated.is_set() and task.exact is None


def test_a_task_stops_once_its_tab_has_closed(face):  # noqa: F811
    open_tab = [True]
    task = prefetch.start(("photo", 0), face, SlowModel(), wanted=lambda: open_tab[0])
    task.estimated.wait(60)
    open_tab[0] = False
    assert task.done.wait(5) and task.exact is None
