"""Are the explanations faithful? Hide regions in the order an explanation ranks them, and in random orders.

On N test faces (half UTKFace, half FairFace test split, seeded), per head: the regions are hidden one by one
(filled from the blurred face, as the explanations hide them) in the order of the region explanation, in the order
of the per-pixel SHAP map summed inside each region, and in ``--random`` random orders. Main figure (MoRF): most
relevant first = the regions that moved the output furthest towards this face's output; AOPC over the first k
regions = mean, over j = 1..k, of how far the output fell back towards the blurred face's with the first j regions
hidden, averaged over faces; the ratio is ranked AOPC / random AOPC. Second figure: the unsigned variant (order by
|value|, mean |change|). The outputs along each order are read from the region explanation's table of all 2^10
masked faces (the same model evaluations, so no order is favoured). Also times the region explanation and the
pixel map per face.

    .venv/bin/python benchmarks/explain_faithfulness.py [--faces 200] [--random 10] [--save weights/...json]

Writes the ratios to weights/explanation_faithfulness.json (the app shows a head's region values as an
explanation only where ranked hiding beat random orders at least 2x over the first 3 regions).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

import numpy as np  # noqa: E402

from face2data.explanation import DEFAULT_SETTINGS, explain_face, explain_regions  # noqa: E402
from face2data.explanation.faithfulness import (  # noqa: E402
    FIRST_K,
    MIN_RATIO,
    aopc,
    direction,
    face_curves,
    save_faithfulness,
)
from face2data.faces.regions import REGIONS, region_masks  # noqa: E402
from face2data.paths import FAITHFULNESS_PATH, TFLITE_PATH  # noqa: E402
from face2data.schema import HEADS, INPUT_SIZE  # noqa: E402

RANKINGS = ("regions", "pixel map")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=200, help="test faces, half from each test set")
    parser.add_argument("--random", type=int, default=10, help="random orders per face and head")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default=str(TFLITE_PATH))
    parser.add_argument("--data", action="append", help="test sets (default: UTKFace and FairFace in ../shared)")
    parser.add_argument("--save", default=str(FAITHFULNESS_PATH), help="JSON file for the app ('' = do not write)")
    args = parser.parse_args()
    data = args.data or [str(common.SHARED_DATA / "UTKFace.tar.gz"), str(common.SHARED_DATA / "FairFace-train.tar.gz")]

    from face2data.data.arrays import FaceArrays
    from face2data.explanation import warm_up
    from face2data.explanation.sampling import sample_test_faces
    from face2data.tflite_model import load_inference_model

    info = common.machine_info()
    model = load_inference_model(args.model)
    per_source = -(-args.faces // len(data))
    faces = FaceArrays.concatenate([sample_test_faces(d, per_source, args.seed) for d in data])
    faces = faces.subset(np.arange(min(args.faces, len(faces))))
    warm_up(model)
    masks = region_masks(INPUT_SIZE)
    rng = np.random.default_rng(args.seed)
    n = len(REGIONS)
    # scores[variant][ranking][head][k] -> per-face AOPC; variant "morf" (signed, the main one) or "unsigned"
    variants = {"morf": 1.0, "unsigned": None}
    scores: dict[str, dict[str, dict[str, dict[int, list[float]]]]] = {
        v: {name: {h: {FIRST_K: [], n: []} for h in HEADS} for name in (*RANKINGS, "random")} for v in variants
    }
    seconds: dict[str, list[float]] = {"regions": [], "pixel map": []}
    for image in faces.images:
        start = time.perf_counter()
        regions = explain_regions(model, image)
        seconds["regions"].append(time.perf_counter() - start)
        start = time.perf_counter()
        pixels = explain_face(
            model,
            image,
            ethnicity_class=regions["ethnicity"].target[2:-1],
            gender_class=regions["gender"].target[2:-1],
        )
        seconds["pixel map"].append(time.perf_counter() - start)
        for head in HEADS:
            pixel_scores = (masks * pixels[head].values[None]).sum(axis=(1, 2))
            for variant, signed in variants.items():
                sign = None if signed is None else direction(regions, head)
                ranked, random = face_curves(regions, head, regions[head].values, rng, args.random, sign)
                by_pixels, _ = face_curves(regions, head, pixel_scores, rng, 0, sign)
                for k in (FIRST_K, n):
                    table = scores[variant]
                    table["regions"][head][k].append(aopc(ranked, k, sign))
                    table["pixel map"][head][k].append(aopc(by_pixels, k, sign))
                    table["random"][head][k].append(float(np.mean([aopc(r, k, sign) for r in random])))

    common.print_header(f"Explanation faithfulness ({len(faces)} test faces)", info, quick=False)
    units = {"age": "years", "gender": "pp", "ethnicity": "pp"}
    ratios: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    for variant, title in (("morf", "most relevant first (the app's check)"), ("unsigned", "unsigned variant")):
        rows, ratios[variant] = [], {name: {FIRST_K: {}, n: {}} for name in RANKINGS}
        for head in HEADS:
            for k in (FIRST_K, n):
                random_mean = float(np.mean(scores[variant]["random"][head][k]))
                cells = []
                for name in RANKINGS:
                    mean = float(np.mean(scores[variant][name][head][k]))
                    ratio = mean / random_mean if random_mean > 0 else float("nan")
                    ratios[variant][name][k][head] = ratio
                    cells.append(f"{mean:.2f} ({ratio:.2f}×)")
                label = f"first {k}" if k < n else f"all {n}"
                rows.append([head, label, f"{random_mean:.2f}", *cells])
        print(f"\n### AOPC, {title}\n")
        print(
            common.markdown_table(
                [
                    "head",
                    "regions hidden",
                    f"random orders (mean of {args.random})",
                    "region ranking (× random)",
                    "pixel-map ranking (× random)",
                ],
                rows,
            )  # fmt: skip
        )
    ratios_main = ratios["morf"]
    passing = {h: ratios_main["regions"][FIRST_K][h] >= MIN_RATIO for h in HEADS}
    print(
        f"\nAOPC in the head's unit ({', '.join(f'{h}: {u}' for h, u in units.items())}; pp = percentage points "
        f"of the explained class's probability). Most-relevant-first region ranking at least {MIN_RATIO:.0f}× "
        f"random over the first {FIRST_K} regions: "
        + ", ".join(f"{h} {'yes' if ok else 'NO'}" for h, ok in passing.items())
        + "."
    )
    print(
        f"\nSeconds per face (median, wall): regions {common.median(seconds['regions']):.2f} "
        f"(2^{n} = {2**n} masked faces), pixel map {common.median(seconds['pixel map']):.2f} "
        f"({DEFAULT_SETTINGS.max_evals} evaluations)."
    )
    sha = hashlib.sha256(Path(args.model).read_bytes()).hexdigest()
    report = {
        "faces": len(faces),
        "random_orders": args.random,
        "first_k": FIRST_K,
        "model": Path(args.model).name,
        "model_sha256": sha,
        "metric": "AOPC, most relevant first (signed, towards the prediction) / random orders",
        "ratio_first_k": {name: ratios_main[name][FIRST_K] for name in RANKINGS},
        "ratio_all": {name: ratios_main[name][n] for name in RANKINGS},
        "unsigned_ratio_first_k": {name: ratios["unsigned"][name][FIRST_K] for name in RANKINGS},
        "seconds_median": {name: common.median(v) for name, v in seconds.items()},
        "machine": info,
    }
    if args.save:
        print(f"\nwrote {save_faithfulness(report, args.save)}")
    common.print_json("explain_faithfulness", info, False, **report | {"aopc": scores})
    return 0


if __name__ == "__main__":
    sys.exit(main())
