"""How close the quick estimate of the region values is to the exact values, and how fast each arrives.

On N test faces (half UTKFace, half FairFace test split, seeded) the exact explanation is computed (all 2^10
coalitions, each mirror-averaged as the card), and the estimate is fitted to the rows of that same table that its
design runs, for each ``--pairs`` budget: so the error is the estimator's alone, with the model's very numbers.
Per head: the largest error over faces and regions (every class's column for a class head, in percentage points;
years for the age), its 99th percentile, and how often the stated 95 % interval held the exact value. Then, on the
sample photo's face, the seconds of the estimate (with its model calls), of the exact values after it (the rest of
the coalitions) and of the exact values alone.

    .venv/bin/python benchmarks/explain_estimate.py [--faces 60] [--pairs 53 80] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

import numpy as np  # noqa: E402

from face2data.explanation.core import output_columns  # noqa: E402
from face2data.explanation.region_estimate import ESTIMATE_PAIRS, estimate_design, estimate_from_table  # noqa: E402
from face2data.explanation.regions import explain_regions  # noqa: E402
from face2data.explanation.sampling import sample_test_faces  # noqa: E402
from face2data.paths import TFLITE_PATH  # noqa: E402
from face2data.schema import HEAD_TABLE  # noqa: E402

SOURCES = ("UTKFace.tar.gz", "FairFace-train.tar.gz")
TARGETS = {"age": 0.5, "classes": 1.0}  # the largest error allowed per region: years, percentage points


def errors_by_head(tables: list[np.ndarray], exact: list[np.ndarray], pairs: int) -> dict[str, dict]:
    """Largest and 99th-percentile error and the interval's coverage per head, for one budget."""
    design, weights = estimate_design(pairs=pairs)
    found: dict[str, dict[str, list]] = {head.name: {"errors": [], "covered": []} for head in HEAD_TABLE}
    for table, values in zip(tables, exact, strict=True):
        estimate, half_width = estimate_from_table(table, design, weights)
        for head in HEAD_TABLE:
            columns = list(output_columns(head.name))
            scale = 1.0 if head.kind == "age" else 100.0
            error = np.abs(estimate[:, columns] - values[:, columns]) * scale
            found[head.name]["errors"].append(error.ravel())
            found[head.name]["covered"].append((error <= half_width[:, columns] * scale + 1e-9).ravel())
    summary = {}
    for head in HEAD_TABLE:
        errors = np.concatenate(found[head.name]["errors"])
        summary[head.name] = {
            "largest": float(errors.max()),
            "p99": float(np.percentile(errors, 99)),
            "mean": float(errors.mean()),
            "coverage": float(np.concatenate(found[head.name]["covered"]).mean()),
            "target": TARGETS[head.kind],
        }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=60)
    parser.add_argument("--pairs", type=int, nargs="+", default=[ESTIMATE_PAIRS])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default=str(TFLITE_PATH))
    parser.add_argument("--quick", action="store_true", help="4 faces, 2 repeats: checks the script works")
    args = parser.parse_args()
    faces_wanted, repeats = (4, 2) if args.quick else (args.faces, args.repeats)

    from face2data.explanation.region_estimate import estimate_regions
    from face2data.image_loading import load_rgb_file
    from face2data.predictor import Predictor
    from face2data.tflite_model import load_inference_model

    info = common.machine_info()
    model = load_inference_model(args.model)
    faces = [face for source in SOURCES
             for face in sample_test_faces(common.SHARED_DATA / source, faces_wanted // 2, seed=1).images]  # fmt: skip
    explanations = [explain_regions(model, face) for face in faces]
    tables = [e.coalitions for e in explanations]
    exact = [e.all_values for e in explanations]

    crop = Predictor(model=model).predict_image(load_rgb_file(common.ASTRONAUT))[0].crop
    seconds: dict[str, list[float]] = {"estimate": [], "exact after the estimate": [], "exact alone": []}
    for _ in range(repeats):
        start = time.perf_counter()
        estimate = estimate_regions(model, crop)
        seconds["estimate"].append(time.perf_counter() - start)
        start = time.perf_counter()
        explain_regions(model, crop, known=estimate)
        seconds["exact after the estimate"].append(time.perf_counter() - start)
        start = time.perf_counter()
        explain_regions(model, crop)
        seconds["exact alone"].append(time.perf_counter() - start)

    common.print_header("Region explanation: the estimate against the exact values", info, args.quick)
    results = {}
    rows = []
    for pairs in args.pairs:
        summary = errors_by_head(tables, exact, pairs)
        results[pairs] = summary
        coalitions = len(estimate_design(pairs=pairs)[0]) + 2
        for head, figures in summary.items():
            unit = "years" if head == "age" else "points"
            rows.append([
                f"{coalitions} coalitions ({pairs} pairs)", head, f"{figures['largest']:.2f} {unit}",
                f"{figures['target']} {unit}", "yes" if figures["largest"] <= figures["target"] else "NO",
                f"{figures['p99']:.2f}", f"{figures['mean']:.3f}", f"{figures['coverage']:.1%}",
            ])  # fmt: skip
    print(f"{len(faces)} test faces (half UTKFace, half FairFace), every region and every class's column.\n")
    headers = ["estimate", "head", "largest error", "target", "met", "99th pct", "mean", "95 % interval held"]
    print(common.markdown_table(headers, rows) + "\n")
    timing = [[name, f"{common.median(v):.3f}", f"{min(v):.3f}", str(len(v))] for name, v in seconds.items()]
    print(f"Seconds on the sample photo's face ({ESTIMATE_PAIRS} pairs, the default):\n")
    print(common.markdown_table(["what", "median s", "fastest s", "runs"], timing) + "\n")
    common.print_json("explain_estimate", info, args.quick, faces=len(faces), errors=results, seconds=seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
