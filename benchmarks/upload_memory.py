"""Memory and time of the Evaluation page's code on the probe's zip: large labelled PNGs padded with zeros.

    .venv/bin/python benchmarks/upload_memory.py [--photos 150] [--side 6000] [--padding-mb 45] [--quick]

Builds, in memory, a zip of ``--photos`` PNGs of ``--side`` x ``--side`` pixels (a photo of the sample face in a
plain frame), each followed by ``--padding-mb`` MB of zeros (the archive stays small: zeros compress), labelled by
UTKFace-style names; then evaluates it with ``face2data.ui.labelled.evaluate_uploads``, the Evaluation page's
code, with the shipped model. Prints the process's peak resident memory before and after, and the seconds.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def probe_zip(photos: int, side: int, padding_mb: int) -> bytes:
    """The zip: PNGs of a face in a large grey frame, each followed by zeros."""
    from face2data.image_loading import load_rgb_file
    from face2data.predictor import Predictor

    face = Predictor().predict_image(load_rgb_file(common.ASTRONAUT))[0].crop
    frame = np.full((side, side, 3), 120, np.uint8)
    big = cv2.resize(face, (side // 4, side // 4))
    frame[side // 3 : side // 3 + big.shape[0], side // 3 : side // 3 + big.shape[1]] = big
    png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes() + bytes(padding_mb * 2**20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(photos):
            archive.writestr(f"{20 + n % 50}_{n % 2}_{n % 5}_2024{n:06d}.png", png)
    return buffer.getvalue()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--side", type=int, default=6000)
    parser.add_argument("--padding-mb", type=int, default=45)
    parser.add_argument("--quick", action="store_true", help="5 photos of 2000 px: checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.photos, args.side, args.padding_mb = 5, 2000, 1

    from face2data.tflite_model import load_inference_model
    from face2data.ui.labelled import evaluate_uploads

    info = common.machine_info()
    data = probe_zip(args.photos, args.side, args.padding_mb)
    model = load_inference_model()
    before = peak_mb()
    start = time.perf_counter()
    evaluation = evaluate_uploads([("probe.zip", data)], model)
    seconds = time.perf_counter() - start
    after = peak_mb()
    common.print_header("The Evaluation page's code on the probe's zip", info, args.quick)
    what = f"{len(data) / 2**20:.0f} MB, {args.photos} PNGs of {args.side}x{args.side} + {args.padding_mb} MB zeros"
    rows = [["zip", what],
            ["faces scored", evaluation.report["n"]],
            ["peak resident memory before / after", f"{before:.0f} / {after:.0f} MB (growth {after - before:.0f} MB)"],
            ["seconds", f"{seconds:.1f}"]]  # fmt: skip
    print(common.markdown_table(["", "measured"], rows))
    figures = {"zip_mb": len(data) / 2**20, "photos": args.photos, "faces": evaluation.report["n"]}
    common.print_json("upload_memory", info, args.quick, **figures, peak_before_mb=before, peak_after_mb=after,
                      seconds=seconds)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
