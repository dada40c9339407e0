"""Load the trained model once, and say clearly what is wrong with a bad model file.

Keras (and TensorFlow) is imported inside :func:`load_trained_model`, so importing
this module is cheap.
"""

from __future__ import annotations

import functools
import threading
import zipfile
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from face2data.paths import MODEL_PATH
from face2data.schema import HEAD_TABLE, HEADS, INPUT_SIZE

if TYPE_CHECKING:
    import keras

# What the app expects of the network: one (INPUT_SIZE, INPUT_SIZE, 3) input and these classes per head.
HEAD_CLASSES = {head.name: head.size for head in HEAD_TABLE}
KERAS_MEMBERS = ("config.json", "model.weights.h5")

_LOCK = threading.Lock()


class ModelFileError(RuntimeError):
    """The model file is missing, damaged or not the face2data network; the message names the file."""


def load_trained_model(path: str | PathLike = MODEL_PATH) -> keras.Model:
    """The trained model at ``path``, loaded once per path and shared afterwards.

    The returned model maps a (N, INPUT_SIZE, INPUT_SIZE, 3) float32 batch to a dict of
    probabilities, one entry per head of ``schema.HEAD_TABLE`` (``{"age": (N, 117), "gender": (N, 2), ...}``).
    Raises ModelFileError when the file is missing, empty, not a .keras archive,
    truncated, corrupted or a network with other inputs or outputs.
    """
    resolved = str(Path(path).expanduser().resolve())
    with _LOCK:  # two sessions asking at once load it once
        return _load_cached(resolved)


def clear_model_cache() -> None:
    """Forget the loaded models, e.g. after a new model file was written."""
    _load_cached.cache_clear()


def check_model_file(path: str | PathLike) -> None:
    """Raise ModelFileError unless ``path`` is a complete, uncorrupted .keras archive (no Keras needed)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(
            f"model file not found: {path}. Train one with `python -m face2data train --data <UTKFace>` "
            "or put the released face2data.keras there."
        )
    if not path.is_file():
        raise ModelFileError(f"model path is not a file: {path}")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file is empty: {path} (an interrupted copy or download?)")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x89HDF"):
        raise ModelFileError(f"model file is a legacy HDF5 (.h5) model, not a Keras 3 .keras archive: {path}")
    if not zipfile.is_zipfile(path):
        if head.startswith(b"PK\x03\x04"):
            raise ModelFileError(f"model file is truncated (its zip archive is incomplete): {path}")
        raise ModelFileError(f"not a Keras model file (a .keras file is a zip archive): {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in KERAS_MEMBERS if name not in archive.namelist()]
            if missing:
                raise ModelFileError(f"not a Keras model archive (it lacks {', '.join(missing)}): {path}")
            bad = archive.testzip()  # reads every member and checks its CRC
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ModelFileError(f"model file is corrupted ({error}): {path}") from error
    if bad is not None:
        raise ModelFileError(f"model file is corrupted (checksum error in {bad}): {path}")


@functools.cache
def _load_cached(path: str) -> keras.Model:
    check_model_file(path)
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras reports bad configs and weights with many exception types
        raise ModelFileError(f"model file cannot be loaded ({type(error).__name__}: {error}): {path}") from error
    return _as_face2data_model(model, path)


def _as_face2data_model(model: keras.Model, path: str) -> keras.Model:
    """Check the network's input and heads; return it re-wrapped with one input and dict outputs.

    A model saved as ``keras.Model(model.inputs, model.outputs)`` returns a list in
    ``output_names`` order and warns when called on a bare tensor; the wrapper
    (same layers and weights) returns the dict the rest of the code expects.
    """
    import keras

    if len(model.inputs) != 1 or tuple(model.inputs[0].shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 3):
        shapes = ", ".join(str(tuple(t.shape[1:])) for t in model.inputs)
        raise ModelFileError(
            f"model file holds a network with input {shapes}, expected ({INPUT_SIZE}, {INPUT_SIZE}, 3): {path}"
        )
    if isinstance(model.output, dict):
        outputs = model.output
    else:
        outputs = dict(zip(model.output_names, model.outputs, strict=True))
    found = {name: int(tensor.shape[-1]) for name, tensor in outputs.items()}
    if found != HEAD_CLASSES:
        expected = ", ".join(f"{head} ({HEAD_CLASSES[head]})" for head in HEADS)
        described = ", ".join(f"{name} ({classes})" for name, classes in found.items()) or "none"
        raise ModelFileError(f"model file holds a network with outputs {described}, expected {expected}: {path}")
    return keras.Model(model.inputs[0], {head: outputs[head] for head in HEADS}, name=model.name)
