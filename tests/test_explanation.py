"""SHAP explanations: map shapes, exact additivity, class targets, overlays and the global maps file.

The maths tests use a tiny network with the app's interface (built here) and a small
evaluation budget; one test explains the shipped model when it exists.
"""

from __future__ import annotations

import ast
import base64
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from face2data.explanation import (
    DEFAULT_SETTINGS,
    ExplainSettings,
    GlobalMapsError,
    HeadExplanation,
    colour_limits,
    compute_global_maps,
    explain_face,
    load_global_maps,
    overlay,
    plotly_colorscale,
    save_global_maps,
)
from face2data.explanation.global_maps import PER_CLASS_HEADS
from face2data.explanation.panel import explanation_panel
from face2data.outputs import expected_age, predict_probabilities
from face2data.schema import (
    CROP_SIZE,
    ETHNICITIES,
    GENDERS,
    HEAD_TABLE,
    HEADS,
    INPUT_SIZE,
    to_model_input,
)

ASTRONAUT = Path(__file__).resolve().parents[1] / "face2data" / "assets" / "astronaut.jpg"
FAST = ExplainSettings(max_evals=120, batch_size=60)


def tiny_model():
    """A small random network with the app's input and a dict of softmax outputs, one per head of the table."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(7)
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="face")
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = layers.Flatten()(layers.Conv2D(4, 8, strides=8, activation="tanh")(x))
    outputs = {h.name: layers.Dense(h.size, activation="softmax", name=h.name)(x) for h in HEAD_TABLE}
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """The astronaut's face, roughly cropped the way UTKFace frames faces (CROP_SIZE, RGB uint8)."""
    rgb = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb[10:210, 125:325], (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def explanation(model, crop):
    return explain_face(model, crop, settings=FAST)


def test_each_head_has_a_map_at_input_size_with_its_target(explanation):
    assert tuple(explanation.heads) == HEADS
    for head in HEADS:
        values = explanation[head].values
        assert values.shape == (INPUT_SIZE, INPUT_SIZE) and values.dtype == np.float32
        assert np.all(np.isfinite(values)) and np.abs(values).max() > 0
    assert explanation["age"].target == "expected age" and explanation["age"].unit == "years"
    assert explanation["gender"].unit == explanation["ethnicity"].unit == "probability"
    assert "Partition" in explanation.method and f"{FAST.max_evals} model evaluations" in explanation.method


def test_base_value_plus_map_sum_is_the_output(explanation):
    # Partition SHAP is exactly additive; the rest is float32 rounding of the model.
    for head in HEADS:
        h = explanation[head]
        tolerance = 1e-3 if head == "age" else 1e-5
        assert h.base_value + float(h.values.sum()) == pytest.approx(h.output_value, abs=tolerance)
        assert abs(h.output_value - h.base_value) > 10 * tolerance  # the map is not trivially zero


def test_outputs_are_the_models_outputs_for_the_explained_face(model, crop, explanation):
    # The default explains the face as seen (DEFAULT_SETTINGS.flip is False: half the model calls); the shown
    # prediction also averages the mirror image, which the explanation's caption says.
    probs = predict_probabilities(model, to_model_input(crop[None]), flip=DEFAULT_SETTINGS.flip)
    assert explanation["age"].output_value == pytest.approx(float(expected_age(probs["age"])[0]), abs=1e-3)
    gender, ethnicity = int(np.argmax(probs["gender"][0])), int(np.argmax(probs["ethnicity"][0]))
    shown = explanation.probabilities("ethnicity")
    assert list(shown) == list(ETHNICITIES)
    np.testing.assert_allclose(list(shown.values()), probs["ethnicity"][0], atol=1e-5)
    assert explanation["gender"].target == f"P({GENDERS[gender]})"
    assert explanation["gender"].output_value == pytest.approx(float(probs["gender"][0, gender]), abs=1e-5)
    assert explanation["ethnicity"].target == f"P({ETHNICITIES[ethnicity]})"
    assert explanation["ethnicity"].output_value == pytest.approx(float(probs["ethnicity"][0, ethnicity]), abs=1e-5)


def test_choosing_a_class_changes_the_target_and_map(explanation):
    predicted = explanation["ethnicity"].target
    other = next(e for e in ETHNICITIES if f"P({e})" != predicted)
    chosen = explanation.retarget(ethnicity_class=other.lower())
    assert chosen["ethnicity"].target == f"P({other})"
    assert not np.allclose(chosen["ethnicity"].values, explanation["ethnicity"].values)
    assert chosen["age"] is explanation["age"]
    by_index = explanation.retarget(ethnicity_class=ETHNICITIES.index(other))
    np.testing.assert_array_equal(by_index["ethnicity"].values, chosen["ethnicity"].values)
    male, female = explanation.retarget(gender_class="male"), explanation.retarget(gender_class="female")
    # P(male) = 1 - P(female): their maps are mirror images of each other.
    np.testing.assert_allclose(male["gender"].values, -female["gender"].values, atol=1e-6)
    with pytest.raises(ValueError, match="unknown class"):
        explanation.retarget(ethnicity_class="Martian")
    np.testing.assert_array_equal(explanation.retarget(ethnicity=other)["ethnicity"].values, chosen["ethnicity"].values)
    np.testing.assert_array_equal(explanation.retarget({"gender": "MALE"})["gender"].values, male["gender"].values)


def test_head_explanation_json_is_what_the_api_returns(crop, explanation):
    part = HeadExplanation("gender", "P(female)", "probability", np.full((INPUT_SIZE, INPUT_SIZE), 1 / 3, np.float32),
                           0.1234567, 0.9876543)  # fmt: skip
    assert part.to_dict() == {"target": "P(female)", "unit": "probability", "base_value": 0.12346, "output": 0.98765}
    full = part.to_dict(crop, arrays=True)
    assert list(full) == ["target", "unit", "base_value", "output", "overlay_png", "values"]
    png = cv2.imdecode(np.frombuffer(base64.b64decode(full["overlay_png"]), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(png[..., ::-1], overlay(crop, part.values))
    assert full["values"] == np.round(part.values, 7).tolist() and len(full["values"]) == INPUT_SIZE
    whole = explanation.to_dict(crop)
    assert list(whole) == ["heads", "method"] and list(whole["heads"]) == list(HEADS)
    assert whole["method"] == explanation.method
    assert whole["heads"]["age"] == explanation["age"].to_dict(crop) and "values" not in whole["heads"]["age"]


def test_the_explanation_package_has_no_import_cycle_and_imports_no_private_names():
    """Every explanation module imports only public names of its siblings, and the import graph has no cycle
    (lazy imports inside functions count too)."""
    package = Path(__file__).resolve().parents[1] / "face2data" / "explanation"
    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        if path.stem == "__init__":
            continue
        graph[path.stem] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("face2data.explanation."):
                sibling = node.module.split(".")[2]
                graph[path.stem].add(sibling)
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {sibling}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert "face2data.explanation" not in names, f"{path.name} imports the package it is part of"
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())
    assert {"core", "shap_maps", "regions"} <= set(graph) and "core" in graph["shap_maps"] & graph["regions"]
    assert "shap_maps" not in graph["regions"] and "regions" not in graph["shap_maps"]


def test_the_explained_outputs_are_read_from_the_head_table():
    from face2data.explanation.core import OUTPUTS, output_columns

    assert OUTPUTS[: 1 + len(GENDERS) + len(ETHNICITIES)] == (
        "age", *(f"gender:{g}" for g in GENDERS), *(f"ethnicity:{e}" for e in ETHNICITIES)
    )  # fmt: skip
    assert len(OUTPUTS) == sum(1 if head.kind == "age" else len(head.classes) for head in HEAD_TABLE)
    for head in HEAD_TABLE:
        columns = [OUTPUTS[i] for i in output_columns(head.name)]
        assert columns == ([head.name] if head.kind == "age" else [f"{head.name}:{c}" for c in head.classes])


def test_explain_face_takes_the_class_and_a_model_sized_crop(model, crop, explanation):
    small = to_model_input(crop).round().astype(np.uint8)
    chosen = explain_face(model, small, ethnicity_class="Asian", gender_class=1, settings=FAST)
    assert chosen["ethnicity"].target == "P(Asian)" and chosen["gender"].target == "P(female)"
    assert chosen["age"].output_value == pytest.approx(explanation["age"].output_value, abs=0.5)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((200, 200), np.uint8), np.zeros((200, 200, 4), np.uint8), np.zeros((50, 50, 3))],
    ids=["grey", "rgba", "float"],
)
def test_unusable_crops_get_a_clear_error(model, bad):
    with pytest.raises(ValueError, match="face crop must be"):
        explain_face(model, bad, settings=FAST)


def test_overlay_is_a_crop_sized_rgb_image_red_up_blue_down(crop):
    shap_map = np.zeros((INPUT_SIZE, INPUT_SIZE), np.float32)
    shap_map[:, : INPUT_SIZE // 2] = 1.0  # left half pushed up
    shap_map[:, INPUT_SIZE // 2 :] = -0.5  # right half pushed down
    image = overlay(crop, shap_map).astype(int)
    assert image.shape == crop.shape and overlay(crop, shap_map).dtype == np.uint8
    left, right = image[:, :80].reshape(-1, 3).mean(0), image[:, -80:].reshape(-1, 3).mean(0)
    assert left[0] > left[2] and right[2] > right[0]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    flat = overlay(crop, np.zeros_like(shap_map))  # nothing to show: the plain grey face
    np.testing.assert_array_equal(flat[..., 0], grey)
    np.testing.assert_array_equal(flat[..., 2], grey)


def test_colour_limits_are_symmetric_and_never_empty():
    assert colour_limits(np.array([[0.2, -0.5], [0.1, 0.0]])) == (-0.5, 0.5)
    low, high = colour_limits(np.zeros((4, 4)))
    assert low == -high and high > 0
    scale = plotly_colorscale()
    assert scale[0][0] == 0 and scale[-1][0] == 1 and scale[0][1] != scale[-1][1]


def test_panel_shows_the_face_and_one_overlay_per_head(crop, explanation):
    panel = explanation_panel(crop, explanation)
    assert panel.dtype == np.uint8 and panel.ndim == 3 and panel.shape[1] >= (1 + len(HEADS)) * CROP_SIZE


def test_global_maps_round_trip(tmp_path, model, crop):
    faces = np.stack([crop, crop[:, ::-1]])
    maps = compute_global_maps(model, faces, settings=FAST, model_name="tiny.keras")
    path = save_global_maps(maps, tmp_path / "shap_global.npz")
    assert path.stat().st_size < 200_000
    loaded = load_global_maps(path)
    assert loaded.n_faces == 2 and loaded.model == "tiny.keras" and "Partition" in loaded.method
    assert set(HEADS) <= set(loaded.maps) and loaded.counts["age"] == 2
    for head in PER_CLASS_HEADS:  # each face is in the map of its predicted class
        assert sum(loaded.counts[f"{head.name}:{c}"] for c in head.classes) == 2
    for name, values in maps.maps.items():
        assert loaded.maps[name].shape == (INPUT_SIZE, INPUT_SIZE) and np.all(loaded.maps[name] >= 0)
        np.testing.assert_allclose(loaded.maps[name], values, rtol=2e-3, atol=1e-3 * values.max() + 1e-12)
    assert loaded.unit("age") == "years per pixel" and loaded.unit("ethnicity:Asian") == "probability per pixel"


def test_missing_or_damaged_global_maps_file_gets_a_clear_error(tmp_path):
    with pytest.raises(GlobalMapsError, match="no global SHAP maps"):
        load_global_maps(tmp_path / "absent.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(GlobalMapsError, match="not a readable global SHAP maps file"):
        load_global_maps(damaged)


@pytest.mark.slow
def test_the_shipped_model_explains_a_real_face(shipped_model_path, crop):
    from face2data.model_loading import load_trained_model

    real = load_trained_model(shipped_model_path)
    explanation = explain_face(real, crop)
    probs = predict_probabilities(real, to_model_input(crop[None]), flip=DEFAULT_SETTINGS.flip)
    assert explanation["age"].output_value == pytest.approx(float(expected_age(probs["age"])[0]), abs=1e-2)
    for head in HEADS:
        h = explanation[head]
        assert h.values.shape == (INPUT_SIZE, INPUT_SIZE) and np.abs(h.values).max() > 0
        assert h.base_value + float(h.values.sum()) == pytest.approx(h.output_value, abs=1e-3)


def test_an_unknown_class_fails_before_any_model_call(crop):
    class NoModel:  # explain_face must refuse the class before touching the model
        pass

    with pytest.raises(ValueError, match="unknown class 'Martian'; choose one of White, Black"):
        explain_face(NoModel(), crop, ethnicity_class="Martian")


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory, model) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def test_cli_explains_each_face_of_a_photo_into_pngs(tmp_path, capsys, tiny_model_file):
    from face2data.cli import main

    out = tmp_path / "explanations"
    code = main(["explain", str(ASTRONAUT), "--out", str(out), "--model", str(tiny_model_file), "--max-evals", "100"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert [p.name for p in out.iterdir()] == ["astronaut_face1.png"]
    panel = cv2.imread(str(out / "astronaut_face1.png"))
    assert panel is not None and panel.shape[1] >= (1 + len(HEADS)) * CROP_SIZE
    assert "face 1:" in printed and "expected age" in printed and "method: SHAP Partition" in printed


def test_cli_explain_reports_bad_input_clearly(tmp_path, capsys, tiny_model_file):
    from face2data.cli import main

    assert main(["explain", str(tmp_path / "absent.jpg"), "--model", str(tiny_model_file)]) == 2
    assert "no such file" in capsys.readouterr().err
    args = ["explain", str(ASTRONAUT), "--model", str(tiny_model_file), "--out", str(tmp_path)]
    assert main([*args, "--face", "3"]) == 1
    assert "the photo has 1 face(s)" in capsys.readouterr().err
    assert main([*args, "--ethnicity", "Martian"]) == 1
    assert "unknown class 'Martian'" in capsys.readouterr().err


def test_cli_explain_gives_the_face_box_in_the_photos_pixels_however_large(tmp_path, capsys, tiny_model_file):
    from face2data.cli import main
    from face2data.predictor import Predictor

    large = tmp_path / "large.jpg"  # over DECODE_PIXELS: decoded reduced
    cv2.imwrite(str(large), cv2.resize(cv2.imread(str(ASTRONAUT)), (5200, 5200), interpolation=cv2.INTER_LINEAR))
    assert main(["explain", str(large), "--json", "--model", str(tiny_model_file)]) == 0
    records = json.loads(capsys.readouterr().out)
    expected = Predictor(model_path=tiny_model_file).predict_photo("large.jpg", large.read_bytes()).faces
    assert [r["prediction"]["box"] for r in records] == [list(face.box) for face in expected if face.read]


def test_cli_explain_writes_maps_of_a_photo_whose_name_is_not_utf8(tmp_path, capsys, tiny_model_file):
    # OpenCV's imwrite took such a path as text and crashed the process (a segfault)
    from face2data.cli import main

    photo = tmp_path / os.fsdecode(b"caf\xe9.jpg")
    photo.write_bytes(ASTRONAUT.read_bytes())
    out = tmp_path / os.fsdecode(b"out\xff")
    code = main(["explain", str(photo), "--out", str(out), "--model", str(tiny_model_file), "--max-evals", "100"])
    assert code == 0 and os.listdir(os.fsencode(out)) == [b"caf\xe9_face1.png"]
    assert "caf\\xe9_face1.png" in capsys.readouterr().out
    long = tmp_path / ("x" * 250 + ".jpg")  # the map's name is cut to fit a file name
    long.write_bytes(ASTRONAUT.read_bytes())
    assert main(["explain", str(long), "--out", str(out), "--model", str(tiny_model_file), "--max-evals", "100"]) == 0
    assert ("x" * 200 + "_face1.png") in os.listdir(out)


def test_cli_explain_refuses_an_unusable_out_folder_before_the_work(tmp_path, capsys, tiny_model_file):
    from face2data.cli import main

    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    assert main(["explain", str(ASTRONAUT), "--out", str(not_a_folder), "--model", str(tiny_model_file)]) == 1
    assert "cannot write to" in capsys.readouterr().err
