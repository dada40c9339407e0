"""Facts about the machine this process runs on: usable cores, CPU model, and how a record of them reads."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
from pathlib import Path

# glibc's mallopt parameter for the most memory arenas (malloc.h)
M_ARENA_MAX = -8


def usable_cores() -> int:
    """CPU cores this process may run on (the affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(devices: list[str] | None = None) -> dict:
    """What a record of a run (training.json) keeps about the machine: CPU model, usable cores and the devices
    the run computed on (Keras' names: ``cpu:0``, ``gpu:0`` ...)."""
    return {"cpu": cpu_model(), "cores": usable_cores(), "devices": list(devices or [])}


def machine_words(machine: dict | None) -> str:
    """`` on a 2-core CPU (its model)`` (accelerators first, when the run used any) for a recorded machine;
    empty for a record without one (files written before it was recorded)."""
    if not machine:
        return ""
    cpu = f"a {machine['cores']}-core CPU" + (f" ({machine['cpu']})" if machine.get("cpu") else "")
    accelerators = [d for d in machine.get("devices", []) if not d.lower().startswith("cpu")]
    return f" on {', '.join(accelerators)} with {cpu}" if accelerators else f" on {cpu}"


def prepare_training_environment(devices: int | None = None) -> None:
    """Set what makes training fast here, unless the environment says otherwise; call it before Keras is imported.

    * ``KERAS_BACKEND``: TensorFlow on one device (on one CPU device it trains about eight times faster than JAX);
      JAX when a batch is split over several devices, which only JAX's distribution does.
    * ``TF_CPU_ALLOCATOR_USE_BFC``: TensorFlow's default CPU allocator hands each step's large buffers back to the
      system and faults them in again; on this project's VMs that kernel time cut the training rate from 61 to 26
      images/s (benchmarks/training_speed.py). Its BFC allocator keeps them.
    """
    os.environ.setdefault("KERAS_BACKEND", "jax" if devices not in (None, 1) else "tensorflow")
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")


@functools.cache  # once per process: the app's script calls it on every rerun, and find_library runs ldconfig
def limit_malloc_arenas(arenas: int) -> bool:
    """Have this process's threads share at most ``arenas`` glibc memory arenas; True where that was set.

    glibc gives threads arenas of their own, and each keeps what its thread freed for that thread alone, so a
    server's memory grows with its worker threads: the Evaluation page's threads grew the peak by 656 MB on 30
    photos of 6000x6000 px with an arena each, 434 MB with one, at the same speed (benchmarks/RESULTS.md). Call it
    before the threads that do such work start; a no-op off glibc."""
    name = ctypes.util.find_library("c")
    if platform.system() != "Linux" or name is None or platform.libc_ver()[0] != "glibc":
        return False
    try:
        return bool(ctypes.CDLL(name).mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
