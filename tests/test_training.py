"""A real training run of a few steps on images the test makes, including an interrupted, resumed run."""

import csv
import json

import keras
import numpy as np
import pytest
from conftest import utkface_names, write_allagefaces_source, write_fairface_source, write_utkface_images

from face2data.data.scores import RANGE_HIT_KEY
from face2data.paths import TFLITE_PATH
from face2data.schema import CLASS_HEADS, INPUT_SIZE
from face2data.tflite_model import largest_difference, load_tflite_model
from face2data.training import CHECKPOINT_DIR, HISTORY_COLUMNS, HISTORY_FILE, MODEL_FILE, TrainConfig, train

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane


def test_train_on_three_sources_stops_resumes_and_records(tmp_path):
    data = tmp_path / "faces"
    write_utkface_images(data, utkface_names({"train": 12, "val": 4, "test": 2}))
    (data / "39_1_20170116174525125.jpg.chip.jpg").write_bytes(b"a malformed name is skipped, not fatal")
    wild = write_fairface_source(tmp_path / "wild", [("20-29", "Female", "Black")] * 24)  # 2 land in val
    all_ages = write_allagefaces_source(tmp_path / "aaf", [(4 + 3 * i, ("female", "male")[i % 2]) for i in range(20)])
    out = tmp_path / "run"
    config = TrainConfig(
        data=[str(data), str(wild), str(all_ages)], out=str(out), epochs=2, batch_size=6, stop_after=1,
        loss_weights={"gender": 2.0}, dropout=0.1, augment_strength=0.5,
    )  # fmt: skip

    train(config)  # first "session": one epoch, then stop
    state = json.loads((out / CHECKPOINT_DIR / "state.json").read_text())
    assert state["epoch"] == 1
    assert (out / MODEL_FILE).exists()

    train(config)  # second "session": resumes from the checkpoint
    with (out / HISTORY_FILE).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert set(HISTORY_COLUMNS) <= set(rows[0])
    for row in rows:
        for key in (
            "loss",
            "val_loss",
            "val_age_mae",
            "val_gender_accuracy",
            "learning_rate",
            "val_utkface_age_mae",
            f"val_fairface_{RANGE_HIT_KEY}",
            "val_fairface_ethnicity_accuracy",
            "val_allagefaces_age_mae",
            "val_allagefaces_gender_accuracy",
        ):
            assert np.isfinite(float(row[key]))  # fmt: skip
    summary = json.loads((out / "training.json").read_text())
    wild_train = summary["sources"]["fairface"]["train_faces"]
    aaf_train = summary["sources"]["allagefaces"]["train_faces"]
    assert aaf_train > 0 and summary["sources"]["allagefaces"]["val_faces"] > 0
    assert summary["epochs_completed"] == 2 and summary["train_images"] == 12 + wild_train + aaf_train
    assert summary["sources"]["utkface"]["skipped_files"] == ["39_1_20170116174525125.jpg.chip.jpg"]
    assert summary["sources"]["utkface"]["val_faces"] == 4 and "mixing" in summary
    assert summary["config"]["loss_weights"] == {"gender": 2.0} and summary["input_size"] == INPUT_SIZE
    assert summary["config"]["dropout"] == 0.1 and summary["config"]["augment_strength"] == 0.5
    assert summary["machine"]["cores"] >= 1 and summary["machine"]["devices"]  # where it trained, for the card

    model = keras.models.load_model(out / MODEL_FILE)
    assert model.get_layer("features_dropout").rate == 0.1
    out_probs = model(np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.float32), training=False)
    assert out_probs["age"].shape == (1, 117)
    # the completed run also wrote the file the app runs, with the same answers
    assert largest_difference(model, load_tflite_model(out / TFLITE_PATH.name)) < 1e-4


def test_a_run_from_an_earlier_model_records_that_models_own_history(tmp_path):
    from face2data import training

    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / training.SUMMARY_FILE).write_text(
        json.dumps(
            {
                "sources": {"utkface": {}, "fairface": {}},
                "epochs_completed": 10,
                "training_seconds": 5400,
                "initialised_from": "random weights (from scratch)",
            }
        )
    )
    out = tmp_path / "run"
    out.mkdir()
    training._record_lineage(earlier / training.MODEL_FILE, out, 96)
    text = training._lineage_text(out)
    assert "10 epochs on the training splits of utkface and fairface at 96 px, 1.50 h" in text
    assert "random weights (from scratch); no network trained elsewhere" in text
    assert " CPU" not in text  # that summary recorded no machine: no words about one


def test_the_machine_a_run_recorded_is_named_and_an_unrecorded_one_is_not():
    from face2data.machine import describe_machine, machine_words

    machine = describe_machine(["cpu:0"])
    assert machine["cores"] >= 1 and machine_words(machine).startswith(f" on a {machine['cores']}-core CPU")
    assert machine_words({"cpu": "", "cores": 2, "devices": ["gpu:0", "gpu:1"]}) == " on gpu:0, gpu:1 with a 2-core CPU"
    assert machine_words(None) == "" and machine_words({}) == ""


def test_loss_weights_are_parsed_per_head_and_a_wrong_head_is_refused(capsys):
    from face2data.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["train", "--data", "x", "--loss-weights", "gender=2,ethnicity=1.5"])
    assert args.loss_weights == {"gender": 2.0, "ethnicity": 1.5}
    for bad in ("beard=2", "gender=-1", "gender=two"):
        with pytest.raises(SystemExit):
            parser.parse_args(["train", "--data", "x", "--loss-weights", bad])
    assert "gender=two" in capsys.readouterr().err


def test_a_loss_weight_multiplies_its_heads_loss():
    from face2data.model import build_model, compile_for_training

    model = build_model(input_size=32)
    faces = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    targets = {"age": np.array([[30, 30]] * 4), **{head.name: np.array([0, 1, 0, 1]) for head in CLASS_HEADS}}
    losses = {}
    for weight in (1.0, 3.0):
        compile_for_training(model, 1e-3, 0.0, {"gender": weight})
        losses[weight] = model.evaluate(faces, targets, verbose=0, return_dict=True)
    assert losses[3.0]["gender_loss"] == pytest.approx(losses[1.0]["gender_loss"])
    assert losses[3.0]["loss"] - losses[1.0]["loss"] == pytest.approx(2 * losses[1.0]["gender_loss"], rel=1e-3)


def test_augmentation_strength_scales_the_ranges_and_zero_leaves_only_mirror_flips():
    from face2data.data.augment import augment_batch, describe_augmentation

    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    unchanged = augment_batch(images, np.random.default_rng(1), strength=0.0)
    for image, out in zip(images, unchanged, strict=True):
        assert min(np.abs(out - image).max(), np.abs(out - image[:, ::-1]).max()) < 1e-3
    assert np.abs(augment_batch(images, np.random.default_rng(1)) - images).mean() > 10
    assert "rotation ±6°" in describe_augmentation(0.5) and "rotation ±12°" in describe_augmentation()


def test_a_run_can_start_from_a_model_of_another_input_size(tmp_path):
    from face2data import training
    from face2data.model import build_model

    earlier = build_model(input_size=64)
    earlier.save(tmp_path / "earlier.keras")
    model, earlier_size = training._weights_from(tmp_path / "earlier.keras")
    assert earlier_size == 64
    assert tuple(model.inputs[0].shape[1:]) == (INPUT_SIZE, INPUT_SIZE, 3)
    for carried, original in zip(model.get_weights(), earlier.get_weights(), strict=True):
        np.testing.assert_array_equal(carried, original)

    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="not a face2data network"):
        training._weights_from(tmp_path / "other.keras")
