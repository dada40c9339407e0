"""The command line's parser: defaults come from the library, not from copies in face2data/cli.py."""

from __future__ import annotations

import argparse
from dataclasses import fields

from face2data.batch.run import CHUNK_FILES
from face2data.cli import _train_config, build_parser


def _command_parser(name: str) -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def test_every_train_option_is_a_train_config_field_and_unset_ones_keep_its_defaults():
    from face2data.training import TrainConfig

    names = {field.name for field in fields(TrainConfig)}
    options = {action.dest for action in _command_parser("train")._actions if action.dest != "help"}
    assert options <= names
    args = build_parser().parse_args(["train", "--data", "x"])
    assert _train_config(args) == TrainConfig(data=["x"])
    args = build_parser().parse_args(["train", "--data", "x", "--data", "y", "--batch-size", "8", "--dropout", "0"])
    assert _train_config(args) == TrainConfig(data=["x", "y"], batch_size=8, dropout=0.0)


def test_the_batch_chunk_size_defaults_to_the_batch_modules_constant():
    args = build_parser().parse_args(["batch", "photos", "--out", "results.csv"])
    assert args.chunk_size == CHUNK_FILES
    assert f"(default {CHUNK_FILES})" in _command_parser("batch").format_help()


def test_the_epochs_help_states_the_training_modules_default():
    # the CLI does not import the training module (TensorFlow) to build its help: this keeps the two in step
    from face2data.training import DEFAULT_EPOCHS

    assert f"(default {DEFAULT_EPOCHS};" in " ".join(_command_parser("train").format_help().split())


def test_every_command_has_help():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(commands.choices) == [
        "train", "train-heads", "crops", "evaluate", "calibrate", "export", "model-card", "predict", "explain",
        "explain-regions-global", "explain-global", "batch", "serve",
    ]  # fmt: skip
    for name, command in commands.choices.items():
        assert command.format_help().startswith(f"usage: python -m face2data {name}")
