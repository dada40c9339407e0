"""Region explanations computed ahead: a photo's first face is explained while its card is being read.

The Explain page then shows the explanation at once instead of after seconds of model calls. One worker thread
for the process, one task at a time: a new task cancels the one before (a person who uploads another photo will
not explain the last one's face), so the work is bounded to one face's explanation, a few seconds of CPU, whatever
happens in the browser, and it stops at its next batch once the tab that asked for it has closed. A task holds its
face's crop and, when done, numbers: nothing is written anywhere.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from face2data.explanation.regions import RegionExplanation

# Seconds the worker waits before it starts, so the browser draws the cards the person is looking at first (the
# Predict page with the sample: 1.99 s from the click to its card with nothing ahead, 2.26 s with a 0.5-s wait, 2.13
# s with this one; benchmarks/RESULTS.md)
START_DELAY_S = 1.0

# One daemon worker: a task still running when the server stops must not hold up its exit (a pool's threads
# would be joined first)
_TASKS: queue.SimpleQueue = queue.SimpleQueue()
_LATEST: list[RegionTask] = []
_LATEST_LOCK = threading.Lock()
_WORKER: list[threading.Thread] = []


class _Cancelled(Exception):
    pass


class RegionTask:
    """One face's region explanation being computed ahead: its estimate first, then the exact values."""

    def __init__(self, key: tuple[str, int], crop: np.ndarray, wanted: Callable[[], bool] = lambda: True) -> None:
        self.key = key
        self._wanted = wanted  # False once nobody can see the result (its tab has closed)
        self.estimate: RegionExplanation | None = None
        self.exact: RegionExplanation | None = None
        self.progress = 0.0  # share of the exact values' masked faces run so far
        self.estimated = threading.Event()  # set once the estimate is ready (or the task has ended without one)
        self.done = threading.Event()  # set once the task has ended: exact values, an error or a cancellation
        self._crop: np.ndarray | None = np.array(crop, copy=True)
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop at the next batch of model calls (or before starting); a task not started lets go of its face."""
        self._cancelled.set()
        self._crop = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def run(self, model) -> None:
        """Compute the estimate, then the exact values; a bad crop or a cancellation just ends the task."""
        from face2data.explanation import explain_regions
        from face2data.explanation.region_estimate import estimate_regions

        crop, self._crop = self._crop, None  # the task keeps the face's pixels only until it runs
        try:
            if crop is None or self._cancelled.wait(START_DELAY_S):
                return
            self.estimate = estimate_regions(model, crop)
            self.estimated.set()
            self.exact = explain_regions(model, crop, progress=self._progress, known=self.estimate)
        except (_Cancelled, ValueError):
            pass
        finally:
            self.estimated.set()
            self.done.set()

    def _progress(self, done: float) -> None:
        if self._cancelled.is_set() or not self._wanted():
            self._cancelled.set()
            raise _Cancelled
        self.progress = done


def start(key: tuple[str, int], crop: np.ndarray, model, wanted: Callable[[], bool] = lambda: True) -> RegionTask:
    """Explain ``crop`` (an aligned face) in the background under ``key`` while ``wanted()``; the task before is
    cancelled."""
    task = RegionTask(key, crop, wanted)
    with _LATEST_LOCK:
        for earlier in _LATEST:
            earlier.cancel()
        _LATEST[:] = [task]
        if not _WORKER:
            _WORKER.append(threading.Thread(target=_work, name="face2data-prefetch", daemon=True))
            _WORKER[0].start()
    _TASKS.put((task, model))
    return task


def _work() -> None:
    while True:
        task, model = _TASKS.get()
        task.run(model)
