"""The trained network as a TFLite flatbuffer, run by LiteRT: how the app and the CLI run the model.

Same weights and outputs as the Keras model (max |Δp| about 1e-7), but about nine times less time per call at
the app's batch sizes on a 2-core CPU (``benchmarks/model_speed.py``): a TensorFlow graph call costs ~10 ms of
per-op overhead for this small network, LiteRT's XNNPACK kernels ~1 ms. ``export_tflite`` makes the file from a
``.keras`` model (training does it at the end; ``python -m face2data export`` does it again).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from face2data.calibration import read_temperatures
from face2data.limits import MODEL_RUN_BATCH
from face2data.machine import usable_cores
from face2data.model_loading import HEAD_CLASSES, ModelFileError
from face2data.paths import TFLITE_PATH
from face2data.schema import HEADS, INPUT_SIZE

if TYPE_CHECKING:
    import keras

_LOCK = threading.Lock()
_LOADED: dict[str, TFLiteModel] = {}


class TFLiteModel:
    """Maps an (N, S, S, 3) float32 batch, S = INPUT_SIZE, to one array per head of ``schema.HEAD_TABLE``.

    Thread-safe (one interpreter, calls take turns); the batch size may change between calls.
    """

    input_shape = (None, INPUT_SIZE, INPUT_SIZE, 3)
    output_names = list(HEADS)

    def __init__(self, flatbuffer: bytes, name: str = TFLITE_PATH.name, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.name = name
        # Per class head, applied by outputs.predict_probabilities: weights/calibration.json's, if fitted for
        # exactly these bytes (a TFLiteModel made anywhere, by any engine, answers as the served one)
        self.temperatures: dict[str, float] = read_temperatures(flatbuffer)
        self._interpreter = Interpreter(model_content=flatbuffer, num_threads=threads or usable_cores())
        with _native_stderr_silenced():  # the first allocation prints "INFO: Created ... XNNPACK delegate"
            self._interpreter.allocate_tensors()
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1 or tuple(inputs[0]["shape"][1:]) != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"the network's input is not one ({INPUT_SIZE}, {INPUT_SIZE}, 3) image batch")
        self._input, self._outputs = inputs[0]["index"], _outputs_by_head(self._interpreter)
        self._batch: int | None = None
        self._lock = threading.Lock()

    def predict_on_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Per-head probabilities for one batch (the Keras ``predict_on_batch`` contract)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.input_shape[1:]:
            raise ValueError(f"expected a batch of shape (N, {INPUT_SIZE}, {INPUT_SIZE}, 3), got {batch.shape}")
        if len(batch) > MODEL_RUN_BATCH:  # in parts: memory bounded whatever the caller's batch
            starts = range(0, len(batch), MODEL_RUN_BATCH)
            parts = [self.predict_on_batch(batch[start : start + MODEL_RUN_BATCH]) for start in starts]
            return {head: np.concatenate([part[head] for part in parts]) for head in parts[0]}
        with self._lock:
            if len(batch) != self._batch:
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._batch = len(batch)
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return {head: self._interpreter.get_tensor(index).copy() for head, index in self._outputs.items()}

    __call__ = predict_on_batch


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send what native code writes to stderr meanwhile to /dev/null: LiteRT announces its XNNPACK delegate on
    every process's first model with an INFO line that no setting turns off, and the CLI printed it every call."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _outputs_by_head(interpreter) -> dict[str, int]:
    """Output tensor index per head, found by name in the exported serving signature (the Keras output names),
    never by class count: two heads with as many classes must not be mistaken for each other."""
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ValueError("the network has no single serving signature naming its outputs")
    runner = interpreter.get_signature_runner(next(iter(signatures)))
    details = runner.get_output_details()
    if set(details) != set(HEADS):
        raise ValueError(f"the network's outputs are {', '.join(sorted(details))}, not the heads {', '.join(HEADS)}")
    for head, detail in details.items():
        if int(detail["shape"][-1]) != HEAD_CLASSES[head]:
            raise ValueError(f"the network's {head} output has {detail['shape'][-1]} classes, not {HEAD_CLASSES[head]}")
    return {head: int(details[head]["index"]) for head in HEADS}


def load_tflite_model(path: str | PathLike = TFLITE_PATH) -> TFLiteModel:
    """The TFLite model at ``path``, loaded once per path; ModelFileError (naming the file) when unusable."""
    resolved = str(Path(path).expanduser().resolve())
    with _LOCK:
        if resolved not in _LOADED:
            _LOADED[resolved] = _load(Path(resolved))
        return _LOADED[resolved]


def load_inference_model(path: str | PathLike = TFLITE_PATH) -> TFLiteModel | keras.Model:
    """The model at ``path`` ready for ``predict_probabilities``: a .tflite file run by LiteRT, else a .keras model."""
    if Path(path).suffix == ".tflite":
        return load_tflite_model(path)
    from face2data.model_loading import load_trained_model

    return load_trained_model(path)


def export_tflite(model: keras.Model, path: str | PathLike = TFLITE_PATH) -> Path:
    """Convert a trained Keras model (inference mode) to a float32 TFLite file at ``path``; returns the path."""
    import tensorflow as tf

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="face2data-export-") as tmp:
        saved = str(Path(tmp) / "saved_model")
        model.export(saved, format="tf_saved_model", verbose=False)
        flatbuffer = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
    TFLiteModel(flatbuffer)  # refuse to write a file the app could not load
    partial = path.with_suffix(".tflite.partial")
    partial.write_bytes(flatbuffer)
    partial.replace(path)
    with _LOCK:
        _LOADED.pop(str(path.expanduser().resolve()), None)
    return path


def largest_difference(reference, candidate, n: int = 8, seed: int = 0) -> float:
    """Largest absolute difference between two networks' raw probabilities (before any temperature) over ``n``
    seeded random images."""
    images = np.random.default_rng(seed).uniform(0, 255, (n, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    expected, got = reference.predict_on_batch(images), candidate.predict_on_batch(images)
    return max(float(np.max(np.abs(np.asarray(expected[head]) - np.asarray(got[head])))) for head in HEADS)


def _load(path: Path) -> TFLiteModel:
    if not path.is_file():
        raise ModelFileError(
            f"model file not found: {path}. Make it from the trained Keras model with `python -m face2data export`."
        )
    flatbuffer = path.read_bytes()
    if not flatbuffer:
        raise ModelFileError(f"model file is empty: {path} (an interrupted copy or export?)")
    if len(flatbuffer) < 8 or flatbuffer[4:8] != b"TFL3":
        raise ModelFileError(f"not a TFLite model file (or an incomplete one): {path}")
    try:
        return TFLiteModel(flatbuffer, name=path.name)
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(f"model file cannot be used ({error}): {path}") from error
