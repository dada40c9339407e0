"""The .tflite model the app runs: exported from Keras, same answers, clear errors for bad files."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from face2data.model_loading import ModelFileError, load_trained_model
from face2data.outputs import predict_probabilities
from face2data.predictor import Predictor
from face2data.schema import ETHNICITIES, GENDERS, HEAD_TABLE, INPUT_SIZE, NUM_AGES
from face2data.tflite_model import (
    TFLiteModel,
    export_tflite,
    largest_difference,
    load_inference_model,
    load_tflite_model,
)


def tiny_keras_model():
    """A small network with the app's interface (one INPUT_SIZE-square input, a softmax per head of the table)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
    features = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, strides=4, activation="relu")(inputs))
    return keras.Model(
        inputs, {h.name: layers.Dense(h.size, activation="softmax", name=h.name)(features) for h in HEAD_TABLE}
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_keras_model()
    path = export_tflite(model, tmp_path_factory.mktemp("tflite") / "tiny.tflite")
    return model, path


def test_export_gives_the_same_probabilities_at_any_batch_size(exported):
    model, path = exported
    lite = load_tflite_model(path)
    assert load_tflite_model(str(path)) is lite and load_inference_model(path) is lite
    images = np.random.default_rng(1).uniform(0, 255, (7, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    for batch in (1, 7, 2):  # the interpreter is resized between calls
        got = lite.predict_on_batch(images[:batch])
        expected = model.predict_on_batch(images[:batch])
        assert {head: p.shape for head, p in got.items()} == {h.name: (batch, h.size) for h in HEAD_TABLE}
        for head in expected:
            np.testing.assert_allclose(got[head], expected[head], atol=1e-5)
    assert largest_difference(model, lite) < 1e-5


def test_concurrent_calls_of_different_sizes_each_get_their_own_answer(exported):
    model, path = exported
    lite = load_tflite_model(path)
    rng = np.random.default_rng(2)
    batches = [rng.uniform(0, 255, (n, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32) for n in (1, 3, 5, 2) * 3]
    expected = [lite.predict_on_batch(b)["age"] for b in batches]
    got: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        got[i] = lite.predict_on_batch(batches[i])["age"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(got[i], want)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "model file not found"),
        (lambda p: p.write_bytes(b""), "model file is empty"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a TFLite model file"),
        ("truncated", "cannot be used"),
    ],
    ids=["missing", "empty", "garbage", "truncated"],
)
def test_bad_tflite_files_are_named_in_a_clear_error(tmp_path, exported, make, message):
    path = tmp_path / "face2data.tflite"
    if make == "truncated":
        data = exported[1].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif make is not None:
        make(path)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_tflite_model(path)
    assert str(path) in str(caught.value)


def test_a_network_with_other_heads_is_refused(tmp_path):
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
    features = layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, {"age": layers.Dense(NUM_AGES)(features), "other": layers.Dense(3)(features)})
    with pytest.raises(ValueError, match="not the heads"):
        export_tflite(model, tmp_path / "other.tflite")
    assert not list(tmp_path.iterdir())  # nothing written


def _constant_heads(sizes: dict[str, int]):
    """A network whose every head answers its own constant vector (bias only): which is which can be checked."""
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
    features = layers.GlobalAveragePooling2D()(inputs)
    outputs = {}
    for offset, (head, size) in enumerate(sizes.items()):
        dense = layers.Dense(size, kernel_initializer="zeros", name=head)
        outputs[head] = dense(features)
        dense.bias.assign(np.arange(size, dtype="float32") + 100 * offset)
    return keras.Model(inputs, outputs)


def test_outputs_are_matched_to_heads_by_name_not_by_class_count(tmp_path):
    sizes = {h.name: h.size for h in reversed(HEAD_TABLE)}  # not the schema's order
    path = export_tflite(_constant_heads(sizes), tmp_path / "named.tflite")
    out = load_tflite_model(path)(np.zeros((2, INPUT_SIZE, INPUT_SIZE, 3), np.float32))
    for offset, (head, size) in enumerate(sizes.items()):
        np.testing.assert_allclose(out[head], np.tile(np.arange(size) + 100 * offset, (2, 1)))
    # heads named right but sized wrong (gender with the ethnicity's five classes) are refused, not guessed
    swapped = {h.name: h.size for h in HEAD_TABLE} | {"gender": len(ETHNICITIES), "ethnicity": len(GENDERS)}
    with pytest.raises(ValueError, match="output has . classes, not ."):
        export_tflite(_constant_heads(swapped), tmp_path / "swapped.tflite")


def test_shipped_tflite_is_the_shipped_keras_model(shipped_model_path, shipped_tflite_path):
    """weights/face2data.tflite must be re-exported whenever weights/face2data.keras changes."""
    difference = largest_difference(load_trained_model(shipped_model_path), load_tflite_model(shipped_tflite_path))
    assert difference < 1e-4, "run `python -m face2data export` after changing the model"


def test_the_predictor_runs_the_tflite_model_by_default(shipped_tflite_path):
    from face2data.faces import default_detector

    predictor = Predictor(detector=default_detector())
    assert isinstance(predictor.model, TFLiteModel)
    crops = np.full((2, INPUT_SIZE, INPUT_SIZE, 3), 128, np.uint8)
    probabilities = predictor.predict_crops(crops)
    expected = predict_probabilities(predictor.model, crops.astype(np.float32))
    np.testing.assert_allclose(probabilities["age"], expected["age"], atol=1e-6)


def test_loading_the_model_prints_nothing_on_stderr(shipped_tflite_path):
    import subprocess
    import sys

    batch = f"np.zeros((2, {INPUT_SIZE}, {INPUT_SIZE}, 3), 'float32')"
    code = (f"from face2data.tflite_model import load_tflite_model; import numpy as np; "
            f"load_tflite_model({str(shipped_tflite_path)!r})({batch})")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "XNNPACK" not in done.stderr and done.stderr.strip() == ""
