"""The local engine: every core of this machine, one model and one face detector per worker process."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from face2data.batch.rows import score
from face2data.inputs import Entry
from face2data.machine import usable_cores
from face2data.paths import TFLITE_PATH
from face2data.results import PhotoResult

# Entries handed out ahead per worker: keeps every worker busy while bounding the bytes held in flight.
AHEAD_PER_WORKER = 4

_predictor = None  # the worker process's own Predictor, made by _init_worker


def worker_predictor(model: str | os.PathLike | bytes = TFLITE_PATH):
    """A Predictor for one worker of many: its model and OpenCV on one thread, as the workers share the cores.

    ``model`` is a .tflite or .keras path, or the bytes of a .tflite file (what a Ray actor gets shipped).
    """
    import cv2

    from face2data.predictor import Predictor
    from face2data.tflite_model import TFLiteModel

    cv2.setNumThreads(1)
    if isinstance(model, bytes):
        return Predictor(model=TFLiteModel(model, threads=1))
    if Path(model).suffix == ".tflite":
        from face2data.tflite_model import load_tflite_model

        load_tflite_model(model)  # the file's own checks, with their messages
        return Predictor(model=TFLiteModel(Path(model).read_bytes(), name=Path(model).name, threads=1))
    return Predictor(model_path=Path(model))


def _init_worker(model: str) -> None:
    global _predictor
    _end_with_parent()
    _predictor = worker_predictor(model)


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal for this process when its parent dies


def _end_with_parent() -> None:
    """Have Linux end this worker when the batch process dies, even by ``kill -9`` (which runs no clean-up and
    left the workers orphaned, each holding a model); elsewhere nothing is done."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call: end now
        os._exit(1)


def _rows_in_worker(entry: Entry) -> list[dict]:
    return score(entry, _predictor).rows()  # rows, not results: the crops would only cost pickling


def score_entries(entries: Iterable[Entry], predictor) -> Iterator[PhotoResult]:
    """Score entries one after another in this process (the app's page; tests)."""
    for entry in entries:
        yield score(entry, predictor)


def score_in_processes(entries: Iterable[Entry], model: str | os.PathLike = TFLITE_PATH, workers: int | None = None
                       ) -> Iterator[list[dict]]:  # fmt: skip
    """Score entries in ``workers`` processes (default: every usable core), yielding each one's rows in order.

    One worker scores in this process, without a pool.
    """
    workers = workers or usable_cores()
    if workers == 1:
        for scored in score_entries(entries, worker_predictor(model)):
            yield scored.rows()
        return
    # spawn, not fork: a forked child would inherit this process's threads (LiteRT's, a Ray client's) mid-state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(str(model),)) as pool:
        pending: deque[Future[list[dict]]] = deque()
        for entry in entries:
            pending.append(pool.submit(_rows_in_worker, entry))
            if len(pending) >= workers * AHEAD_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
