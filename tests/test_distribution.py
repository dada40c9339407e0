"""Data-parallel training: the same steps on two (virtual CPU) devices as on one, with Keras' JAX distribution."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from face2data.data.arrays import FaceArrays
from face2data.data.batches import FaceBatches
from face2data.schema import CLASS_HEADS, INPUT_SIZE, NO_LABEL

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

ROOT = Path(__file__).resolve().parents[1]

# A tiny network with every head of the table, trained a few steps on faces of all kinds of labels (exact age, range,
# no ethnicity), once per device count; prints the per-epoch losses and a checksum of the final weights.
TRAIN_A_FEW_STEPS = """
import json, sys
import keras, numpy as np
from keras import layers
from face2data.data.arrays import FaceArrays
from face2data.data.batches import FaceBatches
from face2data.distribution import use_devices
from face2data.model import compile_for_training
from face2data.schema import CLASS_HEADS, HEAD_TABLE, INPUT_SIZE, NO_LABEL

devices = use_devices(int(sys.argv[1]))
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
n = 24
low = rng.integers(1, 80, n).astype(np.float32)
high = np.where(np.arange(n) % 3 == 0, low + 9, low).astype(np.float32)
labels = {head.name: np.full(n, NO_LABEL, np.int32) for head in CLASS_HEADS}  # UTKFace: no 7-group label
labels |= {"gender": rng.integers(0, 2, n).astype(np.int32),
           "ethnicity": np.where(np.arange(n) % 4 == 0, NO_LABEL, rng.integers(0, 5, n)).astype(np.int32)}
faces = FaceArrays(
    images=rng.integers(0, 256, (n, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8),
    age_low=low, age_high=high, labels=labels, sources=np.full(n, "utkface"),
    names=np.array([str(i) for i in range(n)]), splits=np.full(n, "train"),
)
inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="face")
features = layers.Flatten()(layers.AveragePooling2D(16)(layers.Rescaling(1 / 255)(inputs)))
model = keras.Model(inputs, {h.name: layers.Dense(h.size, activation="softmax", name=h.name)(features)
                             for h in HEAD_TABLE})
compile_for_training(model, 1e-2, 0.0)
history = model.fit(FaceBatches(faces, 8, augment=False, pad_to=devices), epochs=3, verbose=0)
weights = float(sum(np.abs(np.asarray(w)).sum() for w in model.get_weights()))
print(json.dumps({"devices": devices, "loss": history.history["loss"], "weights": weights}))
"""


def _train(devices: int) -> dict:
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_A_FEW_STEPS, str(devices)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_devices_take_the_same_steps_as_one():
    pytest.importorskip("jax", reason="data-parallel training runs on the JAX backend (pip install jax)")
    one, two = _train(1), _train(2)
    assert (one["devices"], two["devices"]) == (1, 2)
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-4)
    assert one["loss"][-1] < one["loss"][0]  # it did learn
    assert two["weights"] == pytest.approx(one["weights"], rel=1e-4)


def test_a_short_last_batch_is_padded_with_faces_that_carry_no_label():
    n = 5
    faces = FaceArrays(
        images=np.full((n, INPUT_SIZE, INPUT_SIZE, 3), 7, np.uint8),
        age_low=np.full(n, 30, np.float32),
        age_high=np.full(n, 39, np.float32),
        labels={head.name: np.full(n, NO_LABEL, np.int32) for head in CLASS_HEADS}
        | {"gender": np.zeros(n, np.int32), "ethnicity": np.ones(n, np.int32)},
        sources=np.full(n, "fairface"),
        names=np.array([str(i) for i in range(n)]),
        splits=np.full(n, "train"),
    )
    x, y = FaceBatches(faces, 4, augment=False, pad_to=4)[1]  # one face, padded to four
    assert x.shape[0] == 4 and (x[0] == 7).all() and (x[1:] == 0).all()
    assert (y["age"][1:] == NO_LABEL).all()
    for head in CLASS_HEADS:
        assert (y[head.name][1:] == NO_LABEL).all()
    assert y["gender"][0] == 0 and y["ethnicity"][0] == 1
    x, y = FaceBatches(faces, 4, augment=False)[1]  # one device: nothing padded
    assert x.shape[0] == 1


def test_more_devices_than_visible_are_refused():
    from face2data.distribution import use_devices, visible_devices

    with pytest.raises(ValueError, match="devices"):
        use_devices(len(visible_devices()) + 1)
