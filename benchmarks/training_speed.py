"""Training speed: images per second of ``model.fit`` on this CPU, and the recorded run of the shipped model.

    python benchmarks/training_speed.py [--steps 20] [--warmup-steps 3] [--batch 64] [--quick]

Builds and compiles the network exactly as ``face2data.training`` does (``build_model`` and
``compile_for_training`` with the default learning rate and weight decay) and fits it on random faces at the input size
with random labels fed through the training data path (``FaceBatches``, which augments each batch), then once
more without augmentation (the network's step alone). Each fit runs one warm-up epoch of ``--warmup-steps``
(tracing) and one timed epoch of ``--steps``; the figure is batch / median step-to-step interval.

It also reads weights/training.json, written by the run that produced the shipped model: its wall time,
epochs and the images per second it recorded (training images / median epoch seconds, an epoch including its
validation pass), and the epoch times in weights/history.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import common

common.setup_path()

from face2data.machine import prepare_training_environment  # noqa: E402

prepare_training_environment()  # as `train` runs: TensorFlow, its BFC CPU allocator (before Keras is imported)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from face2data.data.arrays import FaceArrays  # noqa: E402
from face2data.data.batches import FaceBatches  # noqa: E402
from face2data.model import build_model, compile_for_training  # noqa: E402
from face2data.paths import HISTORY_PATH, TRAINING_SUMMARY_PATH  # noqa: E402
from face2data.schema import CLASS_HEADS, INPUT_SIZE, NUM_AGES  # noqa: E402
from face2data.training import TrainConfig  # noqa: E402


class StepClock(keras.callbacks.Callback):
    """Wall-clock time at the end of every training batch and around every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_ends: dict[int, list[float]] = {}
        self.epoch_seconds: dict[int, float] = {}
        self._epoch, self._started = 0, 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch, self._started = epoch, time.perf_counter()
        self.batch_ends[epoch] = [self._started]

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.batch_ends[self._epoch].append(time.perf_counter())

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.epoch_seconds[epoch] = time.perf_counter() - self._started


def random_faces(count: int, seed: int) -> FaceArrays:
    """``count`` random uint8 'faces' at the input size with random labels (speed does not depend on pixels)."""
    rng = np.random.default_rng(seed)
    return FaceArrays(
        images=rng.integers(0, 256, (count, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8),
        age_low=(ages := rng.integers(0, NUM_AGES, count).astype(np.float32)),
        age_high=ages,
        labels={head.name: rng.integers(0, head.size, count).astype(np.int32) for head in CLASS_HEADS},
        sources=np.array(["utkface"] * count),
        names=np.array([f"random_{i}" for i in range(count)]),
        splits=np.array(["train"] * count),
    )


def measure_fit(model: keras.Model, batch: int, warmup_steps: int, steps: int, augment: bool, seed: int) -> dict:
    """Fit one warm-up epoch and one timed epoch; the timed epoch's per-step intervals and throughput."""
    faces = random_faces(batch * steps, seed)
    warm = FaceBatches(random_faces(batch * warmup_steps, seed + 1), batch, augment=augment, seed=seed)
    timed = FaceBatches(faces, batch, augment=augment, seed=seed)
    model.fit(warm, epochs=1, verbose=0)
    clock = StepClock()
    model.fit(timed, epochs=1, verbose=0, callbacks=[clock])
    ends = clock.batch_ends[0]
    intervals = list(np.diff(ends))
    step = common.median(intervals)
    return {
        "augment": augment,
        "batch": batch,
        "steps": steps,
        "step": common.spread(intervals),
        "images_per_second_median_step": round(batch / step, 1),
        "images_per_second_epoch": round(batch * steps / clock.epoch_seconds[0], 1),
    }


def measure_fits(args) -> list[dict]:
    """A fresh network compiled as training compiles it, fitted with and then without augmentation."""
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    defaults = TrainConfig(data=[])
    compile_for_training(model, defaults.learning_rate, defaults.weight_decay)
    return [measure_fit(model, args.batch, args.warmup_steps, args.steps, aug, args.seed) for aug in (True, False)]


def recorded_run(summary_path: Path, history_path: Path) -> dict | None:
    """What the run that produced the shipped model wrote about itself (None when it has not finished)."""
    if not summary_path.exists():
        return None
    summary = json.loads(summary_path.read_text())
    keys = ("training_seconds", "epochs_completed", "best_epoch", "train_images", "val_images", "median_epoch_seconds",
            "train_images_per_second", "wall_seconds_this_run", "previous_runs_wall_seconds")  # fmt: skip
    run = {k: summary.get(k) for k in keys}
    run["batch_size"] = summary.get("config", {}).get("batch_size")
    if history_path.exists():
        with history_path.open(newline="") as handle:
            seconds = [float(row["seconds"]) for row in csv.DictReader(handle) if row.get("seconds")]
        if seconds:
            run["epoch_seconds"] = {"min": min(seconds), "median": common.median(seconds), "max": max(seconds)}
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per variant")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: default, as training)")
    parser.add_argument("--summary", type=Path, default=TRAINING_SUMMARY_PATH)
    parser.add_argument("--history", type=Path, default=HISTORY_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recorded-only", action="store_true", help="only read the recorded run; fit nothing")
    parser.add_argument("--quick", action="store_true", help="two steps: checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup_steps = 2, 1
    common.configure_tensorflow_threads(args.threads)
    info = common.machine_info()
    common.print_header("Training speed", info, args.quick)

    fits = [] if args.recorded_only else measure_fits(args)
    rows = [
        [
            "model.fit, training data path (FaceBatches with augmentation)" if fit["augment"] else
            "model.fit, network step only (no augmentation)",
            fit["batch"], fit["steps"], common.ms(fit["step"]["median_s"]),
            f"{common.ms(fit['step']['q1_s'])}–{common.ms(fit['step']['q3_s'])}",
            common.rate(fit["images_per_second_median_step"]), common.rate(fit["images_per_second_epoch"]),
        ]
        for fit in fits
    ]  # fmt: skip
    headers = ["measured here (random data)", "batch", "timed steps", "ms/step (median)", "IQR (ms)",
               "images/s (median step)", "images/s (whole epoch)"]  # fmt: skip
    if fits:
        print(f"### This CPU, TensorFlow threads: {args.threads or 'default'}\n")
        print(common.markdown_table(headers, rows) + "\n")

    run = recorded_run(args.summary, args.history)
    print("### The run that produced the shipped model (weights/training.json)\n")
    if run is None:
        print(f"{args.summary} does not exist yet (training has not finished).\n")
    else:
        hours = run["training_seconds"] / 3600 if run["training_seconds"] else float("nan")
        epoch = run.get("epoch_seconds") or {}
        rows = [
            ["training time (sum of epoch times)", f"{run['training_seconds']} s ({hours:.2f} h)"],
            ["epochs completed (best epoch)", f"{run['epochs_completed']} ({run['best_epoch']})"],
            ["training / validation images", f"{run['train_images']} / {run['val_images']}"],
            ["batch size", run["batch_size"]],
            ["epoch seconds min / median / max", " / ".join(f"{epoch.get(k, float('nan')):.0f}" for k in
                                                            ("min", "median", "max"))],
            ["images/s recorded (train images / median epoch incl. validation)", run["train_images_per_second"]],
            ["wall seconds of the last invocation (+ earlier, resumed ones)",
             f"{run['wall_seconds_this_run']}" + (f" (+ {run['previous_runs_wall_seconds']})"
                                                  if run["previous_runs_wall_seconds"] else "")],
        ]  # fmt: skip
        print(common.markdown_table(["recorded", "value"], rows) + "\n")
    info["load_average_1min_end"] = common.load_average()
    common.print_json("training_speed", info, args.quick, threads=args.threads, fits=fits, recorded_run=run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
