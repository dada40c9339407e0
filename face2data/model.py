"""The multi-output network: one shared trunk, three softmax heads (age, gender, ethnicity)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from face2data.schema import AGE_INTERVAL_MASS, AGES, ETHNICITIES, GENDERS, INPUT_SIZE, NUM_AGES

BATCHNORM_MOMENTUM = 0.99  # Keras' 0.999 left inference-mode outputs constant after 5 epochs from scratch


def build_model(input_size: int = INPUT_SIZE, dropout: float = 0.3) -> keras.Model:
    """MobileNetV3Large trunk (from scratch) with an age, a gender and an ethnicity head.

    Input: float32 RGB pixels in 0..255 (the trunk rescales them itself).
    Outputs: a dict of probabilities: ``age`` (117 ages), ``gender`` (2), ``ethnicity`` (5).
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
    features = layers.Dropout(dropout, name="features_dropout")(trunk(inputs))
    outputs = {}
    for head, classes in (("age", NUM_AGES), ("gender", len(GENDERS)), ("ethnicity", len(ETHNICITIES))):
        hidden = layers.Dense(128, activation="relu", name=f"{head}_hidden")(features)
        hidden = layers.Dropout(dropout / 2, name=f"{head}_dropout")(hidden)
        outputs[head] = layers.Dense(classes, activation="softmax", name=head)(hidden)
    return keras.Model(inputs, outputs, name="face2data")


@keras.saving.register_keras_serializable("face2data")
class SoftAgeLoss(keras.losses.Loss):
    """Cross-entropy against a Gaussian around the true age, plus an L1 term on the expected age.

    The Gaussian widens with age (labels of older faces are less certain); the L1
    term ties the softmax's expected value, which is what we report, to the truth.
    """

    def __init__(self, l1_weight: float = 0.1, name: str = "soft_age", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.l1_weight = l1_weight

    def call(self, y_true, y_pred):
        ages = ops.convert_to_tensor(AGES)[None, :]
        true_age = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
        sigma = 1.0 + 0.05 * true_age
        target = ops.exp(-0.5 * ops.square((ages - true_age) / sigma))
        target = target / ops.sum(target, axis=-1, keepdims=True)
        cross_entropy = -ops.sum(target * ops.log(ops.clip(y_pred, 1e-7, 1.0)), axis=-1)
        expected = ops.sum(y_pred * ages, axis=-1)
        return cross_entropy + self.l1_weight * ops.abs(expected - true_age[:, 0])

    def get_config(self) -> dict:
        return {**super().get_config(), "l1_weight": self.l1_weight}


@keras.saving.register_keras_serializable("face2data")
def expected_age_error(y_true, y_pred):
    """Absolute error of the expected age, for the ``mae`` metric of the age head."""
    expected = ops.sum(y_pred * ops.convert_to_tensor(AGES)[None, :], axis=-1)
    return ops.abs(expected - ops.reshape(ops.cast(y_true, "float32"), (-1,)))


def compile_for_training(model: keras.Model, learning_rate, weight_decay: float) -> None:
    """Attach the optimizer, the three losses and the metrics reported in the history."""
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
        loss={
            "age": SoftAgeLoss(),
            "gender": keras.losses.SparseCategoricalCrossentropy(),
            "ethnicity": keras.losses.SparseCategoricalCrossentropy(),
        },
        metrics={
            "age": [keras.metrics.MeanMetricWrapper(expected_age_error, name="mae")],
            "gender": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            "ethnicity": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        },
    )


def expected_age(age_probabilities: np.ndarray) -> np.ndarray:
    """The predicted age: the expected value of the age distribution (DEX)."""
    return np.asarray(age_probabilities, dtype=np.float64) @ AGES.astype(np.float64)


def age_interval(age_probabilities: np.ndarray, mass: float = AGE_INTERVAL_MASS) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ages holding the central ``mass`` of each age distribution."""
    cdf = np.cumsum(np.atleast_2d(age_probabilities), axis=-1)
    tail = (1.0 - mass) / 2
    low = (cdf < tail).sum(axis=-1)
    high = (cdf < 1.0 - tail).sum(axis=-1)
    return AGES[np.minimum(low, len(AGES) - 1)], AGES[np.minimum(high, len(AGES) - 1)]


def predict_probabilities(model: keras.Model, inputs: np.ndarray, flip: bool = True, batch_size: int = 64) -> dict:
    """Class probabilities of each head for model-ready inputs, averaged with the mirror image."""
    results: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(inputs), batch_size):
        batch = np.asarray(inputs[start : start + batch_size], dtype=np.float32)
        views = np.concatenate([batch, batch[:, :, ::-1]]) if flip else batch
        # predict_on_batch runs a compiled graph: on a CPU many times faster than an eager call at small batches
        out = model.predict_on_batch(views)
        for head, probs in out.items():
            if flip:
                probs = (probs[: len(batch)] + probs[len(batch) :]) / 2
            results.setdefault(head, []).append(probs)
    return {head: np.concatenate(parts) for head, parts in results.items()}
