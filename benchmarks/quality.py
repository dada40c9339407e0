"""Quality: the shipped model's test-split metrics with 95 % bootstrap confidence intervals, and its size.

    python benchmarks/quality.py [--predictions weights/test_predictions.csv] [--resamples 2000]
    python benchmarks/quality.py --recompute [--data ../shared/data/UTKFace.tar.gz] [--model weights/face2data.keras]

By default it reads the per-image predictions that ``python -m face2data evaluate`` wrote (no model run) and
computes the headline metrics with ``face2data.evaluation.metrics.summarize`` and their percentile bootstrap
intervals with ``bootstrap_intervals`` (resampling test faces). With ``--recompute`` it runs the same
evaluation (``face2data.evaluation.run.evaluate``: the test split, mirror TTA) on the model file first; nothing
is written unless ``--predictions-out`` is given. When weights/test_metrics.json exists its headline figures are
compared with the ones computed here.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import common

common.setup_path()

import numpy as np  # noqa: E402

from face2data.evaluation.metrics import Outcomes, bootstrap_intervals, summarize  # noqa: E402
from face2data.paths import MODEL_PATH, TEST_METRICS_PATH, TEST_PREDICTIONS_PATH  # noqa: E402
from face2data.schema import AGE_INTERVAL_MASS, CLASS_HEADS, NO_LABEL  # noqa: E402

DEFAULT_DATA = common.SHARED_DATA / "UTKFace.tar.gz"
HEADLINE = (
    ("age_mae", "age MAE (years)", 1),
    ("age_rmse", "age RMSE (years)", 1),
    ("gender_accuracy", "gender accuracy (%)", 100),
    ("ethnicity_accuracy", "ethnicity accuracy (%)", 100),
    ("age_interval_coverage", f"true age inside the {100 * AGE_INTERVAL_MASS:.0f} % age range (%)", 100),
)
AGREEMENT = 1e-3  # largest difference to test_metrics.json that still counts as the same evaluation


def outcomes_from_rows(rows: list[dict]) -> Outcomes:
    """Outcomes from UTKFace prediction rows (the CSV's columns; values may be strings)."""

    def column(key: str) -> np.ndarray:
        return np.array([float(row[key]) for row in rows])

    def classes(head, key: str) -> np.ndarray:
        index = {name: i for i, name in enumerate(head.classes)}
        return np.array([index.get(row.get(key) or "", NO_LABEL) for row in rows])

    ages = column("age_true")
    return Outcomes(ages, ages, column("age_pred"), column("age_low"), column("age_high"),
                    {head.name: classes(head, f"{head.name}_true") for head in CLASS_HEADS},
                    {head.name: classes(head, f"{head.name}_pred") for head in CLASS_HEADS})  # fmt: skip


def read_predictions(path: Path) -> list[dict]:
    """The rows of a test_predictions.csv."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def recompute(model_path: Path, data: Path, predictions_out: Path | None) -> tuple[list[dict], float]:
    """Run the project's evaluation of the test split; the prediction rows and the seconds it took."""
    from face2data.evaluation.run import evaluate, write_predictions
    from face2data.model_loading import load_trained_model

    start = time.perf_counter()
    _, rows = evaluate(load_trained_model(model_path), data, split="test")
    seconds = time.perf_counter() - start
    if predictions_out:
        write_predictions(rows, predictions_out, "utkface")
    return rows, seconds


def compare_with_stored(summary: dict, path: Path) -> list[str]:
    """Where the figures computed here differ from weights/test_metrics.json (empty when they agree)."""
    if not path.exists():
        return [f"{path.name} not found: nothing to compare with"]
    stored = json.loads(path.read_text())
    notes = []
    if stored.get("n") != summary["n"]:
        notes.append(f"n differs: {stored.get('n')} stored, {summary['n']} here")
    for key, label, _ in HEADLINE:
        if key in stored and abs(float(stored[key]) - summary[key]) > AGREEMENT:
            notes.append(f"{label} differs: {stored[key]} stored, {summary[key]} here")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictions", type=Path, default=TEST_PREDICTIONS_PATH, help="CSV written by evaluate")
    parser.add_argument("--recompute", action="store_true", help="run the evaluation instead of reading the CSV")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UTKFace folder or archive (--recompute)")
    parser.add_argument("--predictions-out", type=Path, help="with --recompute: also write the rows here")
    parser.add_argument("--metrics", type=Path, default=TEST_METRICS_PATH, help="stored metrics to cross-check")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="200 resamples: checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.resamples = 200

    info = common.machine_info()
    common.print_header("Quality (test split)", info, args.quick)
    figures: dict = {}
    if args.recompute:
        rows, seconds = recompute(args.model, args.data, args.predictions_out)
        source = f"recomputed with {args.model.name} on {args.data.name} ({seconds:.0f} s)"
        figures["evaluation_seconds"] = round(seconds, 1)
    else:
        if not args.predictions.exists():
            print(f"{args.predictions} does not exist: run `python -m face2data evaluate` first, or use --recompute")
            return 1
        rows = read_predictions(args.predictions)
        source = f"read from {args.predictions}"
    outcomes = outcomes_from_rows(rows)
    summary = summarize(outcomes)
    intervals = bootstrap_intervals(outcomes, n_resamples=args.resamples, seed=args.seed)

    size = args.model.stat().st_size if args.model.exists() else None
    table = []
    for key, label, scale in HEADLINE:
        low, high = intervals.get(key, (math.nan, math.nan))
        ci = "—" if key not in intervals else f"{scale * low:.2f} – {scale * high:.2f}"
        table.append([label, f"{scale * summary[key]:.2f}", ci])
    print(f"Test split, n = {summary['n']} faces, predictions {source}; 95 % percentile bootstrap over faces "
          f"({args.resamples} resamples, seed {args.seed}).\n")  # fmt: skip
    print(common.markdown_table(["metric", "value", "95 % CI"], table) + "\n")
    if size is not None:
        print(f"- model file {args.model.name}: {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)")
    else:
        print(f"- model file {args.model} not found: size not measured")
    mismatches = compare_with_stored(summary, args.metrics)
    print("- cross-check with " + args.metrics.name + ": " + ("; ".join(mismatches) if mismatches else "agrees"))
    figures.update(
        {
            "source": source,
            "n": summary["n"],
            "metrics": {key: summary[key] for key, _, _ in HEADLINE},
            "ci95": intervals,
            "resamples": args.resamples,
            "model_file_mb": round(size / 1e6, 2) if size is not None else None,
            "cross_check": mismatches or "agrees",
        }
    )
    common.print_json("quality", info, args.quick, **figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
