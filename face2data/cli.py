"""``python -m face2data`` — train, evaluate, predict and explain from the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "weights" / "face2data.keras"


def _setup_logging(log_file: Path | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers)


def _cmd_train(args: argparse.Namespace) -> int:
    from face2data.training import TrainConfig, train

    _setup_logging(Path(args.out) / "train.log")
    config = TrainConfig(
        data=args.data, out=args.out, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, seed=args.seed, cache=not args.no_cache,
    )  # fmt: skip
    path = train(config)
    print(f"best model: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="python -m face2data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train (or resume) the model on UTKFace")
    train.add_argument("--data", required=True, help="UTKFace folder or archive")
    train.add_argument("--epochs", type=int, default=45)
    train.add_argument("--out", default="weights", help="where the model, history and checkpoint go")
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=2e-3)
    train.add_argument("--seed", type=int, default=1337)
    train.add_argument("--no-cache", action="store_true", help="do not cache decoded images")
    train.set_defaults(run=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m face2data``."""
    args = build_parser().parse_args(argv)
    return args.run(args)
