"""Run face2data with one more row in schema.HEAD_TABLE (a two-class "glasses" head no source labels) and a 32-px
input, changing no other module: train a tiny model one epoch on made-up UTKFace-style faces (which exports it),
evaluate and calibrate it through the CLI, render every page and ask the API about it; print what each derived
part carries as JSON (tests/test_head_table.py reads it).

    python tests/scripts/with_a_fourth_head.py ROOT OUT_DIR

The pages and the API are run by a second invocation (``ROOT OUT_DIR pages``) in a process without TensorFlow, as
the app runs: the live page's WebRTC libraries and TensorFlow's bundled native libraries do not share a process.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from pathlib import Path

root, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
pages_only = sys.argv[3:] == ["pages"]
sys.path[:0] = [str(root), str(root / "tests")]
# Everything the run writes goes under OUT_DIR: the model and its artifacts, the crop cache.
os.environ["FACE2DATA_WEIGHTS"] = str(out / "weights")
os.environ["FACE2DATA_CACHE"] = str(out / "cache")

import face2data  # noqa: E402

schema_path = root / "face2data" / "schema.py"
source = schema_path.read_text()
table = re.search(r"\nHEAD_TABLE = \((.*?)\n\)\n", source, re.DOTALL)
assert table and "\nINPUT_SIZE = 128\n" in source, "the head table or the input size moved"
glasses = '\n    Head("glasses", "classes", "Glasses", ("none", "glasses")),'
source = source[: table.end(1)] + glasses + source[table.end(1) :]
source = source.replace("\nINPUT_SIZE = 128\n", "\nINPUT_SIZE = 32\n")  # a tiny network: the test stays fast
schema = types.ModuleType("face2data.schema")
schema.__file__ = str(schema_path)
sys.modules["face2data.schema"] = schema
face2data.schema = schema  # type: ignore[attr-defined]
exec(compile(source, str(schema_path), "exec"), schema.__dict__)

from face2data import paths  # noqa: E402

if pages_only:  # the second invocation: every page and /v1/model with the model the first one trained
    from fastapi.testclient import TestClient
    from streamlit.testing.v1 import AppTest

    import face2data.ui.live  # noqa: F401  (the Live page itself needs a real browser: the browser test)
    from face2data.api.app import create_app

    pages = {}
    app = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=300).run()
    for page in sorted(p for p in (root / "app_pages").glob("*.py") if p.stem != "live"):
        app.switch_page(f"app_pages/{page.name}").run()
        pages[page.stem] = [str(e.value) for e in app.exception]
    with TestClient(create_app()) as client:
        about_model = client.get("/v1/model").json()
    (out / "pages.json").write_text(json.dumps({"page_exceptions": pages, "api_model": about_model}, default=str))
    sys.exit(0)

import subprocess  # noqa: E402

import numpy as np  # noqa: E402
from conftest import utkface_names, write_utkface_images  # noqa: E402

from face2data.cli import main  # noqa: E402
from face2data.explanation.core import OUTPUTS  # noqa: E402
from face2data.explanation.regions import explain_regions  # noqa: E402
from face2data.image_loading import load_rgb  # noqa: E402
from face2data.predictor import Predictor  # noqa: E402
from face2data.results import COLUMNS, file_rows  # noqa: E402
from face2data.tflite_model import TFLiteModel  # noqa: E402

faces_folder = out / "UTKFace"
write_utkface_images(faces_folder, utkface_names({"train": 16, "val": 8, "test": 8}))
weights = paths.WEIGHTS_DIR
assert main(["train", "--data", str(faces_folder), "--epochs", "1", "--batch-size", "8", "--out", str(weights)]) == 0
assert main(["evaluate", "--data", str(faces_folder), "--source", "utkface", "--shipped"]) == 0
assert main(["calibrate", "--data", str(faces_folder), "--write"]) == 0

import keras  # noqa: E402

model = keras.saving.load_model(paths.MODEL_PATH, compile=False)
served = TFLiteModel(paths.TFLITE_PATH.read_bytes())
outputs = served.predict_on_batch(np.zeros((2, 32, 32, 3), np.float32))
photo = load_rgb((root / "face2data" / "assets" / "astronaut.jpg").read_bytes())
faces = Predictor(model=served).predict_image(photo)
face = faces[0]
explained = explain_regions(served, face.crop)

subprocess.run([sys.executable, __file__, str(root), str(out), "pages"], check=True, timeout=900)

report = {
    "keras_outputs": sorted(model.output_names),
    "history_columns": (weights / "history.csv").read_text().splitlines()[0].split(","),
    "litert_outputs": {head: list(values.shape) for head, values in outputs.items()},
    "result_json": face.to_dict(),
    "flat_columns": list(COLUMNS),
    "flat_row": file_rows("astronaut.jpg", [found.to_dict() for found in faces])[0],
    "explained_outputs": list(OUTPUTS),
    "explained_heads": {head: part.target for head, part in explained.heads.items()},
    "metrics": json.loads(paths.TEST_METRICS_PATH.read_text()),
    "calibration": json.loads(paths.CALIBRATION_PATH.read_text()),
    **json.loads((out / "pages.json").read_text()),
}
(out / "report.json").write_text(json.dumps(report, default=str))
print("ok")
