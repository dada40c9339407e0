import keras
import numpy as np
import pytest

from face2data.model import SoftAgeLoss, build_model, compile_for_training
from face2data.outputs import age_interval, expected_age, predict_probabilities
from face2data.schema import AGES, CLASS_HEADS, HEAD_TABLE, INPUT_SIZE, NO_LABEL, NUM_AGES, RACES


@pytest.fixture(scope="module")
def fresh_model():
    return build_model()


def test_output_shapes_and_probabilities(fresh_model):
    x = np.random.default_rng(0).uniform(0, 255, (3, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    probs = predict_probabilities(fresh_model, x)
    assert probs["age"].shape == (3, NUM_AGES)
    assert probs["gender"].shape == (3, 2)
    assert probs["ethnicity"].shape == (3, 5)
    for p in probs.values():
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_flip_averaging_is_mirror_invariant(fresh_model):
    x = np.random.default_rng(1).uniform(0, 255, (2, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    a = predict_probabilities(fresh_model, x)
    b = predict_probabilities(fresh_model, x[:, :, ::-1])
    for head in a:
        np.testing.assert_allclose(a[head], b[head], atol=1e-5)


def test_expected_age_is_the_mean_of_the_distribution():
    probs = np.zeros((3, NUM_AGES))
    probs[0, 30] = 1.0
    probs[1, [20, 40]] = 0.5
    probs[2] = 1.0 / NUM_AGES
    np.testing.assert_allclose(expected_age(probs), [30.0, 30.0, AGES.mean()])


def test_age_interval_holds_the_central_mass():
    probs = np.zeros((1, NUM_AGES))
    probs[0, 20:41] = 1.0 / 21  # uniform over 20..40
    low, high = age_interval(probs, mass=0.8)
    assert low[0] == 22 and high[0] == 38
    point = np.zeros((1, NUM_AGES))
    point[0, 7] = 1.0
    assert age_interval(point)[0][0] == age_interval(point)[1][0] == 7


def test_soft_age_loss_is_smallest_near_the_true_age():
    loss = SoftAgeLoss()
    true = np.array([[30.0, 30.0]], dtype=np.float32)  # an exact age: first year == last year

    def peaked(age):
        p = np.exp(-0.5 * ((AGES - age) / 2.5) ** 2)
        return (p / p.sum())[None].astype(np.float32)

    values = [float(loss(true, peaked(a))) for a in (10, 25, 30, 35, 60)]
    assert values[2] == min(values)
    assert values[0] > values[1] and values[4] > values[3]


def _peaked(age: float, width: float = 2.5) -> np.ndarray:
    p = np.exp(-0.5 * ((AGES - age) / width) ** 2)
    return (p / p.sum())[None].astype(np.float32)


def test_range_loss_is_zero_inside_the_range_and_large_outside():
    loss = SoftAgeLoss()
    label = np.array([[30.0, 39.0]], dtype=np.float32)  # FairFace's "30-39"
    inside = np.zeros((1, NUM_AGES), np.float32)
    inside[0, 30:40] = 0.1  # all of the mass inside the range
    assert float(loss(label, inside)) == pytest.approx(0.0, abs=1e-5)
    half = np.zeros((1, NUM_AGES), np.float32)
    half[0, [35, 60]] = 0.5
    assert float(loss(label, half)) == pytest.approx(np.log(2), abs=1e-5)  # -log of the mass inside
    assert float(loss(label, _peaked(70))) > 10  # far outside: large
    assert float(loss(label, _peaked(41))) < float(loss(label, _peaked(50)))


def test_exact_and_range_labels_mix_in_one_batch():
    loss = SoftAgeLoss(reduction=None)
    labels = np.array([[30.0, 30.0], [30.0, 39.0]], dtype=np.float32)
    probs = np.concatenate([_peaked(30), _peaked(34)])
    values = np.asarray(loss(labels, probs))
    exact_alone = float(SoftAgeLoss()(labels[:1], probs[:1]))
    assert values[0] == pytest.approx(exact_alone, rel=1e-5)  # the soft-Gaussian loss of an exact age
    assert values[1] == pytest.approx(-np.log(probs[1, 30:40].sum()), rel=1e-4)  # -log(mass inside 30-39)


def test_a_face_without_an_ethnicity_label_adds_nothing_to_that_heads_loss_or_metric():
    """A batch of a UTKFace, a FairFace and an All-Age-Faces face through a compiled (tiny) network: changing the
    All-Age-Faces face changes the age and gender losses but neither the ethnicity loss nor its accuracy."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3))
    features = keras.layers.Flatten()(keras.layers.AveragePooling2D(32)(keras.layers.Rescaling(1 / 255)(inputs)))
    outputs = {h.name: keras.layers.Dense(h.size, activation="softmax", name=h.name)(features) for h in HEAD_TABLE}
    model = keras.Model(inputs, outputs)
    compile_for_training(model, 1e-3, 0.0)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    # UTKFace: exact age, gender and the five classes; FairFace: a range, gender, its group and the five classes;
    # All-Age-Faces: exact age and gender only
    targets = {head.name: np.full(3, NO_LABEL, np.int32) for head in CLASS_HEADS} | {
        "age": np.array([[30, 30], [20, 29], [61, 61]], np.float32),
        "gender": np.array([0, 1, 1], np.int32),
        "ethnicity": np.array([2, 4, NO_LABEL], np.int32),
        "ethnicity7": np.array([NO_LABEL, RACES.index("Latino_Hispanic"), NO_LABEL], np.int32),
    }

    def scores(batch: np.ndarray) -> dict:
        return model.evaluate(batch, targets, batch_size=3, verbose=0, return_dict=True)

    before = scores(images)
    changed = images.copy()
    changed[2] = 255 - changed[2]
    after = scores(changed)
    for head in ("ethnicity", "ethnicity7"):  # the heads the All-Age-Faces face has no label of
        assert after[f"{head}_loss"] == pytest.approx(before[f"{head}_loss"], abs=1e-6)
        assert after[f"{head}_accuracy"] == before[f"{head}_accuracy"]
    assert after["gender_loss"] != pytest.approx(before["gender_loss"], abs=1e-6)
    assert after["age_loss"] != pytest.approx(before["age_loss"], abs=1e-6)
    # the ethnicity loss is the mean over the two labelled faces, not diluted by the unlabelled one
    probs = model.predict_on_batch(images)["ethnicity"]
    expected = -np.mean(np.log([probs[0, 2], probs[1, 4]]))
    assert before["ethnicity_loss"] == pytest.approx(expected, rel=1e-4)
