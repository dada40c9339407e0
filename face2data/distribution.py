"""Data-parallel training: each batch split evenly over several devices with Keras' distribution API.

Keras distributes only on the JAX backend (``KERAS_BACKEND=jax``): ``keras.distribution.DataParallel`` keeps one
copy of the weights on every device, hands each device its slice of the global batch and averages the
gradients, so a run on N devices follows the same steps as on one, up to floating-point noise. Across machines,
``keras.distribution.initialize`` (``jax.distributed.initialize``) must run in every process first: it does here
when ``KERAS_DISTRIBUTION_NUM_PROCESSES`` is set (with ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` and
``KERAS_DISTRIBUTION_PROCESS_ID``), and every process then sees all devices of the run (README, "Training on
several devices"; not tried on real machines).
"""

from __future__ import annotations

import logging
import os

import keras

log = logging.getLogger(__name__)


def visible_devices() -> list[str]:
    """The devices Keras can train on (``gpu:0``, ``cpu:0`` …); only the JAX backend lists more than one."""
    if keras.backend.backend() != "jax":
        return ["cpu:0"]
    return keras.distribution.list_devices()


def use_devices(count: int | None = None) -> int:
    """Spread every training batch over ``count`` devices (None: all visible ones); returns how many are used.

    More than one device needs the JAX backend; asking for more than there are is an error.
    """
    if keras.backend.backend() == "jax" and int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1")) > 1:
        keras.distribution.initialize()  # one process of a multi-host job: addresses and ids from the environment
    devices = visible_devices()
    wanted = len(devices) if count is None else count
    if wanted < 1:
        raise ValueError(f"--devices must be at least 1, not {wanted}")
    if wanted > len(devices):
        backend = keras.backend.backend()
        hint = "" if backend == "jax" else " (more than one device needs KERAS_BACKEND=jax)"
        raise ValueError(f"{wanted} devices asked for, {len(devices)} visible on the {backend} backend{hint}")
    if wanted > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices[:wanted]))
        log.info("data-parallel training on %d devices: %s", wanted, ", ".join(devices[:wanted]))
    return wanted
