"""The multi-output network: one shared trunk and a softmax head per row of the head table (age, gender, …)."""

from __future__ import annotations

import keras
from keras import layers, ops

from face2data.schema import AGES, HEAD_TABLE, INPUT_SIZE, NO_LABEL, Head

BATCHNORM_MOMENTUM = 0.99  # Keras' 0.999 left inference-mode outputs constant after 5 epochs from scratch
DROPOUT = 0.3  # before the heads; half of it inside each head
FEATURES_LAYER = "features_dropout"  # the trunk's pooled features (the dropout is identity at inference)
HIDDEN_UNITS = 128


def head_layers(head: Head, dropout: float = DROPOUT) -> list[layers.Layer]:
    """A head's layers from the trunk's features to its softmax, named after the head."""
    return [
        layers.Dense(HIDDEN_UNITS, activation="relu", name=f"{head.name}_hidden"),
        layers.Dropout(dropout / 2, name=f"{head.name}_dropout"),
        layers.Dense(head.size, activation="softmax", name=head.name),
    ]


def build_model(input_size: int = INPUT_SIZE, dropout: float = DROPOUT) -> keras.Model:
    """MobileNetV3Large trunk (from scratch) with one softmax head per row of ``schema.HEAD_TABLE``.

    Input: float32 RGB pixels in 0..255 (the trunk rescales them itself).
    Outputs: a dict of probabilities keyed by head name (``Head.size`` each).
    """
    trunk = keras.applications.MobileNetV3Large(
        input_shape=(input_size, input_size, 3),
        include_top=False,
        weights=None,
        pooling="avg",
        include_preprocessing=True,
    )
    for layer in trunk.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BATCHNORM_MOMENTUM
    inputs = keras.Input((input_size, input_size, 3), name="face")
    features = layers.Dropout(dropout, name=FEATURES_LAYER)(trunk(inputs))
    outputs = {}
    for head in HEAD_TABLE:
        outputs[head.name] = features
        for layer in head_layers(head, dropout):
            outputs[head.name] = layer(outputs[head.name])
    return keras.Model(inputs, outputs, name="face2data")


def _labelled(y_true) -> object:
    """1.0 for faces whose label of this head is known, 0.0 for NO_LABEL (the first column for ages)."""
    first = ops.reshape(ops.cast(y_true, "float32"), (ops.shape(y_true)[0], -1))[:, 0]
    return ops.cast(first != NO_LABEL, "float32")


def _mean_over_labelled(losses, labelled):
    """Per-face losses scaled so that their batch mean (Keras' reduction) is the mean over the labelled faces
    alone: a face without this head's label adds nothing, and does not dilute the others either."""
    count = ops.cast(ops.shape(labelled)[0], "float32")
    return losses * labelled * (count / ops.maximum(ops.sum(labelled), 1.0))


@keras.saving.register_keras_serializable("face2data")
class SoftAgeLoss(keras.losses.Loss):
    """The age loss for exact ages and for age ranges; ``y_true`` is (N, 2): first and last year of the label.

    An exact age (first == last year, UTKFace) is scored by cross-entropy against a Gaussian around it, wider
    for older faces whose labels are less certain, plus an L1 term tying the distribution's expected value,
    which is what we report, to the truth. A range (FairFace's ``30-39``) is an interval-censored label: its
    loss is the negative log of the predicted probability mass inside the range, 0 when all of it is there.
    A face without an age label (first year NO_LABEL) adds nothing: the batch's loss is the mean over the
    labelled faces.
    """

    def __init__(self, l1_weight: float = 0.1, name: str = "soft_age", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.l1_weight = l1_weight

    def call(self, y_true, y_pred):
        ages = ops.convert_to_tensor(AGES)[None, :]
        bounds = ops.reshape(ops.cast(y_true, "float32"), (-1, 2))
        low, high = bounds[:, :1], bounds[:, 1:]
        log_p = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        sigma = 1.0 + 0.05 * low
        target = ops.exp(-0.5 * ops.square((ages - low) / sigma))
        target = target / ops.sum(target, axis=-1, keepdims=True)
        expected = ops.sum(y_pred * ages, axis=-1)
        exact_loss = -ops.sum(target * log_p, axis=-1) + self.l1_weight * ops.abs(expected - low[:, 0])
        inside = ops.cast((ages >= low) & (ages <= high), "float32")
        range_loss = -ops.log(ops.clip(ops.sum(y_pred * inside, axis=-1), 1e-7, 1.0))
        loss = ops.where(low[:, 0] == high[:, 0], exact_loss, range_loss)
        return _mean_over_labelled(loss, _labelled(y_true))

    def get_config(self) -> dict:
        return {**super().get_config(), "l1_weight": self.l1_weight}


@keras.saving.register_keras_serializable("face2data")
def expected_age_error(y_true, y_pred):
    """Years between the expected age and the label (0 inside a range), for the ``mae`` metric of the age head."""
    expected = ops.sum(y_pred * ops.convert_to_tensor(AGES)[None, :], axis=-1)
    bounds = ops.reshape(ops.cast(y_true, "float32"), (-1, 2))
    return ops.maximum(ops.maximum(bounds[:, 0] - expected, expected - bounds[:, 1]), 0.0)


@keras.saving.register_keras_serializable("face2data")
class LabelledCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy averaged over the faces whose class is known (not NO_LABEL).

    A missing class is replaced by a real one before the log is taken and its loss then multiplied by 0, so no
    NaN reaches the gradient (``ops.where`` over a NaN branch would pass one on).
    """

    def __init__(self, name: str = "labelled_crossentropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labelled = _labelled(y_true)
        classes = ops.cast(ops.reshape(y_true, (-1,)), "int32") * ops.cast(labelled, "int32")
        return _mean_over_labelled(ops.sparse_categorical_crossentropy(classes, y_pred), labelled)


@keras.saving.register_keras_serializable("face2data")
class LabelledAccuracy(keras.metrics.Mean):
    """Accuracy of a classification head over the faces that have its label (NO_LABEL ones are left out)."""

    def __init__(self, name: str = "accuracy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        classes = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        correct = ops.cast(ops.argmax(y_pred, axis=-1) == classes, "float32")
        return super().update_state(correct, sample_weight=_labelled(y_true))


@keras.saving.register_keras_serializable("face2data")
class LabelledAgeError(keras.metrics.Mean):
    """``expected_age_error`` over the faces that have an age label."""

    def __init__(self, name: str = "mae", **kwargs) -> None:
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(expected_age_error(y_true, y_pred), sample_weight=_labelled(y_true))


def compile_for_training(
    model: keras.Model, learning_rate, weight_decay: float, loss_weights: dict[str, float] | None = None
) -> None:
    """Attach the optimizer, each head's loss (weighted per head; a head not in ``loss_weights`` weighs 1) and
    the metrics reported in the history, by the head's kind: an age distribution gets ``SoftAgeLoss`` and the
    age error, a class head cross-entropy and accuracy. A face whose label of a head is NO_LABEL adds nothing to
    that head's loss or metric."""
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
        loss={head.name: SoftAgeLoss() if head.kind == "age" else LabelledCrossentropy() for head in HEAD_TABLE},
        loss_weights={head.name: (loss_weights or {}).get(head.name, 1.0) for head in HEAD_TABLE},
        metrics={head.name: [LabelledAgeError() if head.kind == "age" else LabelledAccuracy()] for head in HEAD_TABLE},
    )
