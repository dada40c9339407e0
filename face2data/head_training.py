"""A new head on the frozen trunk of a trained model: the trunk's features are computed once (for every face and
its mirror image, as the card averages both), and only the head's two layers are fitted on them: minutes on a
laptop CPU, and every other head's output stays exactly as it was."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from face2data.data.arrays import FaceArrays
from face2data.model import FEATURES_LAYER, LabelledAccuracy, LabelledCrossentropy, build_model, head_layers
from face2data.schema import HEAD_BY_NAME, HEAD_TABLE, NO_LABEL

log = logging.getLogger(__name__)

HEADS_FILE = "heads.json"  # how the heads fitted on the frozen trunk were fitted, beside the model


@dataclass(frozen=True)
class HeadFit:
    """How one new head was fitted: its faces and the best epoch's validation accuracy."""

    head: str
    train_faces: int
    val_faces: int
    epochs: int
    best_epoch: int
    val_accuracy: float


def with_table_heads(trained: keras.Model) -> tuple[keras.Model, list[str]]:
    """A model of the current head table carrying every weight ``trained`` has (layers matched by name), and the
    names of the heads ``trained`` lacks (their layers are freshly initialised)."""
    model = build_model()
    known = {layer.name for layer in trained.layers}
    for layer in model.layers:
        if layer.name in known:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    return model, [head.name for head in HEAD_TABLE if head.name not in trained.output_names]


def trunk_features(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The trunk's pooled features of each face and of its mirror image: (2N, features), faces first."""
    extractor = keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output)
    parts = []
    for mirrored in (False, True):
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].astype(np.float32)
            parts.append(np.asarray(extractor(batch[:, :, ::-1] if mirrored else batch, training=False)))
    return np.concatenate(parts)


def fit_head(
    model: keras.Model,
    head: str,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    epochs: int = 40,
    learning_rate: float = 1e-3,
    seed: int = 1337,
) -> HeadFit:
    """Fit ``head``'s layers of ``model`` on (features, classes) pairs; the epoch with the best validation
    accuracy is kept and written into ``model``. Faces whose class is NO_LABEL are left out."""
    keras.utils.set_random_seed(seed)
    (x, y), (x_val, y_val) = ((f[c != NO_LABEL], c[c != NO_LABEL]) for f, c in (train, val))
    inputs = keras.Input((x.shape[1],))
    layers = head_layers(HEAD_BY_NAME[head])
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    probe = keras.Model(inputs, outputs)
    probe.compile(keras.optimizers.AdamW(learning_rate, weight_decay=0.02), LabelledCrossentropy(),
                  metrics=[LabelledAccuracy()])  # fmt: skip
    best = keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=8, restore_best_weights=True)
    history = probe.fit(x, y, batch_size=256, epochs=epochs, validation_data=(x_val, y_val), callbacks=[best],
                        verbose=0).history  # fmt: skip
    for layer in layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    best_epoch = int(np.argmax(history["val_accuracy"]))
    fitted = HeadFit(head, len(x), len(x_val), len(history["val_accuracy"]), best_epoch + 1,
                     float(history["val_accuracy"][best_epoch]))  # fmt: skip
    log.info("%s: %d training and %d validation faces (with mirrors), best epoch %d of %d, val accuracy %.4f",
             head, len(x), len(x_val), fitted.best_epoch, fitted.epochs, fitted.val_accuracy)  # fmt: skip
    return fitted


def train_new_heads(
    trained: keras.Model, faces: FaceArrays, heads: list[str] | None = None
) -> tuple[keras.Model, list[HeadFit]]:
    """The trained model with every head of the table it lacks (or the named ``heads``) fitted on its frozen
    trunk, from the training and validation splits of ``faces``."""
    model, missing = with_table_heads(trained)
    heads = heads or missing
    if not heads:
        return model, []
    splits = {}
    for split in ("train", "val"):
        part = faces.of_splits(split)
        labelled = np.zeros(len(part), bool)
        for head in heads:
            labelled |= part.labelled(head)
        part = part.subset(labelled)  # only faces some new head learns from go through the trunk
        log.info("computing trunk features of %d %s faces and their mirror images", len(part), split)
        splits[split] = (trunk_features(model, part.images), part)
    fits = []
    for head in heads:
        (x, train), (x_val, val) = splits["train"], splits["val"]
        y, y_val = (np.tile(p.labels[head], 2) for p in (train, val))  # features come as faces, then mirrors
        fits.append(fit_head(model, head, (x, y), (x_val, y_val)))
    return model, fits


def train_heads_command(init: str, data: list[str], out: str, heads: list[str] | None = None) -> Path:
    """``python -m face2data train-heads``: fit the heads ``init`` lacks on its frozen trunk, write the model and
    how each head was fitted (``heads.json``) to ``out``; returns the model's path."""
    from face2data.crops import load_crops
    from face2data.training import MODEL_FILE

    trained = keras.saving.load_model(init, compile=False)
    faces = FaceArrays.concatenate([load_crops(path).faces for path in data])
    model, fits = train_new_heads(trained, faces, heads)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    record = {"init": Path(init).name, "sources": [Path(d).name for d in data], "heads": [asdict(f) for f in fits]}
    (folder / HEADS_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return folder / MODEL_FILE
