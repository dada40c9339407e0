"""Seconds for the explanations of all three heads of one face (what the explain page waits for).

Times the region explanation (``explain_regions``: exact Shapley values over the named regions, the app's
default) and ``explain_face`` plus the three overlays (the per-pixel SHAP maps) on the astronaut's aligned face,
for the pixel maps' default budget and, interleaved with it, a smaller and a larger one, beside the bare model
evaluations that budget needs (the floor: SHAP's own bookkeeping is the rest). The first call is timed apart: it
compiles SHAP's numba kernels and the model function. CPU seconds are reported too: on a busy machine they say
more than wall time.

    .venv/bin/python benchmarks/explain_speed.py [--repeats 5] [--model weights/face2data.tflite] [--quick]

About 1-2 minutes on a quiet 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

from face2data.explanation import DEFAULT_SETTINGS, ExplainSettings, explain_face, explain_regions, overlay  # noqa: E402
from face2data.paths import TFLITE_PATH  # noqa: E402
from face2data.schema import HEADS  # noqa: E402

REFERENCE_EVALS = 2000
AGREEMENT_BUDGETS = (300, 400, 500, 750)


def map_agreement(model, data: str, n: int, reference: ExplainSettings, others: dict[str, ExplainSettings]) -> dict:
    """Pearson correlation of the maps made with each of ``others`` with the ``reference`` maps, per head, over
    ``n`` test faces, and the seconds each took per face."""
    import numpy as np

    from face2data.explanation.sampling import sample_test_faces

    faces = sample_test_faces(data, n, seed=0).images
    correlations: dict[str, dict[str, list[float]]] = {name: {head: [] for head in HEADS} for name in others}
    seconds: dict[str, list[float]] = {name: [] for name in ["reference", *others]}
    for face in faces:
        start = time.perf_counter()
        reference_maps = explain_face(model, face, settings=reference)
        seconds["reference"].append(time.perf_counter() - start)
        for name, setting in others.items():
            start = time.perf_counter()
            maps = explain_face(model, face, settings=setting)
            seconds[name].append(time.perf_counter() - start)
            for head in HEADS:
                a, b = maps[head].values.ravel(), reference_maps[head].values.ravel()
                correlations[name][head].append(float(np.corrcoef(a, b)[0, 1]))
    rows = [[name, head, f"{np.median(v):.3f}", f"{np.percentile(v, 10):.3f}", f"{min(v):.3f}",
             f"{common.median(seconds[name]):.2f}"]
            for name, by_head in correlations.items() for head, v in by_head.items()]  # fmt: skip
    print(f"\n### Maps against the reference ({reference.describe()}), {len(faces)} test faces\n")
    headers = ["maps", "head", "correlation, median", "10th percentile", "lowest", "s per face"]
    print(common.markdown_table(headers, rows))
    print(f"\nReference: {common.median(seconds['reference']):.2f} s per face.")
    return {"faces": len(faces), "correlation": correlations, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default=str(TFLITE_PATH), help="the .tflite (default, as the app) or .keras model")
    parser.add_argument("--quick", action="store_true", help="2 repeats: checks the script works")
    parser.add_argument(
        "--agreement", type=int, default=0, metavar="N",
        help="compare the default (mirror-averaged) maps with maps of the face as seen on N UTKFace test faces",
    )  # fmt: skip
    parser.add_argument(
        "--budget-agreement", type=int, default=0, metavar="N",
        help=f"compare maps of smaller budgets with {REFERENCE_EVALS}-evaluation maps on N UTKFace test faces",
    )  # fmt: skip
    parser.add_argument("--data", default=str(common.SHARED_DATA / "UTKFace.tar.gz"), help="for the agreements")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats

    from face2data.image_loading import load_rgb_file
    from face2data.predictor import Predictor
    from face2data.schema import to_model_input
    from face2data.tflite_model import load_inference_model

    info = common.machine_info()
    model = load_inference_model(args.model)
    crop = Predictor(model=model).predict_image(load_rgb_file(common.ASTRONAUT))[0].crop
    budgets = sorted({500, DEFAULT_SETTINGS.max_evals, 3000})
    settings = {evals: replace(DEFAULT_SETTINGS, max_evals=evals) for evals in budgets}
    cpu: dict[str, list[float]] = {}

    def overlays(setting: ExplainSettings, name: str):
        def run() -> None:
            start = time.process_time()
            explanation = explain_face(model, crop, settings=setting)
            for head in HEADS:
                overlay(crop, explanation[head].values)
            cpu.setdefault(name, []).append(time.process_time() - start)

        return run

    # The model evaluations of the default budget alone: max_evals masked faces, each with its mirror image.
    views = 2 if DEFAULT_SETTINGS.flip else 1
    batch = to_model_input(crop)[None].repeat(DEFAULT_SETTINGS.batch_size * views, axis=0)
    calls = -(-DEFAULT_SETTINGS.max_evals // DEFAULT_SETTINGS.batch_size)

    def model_only() -> None:
        for _ in range(calls):
            model.predict_on_batch(batch)

    def regions() -> None:
        start = time.process_time()
        explain_regions(model, crop)
        cpu.setdefault("regions", []).append(time.process_time() - start)

    first = common.timed(overlays(DEFAULT_SETTINGS, "first"))
    first_regions = common.timed(regions)
    fns = {"regions": regions}
    fns |= {f"{evals} evaluations": overlays(settings[evals], f"{evals} evaluations") for evals in budgets}
    fns["model only"] = model_only
    samples = common.interleaved(fns, repeats, warmup=0)

    common.print_header("SHAP explanation speed", info, args.quick)
    rows = [["regions: 2^10 = 1024 masked faces, exact (the app's default)", f"{common.median(samples['regions']):.2f}",
             f"{common.median(cpu['regions']):.2f}", len(samples["regions"])]]  # fmt: skip
    for evals in budgets:
        name = f"{evals} evaluations"
        mark = " (default)" if evals == DEFAULT_SETTINGS.max_evals else ""
        rows.append(
            [
                f"pixel maps: {evals}{mark}",
                f"{common.median(samples[name]):.2f}",
                f"{common.median(cpu[name]):.2f}",
                len(samples[name]),
            ]
        )
    default = f"{DEFAULT_SETTINGS.max_evals} evaluations"
    ratio = common.paired_ratios(samples[default], samples["model only"])
    rows.append(
        [
            f"model calls alone ({DEFAULT_SETTINGS.max_evals}x{views} faces)",
            f"{common.median(samples['model only']):.2f}",
            "",
            repeats,
        ]
    )
    print(common.markdown_table(["explanation (masked faces per face)", "s wall, median", "s CPU, median", "n"], rows))
    print(
        f"\n- Per face: one SHAP Partition run explains all three heads at once ({DEFAULT_SETTINGS.describe()}); "
        f"the times include the three overlays. First call in a process: {first:.1f} s (compiles SHAP's numba "
        f"kernels and the model function; the app can pay it at start-up with `warm_up`).\n"
        f"- Default budget vs its bare model calls: {ratio:.2f}x.\n"
        f"- Regions: first call in a process {first_regions:.2f} s (after the pixel maps' first call)."
    )
    agreement = None
    if args.agreement:  # the default maps against those of the face as seen
        agreement = map_agreement(model, args.data, args.agreement, DEFAULT_SETTINGS,
                                  {"as seen": replace(DEFAULT_SETTINGS, flip=False)})  # fmt: skip
    budget_agreement = None
    if args.budget_agreement:  # smaller budgets against REFERENCE_EVALS, the default before 2026-12-06
        budget_agreement = map_agreement(
            model, args.data, args.budget_agreement, replace(DEFAULT_SETTINGS, max_evals=REFERENCE_EVALS),
            {f"{evals} evaluations": replace(DEFAULT_SETTINGS, max_evals=evals) for evals in AGREEMENT_BUDGETS},
        )  # fmt: skip
    common.print_json(
        "explain_speed",
        info,
        args.quick,
        agreement=agreement,
        budget_agreement=budget_agreement,
        first_call_s=first,
        first_regions_s=first_regions,
        settings={k: vars(v) for k, v in settings.items()},
        wall=({name: common.spread(values) for name, values in samples.items()}),
        cpu_median_s={name: common.median(values) for name, values in cpu.items()},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
