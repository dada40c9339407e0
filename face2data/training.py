"""Training: seeded, resumable (a checkpoint every epoch), with a CSV history and the best model kept."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from face2data.crops import load_crops
from face2data.data.arrays import FaceArrays
from face2data.data.batches import FaceBatches
from face2data.data.scores import RANGE_HIT_KEY, source_figures
from face2data.distribution import use_devices, visible_devices
from face2data.machine import describe_machine, machine_words
from face2data.model import DROPOUT, build_model, compile_for_training
from face2data.outputs import predict_probabilities
from face2data.paths import HISTORY_PATH, MODEL_PATH, TFLITE_PATH, TRAINING_SUMMARY_PATH
from face2data.schema import ALLAGEFACES_AGES_TEXT, CLASS_HEADS, HEAD_TABLE, INPUT_SIZE, SOURCES
from face2data.training_speed import RATE_KEY, TrainingSpeed, network_speed

log = logging.getLogger(__name__)

# The file names of weights/ (paths.py), written into the run's output folder.
MODEL_FILE = MODEL_PATH.name
HISTORY_FILE = HISTORY_PATH.name
SUMMARY_FILE = TRAINING_SUMMARY_PATH.name
DEFAULT_EPOCHS = 34
CHECKPOINT_DIR = "checkpoint"  # resumable state; not shipped


def _history_columns() -> list[str]:
    """history.csv's columns: each head's loss and metric (training, then validation), then the validation
    figures of each source (``scores.source_figures``; a figure a source has no labels for stays empty)."""
    metric = {head.name: f"{head.name}_{'mae' if head.kind == 'age' else 'accuracy'}" for head in HEAD_TABLE}
    fitted = ["loss", *(f"{h}_loss" for h in metric), *metric.values()]
    figures = ["age_mae", "age_in_range", RANGE_HIT_KEY, *(f"{head.name}_accuracy" for head in CLASS_HEADS)]
    by_source = [f"val_{source}_{figure}" for source in SOURCES for figure in figures]
    return ["epoch", "seconds", RATE_KEY, "learning_rate", *fitted, *(f"val_{c}" for c in fitted), *by_source]


HISTORY_COLUMNS = _history_columns()
# How the sources are mixed, recorded in training.json and the model card.
MIXING = (
    "The sources' training splits are concatenated and shuffled together each epoch: every face is seen once per "
    "epoch with equal loss weight (with all three, about two UTKFace and one All-Age-Faces face to three FairFace "
    "faces). FairFace brings real-world photos and the balance over race groups that users' photos need; UTKFace "
    "brings exact ages (FairFace gives ranges only), many young children and very old faces; All-Age-Faces brings "
    f"exact ages and genders of mostly East Asian faces of {ALLAGEFACES_AGES_TEXT}, and no ethnicity label, so its "
    "faces add nothing to the ethnicity heads' losses; only FairFace's faces teach its seven groups. The natural "
    "proportions keep the age head anchored on exact ages while most steps show in-the-wild faces; other mixes were "
    "not tried."
)


@dataclass
class TrainConfig:
    """Everything that defines a training run."""

    data: list[str]  # sources (UTKFace or FairFace, folder or archive) or crops files
    out: str = "weights"
    epochs: int | None = None  # None: DEFAULT_EPOCHS for a new run, the stored total when resuming
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.02
    seed: int = 1337
    stop_after: int | None = None  # epochs to run in this invocation (the rest on resume)
    workers: int = 0  # threads preparing augmented batches; 0: one per CPU core, at most 8
    init: str | None = None  # a face2data .keras model to start from instead of random weights
    # Per-head multipliers of the loss (a head left out keeps 1); in Adam the heads' own updates do not depend on
    # them, so they steer what the shared trunk learns.
    loss_weights: dict[str, float] | None = None
    dropout: float = DROPOUT
    augment_strength: float = 1.0  # scales the augmentation's ranges (rotation, zoom, shift, brightness, contrast)
    devices: int | None = None  # devices each batch is split over (None: all visible; more than one needs JAX)


class EpochRecorder(keras.callbacks.Callback):
    """Per epoch: append the history row, keep the best model, save the resumable checkpoint."""

    def __init__(
        self,
        out: Path,
        config: TrainConfig,
        best_val_loss: float,
        train_batches: FaceBatches,
        val_faces: FaceArrays,
        devices: int = 1,
    ) -> None:
        super().__init__()
        self.val_faces = val_faces
        self.devices = devices
        self.out = out
        self.config = config
        self.best_val_loss = best_val_loss
        self.train_batches = train_batches
        self.started = time.time()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.train_batches.set_epoch(epoch)
        self.started = time.time()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = dict(logs or {})
        row = {
            "epoch": epoch + 1,
            "seconds": round(time.time() - self.started, 1),
            "learning_rate": float(ops.convert_to_numpy(self.model.optimizer.learning_rate)),
        }
        logs.update(self._per_source_figures())
        row.update({k: logs.get(k, "") for k in HISTORY_COLUMNS if k not in row})
        history = self.out / HISTORY_FILE
        new = not history.exists()
        with history.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        val_loss = float(logs.get("val_loss", math.inf))
        improved = val_loss < self.best_val_loss
        if improved:
            self.best_val_loss = val_loss
            inference = keras.Model(self.model.input, self.model.output, name=self.model.name)  # keeps the dict
            inference.save(self.out / MODEL_FILE)
        checkpoint = self.out / CHECKPOINT_DIR
        checkpoint.mkdir(exist_ok=True)
        self.model.save(checkpoint / "model.keras")
        state = {"epoch": epoch + 1, "best_val_loss": self.best_val_loss, "config": asdict(self.config)}
        (checkpoint / "state.json").write_text(json.dumps(state, indent=2))
        figures = ", ".join(f"{k[4:]} {v:.3f}" for k, v in logs.items() if k.startswith("val_") and "_loss" not in k)
        log.info("epoch %d/%d %.0fs  %s images/s  val loss %.4f%s  %s", epoch + 1, self.config.epochs, row["seconds"],
                 row[RATE_KEY] or "?", val_loss, "  (best, saved)" if improved else "", figures)  # fmt: skip

    def _per_source_figures(self) -> dict[str, float]:
        """Validation figures of each source, in inference mode (BatchNorm and dropout as served), each face alone
        (the served answers also average it with its mirror image)."""
        images = self.val_faces.images
        batch = 256 * self.devices
        if self.devices > 1:  # every batch split evenly over the devices: pad with blank faces, then drop them
            images = np.concatenate([images, np.zeros((-len(images) % batch, *images.shape[1:]), images.dtype)])
        probabilities = predict_probabilities(self.model, images, flip=False, batch_size=batch)
        probabilities = {head: p[: len(self.val_faces)] for head, p in probabilities.items()}
        figures = {}
        for source in SOURCES:
            mask = self.val_faces.sources == source
            if mask.any():
                part = {head: p[mask] for head, p in probabilities.items()}
                for name, value in source_figures(self.val_faces.subset(mask), part).items():
                    figures[f"val_{source}_{name}"] = value
        return figures


def _truncate_history(history: Path, epochs_done: int) -> None:
    """Drop history rows beyond the checkpoint (an epoch interrupted after its row was written)."""
    if not history.exists():
        return
    with history.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["epoch"]) <= epochs_done]
    with history.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _load_data(config: TrainConfig) -> tuple[FaceArrays, FaceArrays, dict]:
    """Training and validation faces of every source, and per source what could not be used."""
    parts: list[FaceArrays] = []
    report: dict[str, dict] = {}
    for data in config.data:
        crops = load_crops(data)
        parts.append(crops.faces)
        entry = report.setdefault(crops.source, {"skipped_files": [], "faces_not_found": 0})
        entry["skipped_files"] += crops.skipped
        entry["faces_not_found"] += len(crops.missed_in("train", "val"))
    faces = FaceArrays.concatenate(parts)
    for source, entry in report.items():
        entry["train_faces"] = int(((faces.sources == source) & (faces.splits == "train")).sum())
        entry["val_faces"] = int(((faces.sources == source) & (faces.splits == "val")).sum())
    return faces.of_splits("train"), faces.of_splits("val"), report


def _schedule(
    config: TrainConfig, epochs: int, steps_per_epoch: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """One epoch of linear warm-up, then cosine decay to 1 % over the remaining ``epochs - 1``."""
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 20,
        warmup_target=config.learning_rate,
        warmup_steps=steps_per_epoch,
        decay_steps=max(1, steps_per_epoch * (epochs - 1)),
        alpha=0.01,
    )


def _weights_from(init: Path, dropout: float = DROPOUT) -> tuple[keras.Model, int]:
    """A fresh network at this code's input size holding the weights of an earlier face2data model, and the
    earlier model's input size.

    The trunk is convolutional with global pooling, so its weights carry over to another input size: a model
    trained at 96 px can start a run at 128 px.
    """
    earlier = keras.models.load_model(init, compile=False)
    model = build_model(dropout=dropout)
    try:
        model.set_weights(earlier.get_weights())
    except ValueError as error:
        raise ValueError(f"{init} is not a face2data network of this architecture: {error}") from error
    return model, int(earlier.inputs[0].shape[1])


def train(config: TrainConfig) -> Path:
    """Train (or resume) a model; returns the path of the best model saved in ``config.out``."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    train_faces, val_faces, sources = _load_data(config)
    for source, entry in sources.items():
        log.info("%s: %d training and %d validation faces; no face found in %d; %d files skipped: %s",
                 source, entry["train_faces"], entry["val_faces"], entry["faces_not_found"],
                 len(entry["skipped_files"]), ", ".join(entry["skipped_files"][:10]))  # fmt: skip
    if len(train_faces) == 0 or len(val_faces) == 0:
        raise ValueError(f"{config.data}: need labelled images in both the train and the val split")

    devices = use_devices(config.devices)
    if config.batch_size % devices:
        raise ValueError(f"the batch size {config.batch_size} must be a multiple of the {devices} devices")
    workers = config.workers or min(8, os.cpu_count() or 1)
    train_batches = FaceBatches(
        train_faces,
        config.batch_size,
        augment=True,
        seed=config.seed,
        augment_strength=config.augment_strength,
        pad_to=devices,
        workers=workers,
    )
    val_batches = FaceBatches(val_faces, 2 * config.batch_size, augment=False, pad_to=devices)
    state_file = out / CHECKPOINT_DIR / "state.json"
    steps = len(train_batches)
    if state_file.exists():
        state = json.loads(state_file.read_text())
        stored = TrainConfig(**state["config"])
        keep = ("data", "out", "stop_after", "workers", "devices")  # data may be the same sources at other paths
        config = TrainConfig(**{**asdict(stored), **{k: getattr(config, k) for k in keep}, "epochs": config.epochs})
        initial_epoch, best = state["epoch"], state["best_val_loss"]
        model = keras.models.load_model(out / CHECKPOINT_DIR / "model.keras")
        if config.epochs is None:
            config.epochs = stored.epochs
        elif config.epochs != stored.epochs:
            log.info("stretching the schedule from %d to %d epochs", stored.epochs, config.epochs)
            model.optimizer.learning_rate = _schedule(config, config.epochs, steps)
        _truncate_history(out / HISTORY_FILE, initial_epoch)
        log.info("resuming after epoch %d of %d (best val loss %.4f)", initial_epoch, config.epochs, best)
    else:
        config.epochs = config.epochs or DEFAULT_EPOCHS
        initial_epoch, best = 0, math.inf
        (out / HISTORY_FILE).unlink(missing_ok=True)
        if config.init:
            # Our own earlier model (trained from scratch by this code), never a network trained elsewhere.
            model, earlier_size = _weights_from(Path(config.init), config.dropout)
            _record_lineage(Path(config.init), out, earlier_size)
            log.info("starting from the weights of %s", config.init)
        else:
            model = build_model(dropout=config.dropout)
        compile_for_training(model, _schedule(config, config.epochs, steps), config.weight_decay, config.loss_weights)
        log.info("new run: %s, %d parameters", model.name, model.count_params())

    recorder = EpochRecorder(out, config, best, train_batches, val_faces, devices)
    device_names = visible_devices()[:devices]
    speed = TrainingSpeed(config.batch_size, network_speed(describe_machine(device_names)), device_names)
    started = time.time()
    last_epoch = config.epochs if config.stop_after is None else min(config.epochs, initial_epoch + config.stop_after)
    if initial_epoch < last_epoch:
        model.fit(
            train_batches,
            validation_data=val_batches,
            epochs=last_epoch,
            initial_epoch=initial_epoch,
            callbacks=[speed, recorder],  # speed first: the recorder writes the rate it adds to the logs
            verbose=1 if sys.stdout.isatty() else 2,
        )
    _write_summary(out, config, time.time() - started, len(train_faces), len(val_faces), sources, devices, speed)
    if last_epoch == config.epochs:
        _export_for_serving(out / MODEL_FILE)
    return out / MODEL_FILE


def _export_for_serving(model_path: Path) -> None:
    """Write the .tflite file the app runs next to the finished model (it needs TensorFlow's converter)."""
    if keras.backend.backend() != "tensorflow":
        log.info("the app runs %s: make it with `python -m face2data export` where TensorFlow is", TFLITE_PATH.name)
        return
    from face2data.model_loading import clear_model_cache, load_trained_model
    from face2data.tflite_model import export_tflite

    clear_model_cache()  # the file was just rewritten
    path = export_tflite(load_trained_model(model_path), model_path.with_name(TFLITE_PATH.name))
    log.info("wrote %s for the app", path)


LINEAGE_FILE = "init.json"  # the starting model's own training.json, copied when a run begins from it


def _record_lineage(init_model: Path, out: Path, input_size: int) -> None:
    """Keep what the starting model's training.json says, since that file may be replaced before this run ends,
    with the starting model's input size (summaries written before it was recorded lack it)."""
    summary = init_model.with_name(SUMMARY_FILE)
    if summary.exists():
        earlier = json.loads(summary.read_text())
        (out / LINEAGE_FILE).write_text(json.dumps({**earlier, "input_size": input_size}, indent=2))


def _lineage_text(out: Path) -> str:
    """One sentence on the model this run started from, and on the models that one started from."""
    lineage = out / LINEAGE_FILE
    if not lineage.exists():
        return "an earlier face2data model trained from scratch by this code (no network trained elsewhere)"
    earlier = json.loads(lineage.read_text())
    sources = " and ".join(name for name in earlier.get("sources", {"utkface": None}))
    hours = earlier.get("training_seconds", 0) / 3600
    size = f" at {earlier['input_size']} px" if "input_size" in earlier else ""
    text = (
        f"the weights of an earlier face2data model ({earlier.get('epochs_completed')} epochs on the training "
        f"splits of {sources}{size}, {hours:.2f} h{machine_words(earlier.get('machine'))}), which itself started from "
        f"{earlier.get('initialised_from', 'random weights (from scratch)')}"
    )
    return text.replace("(from scratch)", "(from scratch); no network trained elsewhere, no validation or test face")


def _write_summary(
    out: Path,
    config: TrainConfig,
    seconds: float,
    n_train: int,
    n_val: int,
    sources: dict,
    devices: int = 1,
    speed: TrainingSpeed | None = None,
) -> None:
    """Record how the shipped model was made (accumulated over resumed runs)."""
    summary_file = out / SUMMARY_FILE
    previous = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    with (out / HISTORY_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    epoch_seconds = [float(r["seconds"]) for r in rows]
    fit_rates = [float(r[RATE_KEY]) for r in rows if r.get(RATE_KEY)]
    val_losses = [float(r["val_loss"]) for r in rows]
    summary = {
        "config": {
            k: v for k, v in asdict(config).items() if k not in ("data", "out", "stop_after", "workers", "devices")
        },
        "train_images": n_train,
        "val_images": n_val,
        "input_size": INPUT_SIZE,
        "sources": sources,
        "mixing": MIXING,
        "initialised_from": _lineage_text(out) if config.init else "random weights (from scratch)",
        "epochs_completed": len(rows),
        "best_epoch": int(rows[int(np.argmin(val_losses))]["epoch"]) if rows else None,
        "training_seconds": round(sum(epoch_seconds), 1),
        "median_epoch_seconds": round(float(np.median(epoch_seconds)), 1) if rows else None,
        "train_images_per_second": round(n_train / float(np.median(epoch_seconds)), 1) if rows else None,
        # model.fit's own rate (training steps only, no validation), the median over epochs that recorded it
        "fit_images_per_second": round(float(np.median(fit_rates)), 1) if fit_rates else None,
        "first_steps_images_per_second": round(speed.first_rate, 1) if speed and speed.first_rate else None,
        "network_images_per_second_on_this_machine": speed.reference if speed else None,
        "wall_seconds_this_run": round(seconds, 1),
        "keras_backend": keras.backend.backend(),
        "devices": devices,
        "machine": describe_machine(visible_devices()[:devices]),
        "previous_runs_wall_seconds": previous.get("previous_runs_wall_seconds", [])
        + ([previous["wall_seconds_this_run"]] if "wall_seconds_this_run" in previous else []),
    }
    summary_file.write_text(json.dumps(summary, indent=2))
