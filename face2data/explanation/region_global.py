"""The global view in regions: mean absolute and mean signed region values per head over test faces, by group.

Groups are all faces, each labelled class of every class head and each age range (true labels). Class heads
explain the probability of the face's labelled class (the likeliest class where the face has no label of that
head, and it then counts in none of the head's groups), so a signed mean reads "on faces labelled female, the
hair raised P(female) by 6 percentage points on average". The file is small JSON with
aggregated figures only (no images), written by ``python -m face2data explain-regions-global``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from face2data.data.arrays import FaceArrays
from face2data.explanation.regions import DEFAULT_REGION_SETTINGS, REGION_UNITS, RegionSettings, explain_regions
from face2data.faces.regions import REGIONS
from face2data.paths import REGION_GLOBAL_PATH
from face2data.schema import AGE_BUCKETS, CLASS_HEADS, HEADS, NO_LABEL, age_bucket

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class RegionGlobalError(ValueError):
    """The global region file is missing or unusable, with a message a person understands."""


def group_names() -> list[str]:
    """'all', then '<head>:<class>' for every class of every class head, then 'age:<range>' groups."""
    return [
        "all",
        *(f"{head.name}:{label}" for head in CLASS_HEADS for label in head.classes),
        *(f"age:{b}" for b in AGE_BUCKETS),
    ]


def compute_region_global(
    model,
    faces: FaceArrays,
    model_name: str = "",
    settings: RegionSettings = DEFAULT_REGION_SETTINGS,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Mean |value| and mean value per region, head and group over labelled faces (JSON-ready)."""
    if len(faces) == 0:
        raise ValueError("no faces to explain")
    names = group_names()
    sums = {h: {g: np.zeros((2, len(REGIONS))) for g in names} for h in HEADS}
    counts = dict.fromkeys(names, 0)
    start = time.perf_counter()
    for i in range(len(faces)):
        labelled = [head for head in CLASS_HEADS if faces.labels[head.name][i] != NO_LABEL]
        classes = {head.name: int(faces.labels[head.name][i]) for head in labelled}
        explanation = explain_regions(model, faces.images[i], classes)
        groups = [
            "all",
            *(f"{head.name}:{head.classes[classes[head.name]]}" for head in labelled),
            f"age:{AGE_BUCKETS[int(age_bucket(float(faces.age_low[i])))]}",
        ]
        for group in groups:
            counts[group] += 1
            for head in HEADS:
                values = explanation[head].values
                sums[head][group] += np.stack([np.abs(values), values])
        if progress is not None:
            progress(i + 1, len(faces))
    seconds = (time.perf_counter() - start) / len(faces)
    sources = {str(s): int(c) for s, c in zip(*np.unique(faces.sources, return_counts=True), strict=True)}
    heads = {
        head: {
            "unit": REGION_UNITS[head],
            "groups": {
                group: {
                    "mean_abs": [round(float(v), 4) for v in sums[head][group][0] / max(counts[group], 1)],
                    "mean_signed": [round(float(v), 4) for v in sums[head][group][1] / max(counts[group], 1)],
                }
                for group in names
            },
        }
        for head in HEADS
    }
    method = (
        f"Region values of {len(faces)} test faces ({', '.join(f'{c} {s}' for s, c in sources.items())}), "
        f"{seconds:.2f} s per face; {' and '.join(h.name for h in CLASS_HEADS)}: the probability of the face's "
        "labelled class (the likeliest without a label); groups by true label (age range from the exact or range "
        "label). Each face: "
        f"{settings.describe()}"
    )
    return {
        "version": FORMAT_VERSION,
        "model": model_name,
        "regions": list(REGIONS),
        "n_faces": len(faces),
        "sources": sources,
        "counts": counts,
        "heads": heads,
        "method": method,
    }


def save_region_global(report: dict, path: str | Path = REGION_GLOBAL_PATH) -> Path:
    """Write the report as JSON (a few kB); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_region_global(path: str | Path = REGION_GLOBAL_PATH) -> dict:
    """Read the file written by ``explain-regions-global``; raises RegionGlobalError."""
    path = Path(path)
    if not path.is_file():
        raise RegionGlobalError(
            f"no global region values at {path}; compute them with: python -m face2data explain-regions-global "
            "--data UTKFACE --data FAIRFACE"
        )
    try:
        report = json.loads(path.read_text())
        if report["version"] != FORMAT_VERSION:
            raise RegionGlobalError(f"{path} has format version {report['version']}, expected {FORMAT_VERSION}")
        if report["regions"] != list(REGIONS) or set(report["heads"]) != set(HEADS):
            raise RegionGlobalError(f"{path} was made for other regions or heads; compute it again")
    except RegionGlobalError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RegionGlobalError(f"{path} is not a readable global region file ({error})") from error
    return report
