"""How fast a training run goes, measured early and against what this machine's network alone reaches.

A run that trains far below its machine's speed (a JAX backend on one CPU device, tests or a browser sharing the
cores, a profiler) shows itself after its first ~50 steps, not after an hour: the rate is logged then and in
every epoch line, and a warning names the likely causes when it is below half of the recorded figure.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import keras

from face2data.machine import describe_machine

log = logging.getLogger(__name__)

NETWORK_SPEED_PATH = Path(__file__).parent / "assets" / "network_speed.json"
FIRST_STEPS = 50  # steps timed before the first report
SKIPPED_STEPS = 3  # the first steps trace and compile the step function; they say nothing about the rate
SLOW_FRACTION = 0.5  # warn below this fraction of the machine's recorded network speed
RATE_KEY = "images_per_second"  # the epoch's training rate, in the logs and the history


def network_speed(machine: dict | None = None, path: Path = NETWORK_SPEED_PATH) -> float | None:
    """Images/s of the network's training step alone recorded for this machine kind (CPU model, cores and
    accelerators), or None when this kind was never measured."""
    machine = machine or describe_machine()
    try:
        records = json.loads(path.read_text())["machines"]
    except (OSError, ValueError, KeyError):
        return None
    for record in records:
        accelerators = [d for d in machine.get("devices", []) if not d.lower().startswith("cpu")]
        if (record["cpu"], record["cores"], record["devices"]) == (machine["cpu"], machine["cores"], accelerators):
            return float(record[RATE_KEY])
    return None


KERNEL_SHARE = 0.3  # above this share of the process's CPU time in the kernel, the allocator is named as a cause


def slow_causes(devices: list[str], kernel_share: float | None = None) -> str:
    """The likely reasons for a slow run, with what this process can see of them (``kernel_share``: the part of
    its CPU time the process spent in the kernel while it was timed)."""
    backend = keras.backend.backend()
    causes = [f"the Keras backend is {backend} on {', '.join(devices) or 'cpu:0'}"
              + (" (on one CPU device TensorFlow trains about eight times faster than JAX: unset KERAS_BACKEND)"
                 if backend != "tensorflow" else "")]  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None:
        causes.append(f"other work sharing the {os.cpu_count()} cores (load average {load:.1f}: tests, a browser, "
                      "another training or caching job)")  # fmt: skip
    if kernel_share is not None and kernel_share > KERNEL_SHARE:
        allocator = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "unset")
        causes.append(f"{kernel_share:.0%} of this process's CPU time is spent in the kernel, as when memory is "
                      f"handed back and faulted in every step (TF_CPU_ALLOCATOR_USE_BFC is {allocator}; `train` "
                      "sets it to true unless told otherwise)")  # fmt: skip
    causes.append("a profiler or debugger attached, or a slow data path (augmentation workers)")
    causes.append("or this machine is slower than the one recorded under its name (virtual machines sold under one "
                  "CPU name differ by up to half): benchmarks/training_speed.py, run alone, measures it")  # fmt: skip
    return "; ".join(causes)


class TrainingSpeed(keras.callbacks.Callback):
    """Logs images/s after the first ``first_steps`` steps (warning when below ``SLOW_FRACTION`` of
    ``reference``) and puts each epoch's training rate into its logs as ``RATE_KEY``."""

    def __init__(
        self, batch_size: int, reference: float | None, devices: list[str] | None = None, first_steps: int = FIRST_STEPS
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.reference = reference
        self.devices = devices or []
        self.first_steps = first_steps
        self.first_rate: float | None = None
        self.warned = False
        self._steps = 0
        self._timed_from: float | None = None
        self._cpu_from = os.times()
        self._epoch_steps = 0
        self._epoch_started = 0.0
        self._last_batch_end = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch_steps = 0
        self._epoch_started = self._last_batch_end = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = time.perf_counter()
        self._steps += 1
        self._epoch_steps += 1
        self._last_batch_end = now
        if self._steps == SKIPPED_STEPS:
            self._timed_from, self._cpu_from = now, os.times()
        elif self._timed_from is not None and self.first_rate is None:
            if self._steps - SKIPPED_STEPS >= self.first_steps:
                self.first_rate = self.first_steps * self.batch_size / (now - self._timed_from)
                self._report(self.first_rate)

    def _report(self, rate: float) -> None:
        if self.reference is None:
            log.info("training speed: %.1f images/s over steps %d-%d (no recorded network speed for this machine "
                     "kind: benchmarks/training_speed.py measures one)", rate, SKIPPED_STEPS + 1,
                     self._steps)  # fmt: skip
            return
        log.info("training speed: %.1f images/s over steps %d-%d (this machine's network alone: %.0f images/s)",
                 rate, SKIPPED_STEPS + 1, self._steps, self.reference)  # fmt: skip
        if rate < SLOW_FRACTION * self.reference:
            self.warned = True
            cpu = os.times()
            user, system = cpu.user - self._cpu_from.user, cpu.system - self._cpu_from.system
            share = system / (user + system) if user + system > 0 else None
            causes = slow_causes(self.devices, share)
            log.warning("training runs at %.1f images/s, below half of the %.0f images/s this machine's network "
                        "reaches alone. Likely causes: %s", rate, self.reference, causes)  # fmt: skip

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        seconds = self._last_batch_end - self._epoch_started
        if logs is not None and self._epoch_steps and seconds > 0:
            logs[RATE_KEY] = round(self._epoch_steps * self.batch_size / seconds, 1)
