"""Seconds of ``/v1/explain`` in its three ways, beside MTCNN's detection of the same photo in the same process.

    .venv/bin/python benchmarks/api_explain_speed.py [--repeats 5] [--quick]

The 1-face 640x480 photo of ``end_to_end.py`` is posted to the API (FastAPI's TestClient, the shipped model) as

  estimate   /v1/explain?pixels=false&exact=false   (region values estimated from an eighth of the combinations)
  exact      /v1/explain?pixels=false               (exact region values)
  defaults   /v1/explain                            (exact region values and the per-pixel SHAP maps)

interleaved with MTCNN's detection alone on the decoded photo (``mtcnn`` 1.0.0, the detector face2data used
before; ``pip install mtcnn==1.0.0``, not in requirements.txt). Each figure is the median over the repeats after
one warm-up, taken in turns (``common.interleaved``), and each ratio the median of the per-round ratios to
MTCNN's time in the same round.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

from end_to_end import make_photos, mtcnn_detector  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from face2data.api.app import create_app  # noqa: E402
from face2data.image_loading import load_rgb  # noqa: E402

WAYS = {
    "estimate": "/v1/explain?pixels=false&exact=false",
    "exact": "/v1/explain?pixels=false",
    "defaults": "/v1/explain",
}
# The aims of issue 32, as multiples of MTCNN's detection time.
AIMS = {"estimate": 3.0, "exact": 15.0, "defaults": 20.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat: checks the script works")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    info = common.machine_info()
    common.print_header("/v1/explain beside MTCNN's detection", info, args.quick)
    data = make_photos()["1 face"][0]
    rgb = load_rgb(data)
    mtcnn = mtcnn_detector()
    if mtcnn is None:
        print("MTCNN reference skipped: `pip install mtcnn==1.0.0` to compare with it.\n")
    with TestClient(create_app()) as client:

        def post(path: str) -> None:
            client.post(path, content=data, headers={"Content-Type": "image/jpeg"}).raise_for_status()

        calls: dict[str, Callable[[], object]] = {way: functools.partial(post, path) for way, path in WAYS.items()}
        if mtcnn is not None:
            calls["mtcnn"] = lambda: mtcnn.detect_faces(rgb)
        samples = common.interleaved(calls, repeats) | ({} if mtcnn is not None else {"mtcnn": []})
    rows, figures = [], {}
    for way, path in WAYS.items():
        ratio = common.paired_ratios(samples[way], samples["mtcnn"]) if samples["mtcnn"] else None
        figures[way] = {"path": path, **common.spread(samples[way]), "times_mtcnn": ratio}
        shown = "—" if ratio is None else f"{ratio:.1f}x (aim ≤ {AIMS[way]:.0f}x)"
        rows.append([way, f"`{path}`", f"{common.median(samples[way]):.2f}", shown])
    mtcnn_ms = common.median(samples["mtcnn"]) * 1000 if samples["mtcnn"] else None
    print(f"### Median of {repeats} after one warm-up; MTCNN's detection alone: "
          f"{'—' if mtcnn_ms is None else f'{mtcnn_ms:.0f} ms'}\n")  # fmt: skip
    print(common.markdown_table(["way", "request", "seconds", "MTCNN's detection times"], rows) + "\n")
    common.print_json("api_explain_speed", info, args.quick, mtcnn_ms=mtcnn_ms, ways=figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
