"""Training reports its speed after its first steps and warns, naming the likely causes, when it is slow."""

import json
import logging
import time

import keras
import numpy as np
import pytest

from face2data.training_speed import RATE_KEY, TrainingSpeed, network_speed

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

BATCH = 32
STEPS = 12


class Faces(keras.utils.PyDataset):
    """Random inputs for a tiny network; ``delay`` seconds of sleep per batch make a slow data path."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    def __len__(self) -> int:
        return STEPS

    def __getitem__(self, index: int):
        time.sleep(self.delay)
        rng = np.random.default_rng(index)
        return rng.random((BATCH, 8), dtype=np.float32), rng.random((BATCH, 1), dtype=np.float32)


def _fit(delay: float, reference: float) -> TrainingSpeed:
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    speed = TrainingSpeed(BATCH, reference, ["cpu:0"], first_steps=6)
    model.fit(Faces(delay), epochs=1, verbose=0, callbacks=[speed])
    return speed


def test_a_slowed_run_is_warned_about_with_its_causes_and_a_normal_one_is_not(caplog):
    # The tiny network alone does thousands of images/s; 50 ms of sleep per batch caps the slowed run at 640.
    reference = 3000.0
    with caplog.at_level(logging.INFO, logger="face2data.training_speed"):
        normal = _fit(0.0, reference)
    assert normal.first_rate is not None and normal.first_rate > reference / 2
    ours = [r for r in caplog.records if r.name == "face2data.training_speed"]  # not TensorFlow's retracing notes
    assert not normal.warned and not [r for r in ours if r.levelno >= logging.WARNING]
    assert any("training speed:" in r.getMessage() for r in caplog.records)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="face2data.training_speed"):
        slowed = _fit(0.05, reference)
    assert slowed.first_rate is not None and slowed.first_rate < 700
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "face2data.training_speed"
    ]
    assert slowed.warned and len(warnings) == 1
    assert "Keras backend is tensorflow on cpu:0" in warnings[0] and "load average" in warnings[0]


def test_every_epoch_records_its_training_rate():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(Faces(0.01), epochs=2, verbose=0, callbacks=[TrainingSpeed(BATCH, None)])
    rates = history.history[RATE_KEY]
    assert len(rates) == 2 and all(0 < rate < BATCH / 0.01 for rate in rates)


def test_the_reference_is_the_figure_of_this_machine_kind_only(tmp_path):
    file = tmp_path / "speed.json"
    record = {"cpu": "AMD EPYC", "cores": 2, "devices": [], "images_per_second": 88.0}
    file.write_text(json.dumps({"machines": [record]}))
    assert network_speed({"cpu": "AMD EPYC", "cores": 2, "devices": ["cpu:0"]}, file) == 88.0
    assert network_speed({"cpu": "AMD EPYC", "cores": 4, "devices": []}, file) is None
    assert network_speed({"cpu": "AMD EPYC", "cores": 2, "devices": ["gpu:0"]}, file) is None
    assert network_speed({"cpu": "AMD EPYC", "cores": 2, "devices": []}, tmp_path / "missing.json") is None
