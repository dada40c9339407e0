"""A bad model file gets a ModelFileError naming it; a good one is loaded once and returns the three heads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from face2data.model_loading import ModelFileError, check_model_file, clear_model_cache, load_trained_model
from face2data.schema import GENDERS, HEAD_TABLE, INPUT_SIZE

# How a refused network's message lists the outputs expected: every head of the table with its size, in order.
EXPECTED_OUTPUTS = ", ".join(rf"{head.name} \({head.size}\)" for head in HEAD_TABLE)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_model_cache()
    yield
    clear_model_cache()


def tiny_model(input_size: int = INPUT_SIZE, gender_classes: int = len(GENDERS), lambda_layer: bool = False):
    """A small network with the app's interface, saved the way training saves it (list outputs)."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="face")
    features = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, strides=4)(inputs))
    if lambda_layer:
        features = layers.Lambda(lambda x: x * 2)(features)
    heads = {head.name: head.size for head in HEAD_TABLE} | {"gender": gender_classes}
    outputs = {name: layers.Dense(n, activation="softmax", name=name)(features) for name, n in heads.items()}
    model = keras.Model(inputs, outputs)
    return keras.Model(model.inputs, model.outputs)  # as training.EpochRecorder saves the best model


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "model file not found"),
        (lambda p: p.write_bytes(b""), "model file is empty"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a Keras model file"),
        (lambda p: p.write_text('{"class_name": "Functional"}'), "not a Keras model file"),
        (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)), "legacy HDF5"),
        (lambda p: p.mkdir(), "model path is not a file"),
    ],
    ids=["missing", "empty", "garbage", "json", "hdf5", "directory"],
)
def test_bad_model_files_are_named_in_a_clear_error(tmp_path, make, message):
    path = tmp_path / "face2data.keras"
    if make is not None:
        make(path)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_trained_model(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, RuntimeError)


def test_zip_without_the_keras_members(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ModelFileError, match="lacks config.json, model.weights.h5"):
        check_model_file(path)


def test_corrupted_member_fails_the_checksum(tmp_path):
    path = tmp_path / "model.keras"
    payload = b"weights" * 1000
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", payload)
    data = bytearray(path.read_bytes())
    data[data.index(payload) + 500] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted .*model.weights.h5"):
        check_model_file(path)


def test_truncated_copy_of_the_shipped_model(tmp_path, shipped_model_path):
    data = shipped_model_path.read_bytes()
    for fraction in (0.5, 0.99):
        path = tmp_path / f"cut{fraction}.keras"
        path.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(ModelFileError, match="truncated") as caught:
            load_trained_model(path)
        assert path.name in str(caught.value)


def test_model_is_loaded_once_and_returns_a_dict_of_heads(tmp_path):
    path = tmp_path / "model.keras"
    tiny_model().save(path)
    model = load_trained_model(path)
    assert load_trained_model(str(path)) is model
    assert load_trained_model(tmp_path / "." / "model.keras") is model
    out = model(np.zeros((2, INPUT_SIZE, INPUT_SIZE, 3), np.float32), training=False)
    assert {head: tuple(v.shape) for head, v in out.items()} == {head.name: (2, head.size) for head in HEAD_TABLE}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_size": 64}, rf"input \(64, 64, 3\), expected \({INPUT_SIZE}, {INPUT_SIZE}, 3\)"),
        ({"gender_classes": 3}, r"outputs .*gender \(3\).*expected " + EXPECTED_OUTPUTS),
    ],
)
def test_a_network_of_another_shape_is_refused(tmp_path, options, message):
    path = tmp_path / "other.keras"
    tiny_model(**options).save(path)
    with pytest.raises(ModelFileError, match=message):
        load_trained_model(path)


def test_a_model_with_code_in_it_is_refused(tmp_path):
    path = tmp_path / "lambda.keras"
    tiny_model(lambda_layer=True).save(path)
    with pytest.raises(ModelFileError, match="cannot be loaded"):
        load_trained_model(path)


def test_shipped_model_loads(tmp_path, shipped_model_path):
    snapshot = tmp_path / "face2data.keras"
    shutil.copyfile(shipped_model_path, snapshot)  # training may rewrite the original at any time
    model = load_trained_model(snapshot)
    out = model(np.full((1, INPUT_SIZE, INPUT_SIZE, 3), 128, np.float32), training=False)
    for head in HEAD_TABLE:
        probabilities = np.asarray(out[head.name])
        assert probabilities.shape == (1, head.size)
        np.testing.assert_allclose(probabilities.sum(), 1.0, atol=1e-4)


def test_importing_the_module_does_not_import_keras():
    code = "import sys, face2data.model_loading; print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
