"""Region explanations: the named regions, exact Shapley values, their sentence and JSON, and faithfulness.

The models here are NumPy stand-ins with the app's model interface: fast, and no TensorFlow.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmarks.regions_picture import regions_picture
from face2data.data.arrays import FaceArrays
from face2data.explanation.faithfulness import aopc, direction, face_curves, ranked_order
from face2data.explanation.region_global import (
    RegionGlobalError,
    compute_region_global,
    load_region_global,
    save_region_global,
)
from face2data.explanation.regions import RegionExplanation, RegionSettings, explain_regions, shapley_values
from face2data.faces.regions import REGION_PHRASES, REGIONS, region_labels, region_masks
from face2data.schema import AGE_BUCKETS, CLASS_HEADS, CROP_SIZE, GENDERS, HEAD_TABLE, HEADS, INPUT_SIZE, NO_LABEL

GRID = INPUT_SIZE // 8  # the stand-in model's view: the face averaged in 8x8-pixel blocks


class SoftmaxModel:
    """A fixed random projection of a downsampled face to a softmax per head: nonlinear, with interactions."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.weights = {head.name: rng.normal(0, 0.02, (GRID * GRID * 3, head.size)) for head in HEAD_TABLE}

    def predict_on_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        small = np.asarray(batch, np.float64).reshape(len(batch), GRID, 8, GRID, 8, 3).mean(axis=(2, 4)) / 32
        features = small.reshape(len(batch), -1)
        return {head: _softmax(features @ w) for head, w in self.weights.items()}


class OneRegionModel:
    """Outputs that depend only on the pixels of one region (its mean brightness)."""

    def __init__(self, region: str) -> None:
        self.mask = region_labels(INPUT_SIZE) == REGIONS.index(region)

    def predict_on_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        level = np.asarray(batch)[:, self.mask].mean(axis=(1, 2)) / 255  # (N,)
        outputs = {}
        for head in HEAD_TABLE:
            if head.kind == "age":
                ages = np.arange(head.size)
                outputs[head.name] = _softmax(-((ages[None] - 80 * level[:, None]) ** 2) / 50)
            elif head.size == 2:
                outputs[head.name] = np.stack([level, 1 - level], axis=1)
            else:
                outputs[head.name] = _softmax(np.outer(level, np.arange(head.size)))
        return outputs


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A structured RGB crop: gradients and a bright blob, so blurring changes something everywhere."""
    ys, xs = np.mgrid[0:CROP_SIZE, 0:CROP_SIZE]
    blob = 120 * np.exp(-((xs - 100) ** 2 + (ys - 100) ** 2) / 800)
    checks = 40 * ((xs // 10 + ys // 10) % 2)
    rgb = np.stack([xs * 0.6 + blob, ys * 0.6 + checks, 255 - xs * 0.5 + checks], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [CROP_SIZE, INPUT_SIZE])
def test_region_masks_cover_the_crop_with_no_overlap(size):
    masks = region_masks(size)
    assert masks.shape == (len(REGIONS), size, size)
    np.testing.assert_array_equal(masks.sum(axis=0), 1)  # every pixel in exactly one region
    assert masks.sum(axis=(1, 2)).min() >= (size // 20) ** 2  # no region vanishes at the model's size
    assert set(REGION_PHRASES) == set(REGIONS)


def test_regions_sit_where_the_reference_keypoints_are():
    from face2data.faces.alignment import reference_layout

    labels = region_labels(CROP_SIZE)
    left_eye, right_eye, nose, mouth_left, mouth_right = np.round(reference_layout().keypoints).astype(int)
    assert REGIONS[labels[left_eye[1], left_eye[0]]] == "left eye"
    assert REGIONS[labels[right_eye[1], right_eye[0]]] == "right eye"
    assert REGIONS[labels[nose[1], nose[0]]] == "nose"
    centre = (mouth_left + mouth_right) // 2
    assert REGIONS[labels[centre[1], centre[0]]] == "mouth"
    assert REGIONS[labels[2, CROP_SIZE // 2]] == "hair & forehead" and REGIONS[labels[CROP_SIZE - 1, 0]] == "background"


def test_the_picture_of_the_regions_is_drawn_on_a_face(face):
    picture = regions_picture(face, side=240)
    assert picture.shape == (240, 240, 3) and picture.dtype == np.uint8


def test_shapley_values_of_known_games():
    n = 4
    rows = np.arange(2**n)
    present = (rows[:, None] >> np.arange(n)) & 1
    additive = present @ np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(shapley_values(additive[:, None])[:, 0], [1.0, -2.0, 0.5, 3.0])
    # "all of players 0 and 1" is worth 1: they share it, the others get nothing
    pair = (present[:, 0] & present[:, 1]).astype(float)
    np.testing.assert_allclose(shapley_values(pair[:, None])[:, 0], [0.5, 0.5, 0, 0], atol=1e-12)
    # the weighted formula equals the mean marginal contribution over all orders
    rng = np.random.default_rng(0)
    game = rng.normal(size=2**n)
    by_order = np.zeros(n)
    for order in itertools.permutations(range(n)):
        mask = 0
        for player in order:
            by_order[player] += game[mask | 1 << player] - game[mask]
            mask |= 1 << player
    np.testing.assert_allclose(shapley_values(game[:, None])[:, 0], by_order / 24, atol=1e-12)


def test_region_values_add_up_to_output_minus_the_blurred_face(face):
    explanation = explain_regions(SoftmaxModel(), face)
    assert tuple(explanation.heads) == HEADS
    for head in HEADS:
        part = explanation[head]
        assert part.values.shape == (len(REGIONS),) and np.all(np.isfinite(part.values))
        assert float(part.values.sum()) == pytest.approx(part.output_value - part.base_value, abs=1e-5)
        assert np.abs(part.values).max() > 1e-3  # not trivially zero (their sum may be near 0 by chance)
    assert explanation["age"].unit == "years" and explanation["gender"].unit == "percentage points"
    # every class, not only the predicted one
    np.testing.assert_allclose(explanation.all_values.sum(axis=0), explanation.all_output - explanation.all_base,
                               atol=1e-9)  # fmt: skip


def test_the_batch_size_does_not_change_the_coalition_table(face):
    model = SoftmaxModel()
    default = explain_regions(model, face)
    uneven = explain_regions(model, face, settings=RegionSettings(batch_size=100))  # last batch is partial
    np.testing.assert_allclose(uneven.coalitions, default.coalitions, rtol=1e-12)
    assert len({tuple(row) for row in np.round(default.coalitions, 9)}) > 1000  # each batch its own faces


def test_a_model_that_looks_at_one_region_gets_all_its_attribution_there(face):
    # the face as seen: a mirror image would move pixels of the nose's neighbours into the region the model reads
    explanation = explain_regions(OneRegionModel("nose"), face, settings=RegionSettings(flip=False))
    nose = REGIONS.index("nose")
    for head in HEADS:
        values = explanation[head].values
        others = np.delete(values, nose)
        assert abs(values[nose]) > 0.01 and np.abs(others).max() < 1e-9, (head, values)
        assert explanation[head].ranked()[0][0] == "nose"
        assert "the nose" in explanation[head].sentence()


def test_sentence_json_and_class_choice(face):
    explanation = explain_regions(SoftmaxModel(), face)
    age = explanation["age"]
    assert age.sentence().startswith("Compared with a blurred face,") and "years" in age.sentence()
    top = age.ranked()[0][0]
    assert REGION_PHRASES[top] in age.sentence()
    data = explanation.to_dict()
    assert set(data["heads"]) == set(HEADS) and "Exact Shapley" in data["method"]
    assert list(data["heads"]["gender"]["regions"]) == list(REGIONS)
    chosen = explanation.retarget(ethnicity_class="Black", gender_class="male")
    assert chosen["ethnicity"].target == "P(Black)" and chosen["gender"].target == "P(male)"
    female = explanation.retarget(gender_class="female")["gender"].values
    np.testing.assert_allclose(chosen["gender"].values, -female, atol=1e-9)  # P(male) = 1 - P(female)
    with pytest.raises(ValueError, match="unknown class"):
        explain_regions(SoftmaxModel(), face, ethnicity_class="Martian")


def test_classes_are_chosen_by_mapping_or_keyword_and_region_heads_have_json(face):
    explanation = explain_regions(SoftmaxModel(), face)
    by_keyword = explanation.retarget(ethnicity="Black", gender=0)
    others = (
        explanation.retarget({"ethnicity": "black", "gender": "male"}),
        explanation.retarget(ethnicity_class=1, gender_class=0),
    )
    for other in others:
        for head in HEADS:
            assert other[head].target == by_keyword[head].target
            np.testing.assert_array_equal(other[head].values, by_keyword[head].values)
    assert explain_regions(SoftmaxModel(), face, {"ethnicity": "Black"})["ethnicity"].target == "P(Black)"
    with pytest.raises(ValueError, match="no class head 'hair'"):
        explanation.retarget(hair="red")
    part = by_keyword["ethnicity"]
    data = part.to_dict()
    assert by_keyword.to_dict()["heads"]["ethnicity"] == data
    assert list(data) == ["target", "unit", "base_value", "output", "regions"]
    assert data["target"] == "P(Black)" and data["unit"] == "percentage points"
    assert data["output"] == round(part.output_value, 4) and list(data["regions"]) == list(REGIONS)
    assert sum(data["regions"].values()) == pytest.approx(data["output"] - data["base_value"], abs=1e-3)


def test_hiding_regions_in_ranked_order_reads_the_coalition_table(face):
    explanation = explain_regions(SoftmaxModel(), face)
    head = explanation["age"]
    path = explanation.hidden_outputs("age", ranked_order(head.values))
    assert path[0] == pytest.approx(head.output_value) and path[-1] == pytest.approx(head.base_value)
    sign = direction(explanation, "age")
    ranked, random = face_curves(explanation, "age", head.values, np.random.default_rng(0), 4, sign)
    assert ranked.shape == (len(REGIONS) + 1,) and random.shape == (4, len(REGIONS) + 1)
    assert aopc(np.array([5.0, 3.0, 1.0, 0.0]), 2) == pytest.approx(3.0)
    assert aopc(np.array([5.0, 7.0, 1.0]), 2, direction=None) == pytest.approx(3.0)
    assert aopc(np.array([5.0, 7.0, 1.0]), 2, direction=-1.0) == pytest.approx(-1.0)
    assert list(ranked_order(np.array([1.0, -3.0, 2.0]), -1.0)) == [1, 0, 2]
    assert list(ranked_order(np.array([1.0, -3.0, 2.0]), None)) == [1, 2, 0]


def test_for_an_additive_model_ranked_hiding_beats_random_order():
    n = 10
    weights = np.linspace(-1, 3, n)
    rows = np.arange(2**n)
    table = ((rows[:, None] >> np.arange(n)) & 1) @ weights

    class Additive:
        heads = {"age": None}
        coalitions = table[:, None]

        def output_index(self, head):
            return 0

        def _needs_exact(self, what):
            pass

    explanation = RegionExplanation.hidden_outputs  # reads only the table and the output column
    fake = Additive()
    ranked = explanation(fake, "age", ranked_order(weights))
    rng = np.random.default_rng(0)
    random = [explanation(fake, "age", rng.permutation(n)) for _ in range(20)]
    assert aopc(ranked, 3) > 2 * np.mean([aopc(r, 3) for r in random])


def test_global_region_values_round_trip(tmp_path, face):
    from face2data.schema import to_model_input

    images = np.stack([to_model_input(face), to_model_input(face[:, ::-1])]).round().astype(np.uint8)
    # the second face has no gender label: it explains the likeliest gender and is in no gender group
    labels = {head.name: np.full(2, NO_LABEL) for head in CLASS_HEADS}
    labels |= {"gender": np.array([0, NO_LABEL]), "ethnicity": np.array([2, 2])}
    faces = FaceArrays(images=images, age_low=np.array([25.0, 40.0]), age_high=np.array([25.0, 49.0]), labels=labels,
                       sources=np.array(["utkface", "fairface"]), names=np.array(["a", "b"]),
                       splits=np.array(["test", "test"]))  # fmt: skip
    report = compute_region_global(SoftmaxModel(), faces, model_name="soft.tflite")
    path = save_region_global(report, tmp_path / "region_global.json")
    # compact: under 600 bytes for each head's values in each group (all faces, each age range, each class)
    n_groups = 1 + len(AGE_BUCKETS) + sum(len(head.classes) for head in CLASS_HEADS)
    assert path.stat().st_size < 600 * len(HEAD_TABLE) * n_groups
    loaded = load_region_global(path)
    assert loaded["n_faces"] == 2 and loaded["counts"]["ethnicity:Asian"] == 2 and loaded["counts"]["age:40-49"] == 1
    assert loaded["counts"]["gender:male"] == 1 and loaded["counts"]["gender:female"] == 0
    assert loaded["sources"] == {"fairface": 1, "utkface": 1}
    groups = loaded["heads"]["age"]["groups"]
    assert all(a >= abs(s) - 1e-9 for a, s in zip(groups["all"]["mean_abs"], groups["all"]["mean_signed"], strict=True))
    with pytest.raises(RegionGlobalError, match="explain-regions-global"):
        load_region_global(tmp_path / "absent.json")


def test_what_if_reads_every_head_for_hidden_regions_from_the_coalition_table(face):
    from face2data.explanation.core import output_function
    from face2data.explanation.regions import hidden_face

    model = SoftmaxModel()
    explanation = explain_regions(model, face, {"gender": "female"})
    whole, blurred = explanation.what_if([]), explanation.what_if(REGIONS)
    for head in HEADS:
        assert whole.heads[head].value == pytest.approx(explanation[head].output_value)
        assert blurred.heads[head].value == pytest.approx(explanation[head].base_value)
    assert whole.sentence().startswith("The whole face: ")  # not "Without nothing"
    hidden = ["hair & forehead", "mouth"]
    what_if = explanation.what_if(hidden)
    # the same number as running the model on the face with those regions hidden (mirror-averaged, as the card)
    direct = output_function(model)(hidden_face(face, hidden)[None].astype(np.float32))[0]
    assert what_if.heads["age"].value == pytest.approx(direct[0])
    assert what_if.heads["gender"].value == pytest.approx(100 * direct[1 + GENDERS.index("female")])
    assert what_if.heads["gender"].target == "P(female)"
    assert what_if.sentence().startswith("Without the hair and forehead and the mouth: ")
    # the heads a page shows, in its order: one scheme per attribute, no group said twice
    assert what_if.sentence(["gender", "age"]) == (
        f"Without the hair and forehead and the mouth: {what_if.heads['gender'].likeliest} "
        f"{what_if.heads['gender'].likeliest_percent:.0f} %, {what_if.heads['age'].value:.1f} years."
    )
    with pytest.raises(ValueError, match="not a region: ears"):
        explanation.what_if(["ears"])


def test_the_kernel_fit_over_every_coalition_is_the_exact_shapley_value():
    from face2data.explanation.region_estimate import _kernel_weight, kernel_fit

    n = 5
    table = np.random.default_rng(3).normal(size=(2**n, 2))
    inner = np.arange(1, 2**n - 1)
    weights = np.array([_kernel_weight(n, bin(c).count("1")) for c in inner])
    fitted = kernel_fit(table[inner], inner, weights, table[0], table[-1], n)
    assert fitted == pytest.approx(shapley_values(table), abs=1e-9)


def test_an_estimate_is_close_states_its_uncertainty_and_lends_its_coalitions_to_the_exact_values(face):
    from face2data.explanation.region_estimate import ESTIMATE_COALITIONS, estimate_regions

    class Counting(SoftmaxModel):
        faces = 0

        def predict_on_batch(self, batch):
            Counting.faces += len(batch)
            return super().predict_on_batch(batch)

    model = Counting()
    estimate = estimate_regions(model, face)
    ran = Counting.faces
    assert ran == 2 * ESTIMATE_COALITIONS  # each coalition and its mirror image
    exact = explain_regions(model, face, known=estimate)
    assert Counting.faces == 2 * 2 ** len(REGIONS)  # the exact values ran only the coalitions the estimate had not
    assert not estimate.exact and exact.exact and exact.to_dict() == explain_regions(SoftmaxModel(), face).to_dict()
    for head in HEADS:
        error = np.max(np.abs(estimate[head].values - exact[head].values))
        assert estimate[head].uncertainty is not None and error <= 2 * estimate[head].uncertainty
        assert estimate[head].output_value == pytest.approx(exact[head].output_value)
        assert sum(estimate[head].values) == pytest.approx(exact[head].output_value - exact[head].base_value)
    assert estimate.to_dict()["exact"] is False and "uncertainty" in estimate.to_dict()["heads"]["age"]
    with pytest.raises(ValueError, match="needs the exact explanation"):
        estimate.what_if(["mouth"])


def test_an_estimate_of_an_additive_model_is_exact(face):
    from face2data.explanation.region_estimate import estimate_regions

    model = OneRegionModel("nose")
    estimate, exact = estimate_regions(model, face), explain_regions(model, face)
    for head in HEADS:
        assert estimate[head].values == pytest.approx(exact[head].values, abs=1e-6)
