"""Streamlit caches around the library: heavy objects once per process, artifacts until their file changes."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from face2data import paths
from face2data.ui import artifacts


def _stamp(path: Path) -> int | None:
    """Modification time of ``path`` (None when absent): part of the cache key, so a rewritten file is re-read."""
    return path.stat().st_mtime_ns if path.is_file() else None


@st.cache_data(show_spinner=False, max_entries=4)
def _history(path: str, stamp: int | None) -> pd.DataFrame | None:
    return artifacts.read_history(Path(path))


@st.cache_data(show_spinner=False, max_entries=16)
def _json(path: str, stamp: int | None) -> dict | None:
    return artifacts.read_json(Path(path))


@st.cache_data(show_spinner=False, max_entries=4)
def _predictions(path: str, stamp: int | None) -> pd.DataFrame | None:
    return artifacts.read_predictions(Path(path))


@st.cache_data(show_spinner=False, max_entries=4)
def _text(path: str, stamp: int | None) -> str | None:
    return artifacts.read_text(Path(path))


def history() -> pd.DataFrame | None:
    """weights/history.csv, or None before the first epoch ends."""
    return _history(str(paths.HISTORY_PATH), _stamp(paths.HISTORY_PATH))


def training_summary() -> dict | None:
    """weights/training.json, or None before training finishes."""
    return _json(str(paths.TRAINING_SUMMARY_PATH), _stamp(paths.TRAINING_SUMMARY_PATH))


@st.cache_data(show_spinner=False, max_entries=8)
def _metrics(path: str, stamp: int | None, source: str) -> dict | None:
    from face2data.evaluation.run import read_metrics

    return read_metrics(path, source)


def test_metrics(source: str = "utkface") -> dict | None:
    """The shipped evaluation of a test set (``utkface``, ``fairface`` or ``allagefaces``), completed where an
    older file lacks keys, or None before ``evaluate`` ran."""
    path = paths.evaluation_paths(source)[0]
    return _metrics(str(path), _stamp(path), source)


@st.cache_data(show_spinner=False, max_entries=32)
def _test_crops(path: str, names: tuple[str, ...]) -> dict | None:
    from face2data.crops import cached_crops

    return cached_crops(path, list(names))


def test_faces(source_file: str, names: list[str]) -> dict | None:
    """The aligned crops of these test faces, by name, from the cached crops of the source ``source_file`` in
    paths.DATA_DIR; None when the source or its crops are not on this machine."""
    return _test_crops(str(paths.DATA_DIR / source_file), tuple(names))


def test_faces_missing(source_file: str) -> str:
    """Why the faces of a shipped test set cannot be shown: the source is not on this machine, or its aligned
    crops were never built."""
    path = paths.DATA_DIR / source_file
    if not path.exists():
        return (f"The test images are not on this machine ({source_file} is not in {paths.DATA_DIR}, the folder "
                "FACE2DATA_DATA names), so the faces behind each cell cannot be shown; your own labelled photos "
                "can.")  # fmt: skip
    return (f"{source_file} is on this machine, but its aligned faces have not been prepared yet, so the faces "
            f"behind each cell cannot be shown. `python -m face2data crops --data {path}` prepares them once (a few "
            "minutes).")  # fmt: skip


def calibration_record() -> dict | None:
    """weights/calibration.json (the class heads' temperatures and their effect), or None before a calibration."""
    return _json(str(paths.CALIBRATION_PATH), _stamp(paths.CALIBRATION_PATH))


def test_predictions(source: str = "utkface") -> pd.DataFrame | None:
    """The per-face predictions of a test set, or None before ``evaluate`` ran."""
    path = paths.evaluation_paths(source)[1]
    return _predictions(str(path), _stamp(path))


def model_card() -> str | None:
    """weights/MODEL_CARD.md, or None when absent."""
    return _text(str(paths.MODEL_CARD_PATH), _stamp(paths.MODEL_CARD_PATH))


@functools.cache
def _shared_predictor():
    from face2data.predictor import Predictor

    return Predictor()


@st.cache_resource(show_spinner="Loading the model and the face detector (once per server)…")
def predictor():
    """The one Predictor (model + face detector) of this process, shared by every session."""
    return _shared_predictor()


_WARM_UP = threading.Lock()
_warm_up_started = False


def warm_up_in_background() -> None:
    """Load the predictor and warm up SHAP in a daemon thread, once per process, so both are ready when needed.

    A request that comes earlier waits for the same load (Streamlit computes one cached value once).
    """
    global _warm_up_started
    with _WARM_UP:
        if _warm_up_started:
            return
        _warm_up_started = True
    threading.Thread(target=_load_quietly, name="face2data-warm-up", daemon=True).start()


def _load_quietly() -> None:
    from face2data.explanation import warm_up

    try:
        # The first SHAP run of a process compiles SHAP's numba kernels: paid here, so that the first face a
        # user explains takes as long as every later one.
        # The plain process-wide cache, not Streamlit's: this thread has no session (no ScriptRunContext).
        warm_up(_shared_predictor().model)
    except Exception:  # noqa: S110 - a broken model is reported by the page that needs it, with its message
        pass


def explain_regions(crop, progress: Callable[[float], None] | None = None, known=None):
    """Region values of all heads for one aligned crop (see face2data.explanation.regions); ``known``, this
    face's estimate, lends the coalitions it ran."""
    from face2data.explanation import explain_regions as explain

    return explain(predictor().model, crop, progress=progress, known=known)


def estimate_regions(crop):
    """A quick estimate of the region values of one aligned crop (face2data.explanation.region_estimate)."""
    from face2data.explanation.region_estimate import estimate_regions as estimate

    return estimate(predictor().model, crop)


@st.cache_data(show_spinner=False, max_entries=2)
def _faithfulness(path: str, stamp: int | None, model_path: str, model_stamp: int | None):
    import hashlib

    from face2data.explanation.faithfulness import load_faithfulness

    measured = load_faithfulness(path)
    if measured is None or not Path(model_path).is_file():
        return None
    digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    return measured if measured.model_sha256 == digest else None


def faithfulness():
    """The measured faithfulness of the region explanations of the shipped model; None if not measured for it."""
    return _faithfulness(str(paths.FAITHFULNESS_PATH), _stamp(paths.FAITHFULNESS_PATH), str(paths.TFLITE_PATH),
                         _stamp(paths.TFLITE_PATH))  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=2)
def _region_global(path: str, stamp: int | None):
    from face2data.explanation.region_global import load_region_global

    return load_region_global(path)


def region_global():
    """weights/region_global.json; raises RegionGlobalError (with the command that makes it) when absent."""
    return _region_global(str(paths.REGION_GLOBAL_PATH), _stamp(paths.REGION_GLOBAL_PATH))


def explain(crop, progress: Callable[[float], None] | None = None):
    """SHAP maps of all heads for one aligned crop, with the process's one model (see face2data.explanation)."""
    from face2data.explanation import explain_face

    return explain_face(predictor().model, crop, progress=progress)


@st.cache_data(show_spinner=False, max_entries=2)
def _global_maps(path: str, stamp: int | None):
    from face2data.explanation import load_global_maps

    return load_global_maps(path)


def global_maps():
    """weights/shap_global.npz; raises GlobalMapsError (with the command that makes it) when absent."""
    return _global_maps(str(paths.SHAP_GLOBAL_PATH), _stamp(paths.SHAP_GLOBAL_PATH))
