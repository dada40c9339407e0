"""The FastAPI application: health, model facts, predictions and explanations (regions, SHAP maps) of photos.

Every way a client can get a request wrong is answered with a 4xx and a sentence (see ``STATUS_OF``); the model,
detector and explainer are loaded once and shared; the heavy work (multipart parsing included) runs in worker
threads, so ``/health`` answers while predictions run. An explanation stops between batches of masked faces once
its client has gone away or its time budget (``EXPLAIN_SECONDS``) is spent. Nothing a client sends is written to
disk or logged: the request log holds the method, the path, the status and the time taken. The docs pages load
their scripts from the app itself (``api/docs.py``): nothing comes from another host.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import numpy as np
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from face2data.api.budget import watched
from face2data.api.docs import add_docs
from face2data.api.requests import BODIES, image_bytes, read_body
from face2data.data.scores import RANGE_HIT_KEY
from face2data.explanation.region_estimate import ESTIMATE_COALITIONS
from face2data.faces.detection import DETECTOR
from face2data.faces.regions import REGIONS
from face2data.image_loading import (
    ImageLoadError,
    ImageTooLargeError,
    UnsupportedImageError,
    decode_one_at_a_time,
    load_rgb_scaled,
)
from face2data.model_card import INTENDED_USE, LIMITS
from face2data.paths import TFLITE_PATH, evaluation_paths
from face2data.predictor import Predictor
from face2data.results import FaceResult, PhotoResult
from face2data.safe_text import printable
from face2data.schema import AGE_MAX, AGE_MIN, CLASS_HEADS, HEAD_BY_NAME, HEAD_TABLE, INPUT_SIZE, SOURCES

log = logging.getLogger("face2data.api")

API_KEY_VARIABLE = "FACE2DATA_API_KEY"
CORS_VARIABLE = "FACE2DATA_CORS_ORIGINS"  # comma-separated origins; CORS stays off without it
# The loader's errors as HTTP statuses: the one table of the API.
STATUS_OF: dict[type[ImageLoadError], int] = {ImageTooLargeError: 413, UnsupportedImageError: 415, ImageLoadError: 400}
# Heavy work (decoding, detection, the model, SHAP) runs in worker threads, at most one per core at a time:
# more would only queue inside the shared model and detector, each holding its request's decoded photo.
HEAVY_THREADS = max(1, os.cpu_count() or 1)
# Longest an explanation may take once its photo is decoded: many times its usual few seconds, so that only an
# overloaded server stops one (503).
EXPLAIN_SECONDS = 60.0
HEADLINE_KEYS = ("n", "faces_found", "age_mae", "age_rmse", "age_in_range", RANGE_HIT_KEY,
                 *(f"{head.name}_accuracy" for head in CLASS_HEADS), "confidence_intervals")  # fmt: skip
# /v1/model's class lists as its first version named them, kept for its clients: key -> head ("heads" has them all).
CLASS_LIST_KEYS = {"genders": "gender", "ethnicities": "ethnicity"}


def status_of(error: ImageLoadError) -> int:
    """The HTTP status of a loader error (its most specific class in STATUS_OF)."""
    return next(STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF)


@functools.cache
def model_identity(path: Path) -> dict:
    """File name, size and sha256 of the model file."""
    data = path.read_bytes()
    return {"file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _shipped_metrics() -> dict:
    """The headline figures of each evaluated test set, from the files in weights/."""
    metrics = {}
    for source in SOURCES:
        path = evaluation_paths(source)[0]
        if path.exists():
            report = json.loads(path.read_text())
            metrics[source] = {"test_set": report.get("test_set", source)} | {
                k: report[k] for k in HEADLINE_KEYS if k in report
            }
    return metrics


@dataclass
class Settings:
    """What ``create_app`` was given: how to make the one shared Predictor, and the model file it reads."""

    predictor_factory: Callable[[], Predictor]
    model_path: Path


@dataclass
class Runtime:
    """What the running app shares between requests (``app.state.runtime``): the worker threads' limiter and,
    once loaded, the Predictor and the model file's identity."""

    limiter: anyio.CapacityLimiter
    predictor: Predictor | None = None
    identity: dict | None = None

    async def in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker thread, at most HEAVY_THREADS at once; the event loop keeps answering."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)

    @property
    def model(self) -> Predictor:
        """The loaded Predictor (``ready`` has checked), or a 503 while it loads."""
        if self.predictor is None:
            raise HTTPException(503, "the model is still loading")
        return self.predictor


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the model (and warm the explainer up) before the app says it is ready; forget it at shutdown."""
    settings: Settings = app.state.settings
    decode_one_at_a_time()  # the event loop keeps a core under a flood of large images
    runtime = app.state.runtime = Runtime(anyio.CapacityLimiter(HEAVY_THREADS))
    loaded = await runtime.in_worker(settings.predictor_factory)
    await runtime.in_worker(_warm_up, loaded)  # SHAP's first run compiles its kernels: paid before "ready"
    runtime.identity = model_identity(Path(settings.model_path))
    runtime.predictor = loaded
    yield
    del app.state.runtime


async def request_log(request: Request, call_next):
    """Log method, path, status and time of every request; a bug of ours becomes a bare 500."""
    start = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception:  # a bug of ours: a bare 500, never a traceback to the client
        log.exception("%s %s failed", request.method, printable(request.url.path))
        response = JSONResponse({"detail": "internal error"}, status_code=500)
    log.info("%s %s %d %.0f ms", request.method, printable(request.url.path), response.status_code,
             1000 * (time.perf_counter() - start))  # fmt: skip
    return response


async def runtime_of(request: Request) -> Runtime | None:
    """The app's Runtime, or None outside its lifespan."""
    return getattr(request.app.state, "runtime", None)


async def ready(runtime: Annotated[Runtime | None, Depends(runtime_of)]) -> Runtime:
    """The Runtime with its Predictor loaded, or a 503."""
    if runtime is None or runtime.predictor is None:
        raise HTTPException(503, "the model is still loading")
    return runtime


def authorised(request: Request) -> None:
    """Nothing when FACE2DATA_API_KEY is unset or the request carries it; a 401 otherwise."""
    expected = os.environ.get(API_KEY_VARIABLE)
    if not expected:
        return
    scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
    # the scheme's name is case-insensitive (RFC 9110); the key is compared in constant time
    if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), expected.encode()):
        raise HTTPException(401, "a valid API key is needed: send the header 'Authorization: Bearer <key>'")


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str


# Documented as what ``malformed_request`` sends, not FastAPI's default list of validation errors
router = APIRouter(responses={422: {"model": ErrorBody, "description": "A malformed request (one sentence)"}})
guarded = [Depends(authorised)]


@router.get("/health")
def health(runtime: Annotated[Runtime | None, Depends(runtime_of)]) -> dict:
    """Ready or not, and which model answers."""
    loaded = runtime is not None and runtime.predictor is not None
    return {"status": "ready" if loaded else "loading", "model": runtime.identity if runtime else None,
            "detector": DETECTOR.version}  # fmt: skip


@router.get("/v1/model", dependencies=guarded)
def model_facts(runtime: Annotated[Runtime | None, Depends(runtime_of)]) -> dict:
    """Label schema, input size, the shipped model's test figures, its intended use and limits."""
    return {
        "ages": {"min": AGE_MIN, "max": AGE_MAX},
        **{key: list(HEAD_BY_NAME[head].classes) for key, head in CLASS_LIST_KEYS.items() if head in HEAD_BY_NAME},
        # every head: its kind, title, classes and, where an attribute has several heads, its scheme
        "heads": {
            head.name: {
                "kind": head.kind,
                "title": head.title,
                "classes": list(head.classes),
                "attribute": head.attribute,
                "scheme": head.scheme,
            }
            for head in HEAD_TABLE
        },  # fmt: skip
        "input_size": INPUT_SIZE,
        "model": runtime.identity if runtime else None,
        "test_metrics": _shipped_metrics(),
        "intended_use": INTENDED_USE,
        "limits": list(LIMITS),
        # the class heads' temperatures (weights/calibration.json) the answers are rescaled by
        "temperatures": getattr(runtime.predictor.model, "temperatures", {}) if runtime and runtime.predictor else {},
    }


async def read_image(request: Request, runtime: Runtime) -> tuple[np.ndarray, str | None, float]:
    """The photo of the request (parsed and decoded in a worker), its file name and the photo's size over the
    decoded size (``load_rgb_scaled``), or the 4xx of what is wrong."""
    body = await read_body(request)
    try:
        return await runtime.in_worker(decode_body, request.headers.get("content-type", ""), body)
    finally:
        BODIES.give_back(len(body))


def decode_body(content_type: str, body: bytes) -> tuple[np.ndarray, str | None, float]:
    """The photo in a request body, its file name and its decode scale, or the HTTPException of what is wrong."""
    data, name = image_bytes(content_type, body)
    try:
        rgb, scale = load_rgb_scaled(data)
    except ImageLoadError as error:
        raise HTTPException(status_of(error), str(error)) from None
    return rgb, name, scale


def choose_face(faces: list[FaceResult], number: int) -> FaceResult:
    """Face ``number`` (1 = the largest) of the faces read (possible faces do not count), or a 404."""
    read = [found for found in faces if found.read]
    if number > len(read):
        found = f"{len(read)} face{'s' if len(read) != 1 else ''}"
        raise HTTPException(404, f"no face number {number}: the photo has {found}")
    return read[number - 1]


@router.post("/v1/predict", dependencies=guarded)
async def predict(
    request: Request,
    runtime: Annotated[Runtime, Depends(ready)],
    read_possible: Annotated[
        bool, Query(description='also read possible faces (listed with "possible_face": true either way)')
    ] = False,
) -> dict:
    """Every face of the photo (the body, or the multipart field ``file``), largest first; then the possible
    faces (boxes the detector is not sure are faces), without attributes unless ``read_possible``."""
    rgb, name, scale = await read_image(request, runtime)
    predict_image = functools.partial(runtime.model.predict_image, rgb, read_possible=read_possible)
    faces = await runtime.in_worker(predict_image)
    return PhotoResult(name, faces).in_photo_pixels(scale).to_dict()


@router.post("/v1/explain", dependencies=guarded)
async def explain(
    request: Request,
    runtime: Annotated[Runtime, Depends(ready)],
    face: Annotated[int, Query(ge=1, description="face number, 1 = the largest")] = 1,
    arrays: Annotated[bool, Query(description="include the maps as arrays of numbers")] = False,
    pixels: Annotated[bool, Query(description="also compute the per-pixel SHAP maps")] = True,
    exact: Annotated[
        bool,
        Query(
            description=f"exact region values (all {2 ** len(REGIONS):,} combinations of hidden regions); false: "
            f"a quick estimate from {ESTIMATE_COALITIONS} of them, with its 95 % uncertainty per head"
        ),
    ] = True,  # fmt: skip
) -> dict:
    """Region values of every head of one face (base value, output, every named region) and, unless
    ``pixels=false``, the per-pixel SHAP maps: PNG overlays (base64), base values and outputs. The work stops when
    the client goes away (logged as 499) or after a minute (``EXPLAIN_SECONDS``; a 503)."""
    model = runtime.model
    rgb, name, scale = await read_image(request, runtime)
    async with watched(request, EXPLAIN_SECONDS) as budget:
        chosen = choose_face(await runtime.in_worker(model.predict_image, rgb), face)
        regions = await runtime.in_worker(_explain_regions, model, chosen.crop, budget.check, exact)
        prediction = chosen.in_photo_pixels(scale).to_dict()
        answer = {"file": name, "face": face, "prediction": prediction, "regions": regions.to_dict()}
        if not pixels:
            return answer
        explanation = await runtime.in_worker(_explain, model, chosen.crop, budget.check)
        pixel = await runtime.in_worker(explanation.to_dict, chosen.crop, arrays)
    return answer | {"explained": pixel["heads"], "method": pixel["method"]}


async def malformed_request(request: Request, error: Exception) -> JSONResponse:
    """422 with one sentence, as every other error: which parameter is wrong and why, never the value sent."""
    problems = [
        f"{' '.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in (error.errors() if isinstance(error, RequestValidationError) else [])
    ]
    return JSONResponse({"detail": "malformed request: " + ("; ".join(problems) or str(error))}, status_code=422)


def create_app(predictor_factory: Callable[[], Predictor] = Predictor, model_path: Path = TFLITE_PATH) -> FastAPI:
    """The API application; ``predictor_factory`` makes the one shared Predictor at start-up."""
    app = FastAPI(
        title="face2data API",
        version="1",
        summary="Age, gender and ethnicity of every face in a photo, with SHAP explanations. Offline.",
        lifespan=lifespan,
        docs_url=None,  # add_docs serves both pages with their assets
        redoc_url=None,
    )
    app.state.settings = Settings(predictor_factory, model_path)
    app.add_exception_handler(RequestValidationError, malformed_request)
    origins = [o.strip() for o in os.environ.get(CORS_VARIABLE, "").split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
    app.middleware("http")(request_log)  # outside CORS: logs every request, preflights included
    app.include_router(router)
    add_docs(app)
    return app


def _warm_up(predictor: Predictor) -> None:
    from face2data.explanation import warm_up

    warm_up(predictor.model)


def _explain(predictor: Predictor, crop: np.ndarray, check: Callable[[float], None]):
    from face2data.explanation import explain_face

    return explain_face(predictor.model, crop, progress=check)


def _explain_regions(predictor: Predictor, crop: np.ndarray, check: Callable[[float], None], exact: bool = True):
    from face2data.explanation import explain_regions
    from face2data.explanation.region_estimate import estimate_regions

    if not exact:
        check(0.0)
        return estimate_regions(predictor.model, crop)
    return explain_regions(predictor.model, crop, progress=check)
