"""The Ray engine: the same batch on Ray Data, on a local Ray or an existing cluster.

The inputs become a Ray dataset of entries (a file's path, or an archive member's bytes, or the reason there is
none); ``map_batches`` runs :class:`RayScorer`, an actor class holding one Predictor per actor, on an actor
pool as large as the cluster's CPUs; the rows are written with ``write_parquet`` into the output folder, next to
any parts of an earlier run. The model travels as bytes (a few MB) and this package with the job
(``runtime_env``), so the worker nodes need the dependencies of requirements.txt but no copy of face2data or
its weights; paths of plain files must be readable on every node (shared storage), archives are read here.

Ray is imported only in here, only when this engine runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import face2data
from face2data.batch.rows import score
from face2data.batch.writers import arrow_table
from face2data.inputs import Entry

# Entries per map_batches call: small, so a few photos already spread over every actor.
BATCH_SIZE = 8


class RayScorer:
    """A Ray Data actor: one Predictor per actor, reused for every batch it is given."""

    def __init__(self, model) -> None:
        """``model``: a reference to the .tflite bytes in Ray's object store, or a model path every node has."""
        import ray

        from face2data.batch.local import worker_predictor

        self.predictor = worker_predictor(ray.get(model) if isinstance(model, ray.ObjectRef) else model)

    def __call__(self, batch):
        """A pyarrow batch of entries -> a pyarrow Table of their rows."""
        rows = []
        for item in batch.to_pylist():
            path = os.fsdecode(item["path"]) if item["path"] is not None else None  # bytes: any name travels
            entry = Entry(item["name"], path=path, data=item["data"], error=item["error"])
            rows.extend(score(entry, self.predictor).rows())
        return arrow_table(rows)


def cluster_cpus() -> int:
    """CPUs of the Ray cluster this process is connected to."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster at ``address`` (``auto``, ``ray://host:10001``), or start a local Ray of ``num_cpus``."""
    import ray

    if ray.is_initialized():
        return
    package = str(Path(face2data.__file__).resolve().parent)
    runtime_env = {"py_modules": [package]} if address else None  # a local Ray sees this package already
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


def run_on_ray(entries: list[Entry], out: str | os.PathLike, model: str | os.PathLike) -> None:
    """Score ``entries`` on the connected Ray cluster and append their rows to the Parquet folder ``out``."""
    import ray

    model_path = Path(model)
    # The model's bytes go to the object store once; each actor fetches them from there.
    shipped = ray.put(model_path.read_bytes()) if model_path.suffix == ".tflite" else str(model_path.resolve())
    items = [{"name": e.name, "path": os.fsencode(e.path) if e.path is not None else None, "data": e.data,
              "error": e.error} for e in entries]  # fmt: skip
    cpus = cluster_cpus()
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), cpus * 4)))
    scored = dataset.map_batches(
        RayScorer,
        fn_constructor_kwargs={"model": shipped},
        batch_size=BATCH_SIZE,
        batch_format="pyarrow",
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cpus),
    )
    scored.write_parquet(str(Path(out).resolve()))
