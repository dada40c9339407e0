"""One batch from start to end: list the inputs, skip what a resumed output has, score, write, report."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from face2data.batch.writers import OutputError, RowWriter, exists, output_format, prepare_resume, read_rows
from face2data.inputs import iter_entries
from face2data.paths import TFLITE_PATH
from face2data.results import is_read_face

CHUNK_FILES = 256  # files per durable write
CHUNK_SECONDS = 30.0  # ... or whatever was scored in this long, whichever comes first


@dataclass
class Summary:
    """What a batch did: files scored (with faces, without, unreadable), faces found, files skipped as done."""

    files: int = 0
    with_faces: int = 0
    without_face: int = 0
    errors: int = 0
    faces: int = 0  # faces read
    possible_faces: int = 0  # boxes the detector was not sure of, not read
    skipped: int = 0
    seconds: float = 0.0

    def add(self, rows: list[dict]) -> None:
        """Count the rows of one file."""
        self.files += 1
        first, read = rows[0], sum(is_read_face(row) for row in rows)
        self.possible_faces += sum(bool(row.get("possible_face")) for row in rows)
        if first["error"] is not None:
            self.errors += 1
        elif read:
            self.with_faces += 1
            self.faces += read
        else:
            self.without_face += 1

    def line(self) -> str:
        """One line for people."""
        rate = f", {self.files / self.seconds:.1f} photos/s" if self.seconds > 0 and self.files else ""
        skipped = f"; {self.skipped} already done, skipped" if self.skipped else ""
        possible = f", {self.possible_faces} possible faces not read" if self.possible_faces else ""
        return (f"{self.files} files in {self.seconds:.1f} s{rate}: {self.faces} faces in {self.with_faces} photos, "
                f"{self.without_face} without a face, {self.errors} unreadable{possible}{skipped}")  # fmt: skip


def run_batch(
    inputs: Iterable[str],
    out: str | os.PathLike,
    *,
    engine: str = "local",
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    model: str | os.PathLike = TFLITE_PATH,
    ray_address: str | None = None,
    chunk_files: int = CHUNK_FILES,
    progress: bool = True,
) -> Summary:
    """Score every photo of ``inputs`` into ``out`` (.csv, .jsonl or .parquet) with the ``local`` or ``ray`` engine.

    An existing output is continued with ``resume`` (files it has all rows of are skipped), replaced with
    ``overwrite``, and refused otherwise (OutputError). ModelFileError when the model cannot be loaded.
    """
    inputs = list(inputs)
    fmt = output_format(out)
    if engine == "ray" and fmt != "parquet":
        raise OutputError("the ray engine writes Parquet: give --out a name ending with .parquet")
    if exists(out) and not (resume or overwrite):
        raise OutputError(f"{out} exists: add --resume to continue it or --overwrite to start again")
    if overwrite and not resume:
        _remove(Path(out))
    _check_model(model)
    start = time.perf_counter()
    done = prepare_resume(out) if resume else set()
    if engine == "ray":
        summary = _run_ray(inputs, out, done, model, ray_address, workers)
    else:
        summary = _run_local(inputs, out, done, model, workers, chunk_files, progress)
    summary.seconds = time.perf_counter() - start
    return summary


def _run_local(inputs: list[str], out, done: set[str], model, workers: int | None, chunk_files: int,
               progress: bool) -> Summary:  # fmt: skip
    from tqdm import tqdm

    from face2data.batch.local import score_in_processes

    total, skipped = _listed(inputs, done)
    summary = Summary(skipped=skipped)
    writer = RowWriter(out)
    chunk: list[dict] = []
    files_in_chunk, last_write = 0, time.monotonic()
    with tqdm(total=total, unit="photo", disable=not progress, file=sys.stderr, smoothing=0.05) as bar:
        for rows in score_in_processes(iter_entries(inputs, skip=done), model, workers):
            chunk.extend(rows)
            files_in_chunk += 1
            summary.add(rows)
            bar.update(1)
            if files_in_chunk >= chunk_files or time.monotonic() - last_write >= CHUNK_SECONDS:
                writer.write(chunk)
                chunk, files_in_chunk, last_write = [], 0, time.monotonic()
        writer.write(chunk)
    return summary


class EngineUnavailable(RuntimeError):
    """The batch engine asked for is not installed."""


def _run_ray(inputs: list[str], out, done: set[str], model, address: str | None, workers: int | None) -> Summary:
    try:
        from face2data.batch import ray_engine
    except ImportError as error:  # README's app install has no Ray
        raise EngineUnavailable(
            f"--engine ray needs Ray ({error}): pip install -r requirements-dev.txt, or use --engine local"
        ) from error

    entries = list(iter_entries(inputs, skip=done))
    summary = Summary(skipped=_listed(inputs, done)[1] if done else 0)
    if entries:
        ray_engine.connect(address, num_cpus=workers)
        ray_engine.run_on_ray(entries, out, model)
    wanted = {entry.name for entry in entries}
    by_file: dict[str, list[dict]] = {}
    for row in read_rows(out):
        if row["file"] in wanted:
            by_file.setdefault(row["file"], []).append(row)
    for rows in by_file.values():
        summary.add(rows)
    return summary


def _check_model(model: str | os.PathLike) -> None:
    """Load the model once here, so a bad file is reported before any worker starts."""
    from face2data.tflite_model import load_inference_model

    load_inference_model(model)


def _remove(path: Path) -> None:
    if path.is_dir():
        for part in path.iterdir():
            if part.is_file() and (part.suffix == ".parquet" or part.name.endswith(".tmp")):
                part.unlink()
    elif path.exists():
        path.unlink()


def _listed(inputs: list[str], done: set[str]) -> tuple[int, int]:
    """The inputs' files to score and those the output has all rows of already (it may hold other files' rows
    too), in one listing (a compressed archive is inflated to be listed)."""
    to_score = already = 0
    for entry in iter_entries(inputs, read=False):
        already += entry.name in done
        to_score += entry.name not in done
    return to_score, already
